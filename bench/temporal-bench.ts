/**
 * Temporal time-skipping benchmark: the wall time the time-skipping test server takes to run a workflow that
 * sleeps a simulated day, beside the wall time of a workflow that does nothing on the same worker (the cost of
 * one workflow round trip). The functional test (test/foundation/temporal.test.ts) only checks that the day
 * passed on the workflow clock faster than on the wall clock. Warmed up, 5 repetitions, medians.
 *
 *   npx tsx bench/temporal-bench.ts
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { ensureTemporalTestServer } from '../src/local';
import { sleepADayWorkflow, warmUpWorkflow } from '../test/foundation/workflows';
import { median, runStandalone, type BenchRow } from './types';

const REPETITIONS = 5;

export async function runTemporalBench(): Promise<BenchRow[]> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../test/foundation/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const path = await ensureTemporalTestServer(loadConfig());
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  try {
    const taskQueue = `time-skipping-bench-${Date.now()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle });
    const { day, noop } = await worker.runUntil(async () => {
      const timed = async (workflow: typeof warmUpWorkflow | typeof sleepADayWorkflow, id: string) => {
        const started = performance.now();
        await env.client.workflow.execute(workflow, { taskQueue, workflowId: `${id}-${Date.now()}` });
        return performance.now() - started;
      };
      await timed(warmUpWorkflow, 'warm-up');
      const times = { day: [] as number[], noop: [] as number[] };
      for (let i = 0; i < REPETITIONS; i++) {
        times.noop.push(await timed(warmUpWorkflow, `noop-${i}`));
        times.day.push(await timed(sleepADayWorkflow, `day-${i}`));
      }
      return times;
    });
    const value = median(day);
    const baseline = median(noop);
    return [
      {
        name: 'Time-skipping: a workflow sleeping a simulated day, wall ms',
        value,
        unit: 'ms',
        baseline,
        baselineName: 'a workflow that does nothing, same worker',
        ratio: value / baseline,
        target: 'value < 1000 ms',
        note: `medians of ${REPETITIONS}`,
      },
    ];
  } finally {
    await env.teardown();
  }
}

if (require.main === module) runStandalone(runTemporalBench);
