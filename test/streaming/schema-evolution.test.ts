/**
 * Order-event schema v2 end to end on the real stack: the catalog gains the v2 columns at the end of the CDC table
 * (partitions registered after take the table's columns), a mix of v1 and v2 events flows generator → DynamoDB sink
 * → relay → S3 sink, and Athena (the local endpoint) answers one query over an hour written before the change (v1
 * files, v1 partition) and the hours written after, the old rows reading the new columns as NULL. An event of a
 * schema version the sink does not know goes to the events DLQ with its reason.
 */
import {
  BatchCreatePartitionCommand,
  CreateTableCommand,
  DeleteCrawlerCommand,
  GetPartitionCommand,
  GetTableCommand,
} from '@aws-sdk/client-glue';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Producer } from 'kafkajs';
import {
  listReports,
  loadReport,
  renderReportSql,
  reportSqlParams,
  REPORTS_DIR,
} from '../../src/activities/report-catalog';
import { CDC_TABLE_FOLDER, ORDERS_CURRENT_VIEW, withOverrides, type Config } from '../../src/config';
import { cdcTableRoot, hourlyPartitionPath, objectKey } from '../../src/lake-format/cdc-layout';
import { partitionValues, s3FolderUrl, sinkHourFolder } from '../../src/lake-format/compaction-layout';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import { toLakeRow } from '../../src/lake-format/lake-row';
import { CDC_LAKE_COLUMNS, ORDER_V2_COLUMNS } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureOrdersCurrentView } from '../../src/resources/orders-current-view';
import {
  cdcCatalogColumns,
  cdcStorageDescriptor,
  cdcTableInput,
  ensureCdcTable,
  registerCdcPartitions,
} from '../../src/resources/cdc-catalog';
import { ensureGlueDatabase, ensureLakeCrawler } from '../../src/resources/glue';
import { createCdcRelay } from '../../src/streaming/cdc-relay/cdc-relay';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { createDynamoSink } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { createGenerator } from '../../src/streaming/generator/generator';
import { createS3Sink } from '../../src/streaming/s3-sink/s3-sink';
import type { StreamingComponent } from '../../src/streaming/process-context';
import { freshConfig } from '../support/fresh-config';
import { athenaRows, dropCatalog } from '../lake/lake-catalog-support';
import { crawl } from '../lake/lake-support';
import { plain, provision, readTopic, scanTable, waitFor, waitForOrders, type StreamingEnv } from './helpers';
import { makeCdcEvents } from './s3-sink-support';

const logger = createLogger('test-schema-evolution', {
  logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error',
});

const V2_NAMES = ORDER_V2_COLUMNS.map((c) => c.name);
/** The CDC table's columns as the code before schema v2 wrote them. */
const V1_LAKE_COLUMNS = CDC_LAKE_COLUMNS.filter((c) => !V2_NAMES.includes(c.name));
const V1_GLUE_COLUMNS = cdcCatalogColumns().filter((c) => !V2_NAMES.includes(c.Name!));

/** The CDC table as provisioning created it before schema v2: the v1 columns only. */
async function createV1Table(env: StreamingEnv): Promise<void> {
  const { aws, config } = env;
  await ensureGlueDatabase(aws.glue, config);
  const input = cdcTableInput(config);
  await aws.glue.send(
    new CreateTableCommand({
      DatabaseName: config.glue.database,
      TableInput: {
        ...input,
        StorageDescriptor: cdcStorageDescriptor(config, input.StorageDescriptor!.Location!, V1_GLUE_COLUMNS),
      },
    }),
  );
}

/** An hour the sink of the v1 code wrote: a Parquet object without the v2 columns, its partition with v1 columns. */
async function writeV1Hour(env: StreamingEnv, start: Date, changes: number): Promise<string> {
  const { aws, config } = env;
  const partitionPath = hourlyPartitionPath(start);
  const events = makeCdcEvents(changes, { start, spacingMs: 1000, orders: changes / 4 });
  const key = objectKey(cdcTableRoot(config), {
    partitionPath,
    topic: config.topics.cdc,
    kafkaPartition: 0,
    startOffset: 0,
    extension: 'parquet',
  });
  const body = encodeParquet(events.map(toLakeRow), { columns: V1_LAKE_COLUMNS });
  await aws.s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: key, Body: body }));
  await aws.glue.send(
    new BatchCreatePartitionCommand({
      DatabaseName: config.glue.database,
      TableName: CDC_TABLE_FOLDER,
      PartitionInputList: [
        {
          Values: partitionValues(partitionPath),
          StorageDescriptor: cdcStorageDescriptor(
            config,
            s3FolderUrl(config.lake.bucket, sinkHourFolder(config, partitionPath)),
            V1_GLUE_COLUMNS,
          ),
        },
      ],
    }),
  );
  return partitionPath;
}

