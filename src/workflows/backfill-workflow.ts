/**
 * backfill: a retry-safe re-export of the orders table to S3 as a Parquet snapshot.
 *
 * The table is read as `segments` parallel Scan segments. Each segment is a chain of `exportSegment` activities,
 * each writing up to `partsPerActivity` parts and returning its cursor (next part index + LastEvaluatedKey), which
 * the workflow records; inside an activity, heartbeats carry the same cursor so an attempt replacing a crashed
 * worker resumes mid-chain. Object keys depend only on (snapshotId, segment, part) and part boundaries only on
 * the Scan page sequence, so an interrupted and resumed backfill writes exactly the objects an uninterrupted one
 * writes. Before the history grows large the workflow continues-as-new with the cursors. Progress is readable
 * with the `progress` query; a manifest written last marks the snapshot complete; optionally a crawl follows.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type backfill --input '{}'`
 */
import { continueAsNew, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BackfillActivities } from '../activities/backfill-activities';
import { snapshotFolder } from '../lake-format/snapshot-layout';
import {
  BACKFILL_ACTIVITY_TIMEOUT_SECONDS,
  BACKFILL_DEFAULTS,
  backfillArgsSchema,
  DEFAULT_COMPACT_TARGET_BYTES,
  type BackfillArgs,
} from '../contract/args';
import { crawl } from './crawl-workflow';
import { tagRun, workerDefaults } from './defaults';
import {
  backfillProgressQuery,
  PIPELINE_KIND,
  pipelineMemo,
  pipelineSearchAttributes,
} from '../contract/definitions';
import type { BackfillProgress, BackfillResult, CrawlResult, SegmentCursor } from '../contract/types';
import { parseWorkflowArgs } from './validation';
import { FailureType } from '../contract/failure-types';

/** Everything a continued run needs; passed as the second argument of continue-as-new. */
export interface BackfillState {
  snapshotId: string;
  table: string;
  bucket: string;
  prefix: string;
  totalSegments: number;
  pageSize: number;
  /** Undefined: parts bounded by targetBytes alone (undefined too in a run continued from before targetBytes). */
  pagesPerPart?: number;
  targetBytes?: number;
  partsPerActivity: number;
  maxItemsPerSecond?: number;
  heartbeatTimeoutSeconds: number;
  historyEventLimit: number;
  crawl: boolean;
  estimatedItems: number;
  runs: number;
  segments: SegmentCursor[];
}

const planning = proxyActivities<BackfillActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [
      FailureType.TableNotFound,
      FailureType.BucketNotFound,
      FailureType.AccessDenied,
      FailureType.InvalidRequest,
    ],
  },
});

