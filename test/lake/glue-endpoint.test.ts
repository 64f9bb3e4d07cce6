/**
 * The local Glue endpoint through @aws-sdk/client-glue: catalog operations and their named exceptions,
 * partitions with expressions, and real crawls of Parquet and JSON lines written to moto's S3.
 */
import { request } from 'node:http';
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  CreatePartitionCommand,
  CreateTableCommand,
  CrawlerNotRunningException,
  CrawlerRunningException,
  CrawlerStoppingException,
  EntityNotFoundException,
  GetCrawlerCommand,
  GetCrawlerMetricsCommand,
  GetDatabaseCommand,
  GetJobCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GlueServiceException,
  InvalidInputException,
  ListCrawlsCommand,
  type Partition,
  StartCrawlerCommand,
  StopCrawlerCommand,
} from '@aws-sdk/client-glue';
import {
  crawl,
  jsonLinesOf,
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  startHarness,
  suffix,
  waitForCrawler,
} from './lake-support';

const COMBINE = JSON.stringify({
  Version: 1.0,
  Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
  CrawlerOutput: { Partitions: { AddOrUpdateBehavior: 'InheritFromTable' } },
});

let h: LakeHarness;
const db = `glue_test_${suffix()}`;

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(
    new CreateDatabaseCommand({ DatabaseInput: { Name: db, Description: 'lake endpoint tests' } }),
  );
});

afterAll(async () => {
  await h?.close();
});

async function allPartitions(
  table: string,
  expression?: string,
  maxResults?: number,
): Promise<{ partitions: Partition[]; pages: number }> {
  const partitions: Partition[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await h.aws.glue.send(
      new GetPartitionsCommand({
        DatabaseName: db,
        TableName: table,
        Expression: expression,
        NextToken: token,
        MaxResults: maxResults,
      }),
    );
    partitions.push(...(page.Partitions ?? []));
    token = page.NextToken;
    pages++;
  } while (token);
  return { partitions, pages };
}

const sortedValues = (partitions: Partition[]) => partitions.map((p) => (p.Values ?? []).join('/')).sort();

