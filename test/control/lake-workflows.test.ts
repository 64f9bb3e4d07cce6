/**
 * crawl, report and query workflows end to end against the dev server, moto and the local Glue + Athena
 * endpoint, over a CDC data set written in the lake layout:
 * - crawl: catalogs the table, joins a crawl already running, surfaces a failed crawl's own message;
 * - report: CSV figures equal the ground truth, HTML with an inline SVG chart, deterministic keys (a re-run
 *   overwrites), a schedule backfill over past hours reports each hour under its own key;
 * - query: columns/rows/bytes/location, row bound, read-only rejection before Athena, cancellation stops Athena.
 */
import { existsSync, readFileSync } from 'node:fs';
import { GetQueryExecutionCommand, ListQueryExecutionsCommand } from '@aws-sdk/client-athena';
import { GetCrawlerCommand, GetTableCommand, StartCrawlerCommand } from '@aws-sdk/client-glue';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { parse } from 'csv-parse/sync';
import { CDC_TABLE_FOLDER, withOverrides } from '../../src/config';
import { reportObjectKeys } from '../../src/activities/report-activities';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureLakeCrawler, ensureGlueDatabase } from '../../src/resources/glue';
import { ensureOrdersCurrentView } from '../../src/resources/orders-current-view';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { controlSchedules, ensureSchedule } from '../../src/resources/schedules';
import { ensureOrdersTable } from '../../src/resources/dynamodb-tables';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import {
  cdcFixture,
  expectedDelivery,
  expectedFunnel,
  expectedRevenue,
  FIXTURE_REPORT_TIME,
  writeCdcFixture,
  type CdcFixture,
} from './lake-fixture';
import {
  cleanupAws,
  controlConfig,
  getObject,
  listKeys,
  seedOrders,
  startHarness,
  startLake,
  waitFor,
  type ControlPlaneHarness,
  type LakeEndpoint,
} from './support';

const ORDERS = 200;