/** `20240501T140000Z`: sortable, and a valid path segment everywhere. */
export function snapshotIdFor(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function progressOf(state: BackfillState | undefined, done: boolean): BackfillProgress {
  const segments = state?.segments ?? [];
  return {
    snapshotId: state?.snapshotId ?? '',
    table: state?.table ?? '',
    bucket: state?.bucket ?? '',
    prefix: state?.prefix ?? '',
    estimatedItems: state?.estimatedItems ?? 0,
    rows: segments.reduce((sum, s) => sum + s.rows, 0),
    parts: segments.reduce((sum, s) => sum + s.nextPart, 0),
    segments,
    runs: state?.runs ?? 0,
    done,
  };
}

async function initialState(args: BackfillArgs): Promise<BackfillState> {
  const defaults = await workerDefaults();
  const snapshotId = args.snapshotId ?? snapshotIdFor(workflowInfo().startTime);
  const table = args.table ?? defaults.ordersTable;
  const bucket = defaults.bucket;
  tagRun('backfill', table, defaults);
  const { estimatedItems } = await planning.planBackfill({ table, bucket });
  const totalSegments = args.segments ?? BACKFILL_DEFAULTS.segments;
  return {
    snapshotId,
    table,
    bucket,
    prefix: snapshotFolder(defaults.snapshotPrefix, snapshotId),
    totalSegments,
    pageSize: args.pageSize ?? BACKFILL_DEFAULTS.pageSize,
    pagesPerPart:
      args.pagesPerPart ??
      (args.maxItemsPerSecond !== undefined ? BACKFILL_DEFAULTS.pagesPerPart : undefined),
    targetBytes: args.targetBytes ?? DEFAULT_COMPACT_TARGET_BYTES,
    partsPerActivity: args.partsPerActivity ?? BACKFILL_DEFAULTS.partsPerActivity,
    maxItemsPerSecond: args.maxItemsPerSecond,
    heartbeatTimeoutSeconds: args.heartbeatTimeoutSeconds ?? BACKFILL_DEFAULTS.heartbeatTimeoutSeconds,
    historyEventLimit: args.historyEventLimit ?? 10_000,
    crawl: args.crawl ?? false,
    estimatedItems,
    runs: 0,
    segments: Array.from({ length: totalSegments }, (_, segment) => ({
      segment,
      nextPart: 0,
      startKey: null,
      rows: 0,
      bytes: 0,
      done: false,
      resumes: 0,
    })),
  };
}

export async function backfill(input?: unknown, continued?: BackfillState): Promise<BackfillResult> {
  const args = parseWorkflowArgs('backfill', backfillArgsSchema, input);
  let state: BackfillState | undefined = continued;
  let done = false;
  setHandler(backfillProgressQuery, () => progressOf(state, done));
  state ??= await initialState(args);
  const st = state;

  const exporter = proxyActivities<BackfillActivities>({
    // One chain link writes a few parts; on AWS a part of 10 pages takes seconds. This bounds a stuck call (and,
    // checked by the schema, a throttled link).
    startToCloseTimeout: `${BACKFILL_ACTIVITY_TIMEOUT_SECONDS} seconds`,
    // The activity heartbeats after every Scan page and during throttle waits: silence this long means the worker is gone.
    heartbeatTimeout: `${st.heartbeatTimeoutSeconds} seconds`,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 20,
      nonRetryableErrorTypes: [
        FailureType.TableNotFound,
        FailureType.BucketNotFound,
        FailureType.InvalidItem,
        FailureType.ResourceNotFound,
        FailureType.AccessDenied,
        FailureType.InvalidRequest,
      ],
    },
  });

  const historyFull = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= st.historyEventLimit;
  const perSegmentRate = st.maxItemsPerSecond ? st.maxItemsPerSecond / st.totalSegments : undefined;

  await Promise.all(
    st.segments.map(async (cursor) => {
      while (!cursor.done && !historyFull()) {
        const result = await exporter.exportSegment({
          table: st.table,
          bucket: st.bucket,
          prefix: st.prefix,
          segment: cursor.segment,
          totalSegments: st.totalSegments,
          pageSize: st.pageSize,
          pagesPerPart: st.pagesPerPart,
          targetBytes: st.targetBytes ?? DEFAULT_COMPACT_TARGET_BYTES,
          startPart: cursor.nextPart,
          startKey: cursor.startKey,
          maxParts: st.partsPerActivity,
          ...(perSegmentRate ? { maxItemsPerSecond: perSegmentRate } : {}),
        });
        cursor.nextPart = result.nextPart;
        cursor.startKey = result.startKey;
        cursor.rows += result.rows;
        cursor.bytes += result.bytes;
        cursor.done = result.done;
        if (result.resumedFromPart !== undefined) cursor.resumes += 1;
      }
    }),
  );

  if (st.segments.some((s) => !s.done)) {
    st.runs += 1;
    return continueAsNew<typeof backfill>(input, st);
  }

  const rows = st.segments.reduce((sum, s) => sum + s.rows, 0);
  const parts = st.segments.reduce((sum, s) => sum + s.nextPart, 0);
  const segments = st.segments.map((s) => ({
    segment: s.segment,
    parts: s.nextPart,
    rows: s.rows,
    bytes: s.bytes,
  }));
  const manifestKey = await planning.writeSnapshotManifest({
    bucket: st.bucket,
    prefix: st.prefix,
    manifest: {
      snapshotId: st.snapshotId,
      table: st.table,
      totalSegments: st.totalSegments,
      pageSize: st.pageSize,
      pagesPerPart: st.pagesPerPart,
      targetBytes: st.targetBytes ?? DEFAULT_COMPACT_TARGET_BYTES,
      rows,
      parts,
      segments,
    },
  });

  let crawlResult: CrawlResult | undefined;
  if (st.crawl) {
    const info = workflowInfo();
    const registered = info.typedSearchAttributes.get(PIPELINE_KIND) !== undefined;
    crawlResult = await executeChild(crawl, {
      args: [{}],
      workflowId: `${info.workflowId}-crawl`,
      memo: pipelineMemo('crawl', 'backfill'),
      // The parent carries the pipeline search attributes only where they are registered: then so may the child.
      ...(registered ? { typedSearchAttributes: pipelineSearchAttributes('crawl', 'backfill') } : {}),
    });
  }
  done = true;
  return {
    snapshotId: st.snapshotId,
    table: st.table,
    bucket: st.bucket,
    prefix: st.prefix,
    manifestKey,
    rows,
    parts,
    bytes: st.segments.reduce((sum, s) => sum + s.bytes, 0),
    segments,
    runs: st.runs,
    resumes: st.segments.reduce((sum, s) => sum + s.resumes, 0),
    ...(crawlResult ? { crawl: crawlResult } : {}),
  };
}