/** Raw HTTP to the endpoint, for requests the SDK would never send. */
function rawPost(body: string, target: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${h.lake.url}/`,
      { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('Glue catalog API', () => {
  test('answers with the exceptions the SDK names', async () => {
    await expect(
      h.aws.glue.send(new GetDatabaseCommand({ Name: `missing_${suffix()}` })),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
    await expect(
      h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } })),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
    await expect(
      h.aws.glue.send(
        new CreateTableCommand({ DatabaseName: `missing_${suffix()}`, TableInput: { Name: 't' } }),
      ),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
    await expect(h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'nope' }))).rejects.toThrow(
      'Table nope not found.',
    );

    const unsupported = await h.aws.glue.send(new GetJobCommand({ JobName: 'x' })).catch((e: unknown) => e);
    expect(unsupported).toBeInstanceOf(GlueServiceException);
    expect((unsupported as Error).name).toBe('UnknownOperationException');
    expect((unsupported as Error).message).toBe(
      'operation AWSGlue.GetJob is not supported by the local endpoint',
    );
  });

  test('malformed requests get AWS-shaped errors and the server keeps serving', async () => {
    const bad = await rawPost('{not json', 'AWSGlue.GetDatabase');
    expect(bad.status).toBe(400);
    expect(bad.json.__type).toBe('SerializationException');
    const array = await rawPost('[1,2]', 'AWSGlue.GetDatabase');
    expect(array.status).toBe(400);
    const noTarget = await rawPost('{}', '');
    expect(noTarget.json.__type).toBe('UnknownOperationException');
    const wrongTypes = await rawPost(JSON.stringify({ Name: 42 }), 'AWSGlue.GetDatabase');
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.json.__type).toBe('InvalidInputException');
    expect(String(wrongTypes.json.message)).toContain('Name');
    const health = await fetch(`${h.lake.url}/health`);
    expect(health.status).toBe(200);
    await expect(h.aws.glue.send(new GetDatabaseCommand({ Name: db }))).resolves.toMatchObject({
      Database: { Name: db },
    });
  });

  test('tables, BatchCreatePartition and GetPartitions with expressions on partition keys', async () => {
    const table = `events_${suffix()}`;
    await h.aws.glue.send(
      new CreateTableCommand({
        DatabaseName: db,
        TableInput: {
          Name: table.toUpperCase(), // Glue stores names in lower case
          StorageDescriptor: {
            Columns: [{ Name: 'id', Type: 'string' }],
            Location: `s3://${h.bucket}/manual/`,
          },
          PartitionKeys: [
            { Name: 'dt', Type: 'string' },
            { Name: 'hour', Type: 'string' },
          ],
          TableType: 'EXTERNAL_TABLE',
          Parameters: { classification: 'parquet' },
        },
      }),
    );
    const { Table } = await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: table }));
    expect(Table?.Name).toBe(table);
    expect(Table?.CreateTime).toBeInstanceOf(Date);
    expect(Math.abs((Table?.CreateTime?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);

    const inputs = ['2024-01-01', '2024-01-02'].flatMap((dt) =>
      Array.from({ length: 24 }, (_, hour) => ({
        Values: [dt, String(hour).padStart(2, '0')],
        StorageDescriptor: {
          Location: `s3://${h.bucket}/manual/dt=${dt}/hour=${String(hour).padStart(2, '0')}/`,
        },
      })),
    );
    const created = await h.aws.glue.send(
      new BatchCreatePartitionCommand({ DatabaseName: db, TableName: table, PartitionInputList: inputs }),
    );
    expect(created.Errors).toEqual([]);
    const again = await h.aws.glue.send(
      new BatchCreatePartitionCommand({
        DatabaseName: db,
        TableName: table,
        PartitionInputList: [inputs[0], { Values: ['2024-01-03', '00'] }],
      }),
    );
    expect(again.Errors).toEqual([
      {
        PartitionValues: inputs[0].Values,
        ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'Partition already exists.' },
      },
    ]);
    await expect(
      h.aws.glue.send(
        new CreatePartitionCommand({
          DatabaseName: db,
          TableName: table,
          PartitionInput: { Values: ['only-one'] },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidInputException);

    const all = await allPartitions(table, undefined, 10);
    expect(all.partitions).toHaveLength(49);
    expect(all.pages).toBe(5);
    expect(sortedValues((await allPartitions(table, "dt='2024-01-02' AND hour>='20'")).partitions)).toEqual([
      '2024-01-02/20',
      '2024-01-02/21',
      '2024-01-02/22',
      '2024-01-02/23',
    ]);
    expect((await allPartitions(table, "hour IN ('01', '02') OR dt = '2024-01-03'")).partitions).toHaveLength(
      5,
    );
    expect(
      (await allPartitions(table, "hour BETWEEN '05' AND '06' AND NOT dt = '2024-01-01'")).partitions,
    ).toHaveLength(2);
    expect((await allPartitions(table, "dt LIKE '2024-01-0%' AND hour <> '00'")).partitions).toHaveLength(46);
    await expect(allPartitions(table, 'dt =')).rejects.toBeInstanceOf(InvalidInputException);
    await expect(allPartitions(table, "region = 'eu'")).rejects.toThrow('"region" is not a partition key');
  });
});