async function tableColumns(env: StreamingEnv): Promise<string[]> {
  const { Table } = await env.aws.glue.send(
    new GetTableCommand({ DatabaseName: env.config.glue.database, Name: CDC_TABLE_FOLDER }),
  );
  return (Table?.StorageDescriptor?.Columns ?? []).map((c) => `${c.Name}:${c.Type}`);
}

async function partitionColumns(env: StreamingEnv, partitionPath: string): Promise<string[]> {
  const { Partition } = await env.aws.glue.send(
    new GetPartitionCommand({
      DatabaseName: env.config.glue.database,
      TableName: CDC_TABLE_FOLDER,
      PartitionValues: partitionValues(partitionPath),
    }),
  );
  return (Partition?.StorageDescriptor?.Columns ?? []).map((c) => `${c.Name}:${c.Type}`);
}

const ALL_COLUMNS = cdcCatalogColumns().map((c) => `${c.Name}:${c.Type}`);
const V1_COLUMNS = V1_GLUE_COLUMNS.map((c) => `${c.Name}:${c.Type}`);

const HOUR_MS = 3_600_000;

describe('order event schema v2 through the lake', () => {
  let env: StreamingEnv | undefined;
  const running: StreamingComponent[] = [];
  let producer: Producer | undefined;
  const crawlers: string[] = [];

  afterEach(async () => {
    await producer?.disconnect();
    producer = undefined;
    for (const component of running.splice(0).reverse()) await component.stop();
    if (env) {
      for (const name of crawlers.splice(0))
        await env.aws.glue.send(new DeleteCrawlerCommand({ Name: name })).catch(() => undefined);
      await dropCatalog(env.aws, env.config);
      await env.cleanup();
    }
    env = undefined;
  });

  it('provisioning appends the v2 columns to a v1 table; partitions registered after take the table columns', async () => {
    env = await provision(freshConfig('schema-catalog'), { tables: false, bucket: true });
    await createV1Table(env);
    const oldHour = await writeV1Hour(env, new Date(Date.parse('2026-01-01T09:00:00Z')), 8);
    // A sink of the new version running before provisioning: its partition takes the table's (v1) columns, so
    // table and partition never disagree; Athena ignores the file columns the table does not name yet.
    const earlyHour = 'dt=2026-01-01/hour=08';
    await registerCdcPartitions(env.aws.glue, env.config, [
      {
        partitionPath: earlyHour,
        location: s3FolderUrl(env.config.lake.bucket, sinkHourFolder(env.config, earlyHour)),
      },
    ]);
    expect(await partitionColumns(env, earlyHour)).toEqual(V1_COLUMNS);

    expect(await ensureCdcTable(env.aws.glue, env.config)).toEqual({
      kind: 'glue-table',
      name: `${env.config.glue.database}.${CDC_TABLE_FOLDER}`,
      action: 'updated',
      detail: 'added columns channel, discount_code, shipping_country, shipping_postcode',
    });
    // Appended at the end, after the CDC metadata columns; nothing before them moved.
    expect(await tableColumns(env)).toEqual([
      ...V1_COLUMNS,
      'channel:string',
      'discount_code:string',
      'shipping_country:string',
      'shipping_postcode:string',
    ]);
    expect(await tableColumns(env)).toEqual(ALL_COLUMNS);
    expect((await ensureCdcTable(env.aws.glue, env.config)).action).toBe('exists');

    const newHour = 'dt=2026-01-01/hour=10';
    await registerCdcPartitions(env.aws.glue, env.config, [
      {
        partitionPath: newHour,
        location: s3FolderUrl(env.config.lake.bucket, sinkHourFolder(env.config, newHour)),
      },
    ]);
    expect(await partitionColumns(env, newHour)).toEqual(ALL_COLUMNS);
    // The old partition is left as it was written: Athena reads Parquet partitions by column name.
    expect(await partitionColumns(env, oldHour)).toEqual(V1_COLUMNS);

    // A fresh catalog gets every column at once.
    const fresh = withOverrides(env.config, { glue: { database: `${env.config.glue.database}_fresh` } });
    await ensureGlueDatabase(env.aws.glue, fresh);
    try {
      expect((await ensureCdcTable(env.aws.glue, fresh)).action).toBe('created');
      expect(await tableColumns({ ...env, config: fresh })).toEqual(ALL_COLUMNS);
    } finally {
      await dropCatalog(env.aws, fresh);
    }
  }, 60_000);

  it('mixed v1/v2 events reach the lake as nullable columns, queryable with an hour written before v2', async () => {
    const config: Config = freshConfig('schema-e2e', {
      kafka: { sessionTimeoutMs: 6_000 },
      cdcRelay: { leaseDurationMs: 3_000, pollIntervalMs: 100, workerId: '' },
      s3Sink: { rotateMs: 1_000, flushRecords: 500 },
      lake: { format: 'parquet' },
    });
    env = await provision(config, { checkpoints: true, bucket: true });
    const { aws, kafka } = env;
    await createV1Table(env);
    await ensureWorkgroup(aws.athena, config);
    // Hours before the change: whole hours in the past, so no change of this run can land in them.
    const oldStart = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 3 * HOUR_MS);
    const oldHour = await writeV1Hour(env, oldStart, 40);
    expect((await ensureCdcTable(aws.glue, config)).action).toBe('updated');

    running.push(createDynamoSink({ config, kafka, dynamodb: aws.dynamodb, logger }));
    running.push(
      createCdcRelay({
        config,
        kafka,
        dynamodb: aws.dynamodb,
        dynamodbStreams: aws.dynamodbStreams,
        logger,
      }),
    );
    running.push(createS3Sink({ config, logger, kafka, s3: aws.s3, glue: aws.glue }));
    for (const component of running) await component.start();

    const report = await createGenerator({
      config,
      kafka,
      logger,
      orders: 60,
      schemaV2Share: 0.5,
      seed: 15,
    }).run();
    const expected = [...report.expectedStates.values()];
    const v2Orders = expected.filter((s) => s.channel ?? s.discountCode ?? s.shippingAddress);
    expect(v2Orders.length).toBeGreaterThan(10);
    expect(expected.length - v2Orders.length).toBeGreaterThan(10);

    // DynamoDB holds the v2 fields as the events carried them (the address as a map), v1 items without them.
    const items = await waitForOrders(
      aws.dynamodb,
      config.dynamodb.ordersTable,
      report.expectedStates,
      90_000,
    );
    expect(items).toEqual(plain(Object.fromEntries(report.expectedStates)));

    // The latest image of every order, over the old hour and the new ones in one query.
    const latest =
      `SELECT order_id, status, channel, discount_code, shipping_country, shipping_postcode FROM (` +
      `SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY version DESC) AS rn FROM ${CDC_TABLE_FOLDER}) ` +
      `WHERE rn = 1 ORDER BY order_id`;
    const oldOrders = makeCdcEvents(40, { start: oldStart, spacingMs: 1000, orders: 10 })
      .slice(-10)
      .map((event) => [event.orderId, String(event.newImage!.status), null, null, null, null]);
    const newOrders = expected.map((s) => [
      s.orderId,
      s.status,
      s.channel ?? null,
      s.discountCode ?? null,
      s.shippingAddress?.country ?? null,
      s.shippingAddress?.postcode ?? null,
    ]);
    const want = [...oldOrders, ...newOrders].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const rows = await waitFor(
      'every order at its final state in the lake',
      async () => {
        const got = await athenaRows(aws, config, latest);
        return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    expect(rows).toEqual(want);

    // The old hour reads the new columns as NULL; the new hours hold v1 and v2 rows side by side.
    const [dt, hour] = partitionValues(oldHour);
    expect(
      await athenaRows(
        aws,
        config,
        `SELECT count(*), count(channel), count(discount_code), count(shipping_country), count(shipping_postcode) ` +
          `FROM ${CDC_TABLE_FOLDER} WHERE dt = '${dt}' AND hour = '${hour}'`,
      ),
    ).toEqual([['40', '0', '0', '0', '0']]);
    const [[v1Rows, v2Rows]] = await athenaRows(
      aws,
      config,
      `SELECT count_if(channel IS NULL AND shipping_country IS NULL AND discount_code IS NULL), ` +
        `count_if(channel IS NOT NULL OR shipping_country IS NOT NULL OR discount_code IS NOT NULL) ` +
        `FROM ${CDC_TABLE_FOLDER} WHERE NOT (dt = '${dt}' AND hour = '${hour}')`,
    );
    expect(Number(v1Rows)).toBeGreaterThan(0);
    expect(Number(v2Rows)).toBeGreaterThan(0);

    // A report-style aggregate over both eras: grouping by a new column puts the old rows under NULL.
    const byCountry = await athenaRows(
      aws,
      config,
      `SELECT coalesce(shipping_country, '(none)'), count(DISTINCT order_id) FROM ${CDC_TABLE_FOLDER} ` +
        `GROUP BY 1 ORDER BY 1`,
    );
    const countries = new Map<string, number>();
    for (const [, , , country] of [...oldOrders, ...newOrders].map((r) => [r[0], r[1], r[2], r[4]]))
      countries.set(String(country ?? '(none)'), (countries.get(String(country ?? '(none)')) ?? 0) + 1);
    expect(byCountry).toEqual(
      [...countries.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => [c, String(n)]),
    );

    // Every report runs over a window holding the old hour and the new ones, reading the current state from
    // the orders_current view as provisioned.
    await ensureOrdersCurrentView(aws.athena, aws.glue, config);
    for (const name of listReports()) {
      const sql = renderReportSql(
        loadReport(REPORTS_DIR, name),
        reportSqlParams({
          database: config.glue.database,
          cdcTable: CDC_TABLE_FOLDER,
          currentView: ORDERS_CURRENT_VIEW,
          windowStart: oldStart,
          windowEnd: new Date(Date.now() + HOUR_MS),
        }),
      );
      expect({ name, rows: (await athenaRows(aws, config, sql)).length > 0 }).toEqual({ name, rows: true });
    }

    // The partitions the sink registered took the table's columns, v2 ones included.
    const newHour = hourlyPartitionPath(new Date(Date.parse(expected[0].updatedAt)));
    expect(await partitionColumns(env, newHour)).toEqual(ALL_COLUMNS);

    // The crawler (SchemaChangePolicy LOG/LOG) leaves the catalog as provisioning and the sink wrote it.
    await ensureLakeCrawler(aws.glue, config);
    crawlers.push(config.glue.crawler);
    expect((await crawl(aws.glue, config.glue.crawler)).LastCrawl?.Status).toBe('SUCCEEDED');
    expect(await tableColumns(env)).toEqual(ALL_COLUMNS);
    expect(await partitionColumns(env, oldHour)).toEqual(V1_COLUMNS);
    expect(await partitionColumns(env, newHour)).toEqual(ALL_COLUMNS);
    expect(await athenaRows(aws, config, latest)).toEqual(want);
  }, 240_000);

  it('dead-letters an event of an unknown schema version with its reason, and applies v1 and v2 around it', async () => {
    env = await provision(freshConfig('schema-dlq'));
    const { config, kafka, aws } = env;
    const base = {
      eventType: 'ORDER_CREATED',
      customerId: 'cust-00001',
      seq: 1,
      eventTime: '2026-01-01T10:00:00.000Z',
      orderCreatedAt: '2026-01-01T10:00:00.000Z',
      amount: 10,
      currency: 'EUR',
      region: 'eu-west',
      itemCount: 1,
    };
    const v2Fields = { channel: 'web', shippingAddress: { country: 'GB', postcode: 'SW1A 1AA' } };
    const events = [
      { ...base, schemaVersion: 1, eventId: 'e-v1', orderId: 'o-v1' },
      { ...base, schemaVersion: 3, eventId: 'e-v3', orderId: 'o-v3', ...v2Fields },
      { ...base, schemaVersion: 2, eventId: 'e-v2', orderId: 'o-v2', ...v2Fields },
    ];
    // Idempotent: a send retried after "not the leader" (a topic just created) must not write an event twice,
    // which the sink would rightly dead-letter twice.
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: config.topics.events,
      acks: -1,
      messages: events.map((event) => ({ key: event.orderId, value: JSON.stringify(event) })),
    });
    const sink = createDynamoSink({ config, kafka, dynamodb: aws.dynamodb, logger });
    running.push(sink);
    await sink.start();

    const [letter] = await readTopic(kafka, config.topics.eventsDlq, { expected: 1 });
    expect(letter.key).toBe('o-v3');
    expect(letter.headers[DLQ_HEADERS.reason]).toBe(
      'unsupported-schema-version: schemaVersion 3 is not supported (supported: 1, 2)',
    );
    expect(JSON.parse(letter.value!.toString())).toEqual(events[1]);
    const byId = await waitFor(
      'the v1 and v2 orders',
      async () => {
        const scanned = await scanTable(aws.dynamodb, config.dynamodb.ordersTable);
        return scanned.size === 2 ? scanned : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(byId.get('o-v1')).not.toHaveProperty('channel');
    expect(byId.get('o-v2')).toMatchObject(v2Fields);
    expect(sink.stats().deadLettered).toBe(1);
  }, 90_000);
});
