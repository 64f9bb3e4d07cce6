/**
 * provision workflow end to end (Kafka, moto, the lake endpoint, the dev server): the first run creates
 * everything, a second run changes nothing (every outcome `exists`), the schedules exist once with their
 * policies, and the resources really are there.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCrawlerCommand, GetDatabaseCommand, GetTableCommand } from '@aws-sdk/client-glue';
import {
  BatchGetQueryExecutionCommand,
  GetWorkGroupCommand,
  ListQueryExecutionsCommand,
} from '@aws-sdk/client-athena';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ORDERS_CURRENT_VIEW } from '../../src/config';
import { ORDERS_CURRENT_COLUMNS } from '../../src/lake-format/current-view';
import { scheduleIds } from '../../src/resources/schedules';
import { PIPELINE_KIND } from '../../src/contract/definitions';
import * as workflows from '../../src/workflows';
import { uniqueSuffix } from '../support/fresh-config';
import {
  cleanupProvisioned,
  controlConfig,
  startHarness,
  startLake,
  type ControlPlaneHarness,
  type LakeEndpoint,
} from './support';

describe('provision workflow', () => {
  let lake: LakeEndpoint;
  let harness: ControlPlaneHarness;

  beforeAll(async () => {
    lake = await startLake();
    harness = await startHarness(controlConfig('ctl-provision', lake.url));
  }, 120_000);

  afterAll(async () => {
    await cleanupProvisioned(harness.client, harness.aws, harness.config);
    await harness.close();
    await lake.close();
  });

  it('creates everything once; a second run finds everything in place', async () => {
    const { config, client, aws } = harness;
    const run = () =>
      client.workflow.execute(workflows.provision, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `provision-${uniqueSuffix()}`,
        args: [{}],
      });

    const first = await run();
    const kinds = first.outcomes.map((o) => `${o.kind}:${o.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        `kafka-topic:${config.topics.events}`,
        `kafka-topic:${config.topics.eventsDlq}`,
        `kafka-topic:${config.topics.cdc}`,
        `kafka-topic:${config.topics.cdcDlq}`,
        `dynamodb-table:${config.dynamodb.ordersTable}`,
        `dynamodb-table:${config.dynamodb.checkpointTable}`,
        `s3-bucket:${config.lake.bucket}`,
        `glue-database:${config.glue.database}`,
        `glue-crawler:${config.glue.crawler}`,
        `athena-workgroup:${config.athena.workgroup}`,
        `athena-view:${ORDERS_CURRENT_VIEW}`,
        `temporal-schedule:${scheduleIds(config).crawl}`,
        `temporal-schedule:${scheduleIds(config).report}`,
      ]),
    );
    for (const o of first.outcomes.filter((x) => x.kind !== 'temporal-search-attribute'))
      expect(o.action).toBe('created');
    expect(first.changed).toBe(true);

    const secondId = `provision-${uniqueSuffix()}`;
    const second = await client.workflow.execute(workflows.provision, {
      taskQueue: config.temporal.taskQueue,
      workflowId: secondId,
      args: [{}],
    });
    // Started without memo or search attributes (like `temporal workflow start`): the run tagged itself.
    const described = await client.workflow.getHandle(secondId).describe();
    expect(described.memo).toMatchObject({
      pipelineWorkflowKind: 'provision',
      pipelineRunTarget: config.temporal.taskQueue,
    });
    expect(described.typedSearchAttributes.get(PIPELINE_KIND)).toBe('provision');
    expect(second.outcomes.map((o) => `${o.kind}:${o.name}`).sort()).toEqual([...kinds].sort());
    expect(second.outcomes.filter((o) => o.action !== 'exists')).toEqual([]);
    expect(second).toMatchObject({ created: 0, updated: 0, changed: false });

    // The resources are really there, as specified.
    const table = await aws.dynamodb.send(
      new DescribeTableCommand({ TableName: config.dynamodb.ordersTable }),
    );
    expect(table.Table?.TableStatus).toBe('ACTIVE');
    expect(table.Table?.StreamSpecification).toMatchObject({
      StreamEnabled: true,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    });
    await aws.s3.send(new HeadBucketCommand({ Bucket: config.lake.bucket }));
    await aws.glue.send(new GetDatabaseCommand({ Name: config.glue.database }));
    const crawler = (await aws.glue.send(new GetCrawlerCommand({ Name: config.glue.crawler }))).Crawler;
    expect(crawler?.Targets?.S3Targets?.map((t) => t.Path).sort()).toEqual([
      `s3://${config.lake.bucket}/${config.lake.prefix}/`,
      `s3://${config.lake.bucket}/${config.lake.snapshotPrefix}/`,
    ]);
    expect(crawler?.DatabaseName).toBe(config.glue.database);
    const wg = (await aws.athena.send(new GetWorkGroupCommand({ WorkGroup: config.athena.workgroup })))
      .WorkGroup;
    expect(wg?.Configuration?.ResultConfiguration?.OutputLocation).toBe(
      `s3://${config.lake.bucket}/${config.lake.athenaResultsPrefix}/`,
    );
    // The view was created through Athena (the workgroup's history holds the statement) and Glue keeps it as a view.
    const view = (
      await aws.glue.send(
        new GetTableCommand({ DatabaseName: config.glue.database, Name: ORDERS_CURRENT_VIEW }),
      )
    ).Table;
    expect(view).toMatchObject({ TableType: 'VIRTUAL_VIEW', ViewExpandedText: '/* Presto View */' });
    expect(view?.StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual(ORDERS_CURRENT_COLUMNS);
    const statements = await aws.athena.send(
      new ListQueryExecutionsCommand({ WorkGroup: config.athena.workgroup }),
    );
    const executions = await aws.athena.send(
      new BatchGetQueryExecutionCommand({ QueryExecutionIds: statements.QueryExecutionIds ?? [] }),
    );
    expect(
      executions.QueryExecutions?.filter((q) => q.Query?.startsWith('CREATE OR REPLACE VIEW')).map((q) => [
        q.StatementType,
        q.Status?.State,
      ]),
    ).toEqual([['DDL', 'SUCCEEDED']]);

    // One schedule per id, with the policies asked for.
    const crawl = await client.schedule.getHandle(scheduleIds(config).crawl).describe();
    expect(crawl.spec.intervals).toEqual([
      expect.objectContaining({ every: config.schedules.crawlIntervalMinutes * 60_000 }),
    ]);
    expect(crawl.policies.overlap).toBe('SKIP');
    expect(crawl.action).toMatchObject({
      workflowType: 'crawl',
      taskQueue: config.temporal.taskQueue,
      args: [{}],
    });
    const report = await client.schedule.getHandle(scheduleIds(config).report).describe();
    expect(report.spec.intervals).toEqual([
      expect.objectContaining({ every: config.schedules.reportIntervalMinutes * 60_000 }),
    ]);
    expect(report.action.workflowType).toBe('report');
    const listed: string[] = [];
    for await (const s of client.schedule.list())
      if (Object.values(scheduleIds(config)).includes(s.scheduleId)) listed.push(s.scheduleId);
    expect(listed.sort()).toEqual(Object.values(scheduleIds(config)).sort());
  }, 180_000);

  it('updates a schedule whose interval changed, leaving the rest alone', async () => {
    const { config, client } = harness;
    const provision = (args: { crawlIntervalMinutes?: number }) =>
      client.workflow.execute(workflows.provision, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `provision-${uniqueSuffix()}`,
        args: [args],
      });
    // Everything in place at its defaults first, whichever tests ran before.
    await provision({});
    const result = await provision({ crawlIntervalMinutes: 5 });
    const changed = result.outcomes.filter((o) => o.action !== 'exists');
    expect(changed).toEqual([
      expect.objectContaining({
        kind: 'temporal-schedule',
        name: scheduleIds(config).crawl,
        action: 'updated',
        detail: expect.stringContaining('5m'),
      }),
    ]);
    const crawl = await client.schedule.getHandle(scheduleIds(config).crawl).describe();
    expect(crawl.spec.intervals?.[0]?.every).toBe(5 * 60_000);
  }, 120_000);

  it('rejects an unknown argument at once, naming it', async () => {
    const { config, client } = harness;
    const error = await client.workflow
      .execute(workflows.provision, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `provision-bad-${uniqueSuffix()}`,
        args: [{ schedule: false }],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidArgument');
    expect(cause.message).toContain('"schedule": unknown field');
  }, 60_000);
});
