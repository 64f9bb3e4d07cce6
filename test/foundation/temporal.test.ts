/**
 * Temporal: a worker runs a workflow that calls an activity against the dev server, and the time-skipping
 * test server sleeps a simulated day faster than the wall clock passes (how fast: bench/temporal-bench.ts).
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { ensureTemporalTestServer } from '../../src/local';
import { connectClient, connectWorkerConnection } from '../../src/temporal/connection';
import { freshConfig, uniqueSuffix } from '../support/fresh-config';
import { createFoundationActivities } from './workflows/activities';
import { greetingWorkflow, sleepADayWorkflow } from './workflows';

let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  // Worker state changes at INFO would drown the test output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Bundled once (webpack takes seconds) and shared by both workers.
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: quietLogger(),
  });
}, 120_000);

describe('Temporal dev server', () => {
  it('runs a workflow whose activity runs on a worker', async () => {
    const config = freshConfig('temporal-fnd');
    const { taskQueue, namespace } = config.temporal;
    const temporal = await connectClient(config);
    const nativeConnection = await connectWorkerConnection(config);
    try {
      const { client } = temporal;
      const worker = await Worker.create({
        connection: nativeConnection,
        namespace,
        taskQueue,
        workflowBundle,
        activities: createFoundationActivities({ greeting: 'Hello' }),
      });
      const workflowId = `foundation-greeting-${uniqueSuffix()}`;
      const result = await worker.runUntil(
        client.workflow.execute(greetingWorkflow, { taskQueue, workflowId, args: ['pipeline'] }),
      );
      expect(result).toBe(`Hello, pipeline (from ${taskQueue})`);

      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const completedActivities = (history.events ?? []).filter(
        (e) => e.activityTaskCompletedEventAttributes,
      );
      expect(completedActivities).toHaveLength(1);
      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('COMPLETED');
    } finally {
      await nativeConnection.close();
      await temporal.close();
    }
  });
});

describe('Temporal time-skipping test server', () => {
  let env: TestWorkflowEnvironment | undefined;

  beforeAll(async () => {
    const path = await ensureTemporalTestServer(freshConfig('temporal-ts'));
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path } },
    });
  }, 300_000);

  afterAll(async () => {
    await env?.teardown();
  });

  it('sleeps a simulated day while far less wall-clock time passes', async () => {
    const testEnv = env as TestWorkflowEnvironment;
    const taskQueue = `time-skipping-${uniqueSuffix()}`;
    const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle });
    const { elapsedWorkflowMs, wallMs } = await worker.runUntil(async () => {
      const started = Date.now();
      const elapsed = await testEnv.client.workflow.execute(sleepADayWorkflow, {
        taskQueue,
        workflowId: `sleep-a-day-${uniqueSuffix()}`,
      });
      return { elapsedWorkflowMs: elapsed, wallMs: Date.now() - started };
    });
    expect(elapsedWorkflowMs).toBeGreaterThanOrEqual(24 * 3_600_000);
    // Skipped, not slept: the test itself would time out long before a real day, so this is the claim's outcome.
    expect(wallMs).toBeLessThan(elapsedWorkflowMs);
  });
});

/** webpack's bundle report is noise in test output; warnings and errors still show. */
function quietLogger() {
  const noop = () => undefined;
  return {
    log: noop,
    trace: noop,
    debug: noop,
    info: noop,
    warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
    error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
  };
}
