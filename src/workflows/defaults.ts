/**
 * The worker's configuration as seen from a workflow: a local activity (no task queue round trip, result recorded
 * in the history as a marker, so replays and continue-as-new see the same values).
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { DefaultsActivities } from '../activities/defaults-activities';
import type { ControlPlaneDefaults } from './types';

const { resolveDefaults } = proxyLocalActivities<DefaultsActivities>({
  // Reads memory and lists a directory: anything slower than this is a broken worker, and the retry goes elsewhere.
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumAttempts: 5 },
});

export function workerDefaults(): Promise<ControlPlaneDefaults> {
  return resolveDefaults();
}
