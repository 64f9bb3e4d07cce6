/**
 * Query executions over time: a FIFO queue with a concurrency limit (QUEUED → RUNNING), the run on the
 * engine, and the end state (SUCCEEDED / FAILED with the engine's message / CANCELLED by StopQueryExecution)
 * with statistics. Results are written to `<OutputLocation>` in S3 as the engine produces them (`<id>.csv`
 * in parts + `<id>.csv.metadata`, or `.txt` for SHOW/DESCRIBE), as Athena does, and GetQueryResults pages
 * through that CSV with ranged reads, so no result is ever held whole in memory. `<lakeDir>/results/<id>.json`
 * keeps what paging needs (the columns and the CSV's size; the rows themselves only for SHOW/DESCRIBE, which
 * are small), and survives a restart of the endpoint.
 *
 * A stop takes effect wherever the query is: queued (removed), planning (every step checks the signal),
 * executing (DuckDB interrupted) or storing (the upload is aborted); a stopped query never ends SUCCEEDED.
 */
import { setMaxListeners } from 'node:events';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../logger';
import { errorMessage, type InputErrorFactory } from '../errors';
import type { LakeState, QueryExecutionRecord } from '../lake-state';
import { decodeNextToken, encodeNextToken, nowEpochSeconds } from '../protocol';
import {
  createObjectUpload,
  deleteObject,
  describeS3Error,
  getObjectBytes,
  parseS3Url,
  putObject,
} from '../s3-objects';
import { readJsonFile, type StateFile, writeFileAtomic } from '../state-file';
import { QUERY_EXHAUSTED_RESOURCES } from './athena-errors';
import { QueryFailedError, type QueryEngine, type QueryRequest, type ResultSink } from './query-engine';
import { type Cell, type ColumnInfo, parseCsvRows, toCsv } from './result-format';
import { QueryRejectedError } from './sql-guard';

export interface StoredResults {
  columns: ColumnInfo[];
  header: boolean;
  /** SHOW/DESCRIBE rows (and, from before results were paged from S3, every result's rows). */
  rows?: Cell[][];
  /** Size of the result CSV in S3, which GetQueryResults pages through when `rows` is absent. */
  csvBytes?: number;
  /** Rows of the CSV, header included: sizes a page's read so that one ranged GET usually suffices. */
  csvRows?: number;
}

export interface ResultPage {
  columns: ColumnInfo[];
  rows: Cell[][];
  nextToken?: string;
}

/** The smallest ranged read of a page; doubled while the page is not full (rows longer than average). */
const MIN_READ_BYTES = 64 * 1024;
const MAX_READ_BYTES = 16 * 1024 * 1024;

const MAX_QUERIES_KEPT = 10_000;

const RESULT_WRITE_FAILURE = 'Unable to write query results to';
const RESULT_CACHE_SIZE = 8;

/** AthenaError.ErrorCategory as the Athena error catalog numbers them (3, OTHER, is never given here). */
const ERROR_CATEGORY = { SYSTEM: 1, USER: 2 } as const;
/**
 * AthenaError.ErrorType from the Athena error catalog: 1 "Query exhausted resources at this scale factor" (out of
 * memory, as Athena's DuckDB engine numbers it; not retryable), 100 "Internal service error", 401 "Failed to write
 * query results to Amazon S3", 1000 "User error".
 */
const ERROR_TYPE = { EXHAUSTED_RESOURCES: 1, INTERNAL: 100, RESULT_WRITE: 401, USER: 1000 } as const;

export type QueryRunner = ReturnType<typeof createQueryRunner>;

/** The `.txt` result of SHOW/DESCRIBE: one line a row, tab-separated. */
const textLines = (rows: Cell[][]) => rows.map((row) => `${row.map((c) => c ?? '').join('\t')}\n`).join('');

