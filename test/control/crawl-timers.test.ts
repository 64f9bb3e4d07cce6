/**
 * The crawl workflow's durable timer loop on the time-skipping test server: a crawl that takes simulated tens of
 * minutes (5-minute polls) completes, a crawl already running is joined, a crawl that never ends fails with CrawlTimeout at the simulated deadline. The Glue activities are scripted fakes typed from the real
 * factories; everything else (timers, retries, failure chain) is the real Temporal machinery.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CrawlerActivities } from '../../src/activities/crawler-activities';
import type { DefaultsActivities } from '../../src/activities/defaults-activities';
import { ensureTemporalTestServer } from '../../src/local';
import { controlPlaneWorkflowBundle } from '../../src/workers/control-plane-worker';
import * as workflows from '../../src/workflows';
import type { ControlPlaneDefaults, CrawlerStatus, CrawlResult } from '../../src/contract/types';
import { freshConfig, uniqueSuffix } from '../support/fresh-config';
import { quietTemporalRuntime } from './support';

const DEFAULTS: ControlPlaneDefaults = {
  crawler: 'fake-crawler',
  database: 'db',
  cdcTable: 'orders_cdc',
  workgroup: 'wg',
  bucket: 'bucket',
  ordersTable: 'orders',
  snapshotPrefix: 'snapshots',
  reportsPrefix: 'reports',
  taskQueue: 'tq',
  reports: [],
  crawlIntervalMinutes: 15,
  reportIntervalMinutes: 60,
  reconcileFreshnessSeconds: 60,
  searchAttributes: false,
};

/** A crawler that is RUNNING for `runningPolls` status calls after the start, then READY with a new LastCrawl. */
function scriptedCrawler(options: {
  runningPolls: number;
  alreadyRunning?: boolean;
  outcome?: 'SUCCEEDED' | 'FAILED';
}) {
  let calls = 0;
  const previous = {
    status: 'SUCCEEDED' as const,
    startTime: '2024-05-01T00:00:00.000Z',
    messagePrefix: 'old',
  };
  const activities: DefaultsActivities & CrawlerActivities = {
    async resolveDefaults() {
      return DEFAULTS;
    },
    async startCrawler() {
      return { started: !options.alreadyRunning };
    },
    async getCrawlerStatus({ crawler }): Promise<CrawlerStatus> {
      calls += 1;
      // Call 1 is the workflow's look before starting.
      if (calls === 1)
        return { crawler, state: options.alreadyRunning ? 'RUNNING' : 'READY', lastCrawl: previous };
      if (calls - 1 <= options.runningPolls) return { crawler, state: 'RUNNING', lastCrawl: previous };
      return {
        crawler,
        state: 'READY',
        lastCrawl: {
          status: options.outcome ?? 'SUCCEEDED',
          startTime: '2024-05-01T01:00:00.000Z',
          messagePrefix: 'new',
          ...(options.outcome === 'FAILED' ? { errorMessage: 'Crawl of s3://x/ failed: NoSuchBucket' } : {}),
        },
      };
    },
    async getCrawlerMetrics() {
      return {
        tablesCreated: 1,
        tablesUpdated: 0,
        tablesDeleted: 0,
        lastRuntimeSeconds: 1800,
        medianRuntimeSeconds: 1800,
      };
    },
  };
  return { activities, calls: () => calls };
}

describe('crawl workflow timers (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    quietTemporalRuntime();
    const path = await ensureTemporalTestServer(freshConfig('ctl-ts'));
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path } },
    });
    await controlPlaneWorkflowBundle(); // built once, before any timing
  }, 300_000);

  afterAll(async () => {
    await env?.teardown();
  });

  async function run(
    activities: object,
    args: unknown,
  ): Promise<{ result: Promise<CrawlResult>; simulatedMs: () => Promise<number> }> {
    const taskQueue = `crawl-ts-${uniqueSuffix()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await controlPlaneWorkflowBundle(),
      activities,
    });
    const start = await env.currentTimeMs();
    const result = worker.runUntil(
      env.client.workflow.execute(workflows.crawl, {
        taskQueue,
        workflowId: `crawl-ts-${uniqueSuffix()}`,
        args: [args],
      }),
    );
    return { result, simulatedMs: async () => (await env.currentTimeMs()) - start };
  }

  it('polls a 30-minute crawl every 5 simulated minutes', async () => {
    const crawler = scriptedCrawler({ runningPolls: 6 });
    const { result, simulatedMs } = await run(crawler.activities, { pollIntervalSeconds: 300 });
    const value = await result;
    expect(value).toMatchObject({
      crawler: 'fake-crawler',
      status: 'SUCCEEDED',
      joinedRunningCrawl: false,
      polls: 7,
    });
    expect(await simulatedMs()).toBeGreaterThanOrEqual(7 * 300_000);
  }, 60_000);

  it('joins a crawl that is already running', async () => {
    const crawler = scriptedCrawler({ runningPolls: 2, alreadyRunning: true });
    const { result } = await run(crawler.activities, { pollIntervalSeconds: 60 });
    expect(await result).toMatchObject({
      status: 'SUCCEEDED',
      joinedRunningCrawl: true,
      polls: 3,
      startTime: '2024-05-01T01:00:00.000Z',
    });
  }, 60_000);

  it("fails with CrawlFailed carrying the crawler's message", async () => {
    const crawler = scriptedCrawler({ runningPolls: 1, outcome: 'FAILED' });
    const { result } = await run(crawler.activities, { pollIntervalSeconds: 60 });
    const error = await result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('CrawlFailed');
    expect(cause.message).toContain('Crawl of s3://x/ failed: NoSuchBucket');
  }, 60_000);

  it('gives up with CrawlTimeout when the crawl outlives timeoutMinutes (simulated)', async () => {
    const crawler = scriptedCrawler({ runningPolls: Number.MAX_SAFE_INTEGER });
    const { result, simulatedMs } = await run(crawler.activities, {
      pollIntervalSeconds: 120,
      timeoutMinutes: 60,
    });
    const error = await result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('CrawlTimeout');
    expect(cause.nonRetryable).toBe(true);
    expect(await simulatedMs()).toBeGreaterThanOrEqual(60 * 60_000);
    // One poll every 2 minutes for an hour, not a busy loop.
    expect(crawler.calls()).toBeLessThanOrEqual(33);
  }, 60_000);
});
