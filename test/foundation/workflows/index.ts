/** Tiny workflows for the foundation tests: one calls an activity, one sleeps a (simulated) day. */
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { FoundationActivities } from './activities';

const { greet } = proxyActivities<FoundationActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export async function greetingWorkflow(name: string): Promise<string> {
  return greet(name);
}

/** Returns the workflow-clock time that passed, which time skipping makes a day. */
export async function sleepADayWorkflow(): Promise<number> {
  const before = Date.now();
  await sleep('1 day');
  return Date.now() - before;
}

/** Does nothing: warms a worker up (workflow context creation), and is the time-skipping bench's baseline. */
export async function warmUpWorkflow(): Promise<string> {
  return 'warm';
}
