/**
 * The `pipeline` CLI as a user runs it (a child process configured through the environment): arguments checked
 * before anything starts (exit 2), no worker on the task queue (exit 3), a query printed as a table and as JSON,
 * a backfill, schedules listed; the workflows run on an in-process worker.
 */
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureLakeCrawler, ensureGlueDatabase } from '../../src/resources/glue';
import type { BackfillResult, QueryResult } from '../../src/contract/types';
import { cdcFixture, writeCdcFixture } from './lake-fixture';
import {
  cleanupAws,
  controlConfig,
  createTableAndBucket,
  runCli,
  seedOrders,
  startHarness,
  startLake,
  type ControlPlaneHarness,
  type LakeEndpoint,
} from './support';
import { StartCrawlerCommand, GetCrawlerCommand } from '@aws-sdk/client-glue';
import { waitFor } from './support';
import { snapshotFolder } from '../../src/lake-format/snapshot-layout';

describe('pipeline CLI', () => {
  let lake: LakeEndpoint;
  let harness: ControlPlaneHarness;

  beforeAll(async () => {
    lake = await startLake();
    harness = await startHarness(controlConfig('ctl-cli', lake.url));
    const { aws, config } = harness;
    await createTableAndBucket(aws, config);
    await ensureGlueDatabase(aws.glue, config);
    await ensureLakeCrawler(aws.glue, config);
    await ensureWorkgroup(aws.athena, config);
    await writeCdcFixture(aws.s3, config, cdcFixture(20));
    await aws.glue.send(new StartCrawlerCommand({ Name: config.glue.crawler }));
    await waitFor(
      'the crawl',
      async () =>
        (await aws.glue.send(new GetCrawlerCommand({ Name: config.glue.crawler }))).Crawler?.LastCrawl
          ?.Status === 'SUCCEEDED',
    );
    await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, 300);
  }, 120_000);

  afterAll(async () => {
    await cleanupAws(harness.aws, harness.config);
    await harness.close();
    await lake.close();
  });

  it('rejects bad arguments before contacting anything (exit 2)', async () => {
    const ddl = await runCli(harness.config, ['query', 'DROP TABLE orders_cdc']);
    expect(ddl.code).toBe(2);
    expect(ddl.stderr).toContain('query rejected: sql: only read-only statements');
    const bad = await runCli(harness.config, ['backfill', '--segments', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('segments: Too small');
  }, 60_000);

  it('says no worker polls the task queue (exit 3) instead of waiting forever', async () => {
    const lonely = {
      ...harness.config,
      temporal: { ...harness.config.temporal, taskQueue: `${harness.config.temporal.taskQueue}-nobody` },
    };
    const run = await runCli(lonely, ['crawl']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no worker polls task queue');
    expect(run.stderr).toContain('--with-worker');
  }, 60_000);

  it('prints a query result as a table, and as JSON with --json', async () => {
    const sql = 'SELECT status, count(*) AS n FROM orders_cdc GROUP BY status ORDER BY status';
    const table = await runCli(harness.config, ['query', sql]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ status\s+│ n\s+│/);
    expect(table.stdout).toMatch(/│ DELIVERED\s+│ \d+\s+│/);
    expect(table.stdout).toContain('scanned');
    expect(table.stderr).toMatch(/started query-/);

    const json = await runCli(harness.config, ['--json', 'query', sql, '--max-rows', '2']);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as QueryResult;
    expect(result.columns.map((c) => c.name)).toEqual(['status', 'n']);
    expect(result.rows).toHaveLength(2);
    expect(result.truncated).toBe(true);
  }, 90_000);

  it('reports a failing query with its Athena reason and exit 1', async () => {
    const run = await runCli(harness.config, ['query', 'SELECT no_such_column FROM orders_cdc']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('QueryFailed');
    expect(run.stderr).toContain('no_such_column');
  }, 60_000);

  it('runs a backfill and prints where the snapshot is', async () => {
    const run = await runCli(harness.config, [
      '--json',
      'backfill',
      '--snapshot-id',
      'cli',
      '--segments',
      '2',
      '--page-size',
      '50',
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as BackfillResult;
    expect(result).toMatchObject({
      snapshotId: 'cli',
      rows: 300,
      prefix: snapshotFolder(harness.config.lake.snapshotPrefix, 'cli'),
    });
    expect(run.stderr).toContain(`backfill-${harness.config.dynamodb.ordersTable}-cli`);
  }, 90_000);

  it('runs its own worker with --with-worker', async () => {
    // A task queue no worker polls: only the CLI's in-process worker can run the workflow.
    const alone = {
      ...harness.config,
      temporal: { ...harness.config.temporal, taskQueue: `${harness.config.temporal.taskQueue}-own` },
    };
    const run = await runCli(alone, [
      '--with-worker',
      '--json',
      'backfill',
      '--snapshot-id',
      'own',
      '--segments',
      '1',
      '--page-size',
      '100',
    ]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as BackfillResult).rows).toBe(300);
  }, 120_000);

  it('lists the schedules (not provisioned yet)', async () => {
    const run = await runCli(harness.config, ['schedules', 'list']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${harness.config.temporal.taskQueue}-crawl`);
    expect(run.stdout).toContain('not provisioned');
    const trigger = await runCli(harness.config, ['schedules', 'trigger', 'crawl']);
    expect(trigger.code).toBe(1);
    expect(trigger.stderr).toContain('does not exist (run: pipeline provision)');
  }, 60_000);
});
