/**
 * Reconcile activities: DynamoDB's orders table against the lake's `orders_current` view, field by field, in
 * bounded memory at any table size.
 *
 * - scanSegment: one parallel Scan segment; each run of up to `runSize` items (whole pages) is sorted by order id
 *   and written as JSON lines to `<reportsPrefix>/reconcile/<runId>/dynamodb/seg-<s>/run-<k>.jsonl`. After each
 *   run is in S3 it heartbeats `{ runs, startKey }` (the LastEvaluatedKey at that run boundary): an attempt that
 *   replaces a crashed one resumes there and rewrites run k under the same key, never a second copy. Only the
 *   runs the activity reports are read, so a crashed attempt's leftover run past that count is ignored.
 * - compareWithLake: one Athena query of the view ordered by order id, its result CSV streamed from S3 (as Athena
 *   documents: the OutputLocation object) and merged with the runs (a k-way merge on a heap, each run read in
 *   ranged chunks so no connection is held per run). Every difference is written to S3 as a candidate.
 * - recheckCandidates: after the freshness bound, the candidates again, from DynamoDB (BatchGetItem) and the
 *   lake (`WHERE order_id IN (…)`): equal now → matching; DynamoDB's version moved on (or the lake row is newer
 *   than the scan) → in flight; still different → drift.
 */
import { Readable } from 'node:stream';
import {
  BatchGetItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { AthenaClient } from '@aws-sdk/client-athena';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { activityInfo, Context } from '@temporalio/activity';
import { parse } from 'csv-parse';
import { Gauge, type Registry } from 'prom-client';
import { ORDERS_CURRENT_VIEW, type Config } from '../config';
import { FailureType } from '../contract/failure-types';
import {
  emptyRecheckResult,
  type DynamoKey,
  type RecheckResult,
  type ReconcileResult,
} from '../contract/types';
import { ORDERS_KEY } from '../domain/table-keys';
import {
  comparableItem,
  comparableLakeRow,
  compareOrderIds,
  differingFields,
  ORDER_ID_COLUMN,
  athenaTimestampMs,
  orderIdOf,
  RECONCILED_COLUMNS,
  versionOf,
  type ComparableRow,
} from '../lake-format/reconcile-row';
import type { Logger } from '../observability/logger';
import { quoteIdent, quoteString } from '../support/duckdb-sql-literals';
import { MinHeap } from '../support/min-heap';
import { sleep } from '../support/timing';
import { createScanPacer } from './scan-pacing';
import { fetchQueryRows, getQueryExecution, startQuery, waitForQuery } from './athena-query';
import { permanentFailure, withAwsErrors } from './errors';

/** `<reportsPrefix>/reconcile/<workflowId>`: everything one reconciliation writes. */
export function reconcilePrefix(reportsPrefix: string, workflowId: string): string {
  return `${reportsPrefix}/reconcile/${workflowId}`;
}

export function runKey(prefix: string, segment: number, run: number): string {
  return `${prefix}/dynamodb/seg-${segment}/run-${run}.jsonl`;
}

function candidatesKey(prefix: string, part: number): string {
  return `${prefix}/candidates/part-${part}.jsonl`;
}

export interface ScanSegmentInput {
  table: string;
  bucket: string;
  prefix: string;
  segment: number;
  totalSegments: number;
  pageSize: number;
  runSize: number;
  /** Read throttle of this segment (items/s); undefined: none. */
  maxItemsPerSecond?: number;
}

/** Heartbeat details and result of a segment: the state at the last run boundary whose object is in S3. */
export interface ScanSegmentProgress {
  segment: number;
  runs: number;
  items: number;
  startKey: DynamoKey | null;
  done: boolean;
  /** Set when this attempt resumed from a previous attempt's heartbeat: the run it resumed at. */
  resumedFromRun?: number;
}

export interface CompareInput {
  bucket: string;
  prefix: string;
  database: string;
  segments: { segment: number; runs: number }[];
}

export interface CompareResult {
  compared: number;
  matching: number;
  dynamodbItems: number;
  lakeRows: number;
  candidates: number;
  candidateParts: number;
  queryExecutionId: string;
}

export interface RecheckInput {
  bucket: string;
  prefix: string;
  table: string;
  database: string;
  candidateParts: number;
  /** ISO-8601: a lake row changed after this is a change still on its way. */
  scanStartedAt: string;
  sampleSize: number;
}

export type { RecheckResult };

interface Candidate {
  orderId: string;
  /** The version the scan read; null when DynamoDB had no such order. */
  version: string | null;
}

/** Candidates per S3 object, and per `IN (…)` recheck query. */
const CANDIDATES_PER_PART = 1000;
/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_KEYS = 100;
/** Each run is read in ranged GETs of this size: memory is runs × this, and no connection stays open per run. */
const RUN_CHUNK_BYTES = 256 * 1024;
const QUERY_TIMEOUT_MS = 60 * 60_000;
/** The lake row's change time, which the view carries beside the order columns. */
const CHANGE_TIME = 'change_time';

const viewColumns = [...RECONCILED_COLUMNS.map((c) => c.name), CHANGE_TIME].map(quoteIdent).join(', ');
const viewName = (database: string) => `${quoteIdent(database)}.${quoteIdent(ORDERS_CURRENT_VIEW)}`;

/** The JSON lines of one run, read in ranged chunks (a line may span two chunks). */
async function* runRows(s3: S3Client, bucket: string, key: string): AsyncGenerator<ComparableRow> {
  let offset = 0;
  let total = Number.POSITIVE_INFINITY;
  let rest = Buffer.alloc(0);
  while (offset < total) {
    const response = await withAwsErrors('s3.GetObject', () =>
      s3.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: `bytes=${offset}-${offset + RUN_CHUNK_BYTES - 1}`,
        }),
      ),
    );
    const body = Buffer.from(await response.Body!.transformToByteArray());
    if (body.length === 0) break;
    total = Number(/\/(\d+)$/.exec(response.ContentRange ?? '')?.[1] ?? offset + body.length);
    offset += body.length;
    const data = rest.length > 0 ? Buffer.concat([rest, body]) : body;
    let start = 0;
    for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
      yield JSON.parse(data.toString('utf8', start, end)) as ComparableRow;
      start = end + 1;
    }
    rest = data.subarray(start);
  }
}