describe('crawl, report and query workflows', () => {
  let lake: LakeEndpoint;
  let harness: ControlPlaneHarness;
  let fixture: CdcFixture;

  const execute = <R>(
    workflow: (input?: unknown) => Promise<R>,
    args: unknown,
    id = `${workflow.name}-${uniqueSuffix()}`,
  ) =>
    harness.client.workflow.execute(workflow, {
      taskQueue: harness.config.temporal.taskQueue,
      workflowId: id,
      args: [args],
    });
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    return error as WorkflowFailedError;
  };

  beforeAll(async () => {
    lake = await startLake();
    harness = await startHarness(controlConfig('ctl-lake', lake.url));
    const { aws, config } = harness;
    await ensureBucket(aws.s3, config);
    await ensureGlueDatabase(aws.glue, config);
    await ensureLakeCrawler(aws.glue, config);
    await ensureWorkgroup(aws.athena, config);
    fixture = cdcFixture(ORDERS);
    await writeCdcFixture(aws.s3, config, fixture);
  }, 120_000);

  afterAll(async () => {
    await cleanupAws(harness.aws, harness.config);
    await harness.close();
    await lake.close();
  });

  /** The crawled CDC table the report and query tests read: crawled here unless a crawl test already did. */
  const ensureCrawled = async () => {
    const { aws, config } = harness;
    const table = await aws.glue
      .send(new GetTableCommand({ DatabaseName: config.glue.database, Name: CDC_TABLE_FOLDER }))
      .then(
        () => true,
        () => false,
      );
    if (!table) await execute(workflows.crawl, { pollIntervalSeconds: 1 });
    // The reports read the current state through the view, as provisioning leaves it.
    await ensureOrdersCurrentView(aws.athena, aws.glue, config);
  };

  describe('crawl', () => {
    it('runs the crawler, waits with durable timers and returns LastCrawl status and metrics', async () => {
      const { aws, config } = harness;
      const result = await execute(workflows.crawl, { pollIntervalSeconds: 1 });
      expect(result).toMatchObject({
        crawler: config.glue.crawler,
        status: 'SUCCEEDED',
        joinedRunningCrawl: false,
      });
      expect(result.metrics.tablesCreated).toBe(1);
      expect(result.polls).toBeGreaterThanOrEqual(1);
      const table = (
        await aws.glue.send(
          new GetTableCommand({ DatabaseName: config.glue.database, Name: CDC_TABLE_FOLDER }),
        )
      ).Table;
      expect(table?.PartitionKeys?.map((k) => k.Name)).toEqual(['dt', 'hour']);
      expect(table?.StorageDescriptor?.Columns?.map((c) => c.Name)).toContain('change_time');
    }, 60_000);

    it('waits for a crawl that is already running instead of failing', async () => {
      const { aws, config } = harness;
      // A crawler over many small objects, so that its crawl lasts long enough to be joined.
      const slow = withOverrides(config, {
        lake: { prefix: 'slow' },
        glue: { crawler: `${config.glue.crawler}-slow` },
      });
      await ensureLakeCrawler(aws.glue, slow);
      const rows = fixture.rows.slice(0, 4);
      await Promise.all(
        Array.from({ length: 240 }, (_, i) =>
          aws.s3.send(
            new PutObjectCommand({
              Bucket: config.lake.bucket,
              // Its own table folder: the real orders_cdc table stays the other crawler's.
              Key: `slow/slow_events/dt=2024-05-0${1 + (i % 4)}/hour=${String(i % 24).padStart(2, '0')}/part-${i}.parquet`,
              Body: encodeParquet(rows),
            }),
          ),
        ),
      );
      await aws.glue.send(new StartCrawlerCommand({ Name: slow.glue.crawler }));
      const result = await execute(workflows.crawl, {
        crawler: slow.glue.crawler,
        pollIntervalSeconds: 1,
      });
      const after = (await aws.glue.send(new GetCrawlerCommand({ Name: slow.glue.crawler }))).Crawler;
      expect(after?.State).toBe('READY');
      // StartCrawler met CrawlerRunningException: the run waited for the crawl started above, the only one.
      expect(result).toMatchObject({ status: 'SUCCEEDED', joinedRunningCrawl: true });
      expect(new Date(result.startTime!).getTime()).toBe(new Date(after!.LastCrawl!.StartTime!).getTime());
      expect(result.metrics.tablesCreated).toBe(1);
    }, 90_000);

    it("fails with the crawler's own error message when the crawl fails", async () => {
      const { aws, config } = harness;
      // A crawler over a bucket that does not exist: the crawl itself fails.
      const broken = withOverrides(config, {
        lake: { bucket: `missing-${uniqueSuffix()}` },
        glue: { crawler: `${config.glue.crawler}-broken` },
      });
      await ensureLakeCrawler(aws.glue, broken);
      const error = await failure(
        execute(workflows.crawl, { crawler: broken.glue.crawler, pollIntervalSeconds: 1 }),
      );
      const cause = error.cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe('CrawlFailed');
      expect(cause.nonRetryable).toBe(true);
      const lastCrawl = (await aws.glue.send(new GetCrawlerCommand({ Name: broken.glue.crawler }))).Crawler
        ?.LastCrawl;
      expect(lastCrawl?.Status).toBe('FAILED');
      expect(lastCrawl?.ErrorMessage).toBeTruthy();
      expect(cause.message).toContain(lastCrawl!.ErrorMessage!);
      expect(cause.message).toContain(broken.lake.bucket);
    }, 60_000);

    it('fails at once with CrawlerNotFound for a crawler that does not exist', async () => {
      const error = await failure(
        execute(workflows.crawl, { crawler: 'no-such-crawler', pollIntervalSeconds: 1 }),
      );
      expect(error.cause).toBeInstanceOf(ActivityFailure);
      const root = error.cause?.cause as ApplicationFailure;
      expect(root.type).toBe('CrawlerNotFound');
      expect(root.message).toContain('no-such-crawler');
    }, 60_000);
  });

  describe('backfill with a crawl at the end', () => {
    it('runs the crawl workflow as a child once the snapshot is complete', async () => {
      const { aws, config, client } = harness;
      await ensureOrdersTable(aws.dynamodb, config);
      await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, 60);
      const workflowId = `backfill-crawl-${uniqueSuffix()}`;
      const result = await execute(
        workflows.backfill,
        { snapshotId: 'with-crawl', segments: 2, crawl: true },
        workflowId,
      );
      expect(result.rows).toBe(60);
      expect(result.crawl).toMatchObject({ crawler: config.glue.crawler, status: 'SUCCEEDED' });
      const child = await client.workflow.getHandle(`${workflowId}-crawl`).describe();
      expect(child.status.name).toBe('COMPLETED');
      expect(child.type).toBe('crawl');
    }, 90_000);
  });

  describe('report', () => {
    beforeAll(ensureCrawled, 120_000);

    const csvRows = async (key: string) =>
      parse(await getObject(harness.aws.s3, harness.config.lake.bucket, key), { columns: true }) as Record<
        string,
        string
      >[];

    it('writes each report as CSV and HTML under keys of its report time, with the right figures', async () => {
      const { config } = harness;
      const summary = await execute(workflows.report, { reportTime: FIXTURE_REPORT_TIME });
      expect(summary).toMatchObject({
        reportTime: FIXTURE_REPORT_TIME,
        reportTimeSource: 'argument',
        database: config.glue.database,
      });
      expect(summary.reports.map((r) => r.name).sort()).toEqual([
        'created_to_delivered',
        'orders_revenue_by_hour_region',
        'status_funnel',
      ]);

      const byName = Object.fromEntries(summary.reports.map((r) => [r.name, r]));
      for (const r of summary.reports) {
        const keys = reportObjectKeys(config.lake.reportsPrefix, r.name, FIXTURE_REPORT_TIME);
        expect(r).toMatchObject({ csvKey: keys.csvKey, htmlKey: keys.htmlKey });
        const html = (await getObject(harness.aws.s3, config.lake.bucket, r.htmlKey)).toString();
        expect(html).toContain('<svg');
        expect(html).not.toMatch(/<script|<link|src="http/i);
        expect(r.localHtmlPath && existsSync(r.localHtmlPath)).toBe(true);
        expect(readFileSync(r.localHtmlPath!, 'utf8')).toBe(html);
      }

      const revenue = await csvRows(byName.orders_revenue_by_hour_region.csvKey);
      const actual = revenue.map((row) => [
        row.hour.slice(0, 13),
        row.region,
        Number(row.orders),
        Number(row.revenue),
        Number(row.cancelled),
      ]);
      expect(actual).toEqual(expectedRevenue(fixture.orders));

      const funnel = await csvRows(byName.status_funnel.csvKey);
      expect(Object.fromEntries(funnel.map((row) => [row.stage, Number(row.orders)]))).toEqual(
        expectedFunnel(fixture.orders),
      );

      const delivery = await csvRows(byName.created_to_delivered.csvKey);
      expect(
        Object.fromEntries(
          delivery.map((row) => [
            row.region,
            { delivered: Number(row.delivered_orders), avgMinutes: Number(row.avg_minutes) },
          ]),
        ),
      ).toEqual(expectedDelivery(fixture.orders));
    }, 120_000);

    it('overwrites the same objects when run again for the same report time', async () => {
      const { config } = harness;
      await execute(workflows.report, { reportTime: FIXTURE_REPORT_TIME, reports: ['status_funnel'] });
      const before = await listKeys(harness.aws.s3, config.lake.bucket, `${config.lake.reportsPrefix}/`);
      const first = await getObject(
        harness.aws.s3,
        config.lake.bucket,
        reportObjectKeys(config.lake.reportsPrefix, 'status_funnel', FIXTURE_REPORT_TIME).csvKey,
      );
      const again = await execute(workflows.report, {
        reportTime: FIXTURE_REPORT_TIME,
        reports: ['status_funnel'],
      });
      expect(again.reports[0].csvKey).toBe(
        reportObjectKeys(config.lake.reportsPrefix, 'status_funnel', FIXTURE_REPORT_TIME).csvKey,
      );
      expect(await listKeys(harness.aws.s3, config.lake.bucket, `${config.lake.reportsPrefix}/`)).toEqual(
        before,
      );
      expect(await getObject(harness.aws.s3, config.lake.bucket, again.reports[0].csvKey)).toEqual(first);
    }, 60_000);

    it('rejects an unknown report name, naming the field', async () => {
      const error = await failure(
        execute(workflows.report, { reports: ['status_funnel', 'no_such_report'] }),
      );
      const cause = error.cause as ApplicationFailure;
      expect(cause.type).toBe('InvalidArgument');
      expect(cause.message).toContain('"reports[1]"');
      expect(cause.message).toContain('no_such_report');
    }, 30_000);

    it('reports each past hour of a schedule backfill under that hour (TemporalScheduledStartTime)', async () => {
      const { config, client, aws } = harness;
      const reportSchedule = controlSchedules(config, { searchAttributes: false })[1];
      await ensureSchedule(client, reportSchedule);
      const handle = client.schedule.getHandle(reportSchedule.scheduleId);
      try {
        // Hourly actions at 12:00 and 13:00 (the range end is exclusive).
        await handle.backfill({
          start: new Date('2024-05-01T11:30:00Z'),
          end: new Date('2024-05-01T13:30:00Z'),
          overlap: ScheduleOverlapPolicy.ALLOW_ALL,
        });
        const expected = ['2024-05-01T12:00:00Z', '2024-05-01T13:00:00Z'].map(
          (t) => reportObjectKeys(config.lake.reportsPrefix, 'status_funnel', t).csvKey,
        );
        await waitFor(
          'the backfilled hourly reports',
          async () => {
            const keys = await listKeys(
              aws.s3,
              config.lake.bucket,
              `${config.lake.reportsPrefix}/status_funnel/`,
            );
            return expected.every((k) => keys.includes(k));
          },
          { timeoutMs: 90_000, intervalMs: 500 },
        );
        // The 12:00 report covers orders created before 12:00 only.
        const noon = await csvRows(expected[0]);
        const createdBeforeNoon = fixture.orders.filter((o) => o.createdAt < Date.UTC(2024, 4, 1, 12)).length;
        expect(Number(noon.find((r) => r.stage === 'created')!.orders)).toBe(createdBeforeNoon);
        const runs = (await handle.describe()).info.recentActions;
        expect(runs.length).toBeGreaterThanOrEqual(2);
        const result = await client.workflow
          .getHandle<typeof workflows.report>(runs[0].action.workflow.workflowId)
          .result();
        expect(result.reportTimeSource).toBe('schedule');
      } finally {
        await handle.delete().catch(() => undefined);
      }
    }, 150_000);
  });

  describe('query', () => {
    beforeAll(ensureCrawled, 120_000);

    const queryCount = async () => {
      const { aws, config } = harness;
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await aws.athena.send(
          new ListQueryExecutionsCommand({ WorkGroup: config.athena.workgroup, NextToken: token }),
        );
        ids.push(...(page.QueryExecutionIds ?? []));
        token = page.NextToken;
      } while (token);
      return ids;
    };

    it('returns columns, rows, bytes scanned, run time and the S3 location of the result', async () => {
      const { config } = harness;
      const result = await execute(workflows.query, {
        sql: `SELECT status, count(*) AS changes FROM ${CDC_TABLE_FOLDER} GROUP BY status ORDER BY status`,
      });
      expect(result.columns.map((c) => c.name)).toEqual(['status', 'changes']);
      const counts = Object.fromEntries(result.rows.map(([s, n]) => [s, Number(n)]));
      const expected: Record<string, number> = {};
      for (const row of fixture.rows)
        expected[row.status as string] = (expected[row.status as string] ?? 0) + 1;
      expect(counts).toEqual(expected);
      expect(result.truncated).toBe(false);
      expect(result.bytesScanned).toBeGreaterThan(0);
      expect(result.outputLocation).toBe(
        `s3://${config.lake.bucket}/${config.lake.athenaResultsPrefix}/${result.queryExecutionId}.csv`,
      );
      expect(result.totalTimeMs).toBeGreaterThanOrEqual(0);
    }, 60_000);

    it('bounds the rows it returns', async () => {
      const result = await execute(workflows.query, {
        sql: `SELECT order_id FROM ${CDC_TABLE_FOLDER}`,
        maxRows: 7,
      });
      expect(result.rows).toHaveLength(7);
      expect(result.truncated).toBe(true);
    }, 60_000);

    it.each([
      ['DDL', `DROP TABLE ${CDC_TABLE_FOLDER}`, 'DROP'],
      ['DML', `INSERT INTO ${CDC_TABLE_FOLDER} SELECT * FROM ${CDC_TABLE_FOLDER}`, 'INSERT'],
      ['CTAS', `CREATE TABLE x AS SELECT * FROM ${CDC_TABLE_FOLDER}`, 'CREATE'],
      ['multi-statement', `SELECT 1; DROP TABLE ${CDC_TABLE_FOLDER}`, 'one statement'],
    ])(
      'rejects %s before it reaches Athena',
      async (_, sql, mention) => {
        const before = await queryCount();
        const error = await failure(execute(workflows.query, { sql }));
        const cause = error.cause as ApplicationFailure;
        expect(cause).toBeInstanceOf(ApplicationFailure);
        expect(cause.type).toBe('ReadOnlyViolation');
        expect(cause.nonRetryable).toBe(true);
        expect(cause.message).toContain(mention);
        expect(await queryCount()).toEqual(before);
      },
      30_000,
    );

    it('stops the Athena query when the workflow is cancelled', async () => {
      const { aws, config, client } = harness;
      const before = new Set(await queryCount());
      const t = CDC_TABLE_FOLDER;
      const handle = await client.workflow.start(workflows.query, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `query-cancel-${uniqueSuffix()}`,
        // ~740^4 row combinations: runs far longer than this test.
        args: [
          {
            sql: `SELECT count(*) FROM ${t} a, ${t} b, ${t} c, ${t} d WHERE a.amount + b.amount + c.amount + d.amount > 0`,
          },
        ],
      });
      const id = await waitFor(
        'the Athena query to run',
        async () => {
          for (const candidate of await queryCount()) {
            if (before.has(candidate)) continue;
            const state = (
              await aws.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: candidate }))
            ).QueryExecution?.Status?.State;
            if (state === 'RUNNING') return candidate;
          }
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      await handle.cancel();
      const error = await failure(handle.result());
      expect(error.cause).toBeInstanceOf(CancelledFailure);
      // The workflow waited for the activity to stop the query (WAIT_CANCELLATION_COMPLETED).
      const execution = (await aws.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id })))
        .QueryExecution;
      expect(execution?.Status?.State).toBe('CANCELLED');
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    }, 60_000);
  });
});
