/**
 * The worker's configuration as seen from a workflow: a local activity (no task queue round trip, result recorded
 * in the history as a marker, so replays and continue-as-new see the same values).
 */
import { proxyLocalActivities, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { DefaultsActivities } from '../activities/defaults-activities';
import { PIPELINE_KIND, pipelineMemo, pipelineSearchAttributes } from '../contract/definitions';
import type { ControlPlaneDefaults, WorkflowKind } from '../contract/types';

const { resolveDefaults } = proxyLocalActivities<DefaultsActivities>({
  // Reads memory and lists a directory: anything slower than this is a broken worker, and the retry goes elsewhere.
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumAttempts: 5 },
});

export function workerDefaults(): Promise<ControlPlaneDefaults> {
  return resolveDefaults();
}

/**
 * Tags the run with its kind and target (memo always; search attributes where the namespace has them), unless
 * its starter did: runs started with `temporal workflow start` are as easy to find in the Web UI as the CLI's.
 */
export function tagRun(
  kind: WorkflowKind,
  target: string,
  defaults: Pick<ControlPlaneDefaults, 'searchAttributes'>,
): void {
  const info = workflowInfo();
  if (info.memo?.pipelineWorkflowKind === undefined) upsertMemo(pipelineMemo(kind, target));
  if (defaults.searchAttributes && info.typedSearchAttributes.get(PIPELINE_KIND) === undefined) {
    upsertSearchAttributes(pipelineSearchAttributes(kind, target));
  }
}
