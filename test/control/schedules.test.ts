/**
 * The Temporal Schedules that the provision workflow creates, on the dev server with the local lake endpoint:
 * - their policies as documented (report BUFFER_ALL with a 1-day catch-up window; crawl SKIP, catch-up window its
 *   configured interval);
 * - BUFFER_ALL at work: a report triggered twice while one runs is buffered twice, and the three runs happen
 *   one after the other;
 * - an operator's pause (and its note) survives provisioning again, also when provisioning updates the schedule;
 * - `npm run pipeline -- schedules pause|trigger|unpause` as a child process: exit 0, and the effect is there.
 *
 * Each test provisions its own control plane (fresh task queue, so its own schedule ids).
 */
import { withOverrides, type Config } from '../../src/config';
import { scheduleIds } from '../../src/resources/schedules';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import {
  cleanupProvisioned,
  controlConfig,
  runCli,
  startHarness,
  startLake,
  waitFor,
  type ControlPlaneHarness,
  type LakeEndpoint,
} from './support';

/** Not the default (15), so the crawl schedule's interval and catch-up window show the configured value. */
const CRAWL_INTERVAL_MINUTES = 7;

describe('control schedules', () => {
  let lake: LakeEndpoint;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    lake = await startLake();
  }, 60_000);

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  afterAll(async () => {
    await lake.close();
  });

  const provision = (harness: ControlPlaneHarness, args: Record<string, unknown> = {}) =>
    harness.client.workflow.execute(workflows.provision, {
      taskQueue: harness.config.temporal.taskQueue,
      workflowId: `provision-${uniqueSuffix()}`,
      args: [args],
    });

  /** A worker on a fresh task queue that ran the provision workflow; everything is deleted after the test. */
  const provisioned = async (label: string): Promise<ControlPlaneHarness> => {
    const config: Config = withOverrides(controlConfig(label, lake.url), {
      schedules: { crawlIntervalMinutes: CRAWL_INTERVAL_MINUTES },
    });
    const harness = await startHarness(config);
    cleanups.push(() => harness.close());
    cleanups.push(() => cleanupProvisioned(harness.client, harness.aws, config));
    await provision(harness);
    return harness;
  };

  it('creates the report schedule with BUFFER_ALL and a 1-day catch-up window, the crawl one with the configured interval, compaction and reconciliation hourly at 20 and 40 past', async () => {
    const { client, config } = await provisioned('ctl-sched-policy');
    const ids = scheduleIds(config);
    const report = await client.schedule.getHandle(ids.report).describe();
    expect(report.policies).toMatchObject({ overlap: 'BUFFER_ALL', catchupWindow: 86_400_000 });
    expect(report.spec.intervals).toEqual([
      expect.objectContaining({ every: config.schedules.reportIntervalMinutes * 60_000 }),
    ]);
    const crawl = await client.schedule.getHandle(ids.crawl).describe();
    expect(crawl.policies).toMatchObject({
      overlap: 'SKIP',
      catchupWindow: CRAWL_INTERVAL_MINUTES * 60_000,
    });
    expect(crawl.spec.intervals).toEqual([
      expect.objectContaining({ every: CRAWL_INTERVAL_MINUTES * 60_000 }),
    ]);
    // Hourly at 20 past (the hour just closed is past the compaction's 15-minute grace) and at 40 past.
    const compact = await client.schedule.getHandle(ids.compact).describe();
    expect(compact.spec.intervals).toEqual([{ every: 60 * 60_000, offset: 20 * 60_000 }]);
    const reconcile = await client.schedule.getHandle(ids.reconcile).describe();
    expect(reconcile.spec.intervals).toEqual([{ every: 60 * 60_000, offset: 40 * 60_000 }]);
    const nextCompaction = compact.info.nextActionTimes[0];
    expect(nextCompaction.getUTCMinutes()).toBe(20);
    expect(nextCompaction.getUTCSeconds()).toBe(0);
  }, 120_000);

  it('buffers reports triggered while one runs and runs them one after the other', async () => {
    const first = await provisioned('ctl-sched-buffer');
    const { client, config } = first;
    const reportId = scheduleIds(config).report;
    const schedule = client.schedule.getHandle(reportId);
    // Paused, so that no interval action falls into the test; triggered actions run regardless.
    await schedule.pause('test: only triggered actions');
    // No worker polls: the first triggered report stays running while the next two are triggered.
    await first.stopWorker();
    for (let i = 0; i < 3; i++) {
      const trigger = await runCli(config, ['schedules', 'trigger', 'report']);
      expect({ code: trigger.code, stderr: trigger.stderr }).toEqual({ code: 0, stderr: '' });
    }
    const counts = async () => {
      const { info, raw } = await schedule.describe();
      return {
        taken: info.numActionsTaken,
        running: info.runningActions.length,
        buffered: Number(raw.info?.bufferSize ?? 0),
        skipped: info.numActionsSkippedOverlap,
      };
    };
    // The scheduler takes triggers asynchronously: wait until it accounted for all three.
    await waitFor('the three triggers taken, buffered or skipped', async () => {
      const c = await counts();
      return c.taken + c.buffered + c.skipped === 3;
    });
    expect(await counts()).toEqual({ taken: 1, running: 1, buffered: 2, skipped: 0 });

    const second = await startHarness(config);
    cleanups.push(() => second.close());
    // One after the other, in the scheduler's own view: it never has more than one report running while it
    // works through its buffer. (The runs' start and close times are not compared: Temporal stamps them on
    // different paths, and in CI a buffered run's start time once read 0.5 s before its predecessor's close.)
    const seen: Array<Awaited<ReturnType<typeof counts>>> = [];
    await waitFor(
      'the three reports done',
      async () => {
        const c = await counts();
        seen.push(c);
        return c.taken === 3 && c.running === 0 && c.buffered === 0;
      },
      { timeoutMs: 150_000, intervalMs: 100 },
    );
    expect(Math.max(...seen.map((c) => c.running))).toBe(1);
    // No more than the three triggered: nothing started beside the buffer. (Fewer for a moment is fine: the
    // scheduler takes a start out of its buffer before the start it records as taken.)
    expect(Math.max(...seen.map((c) => c.taken + c.buffered))).toBe(3);
    expect((await counts()).skipped).toBe(0);
    const runs = await Promise.all(
      (await schedule.describe()).info.recentActions.map((a) =>
        client.workflow.getHandle(a.action.workflow.workflowId).describe(),
      ),
    );
    expect(runs.map((r) => r.status.name)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
  }, 240_000);

  it('keeps a pause and its note when provisioning runs again, also when it updates the schedule', async () => {
    const harness = await provisioned('ctl-sched-pause');
    const { client, config } = harness;
    const ids = scheduleIds(config);
    // Every schedule provisioning makes, each with a note of its own.
    const notes = Object.fromEntries(
      Object.keys(ids).map((name) => [name, `${name} maintenance ${uniqueSuffix()}`]),
    );
    for (const [name, note] of Object.entries(notes))
      await client.schedule.getHandle(ids[name as keyof typeof ids]).pause(note);
    const states = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(ids).map(
            async ([name, id]) => [name, (await client.schedule.getHandle(id).describe()).state] as const,
          ),
        ),
      );
    const paused = Object.fromEntries(
      Object.entries(notes).map(([name, note]) => [name, { paused: true, note }]),
    );

    const unchanged = await provision(harness);
    expect(unchanged).toMatchObject({ changed: false });
    expect(await states()).toEqual(paused);

    const updated = await provision(harness, { crawlIntervalMinutes: 11, reportIntervalMinutes: 120 });
    expect(
      updated.outcomes
        .filter((o) => o.action !== 'exists')
        .map((o) => `${o.name} ${o.action}`)
        .sort(),
    ).toEqual([`${ids.crawl} updated`, `${ids.report} updated`]);
    expect((await client.schedule.getHandle(ids.report).describe()).spec.intervals?.[0]?.every).toBe(
      120 * 60_000,
    );
    expect(await states()).toEqual(paused);
  }, 120_000);

  it('pauses, triggers and unpauses through `npm run pipeline -- schedules`', async () => {
    const { client, config } = await provisioned('ctl-sched-cli');
    const crawlId = scheduleIds(config).crawl;
    const schedule = client.schedule.getHandle(crawlId);
    const note = `paused by the test ${uniqueSuffix()}`;

    const pause = await runCli(config, ['schedules', 'pause', 'crawl', '--note', note]);
    expect(pause).toMatchObject({ code: 0, stdout: `paused ${crawlId}\n` });
    expect((await schedule.describe()).state).toEqual({ paused: true, note });

    // Paused first, so the only action can be the triggered one.
    const trigger = await runCli(config, ['schedules', 'trigger', 'crawl']);
    expect(trigger).toMatchObject({ code: 0, stdout: `triggered ${crawlId}\n` });
    await waitFor('the triggered crawl', async () => (await schedule.describe()).info.numActionsTaken === 1);
    const [action] = (await schedule.describe()).info.recentActions;
    const run = client.workflow.getHandle<typeof workflows.crawl>(action.action.workflow.workflowId);
    expect(await run.result()).toMatchObject({ crawler: config.glue.crawler, status: 'SUCCEEDED' });

    const unpause = await runCli(config, ['schedules', 'unpause', 'crawl']);
    expect(unpause).toMatchObject({ code: 0, stdout: `unpaused ${crawlId}\n` });
    expect((await schedule.describe()).state.paused).toBe(false);
  }, 120_000);
});
