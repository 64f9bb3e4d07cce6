/**
 * "A crawl holds no worker slot while it waits": the crawl workflow waits for the crawler on workflow timers,
 * each state check a short activity. On a worker with ONE activity slot, a query workflow completes while the
 * crawl waits for a crawler that is still running; a crawl that waited inside an activity would keep the query
 * from ever starting.
 *
 * The crawler is the local lake endpoint's, started here over a real S3 client (moto) whose listings of the lake
 * bucket the test holds back until the query is done: the crawler stays RUNNING for exactly as long as needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCrawlerCommand } from '@aws-sdk/client-glue';
import type { ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { withOverrides } from '../../src/config';
import { startLakeServer, type LakeServer } from '../../src/lake-endpoint/server';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureGlueDatabase, ensureLakeCrawler } from '../../src/resources/glue';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { within } from '../../src/support/timing';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import { cdcFixture, writeCdcFixture } from './lake-fixture';
import {
  cleanupAws,
  controlConfig,
  startHarness,
  terminateRunning,
  waitFor,
  type ControlPlaneHarness,
} from './support';

describe('crawl workflow and worker slots', () => {
  const config = controlConfig('ctl-slot');
  let lakeDir: string;
  let lakeS3: ReturnType<typeof createS3Client>;
  let lake: LakeServer;
  let harness: ControlPlaneHarness;
  /** Listings of the lake bucket by the lake endpoint, held until `release()`. */
  let heldListings = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    lakeDir = mkdtempSync(join(tmpdir(), 'ctl-slot-'));
    lakeS3 = createS3Client(config);
    lakeS3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as ListObjectsV2CommandInput;
        if (context.commandName === 'ListObjectsV2Command' && input.Bucket === config.lake.bucket) {
          heldListings += 1;
          await released;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdLakeListings' },
    );
    lake = await startLakeServer({ port: 0, dataDir: join(lakeDir, 'lake'), s3: lakeS3, logLevel: 'warn' });
    const endpoints = { glue: lake.url, athena: lake.url };
    harness = await startHarness(withOverrides(config, { aws: { endpoints } }), {
      maxConcurrentActivityTaskExecutions: 1,
    });
    const { aws } = harness;
    await ensureBucket(aws.s3, harness.config);
    await ensureGlueDatabase(aws.glue, harness.config);
    await ensureLakeCrawler(aws.glue, harness.config);
    await ensureWorkgroup(aws.athena, harness.config);
    await writeCdcFixture(aws.s3, harness.config, cdcFixture(20));
  }, 120_000);

  afterAll(async () => {
    release();
    // Something still runs only if the test failed before its end.
    await terminateRunning(harness.client, harness.config.temporal.taskQueue);
    await cleanupAws(harness.aws, harness.config);
    await harness.close();
    await lake.close();
    lakeS3.destroy();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('completes a query workflow on a one-slot worker while the crawl waits for a running crawler', async () => {
    const { client, aws } = harness;
    const cfg = harness.config;
    const crawlerState = async () =>
      (await aws.glue.send(new GetCrawlerCommand({ Name: cfg.glue.crawler }))).Crawler?.State;
    const crawl = await client.workflow.start(workflows.crawl, {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `crawl-slot-${uniqueSuffix()}`,
      args: [{ pollIntervalSeconds: 1 }],
    });
    await waitFor('the crawler held in its listing', async () => heldListings > 0);
    // The crawl has started the crawler and checked on it at least once since: it is in its waiting loop.
    await waitFor('a state check of the waiting crawl', async () => {
      const history = await crawl.fetchHistory();
      return (history.events ?? []).filter((e) => e.timerFiredEventAttributes).length >= 1;
    });

    // Generous: a crawl that held the only slot would keep the query from starting at all.
    const query = await within(
      60_000,
      'the query workflow while the crawl waits',
      client.workflow.execute(workflows.query, {
        taskQueue: cfg.temporal.taskQueue,
        workflowId: `query-slot-${uniqueSuffix()}`,
        args: [{ sql: 'SELECT 41 + 1 AS answer' }],
      }),
    );
    expect(query.rows).toEqual([['42']]);
    expect(await crawlerState()).toBe('RUNNING');
    expect((await crawl.describe()).status.name).toBe('RUNNING');

    release();
    const result = await crawl.result();
    expect(result).toMatchObject({
      crawler: cfg.glue.crawler,
      status: 'SUCCEEDED',
      joinedRunningCrawl: false,
    });
    expect(result.polls).toBeGreaterThan(1);
    expect(await crawlerState()).toBe('READY');
  }, 120_000);
});