/** `s3://bucket/key` → its parts. */
function s3Location(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) throw permanentFailure(FailureType.AthenaProtocolError, `unexpected OutputLocation ${url}`);
  return { bucket: match[1], key: match[2] };
}

/** The rows of Athena's result CSV, streamed: quoted values, an empty unquoted field is NULL. */
async function* lakeRows(
  s3: S3Client,
  outputLocation: string,
): AsyncGenerator<Record<string, string | null>> {
  const { bucket, key } = s3Location(outputLocation);
  const response = await withAwsErrors('s3.GetObject', () =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
  );
  const parser = (response.Body as Readable).pipe(
    parse({
      columns: true,
      cast: (value, context) => (context.header || context.quoting || value !== '' ? value : null),
    }),
  );
  for await (const record of parser) yield record as Record<string, string | null>;
}

/** Writes candidates in parts of CANDIDATES_PER_PART under deterministic keys (a retried compare overwrites). */
function candidateWriter(s3: S3Client, bucket: string, prefix: string) {
  let buffer: Candidate[] = [];
  let parts = 0;
  let count = 0;
  const flush = async () => {
    if (buffer.length === 0) return;
    const body = buffer.map((c) => JSON.stringify(c)).join('\n') + '\n';
    const key = candidatesKey(prefix, parts);
    await withAwsErrors('s3.PutObject', () =>
      s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }),
      ),
    );
    parts += 1;
    buffer = [];
  };
  return {
    async add(candidate: Candidate) {
      buffer.push(candidate);
      count += 1;
      if (buffer.length >= CANDIDATES_PER_PART) await flush();
    },
    async finish() {
      await flush();
      return { candidates: count, candidateParts: parts };
    },
  };
}

interface LakeQueryHeartbeat {
  queryExecutionId: string;
  startedAt: number;
}

/** The recheck's progress: parts before `part` are counted in `result`; `query` is part `part`'s lake query. */
interface RecheckHeartbeat {
  part: number;
  result: RecheckResult;
  query?: LakeQueryHeartbeat;
}

