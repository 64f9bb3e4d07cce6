/**
 * GetQueryRuntimeStatistics: a query's timeline and the rows and bytes it read and wrote, as far as the local
 * engine knows them (no input row count, one stage).
 * GetQueryResults: a finished query's rows, ≤ 1,000 a page, with the header row first on the first page for
 * a SELECT, as Athena pages them (read from the result in S3, see query-runner). A query not SUCCEEDED answers why there is nothing to read.
 */
import { z } from 'zod';
import { athenaErrors } from '../errors';
import type { LakeState, QueryState } from '../lake-state';
import type { OperationHandler } from '../protocol';
import { athenaInput } from './athena-requests';
import { queryExecutionId, requireQueryExecution } from './query-execution-operations';
import type { QueryRunner } from './query-runner';

/** A query's state as Trino names the state of its stage. */
const STAGE_STATE: Record<QueryState, string> = {
  QUEUED: 'PLANNED',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'FINISHED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELED',
};

export function queryResultsOperation(
  state: LakeState,
  runner: QueryRunner,
): Record<string, OperationHandler> {
  return {
    GetQueryRuntimeStatistics: async (raw) => {
      const req = athenaInput(z.looseObject({ QueryExecutionId: queryExecutionId }), raw);
      const record = requireQueryExecution(state, req.QueryExecutionId);
      const statistics = record.Statistics;
      const output = record.Status.State === 'SUCCEEDED' ? await runner.resultSize(record) : undefined;
      const rows = {
        InputBytes: statistics.DataScannedInBytes,
        OutputRows: output?.rows,
        OutputBytes: output?.bytes,
      };
      return {
        QueryRuntimeStatistics: {
          Timeline: {
            QueryQueueTimeInMillis: statistics.QueryQueueTimeInMillis,
            ServicePreProcessingTimeInMillis: 0,
            QueryPlanningTimeInMillis: statistics.QueryPlanningTimeInMillis,
            EngineExecutionTimeInMillis: statistics.EngineExecutionTimeInMillis,
            ServiceProcessingTimeInMillis: statistics.ServiceProcessingTimeInMillis,
            TotalExecutionTimeInMillis: statistics.TotalExecutionTimeInMillis,
          },
          // InputRows stays empty: DuckDB does not count the rows its scans read.
          Rows: rows,
          // The whole query is one stage here; Athena's plan tree (QueryStagePlan, SubStages) has no counterpart.
          OutputStage: {
            StageId: 0,
            State: STAGE_STATE[record.Status.State],
            ...rows,
            ExecutionTime: statistics.EngineExecutionTimeInMillis,
          },
        },
      };
    },

    GetQueryResults: async (raw) => {
      const req = athenaInput(
        z.looseObject({
          QueryExecutionId: queryExecutionId,
          NextToken: z.string().optional(),
          MaxResults: z.number().int().min(1).max(1000).optional(),
          QueryResultType: z.string().optional(),
        }),
        raw,
      );
      const record = requireQueryExecution(state, req.QueryExecutionId);
      const status = record.Status;
      if (status.State === 'FAILED')
        throw athenaErrors.invalidRequest(status.StateChangeReason ?? 'Query failed');
      if (status.State === 'CANCELLED') throw athenaErrors.invalidRequest('Query was cancelled');
      if (status.State !== 'SUCCEEDED')
        throw athenaErrors.invalidRequest(`Query has not yet finished. Current state: ${status.State}`);
      const page = await runner.page(
        record,
        req.NextToken,
        req.MaxResults ?? 1000,
        athenaErrors.invalidRequest,
      );
      if (!page)
        throw athenaErrors.invalidRequest(
          `The results of query ${record.QueryExecutionId} are no longer available locally`,
        );
      return {
        UpdateCount: 0,
        ResultSet: {
          Rows: page.rows.map((row) => ({
            Data: row.map((cell) => (cell === null ? {} : { VarCharValue: cell })),
          })),
          ResultSetMetadata: { ColumnInfo: page.columns },
        },
        NextToken: page.nextToken,
      };
    },
  };
}