describe('Glue crawlers', () => {
  test('crawl Parquet and JSON lines under dt=/hour= folders: one table each, with columns, types, keys and partitions', async () => {
    const root = `crawl1-${suffix()}`;
    const layout = [
      ['2024-01-01', '00'],
      ['2024-01-01', '01'],
      ['2024-01-02', '00'],
      ['2024-01-02', '01'],
    ];
    for (const [i, [dt, hour]] of layout.entries()) {
      const rows = orderRows(50, `${dt}-${hour}`);
      await put(
        h.aws.s3,
        h.bucket,
        `${root}/orders_parquet/dt=${dt}/hour=${hour}/part-0000.parquet`,
        parquetOf(rows),
      );
      await put(
        h.aws.s3,
        h.bucket,
        `${root}/orders_json/dt=${dt}/hour=${hour}/part-0000.json${i === 0 ? '.gz' : ''}`,
        jsonLinesOf(rows, i === 0),
      );
    }
    // Neither data nor schema: a Spark-style marker and a file the exclusion drops.
    await put(h.aws.s3, h.bucket, `${root}/orders_parquet/dt=2024-01-01/hour=00/_SUCCESS`, '');
    await put(h.aws.s3, h.bucket, `${root}/orders_parquet/dt=2024-01-01/hour=00/notes.txt`, 'hello');

    const name = `crawler-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        Name: name,
        Role: 'arn:aws:iam::000000000000:role/test',
        DatabaseName: db,
        TablePrefix: 'c1_',
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${root}/`, Exclusions: ['**.txt'] }] },
        Configuration: COMBINE,
      }),
    );
    const crawler = await crawl(h.aws.glue, name);
    expect(crawler.LastCrawl?.Status).toBe('SUCCEEDED');

    const { TableList } = await h.aws.glue.send(
      new GetTablesCommand({ DatabaseName: db, Expression: 'c1_.*' }),
    );
    expect(TableList?.map((t) => t.Name).sort()).toEqual(['c1_orders_json', 'c1_orders_parquet']);

    const parquet = TableList?.find((t) => t.Name === 'c1_orders_parquet');
    expect(parquet?.StorageDescriptor?.Columns).toEqual([
      { Name: 'order_id', Type: 'string' },
      { Name: 'region', Type: 'string' },
      { Name: 'amount', Type: 'double' },
      { Name: 'quantity', Type: 'bigint' },
      { Name: 'created_at', Type: 'timestamp' },
    ]);
    expect(parquet?.PartitionKeys).toEqual([
      { Name: 'dt', Type: 'string' },
      { Name: 'hour', Type: 'string' },
    ]);
    expect(parquet?.StorageDescriptor).toMatchObject({
      Location: `s3://${h.bucket}/${root}/orders_parquet/`,
      InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
    });
    expect(parquet?.TableType).toBe('EXTERNAL_TABLE');
    expect(parquet?.Parameters).toMatchObject({
      classification: 'parquet',
      typeOfData: 'file',
      recordCount: '200',
      objectCount: '4',
      UPDATED_BY_CRAWLER: name,
      CrawlerSchemaSerializerVersion: '1.0',
      CrawlerSchemaDeserializerVersion: '1.0',
    });
    expect(Number(parquet?.Parameters?.sizeKey)).toBeGreaterThan(0);
    expect(Number(parquet?.Parameters?.averageRecordSize)).toBeGreaterThan(0);

    const json = TableList?.find((t) => t.Name === 'c1_orders_json');
    expect(json?.StorageDescriptor?.Columns).toEqual([
      { Name: 'orderid', Type: 'string' },
      { Name: 'region', Type: 'string' },
      { Name: 'amount', Type: 'double' },
      { Name: 'quantity', Type: 'int' },
      { Name: 'createdat', Type: 'string' },
    ]);
    expect(json?.StorageDescriptor).toMatchObject({
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { paths: 'orderId,region,amount,quantity,createdAt' },
      },
    });
    expect(json?.Parameters).toMatchObject({
      classification: 'json',
      compressionType: 'gzip',
      recordCount: '200',
      objectCount: '4',
    });

    for (const table of ['c1_orders_parquet', 'c1_orders_json']) {
      const { partitions } = await allPartitions(table);
      expect(sortedValues(partitions)).toEqual([
        '2024-01-01/00',
        '2024-01-01/01',
        '2024-01-02/00',
        '2024-01-02/01',
      ]);
      const first = partitions.find((p) => p.Values?.join('/') === '2024-01-01/00');
      expect(first?.StorageDescriptor?.Location).toBe(
        `s3://${h.bucket}/${root}/${table.slice(3)}/dt=2024-01-01/hour=00/`,
      );
      expect(first?.StorageDescriptor?.Columns).toEqual(
        (table === 'c1_orders_json' ? json : parquet)?.StorageDescriptor?.Columns,
      );
      expect(first?.Parameters?.recordCount).toBe('50');
    }

    const metrics = await h.aws.glue.send(new GetCrawlerMetricsCommand({ CrawlerNameList: [name] }));
    expect(metrics.CrawlerMetricsList?.[0]).toMatchObject({
      CrawlerName: name,
      TablesCreated: 2,
      TablesUpdated: 0,
      TablesDeleted: 0,
    });
    const crawls = await h.aws.glue.send(new ListCrawlsCommand({ CrawlerName: name }));
    expect(crawls.Crawls).toHaveLength(1);
    expect(crawls.Crawls?.[0]).toMatchObject({ State: 'COMPLETED' });
    expect(JSON.parse(crawls.Crawls?.[0].Summary ?? '{}')).toMatchObject({
      TABLE: { ADD: { Count: 2 } },
      PARTITION: { ADD: { Count: 8 } },
    });
  });

  test('a second crawl picks up new partitions and a new column', async () => {
    const root = `crawl2-${suffix()}`;
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-01/hour=00/a.parquet`,
      parquetOf(orderRows(20, 'a')),
    );
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-01/hour=01/a.parquet`,
      parquetOf(orderRows(20, 'b')),
    );
    const name = `crawler-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        Name: name,
        Role: 'role',
        DatabaseName: db,
        TablePrefix: 'c2_',
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${root}/` }] },
        Configuration: COMBINE,
      }),
    );
    expect((await crawl(h.aws.glue, name)).LastCrawl?.Status).toBe('SUCCEEDED');
    expect((await allPartitions('c2_orders')).partitions).toHaveLength(2);

    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-02/hour=00/a.parquet`,
      parquetOf(orderRows(30, 'c', true)),
    );
    expect((await crawl(h.aws.glue, name)).LastCrawl?.Status).toBe('SUCCEEDED');

    const { Table } = await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'c2_orders' }));
    expect(Table?.StorageDescriptor?.Columns?.map((c) => `${c.Name}:${c.Type}`)).toEqual([
      'order_id:string',
      'region:string',
      'amount:double',
      'quantity:bigint',
      'created_at:timestamp',
      'channel:string',
    ]);
    expect(Table?.Parameters?.recordCount).toBe('70');
    const { partitions } = await allPartitions('c2_orders');
    expect(sortedValues(partitions)).toEqual(['2024-01-01/00', '2024-01-01/01', '2024-01-02/00']);
    // InheritFromTable: every partition carries the table's (new) schema.
    expect(partitions.every((p) => p.StorageDescriptor?.Columns?.some((c) => c.Name === 'channel'))).toBe(
      true,
    );
    const metrics = await h.aws.glue.send(new GetCrawlerMetricsCommand({ CrawlerNameList: [name] }));
    expect(metrics.CrawlerMetricsList?.[0]).toMatchObject({ TablesCreated: 0, TablesUpdated: 1 });
    expect(metrics.CrawlerMetricsList?.[0].MedianRuntimeSeconds).toBeGreaterThan(0);
    const crawls = await h.aws.glue.send(new ListCrawlsCommand({ CrawlerName: name }));
    expect(crawls.Crawls?.map((c) => c.State)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  test('CRAWL_NEW_FOLDERS_ONLY adds only the new partitions', async () => {
    const root = `crawl3-${suffix()}`;
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-01/hour=00/a.parquet`,
      parquetOf(orderRows(10, 'a')),
    );
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-01/hour=01/a.parquet`,
      parquetOf(orderRows(10, 'b')),
    );
    const base = {
      Role: 'role',
      DatabaseName: db,
      TablePrefix: 'c3_',
      Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${root}/` }] },
    };
    await expect(
      h.aws.glue.send(
        new CreateCrawlerCommand({
          ...base,
          Name: `bad-${suffix()}`,
          RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidInputException);
    const name = `crawler-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        ...base,
        Name: name,
        RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
        SchemaChangePolicy: { UpdateBehavior: 'LOG', DeleteBehavior: 'LOG' },
      }),
    );
    expect((await crawl(h.aws.glue, name)).LastCrawl?.Status).toBe('SUCCEEDED');
    const before = await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'c3_orders' }));
    const existingBefore = (await allPartitions('c3_orders', "hour = '00'")).partitions[0];

    // A new folder with a new column, and another file in a folder crawled already.
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-02/hour=00/a.parquet`,
      parquetOf(orderRows(10, 'c', true)),
    );
    await put(
      h.aws.s3,
      h.bucket,
      `${root}/orders/dt=2024-01-01/hour=00/b.parquet`,
      parquetOf(orderRows(99, 'd', true)),
    );
    expect((await crawl(h.aws.glue, name)).LastCrawl?.Status).toBe('SUCCEEDED');

    const { partitions } = await allPartitions('c3_orders');
    expect(sortedValues(partitions)).toEqual(['2024-01-01/00', '2024-01-01/01', '2024-01-02/00']);
    const after = await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'c3_orders' }));
    expect(after.Table?.StorageDescriptor?.Columns).toEqual(before.Table?.StorageDescriptor?.Columns);
    expect(after.Table?.VersionId).toBe(before.Table?.VersionId);
    const existingAfter = partitions.find((p) => p.Values?.join('/') === '2024-01-01/00');
    expect(existingAfter?.Parameters).toEqual(existingBefore.Parameters);
    expect(partitions.find((p) => p.Values?.join('/') === '2024-01-02/00')?.Parameters?.recordCount).toBe(
      '10',
    );
  });

  test('StartCrawler during a crawl raises CrawlerRunningException; StopCrawler after it says it is not running', async () => {
    const root = `crawl4-${suffix()}`;
    for (let i = 0; i < 6; i++)
      await put(
        h.aws.s3,
        h.bucket,
        `${root}/orders/dt=2024-01-0${i + 1}/part.parquet`,
        parquetOf(orderRows(10, `r${i}`)),
      );
    const name = `crawler-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        Name: name,
        Role: 'role',
        DatabaseName: db,
        TablePrefix: 'c4_',
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${root}/` }] },
      }),
    );

    // Both requests reach the endpoint while the first crawl is running: exactly one may start it.
    const results = await Promise.allSettled([
      h.aws.glue.send(new StartCrawlerCommand({ Name: name })),
      h.aws.glue.send(new StartCrawlerCommand({ Name: name })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(CrawlerRunningException);
    expect((await waitForCrawler(h.aws.glue, name)).LastCrawl?.Status).toBe('SUCCEEDED');

    await expect(h.aws.glue.send(new StopCrawlerCommand({ Name: name }))).rejects.toBeInstanceOf(
      CrawlerNotRunningException,
    );
  });

  test('StopCrawler during a crawl answers at once with STOPPING and the crawl ends CANCELLED', async () => {
    const root = `crawl5-${suffix()}`;
    await put(h.aws.s3, h.bucket, `${root}/orders/dt=2024-01-01/part.parquet`, parquetOf(orderRows(10, 'r')));
    const name = `crawler-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        Name: name,
        Role: 'role',
        DatabaseName: db,
        TablePrefix: 'c5_',
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${root}/` }] },
      }),
    );
    // The endpoint's S3 requests wait until released: the crawl is certainly RUNNING when StopCrawler arrives.
    let reachedS3!: () => void;
    const crawlReachedS3 = new Promise<void>((resolve) => (reachedS3 = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const hold = 'hold-crawl-s3';
    h.lakeS3.middlewareStack.add(
      (next) => async (args) => {
        reachedS3();
        await released;
        return next(args);
      },
      { step: 'initialize', name: hold },
    );
    try {
      await h.aws.glue.send(new StartCrawlerCommand({ Name: name }));
      await crawlReachedS3;
      await h.aws.glue.send(new StopCrawlerCommand({ Name: name }));
      const stopping = await h.aws.glue.send(new GetCrawlerCommand({ Name: name }));
      expect(stopping.Crawler?.State).toBe('STOPPING');
      await expect(h.aws.glue.send(new StopCrawlerCommand({ Name: name }))).rejects.toBeInstanceOf(
        CrawlerStoppingException,
      );
      const cancelling = await h.aws.glue.send(new ListCrawlsCommand({ CrawlerName: name }));
      expect(cancelling.Crawls?.[0]?.State).toBe('CANCELLING');
    } finally {
      release();
      h.lakeS3.middlewareStack.remove(hold);
    }
    const after = await waitForCrawler(h.aws.glue, name);
    expect(after.LastCrawl?.Status).toBe('CANCELLED');
    const crawls = await h.aws.glue.send(new ListCrawlsCommand({ CrawlerName: name }));
    expect(crawls.Crawls?.map((c) => c.State)).toEqual(['CANCELLED']);
    // Nothing of the cancelled crawl reached the catalog.
    const tables = await h.aws.glue.send(new GetTablesCommand({ DatabaseName: db, Expression: 'c5_.*' }));
    expect(tables.TableList ?? []).toEqual([]);
  });

  test('a crawl of a missing bucket ends READY with LastCrawl FAILED and a message', async () => {
    const name = `crawler-${suffix()}`;
    const missing = `missing-bucket-${suffix()}`;
    await h.aws.glue.send(
      new CreateCrawlerCommand({
        Name: name,
        Role: 'role',
        DatabaseName: db,
        Targets: { S3Targets: [{ Path: `s3://${missing}/data/` }] },
      }),
    );
    const crawler = await crawl(h.aws.glue, name);
    expect(crawler.State).toBe('READY');
    expect(crawler.LastCrawl?.Status).toBe('FAILED');
    expect(crawler.LastCrawl?.ErrorMessage).toContain(`s3://${missing}/data/`);
    expect(crawler.LastCrawl?.ErrorMessage).toContain('NoSuchBucket');
    const crawls = await h.aws.glue.send(new ListCrawlsCommand({ CrawlerName: name }));
    expect(crawls.Crawls?.[0]).toMatchObject({ State: 'FAILED' });
    expect(crawls.Crawls?.[0].ErrorMessage).toContain('NoSuchBucket');
  });
});
