/**
 * provision: idempotently ensures everything the pipeline needs and reports what it created, updated or found.
 *
 * Independent resources (topics, tables, bucket) are ensured in parallel; the Glue catalog and the Athena
 * workgroup follow, then the `orders_current` view (created through Athena over the CDC table) and the
 * schedules. Each kind is one activity, so a failure retries only that kind.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type provision --input '{}'`
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ProvisionActivities } from '../activities/provision-activities';
import type { EnsureOutcome } from '../contract/outcome';
import { provisionArgsSchema } from '../contract/args';
import { tagRun, workerDefaults } from './defaults';
import type { ProvisionResult } from '../contract/types';
import { parseWorkflowArgs } from './validation';
import { FailureType } from '../contract/failure-types';

const NON_RETRYABLE = [
  FailureType.ResourceConflict,
  FailureType.KafkaError,
  FailureType.AccessDenied,
  FailureType.InvalidRequest,
  FailureType.AwsClientError,
  FailureType.QueryFailed,
];

const resources = proxyActivities<ProvisionActivities>({
  // Table creation waits for ACTIVE (up to 5 minutes in the ensure function); everything else takes seconds.
  startToCloseTimeout: '6 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    // ~15 minutes of retries: long enough to ride out a service restart, short enough to surface a real outage.
    maximumAttempts: 15,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
});

export async function provision(input?: unknown): Promise<ProvisionResult> {
  const args = parseWorkflowArgs('provision', provisionArgsSchema, input);
  const defaults = await workerDefaults();
  tagRun('provision', defaults.taskQueue, defaults);
  const [topics, tables, bucket] = await Promise.all([
    resources.ensureKafkaTopics(),
    resources.ensureDynamoTables(),
    resources.ensureLakeBucket(),
  ]);
  const [glue, workgroup] = await Promise.all([
    resources.ensureGlueCatalog(),
    resources.ensureAthenaWorkgroup(),
  ]);
  const view = await resources.ensureCurrentView();
  const schedules =
    args.schedules === false
      ? []
      : await resources.ensureSchedules({
          crawlIntervalMinutes: args.crawlIntervalMinutes,
          reportIntervalMinutes: args.reportIntervalMinutes,
        });
  return summarize([...topics, ...tables, ...bucket, ...glue, ...workgroup, ...view, ...schedules]);
}

function summarize(outcomes: EnsureOutcome[]): ProvisionResult {
  const count = (action: EnsureOutcome['action']) => outcomes.filter((o) => o.action === action).length;
  const created = count('created');
  const updated = count('updated');
  return { outcomes, created, updated, exists: count('exists'), changed: created + updated > 0 };
}