export function createReconcileActivities(deps: {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  athena: AthenaClient;
  config: Config;
  logger: Logger;
  /** The worker's registry: the last result is exported as gauges. */
  metrics?: Registry;
}) {
  const { dynamodb, s3, athena, config, logger } = deps;

  /**
   * Runs a query of the view and waits for it, resuming the query a previous attempt started (`resume`, from its
   * heartbeat) unless that one failed. `progress` wraps the query's id into the activity's heartbeat details.
   */
  const runLakeQuery = async (
    sql: string,
    database: string,
    key: string,
    resume: LakeQueryHeartbeat | undefined,
    progress: (query: LakeQueryHeartbeat) => unknown,
  ) => {
    const ctx = Context.current();
    const info = activityInfo();
    const resumable =
      resume &&
      ['QUEUED', 'RUNNING', 'SUCCEEDED'].includes(
        (await getQueryExecution(athena, resume.queryExecutionId)).Status?.State ?? '',
      );
    const query: LakeQueryHeartbeat =
      resume && resumable
        ? resume
        : {
            queryExecutionId: await startQuery(athena, {
              sql,
              database,
              workgroup: config.athena.workgroup,
              idempotencyKey: `${info.workflowExecution?.runId}/${key}/${info.attempt}`,
            }),
            startedAt: Date.now(),
          };
    const heartbeat = () => ctx.heartbeat(progress(query));
    heartbeat();
    const execution = await waitForQuery(athena, query.queryExecutionId, {
      sleep: (ms) => ctx.sleep(ms),
      heartbeat,
      timeoutMs: QUERY_TIMEOUT_MS,
      startedAt: query.startedAt,
    });
    return { execution, heartbeat };
  };

  /** The view's rows of `orderIds` (at most one each), by order id, with their change time. */
  const lakeOrders = async (
    orderIds: string[],
    database: string,
    key: string,
    resume: LakeQueryHeartbeat | undefined,
    progress: (query: LakeQueryHeartbeat) => unknown,
  ) => {
    const sql = `SELECT ${viewColumns} FROM ${viewName(database)} WHERE ${quoteIdent(ORDER_ID_COLUMN)} IN (${orderIds.map(quoteString).join(', ')})`;
    const { execution, heartbeat } = await runLakeQuery(sql, database, key, resume, progress);
    const fetched = await fetchQueryRows(athena, execution.QueryExecutionId!, {
      maxRows: orderIds.length + 1,
      maxBytes: Number.MAX_SAFE_INTEGER,
      heartbeat,
    });
    const rows = new Map<string, { row: ComparableRow; changeTime: string | null }>();
    for (const values of fetched.rows) {
      const record = Object.fromEntries(fetched.columns.map((c, i) => [c.name, values[i]]));
      const row = comparableLakeRow(record);
      rows.set(orderIdOf(row), { row, changeTime: record[CHANGE_TIME] ?? null });
    }
    return rows;
  };

  const gauges = deps.metrics && {
    passed: new Gauge({
      name: 'reconcile_last_passed',
      help: 'Whether the last reconciliation of DynamoDB with the lake passed (1) or found drift (0)',
      registers: [deps.metrics],
    }),
    time: new Gauge({
      name: 'reconcile_last_completion_timestamp_seconds',
      help: 'When the last reconciliation finished',
      registers: [deps.metrics],
    }),
    orders: new Gauge({
      name: 'reconcile_last_orders',
      help: 'Orders of the last reconciliation by outcome (compared, matching, missing, extra, different, in_flight)',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    }),
  };

  return {
    async scanSegment(input: ScanSegmentInput): Promise<ScanSegmentProgress> {
      const ctx = Context.current();
      const previous = activityInfo().heartbeatDetails as ScanSegmentProgress | undefined;
      const state: ScanSegmentProgress = previous
        ? { ...previous, resumedFromRun: previous.runs }
        : { segment: input.segment, runs: 0, items: 0, startKey: null, done: false };
      if (previous) logger.info({ segment: input.segment, run: previous.runs }, 'resuming scan segment');
      let run: ComparableRow[] = [];
      let startKey = state.startKey;
      // Through a throttle wait the details stay the last durable run boundary.
      const pacer = createScanPacer(ctx, input.maxItemsPerSecond, () => ({ ...state }));
      while (!state.done) {
        const page = await withAwsErrors(`dynamodb.Scan ${input.table}`, () =>
          dynamodb.send(
            new ScanCommand({
              TableName: input.table,
              Segment: input.segment,
              TotalSegments: input.totalSegments,
              Limit: input.pageSize,
              ConsistentRead: true,
              ExclusiveStartKey: (startKey ?? undefined) as Record<string, AttributeValue> | undefined,
            }),
          ),
        ).catch((error: { type?: string }) => {
          if (error.type === FailureType.ResourceNotFound)
            throw permanentFailure(FailureType.TableNotFound, `table ${input.table} does not exist`, {
              table: input.table,
            });
          throw error;
        });
        for (const item of page.Items ?? []) run.push(comparableItem(unmarshall(item)));
        await pacer.read(page.Items?.length ?? 0);
        startKey = (page.LastEvaluatedKey as DynamoKey | undefined) ?? null;
        if (run.length >= input.runSize || startKey === null) {
          if (run.length > 0) {
            run.sort((a, b) => compareOrderIds(orderIdOf(a), orderIdOf(b)));
            const body = run.map((row) => JSON.stringify(row)).join('\n') + '\n';
            await withAwsErrors('s3.PutObject', () =>
              s3.send(
                new PutObjectCommand({
                  Bucket: input.bucket,
                  Key: runKey(input.prefix, input.segment, state.runs),
                  Body: body,
                  ContentType: 'application/x-ndjson',
                }),
              ),
            );
            state.runs += 1;
            state.items += run.length;
            run = [];
          }
          state.startKey = startKey;
          state.done = startKey === null;
        }
        // Always the last durable run boundary: a retry resumes there, whatever this attempt read since.
        ctx.heartbeat({ ...state });
      }
      return state;
    },

    async compareWithLake(input: CompareInput): Promise<CompareResult> {
      const sql = `SELECT ${viewColumns} FROM ${viewName(input.database)} ORDER BY ${quoteIdent(ORDER_ID_COLUMN)}`;
      const resume = (activityInfo().heartbeatDetails as { query?: LakeQueryHeartbeat } | undefined)?.query;
      const { execution, heartbeat } = await runLakeQuery(sql, input.database, 'lake', resume, (query) => ({
        query,
      }));
      const outputLocation = execution.ResultConfiguration?.OutputLocation;
      if (!outputLocation)
        throw permanentFailure(FailureType.AthenaProtocolError, 'the lake query has no OutputLocation');

      type Head = { row: ComparableRow; id: string; rows: AsyncGenerator<ComparableRow> };
      const heap = new MinHeap<Head>((a, b) => compareOrderIds(a.id, b.id));
      const advance = async (rows: AsyncGenerator<ComparableRow>) => {
        const next = await rows.next();
        if (!next.done) heap.push({ row: next.value, id: orderIdOf(next.value), rows });
      };
      for (const { segment, runs } of input.segments)
        for (let run = 0; run < runs; run++)
          await advance(runRows(s3, input.bucket, runKey(input.prefix, segment, run)));

      const candidates = candidateWriter(s3, input.bucket, input.prefix);
      const lake = lakeRows(s3, outputLocation);
      let lakeNext = await lake.next();
      let compared = 0;
      let matching = 0;
      let dynamodbItems = 0;
      let lakeCount = 0;
      while (heap.size > 0 || !lakeNext.done) {
        const head = heap.peek();
        const lakeRow = lakeNext.done ? undefined : comparableLakeRow(lakeNext.value);
        const order = head && lakeRow ? compareOrderIds(head.id, orderIdOf(lakeRow)) : head ? -1 : 1;
        compared += 1;
        if (order <= 0) {
          heap.pop();
          dynamodbItems += 1;
          await advance(head!.rows);
        }
        if (order >= 0) {
          lakeCount += 1;
          lakeNext = await lake.next();
        }
        if (order === 0 && differingFields(head!.row, lakeRow!).length === 0) matching += 1;
        else
          await candidates.add(
            order > 0
              ? { orderId: orderIdOf(lakeRow!), version: null }
              : { orderId: head!.id, version: versionOf(head!.row) },
          );
        if (compared % 1000 === 0) heartbeat();
      }
      const written = await candidates.finish();
      logger.info(
        { compared, matching, dynamodbItems, lakeRows: lakeCount, ...written },
        'compared with the lake',
      );
      return {
        compared,
        matching,
        dynamodbItems,
        lakeRows: lakeCount,
        ...written,
        queryExecutionId: execution.QueryExecutionId ?? '',
      };
    },

    async recheckCandidates(input: RecheckInput): Promise<RecheckResult> {
      const ctx = Context.current();
      const previous = activityInfo().heartbeatDetails as RecheckHeartbeat | undefined;
      const result: RecheckResult = previous?.result ?? emptyRecheckResult();
      const scanStartedAt = Date.parse(input.scanStartedAt);
      for (let part = previous?.part ?? 0; part < input.candidateParts; part++) {
        const body = await withAwsErrors('s3.GetObject', () =>
          s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: candidatesKey(input.prefix, part) })),
        );
        const candidates = (await body.Body!.transformToString())
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Candidate);
        const dynamo = await batchGetOrders(
          dynamodb,
          input.table,
          candidates.map((c) => c.orderId),
        );
        // The result as of this part's start: a retry redoes the part from there (with the same query).
        const atStart = structuredClone(result);
        const lake = await lakeOrders(
          candidates.map((c) => c.orderId),
          input.database,
          `recheck-${part}`,
          previous?.part === part ? previous.query : undefined,
          (query): RecheckHeartbeat => ({ part, result: atStart, query }),
        );
        for (const candidate of candidates) {
          const now = dynamo.get(candidate.orderId);
          const inLake = lake.get(candidate.orderId);
          result.rechecked += 1;
          const fields = now && inLake ? differingFields(now, inLake.row) : undefined;
          if (fields?.length === 0 || (!now && !inLake)) {
            result.matching += 1;
          } else if (
            versionOf(now) !== candidate.version ||
            (!now && athenaTimestampMs(inLake!.changeTime) >= scanStartedAt)
          ) {
            result.inFlight += 1;
          } else if (!inLake) {
            result.missing += 1;
            sample(result.samples.missing, candidate.orderId, input.sampleSize);
          } else if (!now) {
            result.extra += 1;
            sample(result.samples.extra, candidate.orderId, input.sampleSize);
          } else {
            result.different += 1;
            sample(
              result.samples.different,
              { orderId: candidate.orderId, fields: fields! },
              input.sampleSize,
            );
          }
        }
        ctx.heartbeat({ part: part + 1, result: structuredClone(result) } satisfies RecheckHeartbeat);
      }
      return result;
    },

    /** Deletes what the run wrote under its prefix (sorted runs, candidates). */
    async deleteReconcileObjects(input: { bucket: string; prefix: string }): Promise<number> {
      let deleted = 0;
      for await (const page of paginateListObjectsV2(
        { client: s3 },
        { Bucket: input.bucket, Prefix: `${input.prefix}/` },
      )) {
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length === 0) continue;
        await withAwsErrors('s3.DeleteObjects', () =>
          s3.send(new DeleteObjectsCommand({ Bucket: input.bucket, Delete: { Objects: keys, Quiet: true } })),
        );
        deleted += keys.length;
      }
      return deleted;
    },

    /** Exports the result as the worker's `reconcile_last_*` gauges. */
    async recordReconcileResult(result: ReconcileResult): Promise<void> {
      if (!gauges) return;
      gauges.passed.set(result.passed ? 1 : 0);
      gauges.time.set(Date.now() / 1000);
      const outcomes = {
        compared: result.compared,
        matching: result.matching,
        missing: result.missing,
        extra: result.extra,
        different: result.different,
        in_flight: result.inFlight,
      };
      for (const [outcome, value] of Object.entries(outcomes)) gauges.orders.set({ outcome }, value);
    },
  };
}

function sample<T>(list: T[], item: T, size: number): void {
  if (list.length < size) list.push(item);
}

/** The current items of `orderIds` (strongly consistent), in comparable form; unprocessed keys are retried. */
async function batchGetOrders(
  dynamodb: DynamoDBClient,
  table: string,
  orderIds: string[],
): Promise<Map<string, ComparableRow>> {
  const found = new Map<string, ComparableRow>();
  for (let i = 0; i < orderIds.length; i += BATCH_GET_KEYS) {
    let keys: Record<string, AttributeValue>[] | undefined = orderIds
      .slice(i, i + BATCH_GET_KEYS)
      .map((id) => ({ [ORDERS_KEY]: { S: id } }));
    for (let attempt = 0; keys && keys.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(5000, 50 * 2 ** attempt));
      const response = await withAwsErrors(`dynamodb.BatchGetItem ${table}`, () =>
        dynamodb.send(
          new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
        ),
      );
      for (const item of response.Responses?.[table] ?? []) {
        const row = comparableItem(unmarshall(item));
        found.set(orderIdOf(row), row);
      }
      keys = response.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return found;
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