export function createQueryRunner(deps: {
  state: LakeState;
  file: StateFile;
  engine: QueryEngine;
  s3: S3Client;
  resultsDir: string;
  logger: Logger;
  concurrency: number;
}) {
  const { state, file, engine, logger } = deps;
  const queue: { record: QueryExecutionRecord; request: QueryRequest }[] = [];
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const recentResults = new Map<string, StoredResults>();
  let shuttingDown = false;

  const resultsPath = (id: string) => join(deps.resultsDir, `${id}.json`);

  const remember = (id: string, results: StoredResults) => {
    recentResults.delete(id);
    recentResults.set(id, results);
    while (recentResults.size > RESULT_CACHE_SIZE)
      recentResults.delete(recentResults.keys().next().value as string);
  };

  /** A sink that uploads the result as it comes, and the steps that publish or drop it. */
  const resultUpload = (record: QueryExecutionRecord, signal: AbortSignal) => {
    const url = record.ResultConfiguration.OutputLocation;
    const { bucket, key } = parseS3Url(url);
    const failed = (error: unknown) =>
      signal.aborted
        ? error
        : new QueryFailedError(`${RESULT_WRITE_FAILURE} ${url}: ${describeS3Error(error)}`);
    let stored: StoredResults | undefined;
    let publishing = false;
    let csvRowCount = 0;
    let upload: ReturnType<typeof createObjectUpload> | undefined;
    const write = async (text: string) => {
      try {
        await upload?.write(text);
      } catch (error) {
        throw failed(error);
      }
    };
    const sink: ResultSink = {
      async columns(columns, header) {
        stored = { columns, header, ...(header ? {} : { rows: [] }) };
        upload = createObjectUpload(deps.s3, bucket, key, header ? 'text/csv' : 'text/plain', signal);
        if (header) {
          csvRowCount = 1;
          await write(
            toCsv(
              columns.map((c) => c.Name),
              [],
            ),
          );
        }
      },
      async rows(rows) {
        if (stored?.rows) {
          stored.rows.push(...rows);
          await write(textLines(rows));
        } else {
          csvRowCount += rows.length;
          await write(toCsv(undefined, rows));
        }
      },
    };
    return {
      sink,
      async publish() {
        if (!stored || !upload) throw new Error('the engine produced no result columns');
        publishing = true;
        try {
          const bytes = await upload.finish();
          if (stored.header) {
            stored.csvBytes = bytes;
            stored.csvRows = csvRowCount;
          }
          // Athena's .metadata is a binary protobuf; here it is the ColumnInfo list as JSON.
          await putObject(
            deps.s3,
            bucket,
            `${key}.metadata`,
            JSON.stringify({ ColumnInfo: stored.columns }),
            'application/json',
          );
        } catch (error) {
          throw failed(error);
        }
        await writeFileAtomic(resultsPath(record.QueryExecutionId), JSON.stringify(stored));
        remember(record.QueryExecutionId, stored);
      },
      async discard() {
        await upload
          ?.abort()
          .catch((error: unknown) =>
            logger.warn(
              { queryExecutionId: record.QueryExecutionId, error: describeS3Error(error) },
              'result upload not aborted',
            ),
          );
        if (!publishing) return;
        // A stop that came while the result was being published: what was already stored must go too (an
        // aborted PUT may also have been stored by S3 before the abort reached it).
        recentResults.delete(record.QueryExecutionId);
        await unlink(resultsPath(record.QueryExecutionId)).catch(() => undefined);
        for (const stale of [key, `${key}.metadata`])
          await deleteObject(deps.s3, bucket, stale).catch((error: unknown) =>
            logger.warn(
              { queryExecutionId: record.QueryExecutionId, key: stale, error: describeS3Error(error) },
              'result of a stopped query not deleted',
            ),
          );
      },
    };
  };

  const storedResults = async (id: string): Promise<StoredResults | undefined> => {
    const cached = recentResults.get(id);
    if (cached) return cached;
    const stored = (await readJsonFile(resultsPath(id))) as StoredResults | undefined;
    if (stored) remember(id, stored);
    return stored;
  };

  /** Whole rows of the result CSV from byte `offset` on, reading ranges until `max` rows or the end. */
  const csvRows = async (
    record: QueryExecutionRecord,
    stored: StoredResults,
    offset: number,
    max: number,
  ) => {
    const { bucket, key } = parseS3Url(record.ResultConfiguration.OutputLocation);
    const csvBytes = stored.csvBytes ?? 0;
    const averageRow = csvBytes / Math.max(1, stored.csvRows ?? 1);
    let buffered = Buffer.alloc(0);
    let readTo = offset;
    let span = Math.min(MAX_READ_BYTES, Math.max(MIN_READ_BYTES, Math.ceil(averageRow * max * 1.25)));
    const rows: Cell[][] = [];
    let position = offset;
    while (rows.length < max && position < csvBytes) {
      const end = Math.min(csvBytes, readTo + span);
      const bytes = await getObjectBytes(deps.s3, bucket, key, { start: readTo, end });
      buffered = Buffer.concat([buffered, bytes]);
      readTo = end;
      const parsed = parseCsvRows(buffered, max - rows.length);
      rows.push(...parsed.rows);
      position += parsed.consumed;
      buffered = buffered.subarray(parsed.consumed);
      span = Math.min(span * 2, MAX_READ_BYTES);
      if (readTo >= csvBytes && parsed.rows.length === 0 && buffered.length > 0)
        throw new Error(`the result CSV of ${record.QueryExecutionId} ends inside a row`);
    }
    return { rows, next: position };
  };

  const forget = (record: QueryExecutionRecord) => {
    state.queries.delete(record.QueryExecutionId);
    recentResults.delete(record.QueryExecutionId);
    unlink(resultsPath(record.QueryExecutionId)).catch(() => undefined);
  };

  const trimHistory = () => {
    if (state.queries.size <= MAX_QUERIES_KEPT) return;
    for (const record of state.queries.values()) {
      if (state.queries.size <= MAX_QUERIES_KEPT) break;
      if (record.Status.State === 'QUEUED' || record.Status.State === 'RUNNING') continue;
      forget(record);
    }
    for (const [token, id] of state.clientTokens)
      if (!state.queries.has(id)) state.clientTokens.delete(token);
  };

  const end = (
    record: QueryExecutionRecord,
    final: 'SUCCEEDED' | 'FAILED' | 'CANCELLED',
    reason?: string,
    category?: 'USER' | 'SYSTEM',
  ) => {
    const now = nowEpochSeconds();
    const exhausted = reason?.startsWith(QUERY_EXHAUSTED_RESOURCES) ?? false;
    record.Status = {
      State: final,
      SubmissionDateTime: record.Status.SubmissionDateTime,
      CompletionDateTime: now,
      ...(reason !== undefined ? { StateChangeReason: reason } : {}),
      ...(final === 'FAILED' && reason !== undefined
        ? {
            AthenaError: {
              ErrorCategory: ERROR_CATEGORY[category ?? 'USER'],
              ErrorType: exhausted
                ? ERROR_TYPE.EXHAUSTED_RESOURCES
                : category === 'SYSTEM'
                  ? ERROR_TYPE.INTERNAL
                  : reason.startsWith(RESULT_WRITE_FAILURE)
                    ? ERROR_TYPE.RESULT_WRITE
                    : ERROR_TYPE.USER,
              // The same query runs out of memory again.
              Retryable: category === 'SYSTEM' && !exhausted,
              ErrorMessage: reason,
            },
          }
        : {}),
    };
    record.Statistics.TotalExecutionTimeInMillis = Math.round(
      (now - record.Status.SubmissionDateTime) * 1000,
    );
    file.markDirty();
  };

  const execute = async (
    record: QueryExecutionRecord,
    request: QueryRequest,
    controller: AbortController,
  ) => {
    const startedAt = nowEpochSeconds();
    record.Status.State = 'RUNNING';
    record.Statistics.QueryQueueTimeInMillis = Math.round(
      (startedAt - record.Status.SubmissionDateTime) * 1000,
    );
    file.markDirty();
    const result = resultUpload(record, controller.signal);
    try {
      const outcome = await engine.run(request, controller.signal, result.sink);
      controller.signal.throwIfAborted();
      const stored = Date.now();
      await result.publish();
      logger.debug(
        { queryExecutionId: record.QueryExecutionId, storeMs: Date.now() - stored },
        'results stored',
      );
      // A stop that came while the result was being published still wins.
      controller.signal.throwIfAborted();
      record.Statistics = {
        ...record.Statistics,
        EngineExecutionTimeInMillis: outcome.engineMs + outcome.planningMs,
        QueryPlanningTimeInMillis: outcome.planningMs,
        DataScannedInBytes: outcome.dataScannedBytes,
        ServiceProcessingTimeInMillis: 0,
      };
      end(record, 'SUCCEEDED');
      logger.info(
        {
          queryExecutionId: record.QueryExecutionId,
          rows: outcome.rowCount,
          dataScannedBytes: outcome.dataScannedBytes,
          ms: Math.round((nowEpochSeconds() - startedAt) * 1000),
        },
        'query succeeded',
      );
    } catch (error) {
      await result.discard();
      if (controller.signal.aborted && shuttingDown) {
        end(record, 'FAILED', 'the local lake endpoint stopped while the query was running', 'SYSTEM');
      } else if (controller.signal.aborted) {
        end(record, 'CANCELLED', 'Query was cancelled by user (StopQueryExecution)');
      } else if (error instanceof QueryFailedError || error instanceof QueryRejectedError) {
        end(record, 'FAILED', error.message, error instanceof QueryFailedError ? error.category : 'USER');
        logger.info({ queryExecutionId: record.QueryExecutionId, reason: error.message }, 'query failed');
      } else {
        end(
          record,
          'FAILED',
          `Internal error of the local Athena endpoint: ${errorMessage(error)}`,
          'SYSTEM',
        );
        logger.error(
          {
            queryExecutionId: record.QueryExecutionId,
            err: error,
          },
          'query crashed',
        );
      }
    }
    trimHistory();
    await file.flush().catch((error: unknown) => logger.error({ err: error }, 'state flush failed'));
  };

  const pump = () => {
    while (running.size < deps.concurrency && queue.length > 0) {
      const next = queue.shift();
      if (!next) break;
      const controller = new AbortController();
      // Every concurrent S3 download of the query listens on this signal.
      setMaxListeners(0, controller.signal);
      const id = next.record.QueryExecutionId;
      const entry = { controller, done: Promise.resolve() };
      entry.done = execute(next.record, next.request, controller).finally(() => {
        running.delete(id);
        pump();
      });
      running.set(id, entry);
    }
  };

  return {
    /** Queues a QUEUED record that is already in the state. */
    submit(record: QueryExecutionRecord, request: QueryRequest): void {
      queue.push({ record, request });
      setImmediate(pump);
    },

    /** Marks a query that was refused before running (rejected statement) as FAILED right away. */
    reject(record: QueryExecutionRecord, reason: string): void {
      end(record, 'FAILED', reason, 'USER');
    },

    stop(record: QueryExecutionRecord): void {
      const queued = queue.findIndex((q) => q.record === record);
      if (queued !== -1) {
        queue.splice(queued, 1);
        end(record, 'CANCELLED', 'Query was cancelled by user (StopQueryExecution)');
        return;
      }
      running.get(record.QueryExecutionId)?.controller.abort();
    },

    /** Rows and bytes of a finished query's result file (a SELECT's header row is not a row of it). */
    async resultSize(record: QueryExecutionRecord): Promise<{ rows: number; bytes: number } | undefined> {
      const stored = await storedResults(record.QueryExecutionId);
      if (!stored) return undefined;
      if (stored.rows) return { rows: stored.rows.length, bytes: Buffer.byteLength(textLines(stored.rows)) };
      return { rows: Math.max(0, (stored.csvRows ?? 1) - 1), bytes: stored.csvBytes ?? 0 };
    },

    /**
     * One page of a SUCCEEDED query's result: up to `max` rows (the header row first on the first page of a
     * SELECT), from the position `nextToken` names.
     */
    async page(
      record: QueryExecutionRecord,
      nextToken: string | undefined,
      max: number,
      invalid: InputErrorFactory,
    ): Promise<ResultPage | undefined> {
      const id = record.QueryExecutionId;
      const stored = await storedResults(id);
      if (!stored) return undefined;
      const scope = `results:${id}`;
      const offset = decodeNextToken(nextToken, scope, invalid);
      if (stored.rows) {
        const all = stored.header ? [stored.columns.map((c) => c.Name), ...stored.rows] : stored.rows;
        const rows = all.slice(offset, offset + max);
        const next = offset + rows.length;
        return {
          columns: stored.columns,
          rows,
          nextToken: next < all.length ? encodeNextToken(scope, next) : undefined,
        };
      }
      const csvBytes = stored.csvBytes ?? 0;
      if (offset > csvBytes) throw invalid('NextToken is invalid or belongs to another request');
      let read: Awaited<ReturnType<typeof csvRows>>;
      try {
        read = await csvRows(record, stored, offset, max);
      } catch (error) {
        throw invalid(
          `The results of query ${id} cannot be read from ${record.ResultConfiguration.OutputLocation}: ${describeS3Error(error)}`,
        );
      }
      return {
        columns: stored.columns,
        rows: read.rows,
        nextToken: read.next < csvBytes ? encodeNextToken(scope, read.next) : undefined,
      };
    },

    async shutdown(): Promise<void> {
      shuttingDown = true;
      for (const { record } of queue.splice(0))
        end(record, 'FAILED', 'the local lake endpoint stopped before the query ran', 'SYSTEM');
      for (const r of running.values()) r.controller.abort();
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}
