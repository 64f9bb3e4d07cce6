/**
 * Running one Athena query from an activity: start (idempotent per activity through ClientRequestToken), wait
 * while heartbeating, page the results with bounds. Shared by the ad-hoc query and the report activities.
 *
 * The waiting loop takes the activity's `sleep` and `heartbeat` so that a cancelled activity wakes up with a
 * CancelledFailure (the caller then stops the query) and a killed worker's successor resumes the same query from
 * the heartbeat details instead of starting another.
 */
import { createHash } from 'node:crypto';
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type QueryExecution,
} from '@aws-sdk/client-athena';
import { permanentFailure, withAwsErrors } from './errors';
import type { AthenaRunInfo, QueryColumn } from '../contract/types';
import { FailureType } from '../contract/failure-types';

export interface StartQueryInput {
  sql: string;
  database: string;
  workgroup: string;
  /** Same token, same query: a retried start does not run the query twice (Athena keeps tokens for a while). */
  idempotencyKey: string;
}

/** Athena wants 32-128 characters; a hash of the key fits and stays deterministic. */
export function clientRequestToken(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex');
}

export async function startQuery(athena: AthenaClient, input: StartQueryInput): Promise<string> {
  const response = await withAwsErrors('athena.StartQueryExecution', () =>
    athena.send(
      new StartQueryExecutionCommand({
        QueryString: input.sql,
        QueryExecutionContext: { Database: input.database, Catalog: 'AwsDataCatalog' },
        WorkGroup: input.workgroup,
        ClientRequestToken: clientRequestToken(input.idempotencyKey),
      }),
    ),
  );
  if (!response.QueryExecutionId)
    throw permanentFailure(FailureType.AthenaProtocolError, 'StartQueryExecution returned no id');
  return response.QueryExecutionId;
}

export async function getQueryExecution(athena: AthenaClient, id: string): Promise<QueryExecution> {
  const response = await withAwsErrors('athena.GetQueryExecution', () =>
    athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id })),
  );
  if (!response.QueryExecution)
    throw permanentFailure(FailureType.AthenaProtocolError, `GetQueryExecution ${id} returned nothing`);
  return response.QueryExecution;
}

export async function stopQuery(athena: AthenaClient, id: string): Promise<void> {
  await withAwsErrors('athena.StopQueryExecution', () =>
    athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id })),
  );
}

export interface WaitOptions {
  /** Cancellable sleep (the activity context's): rejects with CancelledFailure when the activity is cancelled. */
  sleep: (ms: number) => Promise<void>;
  heartbeat: () => void;
  /** Give up after this long: the query is stopped and the failure is QueryTimeout (non-retryable). */
  timeoutMs: number;
  startedAt?: number;
}

/**
 * Polls until the query ends: 200 ms at first, backing off to 2 s (most lake queries take seconds).
 * FAILED and CANCELLED become non-retryable failures carrying Athena's StateChangeReason.
 */
export async function waitForQuery(
  athena: AthenaClient,
  id: string,
  options: WaitOptions,
): Promise<QueryExecution> {
  const startedAt = options.startedAt ?? Date.now();
  let delay = 200;
  for (;;) {
    const execution = await getQueryExecution(athena, id);
    const state = execution.Status?.State;
    if (state === 'SUCCEEDED') return execution;
    if (state === 'FAILED') {
      throw permanentFailure(
        FailureType.QueryFailed,
        `Athena query ${id} failed: ${execution.Status?.StateChangeReason ?? 'no reason given'}`,
        {
          queryExecutionId: id,
          reason: execution.Status?.StateChangeReason,
          errorType: execution.Status?.AthenaError?.ErrorType,
        },
      );
    }
    if (state === 'CANCELLED') {
      throw permanentFailure(
        FailureType.QueryCancelled,
        `Athena query ${id} was cancelled: ${execution.Status?.StateChangeReason ?? ''}`.trim(),
        {
          queryExecutionId: id,
        },
      );
    }
    if (Date.now() - startedAt > options.timeoutMs) {
      await stopQuery(athena, id);
      throw permanentFailure(
        FailureType.QueryTimeout,
        `Athena query ${id} did not finish within ${options.timeoutMs / 1000} s (stopped)`,
        {
          queryExecutionId: id,
        },
      );
    }
    options.heartbeat();
    await options.sleep(delay);
    delay = Math.min(2000, Math.round(delay * 1.5));
  }
}

export interface FetchOptions {
  maxRows: number;
  /** Stop collecting (and mark truncated) past this many bytes of values: workflow payloads stay small. */
  maxBytes: number;
  heartbeat: () => void;
}

export interface FetchedRows {
  columns: QueryColumn[];
  rows: (string | null)[][];
  truncated: boolean;
}

/**
 * Pages GetQueryResults (1,000 rows a page). Athena's first row of a SELECT result is the header: it is dropped
 * when it repeats the column names.
 */
export async function fetchQueryRows(
  athena: AthenaClient,
  id: string,
  options: FetchOptions,
): Promise<FetchedRows> {
  const rows: (string | null)[][] = [];
  let columns: QueryColumn[] = [];
  let nextToken: string | undefined;
  let first = true;
  let bytes = 0;
  do {
    const page = await withAwsErrors('athena.GetQueryResults', () =>
      athena.send(
        new GetQueryResultsCommand({
          QueryExecutionId: id,
          NextToken: nextToken,
          MaxResults: Math.min(1000, options.maxRows - rows.length + (first ? 1 : 0)),
        }),
      ),
    );
    if (first) {
      columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({
        name: c.Label ?? c.Name ?? '',
        type: c.Type ?? 'varchar',
      }));
    }
    let pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
    if (
      first &&
      pageRows.length > 0 &&
      columns.length > 0 &&
      pageRows[0].every((v, i) => v === columns[i]?.name)
    ) {
      pageRows = pageRows.slice(1);
    }
    first = false;
    for (const row of pageRows) {
      const size = row.reduce((sum, v) => sum + (v?.length ?? 4) + 3, 0);
      if (rows.length >= options.maxRows || bytes + size > options.maxBytes) {
        return { columns, rows, truncated: true };
      }
      rows.push(row);
      bytes += size;
    }
    nextToken = page.NextToken;
    options.heartbeat();
    if (rows.length >= options.maxRows && nextToken) return { columns, rows, truncated: true };
  } while (nextToken);
  return { columns, rows, truncated: false };
}

/** Where the result is, what it cost and how long it took, from the finished execution. */
export function runInfo(execution: QueryExecution): AthenaRunInfo {
  const stats = execution.Statistics;
  return {
    queryExecutionId: execution.QueryExecutionId ?? '',
    outputLocation: execution.ResultConfiguration?.OutputLocation,
    bytesScanned: stats?.DataScannedInBytes ?? 0,
    engineTimeMs: stats?.EngineExecutionTimeInMillis ?? 0,
    totalTimeMs: stats?.TotalExecutionTimeInMillis ?? 0,
  };
}
