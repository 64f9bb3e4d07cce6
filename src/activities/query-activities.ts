/**
 * The ad-hoc query activity: one read-only statement through Athena, rows bounded, cancellable.
 *
 * Cancelling the workflow cancels this activity (delivered with a heartbeat); it then stops the Athena query with
 * StopQueryExecution before reporting the cancellation, so nothing keeps scanning after the user gave up.
 * A worker crash is different: the successor resumes polling the same query (its id is in the heartbeat details).
 */
import { activityInfo, cancellationDetails, CancelledFailure, Context } from '@temporalio/activity';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { checkReadOnlySql, ReadOnlySqlError } from '../contract/read-only-sql';
import type { QueryResult } from '../contract/types';
import {
  fetchQueryRows,
  getQueryExecution,
  runInfo,
  startQuery,
  stopQuery,
  waitForQuery,
} from './athena-query';
import { permanentFailure } from './errors';
import { FailureType } from '../contract/failure-types';

export interface RunQueryInput {
  sql: string;
  database: string;
  workgroup: string;
  maxRows: number;
  timeoutSeconds: number;
}

/** Result rows carried in the workflow result stay well under Temporal's 2 MB payload limit. */
export const MAX_RESULT_BYTES = 1_000_000;

interface QueryHeartbeat {
  queryExecutionId: string;
  startedAt: number;
}

export function createQueryActivities(deps: { athena: AthenaClient; config: Config; logger: Logger }) {
  const { athena, logger } = deps;
  return {
    async runQuery(input: RunQueryInput): Promise<QueryResult> {
      // Defence in depth: the workflow checked already, but this is the last stop before Athena.
      try {
        checkReadOnlySql(input.sql);
      } catch (error) {
        if (error instanceof ReadOnlySqlError)
          throw permanentFailure(FailureType.ReadOnlyViolation, error.message);
        throw error;
      }
      const ctx = Context.current();
      const info = activityInfo();
      const previous = info.heartbeatDetails as QueryHeartbeat | undefined;
      let queryId: string;
      let startedAt: number;
      if (previous?.queryExecutionId) {
        const state = (await getQueryExecution(athena, previous.queryExecutionId)).Status?.State;
        // A query stopped by a cancelled attempt cannot be resumed: run it again.
        if (state !== 'CANCELLED' && state !== 'FAILED') {
          queryId = previous.queryExecutionId;
          startedAt = previous.startedAt;
          logger.info(
            { queryExecutionId: queryId, attempt: info.attempt },
            'resuming Athena query after retry',
          );
        } else {
          ({ queryId, startedAt } = await start(
            input,
            `${info.workflowExecution?.runId}/${info.activityId}/${info.attempt}`,
          ));
        }
      } else {
        ({ queryId, startedAt } = await start(input, `${info.workflowExecution?.runId}/${info.activityId}`));
      }
      const details: QueryHeartbeat = { queryExecutionId: queryId, startedAt };
      ctx.heartbeat(details);
      try {
        const execution = await waitForQuery(athena, queryId, {
          sleep: (ms) => ctx.sleep(ms),
          heartbeat: () => ctx.heartbeat(details),
          timeoutMs: input.timeoutSeconds * 1000,
          startedAt,
        });
        const fetched = await fetchQueryRows(athena, queryId, {
          maxRows: input.maxRows,
          maxBytes: MAX_RESULT_BYTES,
          heartbeat: () => ctx.heartbeat(details),
        });
        return {
          ...runInfo(execution),
          database: input.database,
          statementType: execution.StatementType,
          columns: fetched.columns,
          rows: fetched.rows,
          rowCount: fetched.rows.length,
          truncated: fetched.truncated,
        };
      } catch (error) {
        // Only a cancellation the workflow asked for stops the query; a worker shutdown leaves it for the retry.
        if (error instanceof CancelledFailure && cancellationDetails()?.cancelRequested) {
          logger.info({ queryExecutionId: queryId }, 'activity cancelled: stopping Athena query');
          await stopQuery(athena, queryId);
        }
        throw error;
      }
    },
  };

  async function start(input: RunQueryInput, idempotencyKey: string) {
    const queryId = await startQuery(athena, {
      sql: input.sql,
      database: input.database,
      workgroup: input.workgroup,
      idempotencyKey,
    });
    logger.info({ queryExecutionId: queryId, database: input.database }, 'Athena query started');
    return { queryId, startedAt: Date.now() };
  }
}

export type QueryActivities = ReturnType<typeof createQueryActivities>;
