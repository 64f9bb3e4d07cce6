/** Activities of the foundation tests' workflows, from a factory as the project's activities are. */
import { activityInfo } from '@temporalio/activity';

export const createFoundationActivities = (deps: { greeting: string }) => ({
  async greet(name: string): Promise<string> {
    // The task queue proves the activity ran on this test's worker, not on someone else's.
    return `${deps.greeting}, ${name} (from ${activityInfo().taskQueue})`;
  },
});

export type FoundationActivities = ReturnType<typeof createFoundationActivities>;
