/**
 * GetQueryResults: a finished query's rows, ≤ 1,000 a page, with the header row first on the first page for
 * a SELECT, as Athena pages them. A query not SUCCEEDED answers why there is nothing to read.
 */
import { z } from 'zod';
import { athenaErrors } from '../errors';
import type { LakeState } from '../lake-state';
import type { OperationHandler } from '../protocol';
import { athenaInput, athenaPage } from './athena-requests';
import { queryExecutionId, requireQueryExecution } from './query-execution-operations';
import type { QueryRunner } from './query-runner';

export function queryResultsOperation(
  state: LakeState,
  runner: QueryRunner,
): Record<string, OperationHandler> {
  return {
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
      const results = await runner.results(record.QueryExecutionId);
      if (!results)
        throw athenaErrors.invalidRequest(
          `The results of query ${record.QueryExecutionId} are no longer available locally`,
        );
      const headerRow = results.header ? [results.columns.map((c) => c.Name)] : [];
      const all = [...headerRow, ...results.rows];
      const scope = `results:${record.QueryExecutionId}`;
      const { page, nextToken } = athenaPage(all, req.NextToken, req.MaxResults ?? 1000, scope);
      return {
        UpdateCount: 0,
        ResultSet: {
          Rows: page.map((row) => ({
            Data: row.map((cell) => (cell === null ? {} : { VarCharValue: cell })),
          })),
          ResultSetMetadata: { ColumnInfo: results.columns },
        },
        NextToken: nextToken,
      };
    },
  };
}
