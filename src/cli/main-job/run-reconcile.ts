/**
 * The bounded run's reconciliation: once every stage has drained nothing is in flight, so the reconcile workflow
 * runs without a freshness wait and any difference between DynamoDB and the `orders_current` view is drift.
 * A failed run (e.g. no view provisioned) is a failed check with its reason, not a crash of the checks.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import type { ReconcileResult } from '../../contract/types';
import * as workflows from '../../workflows';
import { describeReconcile } from '../shared/output';
import type { CompactionCheck } from './run-compaction';

export const RECONCILE_CHECK = 'Athena orders_current = DynamoDB orders, field by field';

export async function reconcileRun(deps: {
  config: Config;
  client: Client;
  say: (line: string) => void;
}): Promise<CompactionCheck> {
  const { config, client, say } = deps;
  say('Reconciling DynamoDB with the lake (reconcile workflow)...');
  let result: ReconcileResult;
  try {
    result = await client.workflow.execute(workflows.reconcile, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `reconcile-${config.dynamodb.ordersTable}-${Date.now()}`,
      args: [{ freshnessSeconds: 0 }],
    });
  } catch (error) {
    const reason = (error as Error).cause instanceof Error ? (error as Error).cause : error;
    say(`  reconcile failed: ${(reason as Error).message}`);
    return { stage: RECONCILE_CHECK, expected: 'passed', actual: 'workflow failed', ok: false };
  }
  for (const line of describeReconcile(result).split('\n')) say(`  ${line}`);
  return {
    stage: RECONCILE_CHECK,
    expected: 'passed',
    actual: result.passed
      ? `passed (${result.matching} orders)`
      : `${result.missing} missing, ${result.extra} extra, ${result.different} different`,
    ok: result.passed,
  };
}
