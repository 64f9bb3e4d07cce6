/**
 * query: one ad-hoc read-only SQL statement through Athena. The statement is checked here, in the workflow,
 * before any activity runs (DDL, DML and multi-statement input fail at once with `ReadOnlyViolation`).
 * Cancelling the workflow cancels the activity, which stops the Athena query; the workflow waits for that stop
 * to complete before it reports itself cancelled.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type query --input '{"sql":"SELECT 1"}'`
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { QueryActivities } from '../activities/query-activities';
import { queryArgsSchema } from '../contract/args';
import { tagRun, workerDefaults } from './defaults';
import type { QueryResult } from '../contract/types';
import { assertReadOnly, parseWorkflowArgs } from './validation';
import { FailureType } from '../contract/failure-types';

const DEFAULT_MAX_ROWS = 1000;
const DEFAULT_TIMEOUT_SECONDS = 600;

export async function query(input?: unknown): Promise<QueryResult> {
  const args = parseWorkflowArgs('query', queryArgsSchema, input);
  assertReadOnly(args.sql);
  const defaults = await workerDefaults();
  const database = args.database ?? defaults.database;
  tagRun('query', database, defaults);
  const timeoutSeconds = args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const athena = proxyActivities<QueryActivities>({
    // The activity stops the query itself at timeoutSeconds; this bound only catches a stuck activity.
    startToCloseTimeout: `${timeoutSeconds + 120} seconds`,
    // The activity heartbeats every ≤2 s. Cancellation is delivered with a heartbeat, and the SDK sends them at
    // most every 0.8 × heartbeatTimeout: 5 s makes a cancel stop the Athena query within ~4 s.
    heartbeatTimeout: '5 seconds',
    // Wait until the activity has stopped the Athena query before the workflow reports itself cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 4,
      nonRetryableErrorTypes: [
        FailureType.QueryFailed,
        FailureType.QueryCancelled,
        FailureType.QueryTimeout,
        FailureType.ReadOnlyViolation,
        FailureType.InvalidRequest,
        FailureType.AccessDenied,
        FailureType.CatalogError,
      ],
    },
  });
  return athena.runQuery({
    sql: args.sql,
    database,
    workgroup: defaults.workgroup,
    maxRows: args.maxRows ?? DEFAULT_MAX_ROWS,
    timeoutSeconds,
  });
}
