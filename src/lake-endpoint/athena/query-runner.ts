/**
 * Query executions over time: a FIFO queue with a concurrency limit (QUEUED → RUNNING), the run on the
 * engine, and the end state (SUCCEEDED / FAILED with the engine's message / CANCELLED by StopQueryExecution)
 * with statistics. Results go to `<OutputLocation>` in S3 (`<id>.csv` + `<id>.csv.metadata`, or `.txt`
 * for SHOW/DESCRIBE) and to `<lakeDir>/results/<id>.json`, which GetQueryResults pages through (and which
 * survives a restart of the endpoint).
 */
import { setMaxListeners } from 'node:events';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../logger';
import { errorMessage } from '../errors';
import type { LakeState, QueryExecutionRecord } from '../lake-state';
import { nowEpochSeconds } from '../protocol';
import { describeS3Error, parseS3Url, putObject } from '../s3-objects';
import { readJsonFile, type StateFile, writeFileAtomic } from '../state-file';
import { QueryFailedError, type QueryEngine, type QueryOutcome, type QueryRequest } from './query-engine';
import { type Cell, type ColumnInfo, toCsv } from './result-format';
import { QueryRejectedError } from './sql-guard';

export interface StoredResults {
  columns: ColumnInfo[];
  rows: Cell[][];
  header: boolean;
}

const MAX_QUERIES_KEPT = 10_000;
const RESULT_CACHE_SIZE = 8;

const ERROR_CATEGORY = { SYSTEM: 1, USER: 2 } as const;

export type QueryRunner = ReturnType<typeof createQueryRunner>;

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

  const storeResults = async (record: QueryExecutionRecord, outcome: QueryOutcome) => {
    const stored: StoredResults = { columns: outcome.columns, rows: outcome.rows, header: outcome.header };
    const url = record.ResultConfiguration.OutputLocation;
    const { bucket, key } = parseS3Url(url);
    const body = outcome.header
      ? toCsv(
          outcome.columns.map((c) => c.Name),
          outcome.rows,
        )
      : outcome.rows.map((row) => row.map((c) => c ?? '').join('\t')).join('\n') +
        (outcome.rows.length ? '\n' : '');
    try {
      await putObject(deps.s3, bucket, key, body, outcome.header ? 'text/csv' : 'text/plain');
      // Athena's .metadata is a binary protobuf; here it is the ColumnInfo list as JSON.
      await putObject(
        deps.s3,
        bucket,
        `${key}.metadata`,
        JSON.stringify({ ColumnInfo: outcome.columns }),
        'application/json',
      );
    } catch (error) {
      throw new QueryFailedError(`Unable to write query results to ${url}: ${describeS3Error(error)}`);
    }
    await writeFileAtomic(resultsPath(record.QueryExecutionId), JSON.stringify(stored));
    remember(record.QueryExecutionId, stored);
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
    record.Status = {
      State: final,
      SubmissionDateTime: record.Status.SubmissionDateTime,
      CompletionDateTime: now,
      ...(reason !== undefined ? { StateChangeReason: reason } : {}),
      ...(final === 'FAILED' && reason !== undefined
        ? {
            AthenaError: {
              ErrorCategory: ERROR_CATEGORY[category ?? 'USER'],
              ErrorType: category === 'SYSTEM' ? 401 : /^Parser Error/.test(reason) ? 1100 : 1000,
              Retryable: category === 'SYSTEM',
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
    try {
      const outcome = await engine.run(request, controller.signal);
      controller.signal.throwIfAborted();
      const stored = Date.now();
      await storeResults(record, outcome);
      logger.debug(
        { queryExecutionId: record.QueryExecutionId, storeMs: Date.now() - stored },
        'results stored',
      );
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
          rows: outcome.rows.length,
          dataScannedBytes: outcome.dataScannedBytes,
          ms: Math.round((nowEpochSeconds() - startedAt) * 1000),
        },
        'query succeeded',
      );
    } catch (error) {
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

    async results(id: string): Promise<StoredResults | undefined> {
      const cached = recentResults.get(id);
      if (cached) return cached;
      const stored = (await readJsonFile(resultsPath(id))) as StoredResults | undefined;
      if (stored) remember(id, stored);
      return stored;
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
