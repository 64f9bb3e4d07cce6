/**
 * reconcile: compares DynamoDB's orders table with the lake's `orders_current` view, field by field, and passes
 * or fails (src/activities/reconcile-activities.ts does the work in bounded memory).
 *
 * 1. Parallel Scan segments, each a heartbeating activity that writes sorted runs to S3 and resumes after a crash
 *    at its last durable run.
 * 2. One Athena query of the view, merged with the runs: every difference is a candidate. A DynamoDB item carries
 *    no write time, so no single difference can be told apart from a change still on its way to the lake.
 * 3. A durable timer until the freshness bound has passed since the scan *ended* (an item the scan read last may
 *    have been written just before), then the candidates are looked up again: equal now → matching; DynamoDB's
 *    version moved on since the scan (or the lake row changed after the scan began) → in flight; else drift.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type reconcile --input '{}'`
 */
import { proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile-activities';
import { ORDERS_CURRENT_VIEW } from '../config/lake-names';
import { RECONCILE_DEFAULTS, reconcileArgsSchema } from '../contract/args';
import { reconcileProgressQuery } from '../contract/definitions';
import { FailureType } from '../contract/failure-types';
import { emptyRecheckResult, type ReconcileProgress, type ReconcileResult } from '../contract/types';
import { tagRun, workerDefaults } from './defaults';
import { parseWorkflowArgs } from './validation';

const nonRetryableErrorTypes = [
  FailureType.TableNotFound,
  FailureType.BucketNotFound,
  FailureType.QueryFailed,
  FailureType.QueryCancelled,
  FailureType.QueryTimeout,
  FailureType.AthenaProtocolError,
  FailureType.AccessDenied,
  FailureType.InvalidRequest,
  FailureType.AwsClientError,
];

const work = proxyActivities<ReconcileActivities>({
  // A segment of a large table, or the merge of all of it: hours; each heartbeats as it goes.
  startToCloseTimeout: '6 hours',
  // A killed worker is noticed within a minute; the retry resumes from the last heartbeat.
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes,
  },
});

const bookkeeping = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
});

export async function reconcile(input?: unknown): Promise<ReconcileResult> {
  const args = parseWorkflowArgs('reconcile', reconcileArgsSchema, input);
  const defaults = await workerDefaults();
  const table = args.table ?? defaults.ordersTable;
  const database = args.database ?? defaults.database;
  tagRun('reconcile', table, defaults);
  const segments = args.segments ?? RECONCILE_DEFAULTS.segments;
  const freshnessSeconds = args.freshnessSeconds ?? defaults.reconcileFreshnessSeconds;
  const sampleSize = args.sampleSize ?? RECONCILE_DEFAULTS.sampleSize;
  const bucket = defaults.bucket;
  const prefix = `${defaults.reportsPrefix}/reconcile/${workflowInfo().workflowId}`;
  const scanStartedAt = new Date(Date.now()).toISOString();
  const progress: ReconcileProgress = {
    phase: 'scanning',
    scanStartedAt,
    segments,
    segmentsDone: 0,
    items: 0,
  };
  setHandler(reconcileProgressQuery, () => progress);

  const scanned = await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      const done = await work.scanSegment({
        table,
        bucket,
        prefix,
        segment,
        totalSegments: segments,
        pageSize: args.pageSize ?? RECONCILE_DEFAULTS.pageSize,
        runSize: args.runSize ?? RECONCILE_DEFAULTS.runSize,
        ...(args.maxItemsPerSecond ? { maxItemsPerSecond: args.maxItemsPerSecond / segments } : {}),
      });
      progress.segmentsDone += 1;
      progress.items += done.items;
      return done;
    }),
  );
  const scanEndedAt = Date.now();

  progress.phase = 'comparing';
  const compared = await work.compareWithLake({
    bucket,
    prefix,
    database,
    segments: scanned.map((s) => ({ segment: s.segment, runs: s.runs })),
  });
  progress.candidates = compared.candidates;

  let rechecked = emptyRecheckResult();
  if (compared.candidates > 0) {
    progress.phase = 'waiting';
    const wait = scanEndedAt + freshnessSeconds * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    progress.phase = 'rechecking';
    rechecked = await work.recheckCandidates({
      bucket,
      prefix,
      table,
      database,
      candidateParts: compared.candidateParts,
      scanStartedAt,
      sampleSize,
    });
  }
  await bookkeeping.deleteReconcileObjects({ bucket, prefix });

  const result: ReconcileResult = {
    table,
    view: `${database}.${ORDERS_CURRENT_VIEW}`,
    scanStartedAt,
    freshnessSeconds,
    compared: compared.compared,
    matching: compared.matching + rechecked.matching,
    missing: rechecked.missing,
    extra: rechecked.extra,
    different: rechecked.different,
    inFlight: rechecked.inFlight,
    rechecked: rechecked.rechecked,
    samples: rechecked.samples,
    passed: rechecked.missing + rechecked.extra + rechecked.different === 0,
  };
  await bookkeeping.recordReconcileResult(result);
  progress.phase = 'done';
  return result;
}
