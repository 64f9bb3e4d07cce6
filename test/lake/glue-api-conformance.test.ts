/**
 * Every Glue operation the local endpoint serves (glue-api.ts, crawler-service.ts), one case each at least,
 * against the AWS Glue API reference (docs.aws.amazon.com/glue/latest/dg/aws-glue-api.html): the section named
 * above each case is where its behaviour is documented.
 */
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchDeleteTableCommand,
  BatchGetCrawlersCommand,
  BatchGetPartitionCommand,
  BatchUpdatePartitionCommand,
  CrawlerNotRunningException,
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  CreatePartitionCommand,
  CreateTableCommand,
  DeleteCrawlerCommand,
  DeleteDatabaseCommand,
  DeletePartitionCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  GetCrawlerMetricsCommand,
  GetCrawlersCommand,
  GetDatabaseCommand,
  GetDatabasesCommand,
  GetPartitionCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GetTableVersionCommand,
  GetTableVersionsCommand,
  InvalidInputException,
  ListCrawlersCommand,
  ListCrawlsCommand,
  NoScheduleException,
  SchedulerNotRunningException,
  SchedulerRunningException,
  StartCrawlerCommand,
  StartCrawlerScheduleCommand,
  StopCrawlerCommand,
  StopCrawlerScheduleCommand,
  type TableInput,
  UpdateCrawlerCommand,
  UpdateDatabaseCommand,
  UpdatePartitionCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import {
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  startHarness,
  suffix,
  waitForCrawler,
} from './lake-support';

let h: LakeHarness;
const db = `glue_conf_${suffix()}`;
const glue = () => h.aws.glue;

const tableInput = (name: string, overrides: Partial<TableInput> = {}): TableInput => ({
  Name: name,
  TableType: 'EXTERNAL_TABLE',
  PartitionKeys: [{ Name: 'dt', Type: 'string' }],
  StorageDescriptor: {
    Columns: [{ Name: 'order_id', Type: 'string' }],
    Location: `s3://${h.bucket}/conf/${name}/`,
    InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
    SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
  },
  ...overrides,
});

const partition = (table: string, dt: string) => ({
  Values: [dt],
  StorageDescriptor: { Location: `s3://${h.bucket}/conf/${table}/dt=${dt}/` },
});

const valuesOf = (partitions: { Values?: string[] }[] | undefined) =>
  (partitions ?? []).map((p) => (p.Values ?? []).join('/')).sort();

beforeAll(async () => {
  h = await startHarness();
  await glue().send(new CreateDatabaseCommand({ DatabaseInput: { Name: db, Description: 'conformance' } }));
});

afterAll(async () => {
  await h?.aws.glue.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
  await h?.close();
});

describe('databases', () => {
  // CreateDatabase: AlreadyExistsException when the database exists.
  test('CreateDatabase refuses an existing name', async () => {
    await expect(
      glue().send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } })),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
  });

  // GetDatabase: the Database; EntityNotFoundException for a missing one.
  test('GetDatabase returns the definition, EntityNotFoundException when missing', async () => {
    const { Database } = await glue().send(new GetDatabaseCommand({ Name: db }));
    expect({ Name: Database?.Name, Description: Database?.Description }).toEqual({
      Name: db,
      Description: 'conformance',
    });
    await expect(glue().send(new GetDatabaseCommand({ Name: `missing_${suffix()}` }))).rejects.toBeInstanceOf(
      EntityNotFoundException,
    );
  });

  // GetDatabases: DatabaseList paged by MaxResults/NextToken.
  test('GetDatabases pages through every database', async () => {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await glue().send(new GetDatabasesCommand({ MaxResults: 1, NextToken: token }));
      expect((page.DatabaseList ?? []).length).toBeLessThanOrEqual(1);
      names.push(...(page.DatabaseList ?? []).map((d) => d.Name ?? ''));
      token = page.NextToken;
    } while (token);
    expect(names).toContain(db);
  });

  // UpdateDatabase: replaces the definition; DeleteDatabase: removes it with its tables.
  test('UpdateDatabase replaces the description; DeleteDatabase removes the database and its tables', async () => {
    const other = `glue_conf_other_${suffix()}`;
    await glue().send(new CreateDatabaseCommand({ DatabaseInput: { Name: other } }));
    await glue().send(
      new UpdateDatabaseCommand({ Name: other, DatabaseInput: { Name: other, Description: 'new' } }),
    );
    expect((await glue().send(new GetDatabaseCommand({ Name: other }))).Database?.Description).toBe('new');
    await glue().send(new CreateTableCommand({ DatabaseName: other, TableInput: tableInput('t') }));
    await glue().send(new DeleteDatabaseCommand({ Name: other }));
    await expect(glue().send(new GetTableCommand({ DatabaseName: other, Name: 't' }))).rejects.toBeInstanceOf(
      EntityNotFoundException,
    );
    await expect(glue().send(new DeleteDatabaseCommand({ Name: other }))).rejects.toBeInstanceOf(
      EntityNotFoundException,
    );
  });
});

describe('tables', () => {
  // CreateTable / GetTable: the table as created (names lower-cased "for Hive compatibility"); AlreadyExists.
  test('CreateTable then GetTable; a second CreateTable is AlreadyExistsException', async () => {
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput('Orders_T') }));
    const { Table } = await glue().send(new GetTableCommand({ DatabaseName: db, Name: 'orders_t' }));
    expect({ Name: Table?.Name, DatabaseName: Table?.DatabaseName, Keys: Table?.PartitionKeys }).toEqual({
      Name: 'orders_t',
      DatabaseName: db,
      Keys: [{ Name: 'dt', Type: 'string' }],
    });
    await expect(
      glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput('orders_t') })),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
  });

  // GetTables, Expression: "A regular expression pattern. If present, only those tables whose names match the
  // pattern are returned."
  test('GetTables Expression is a regular expression over the whole name', async () => {
    for (const name of ['rx_orders', 'rx_orders_v2', 'rx_events', 'rx_'])
      await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput(name) }));
    const names = async (Expression: string) =>
      ((await glue().send(new GetTablesCommand({ DatabaseName: db, Expression }))).TableList ?? [])
        .map((t) => t.Name)
        .sort();
    expect(await names('rx_orders.*')).toEqual(['rx_orders', 'rx_orders_v2']);
    expect(await names('rx_(orders|events)')).toEqual(['rx_events', 'rx_orders']);
    expect(await names('rx_orders_v\\d')).toEqual(['rx_orders_v2']);
    // A regex, not a glob: `*` repeats the `_`.
    expect(await names('rx_*')).toEqual(['rx_']);
    await expect(
      glue().send(new GetTablesCommand({ DatabaseName: db, Expression: 'rx_(' })),
    ).rejects.toBeInstanceOf(InvalidInputException);
  });

  // UpdateTable: "By default, UpdateTable always creates an archived version of the table before updating it.
  // However, if skipArchive is set to true, UpdateTable does not create the archived version."
  // GetTableVersions: TableVersions of { Table, VersionId }; GetTableVersion: one, by VersionId.
  test('UpdateTable archives the version it replaces unless SkipArchive; GetTableVersion(s) read them', async () => {
    const name = 'versioned';
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput(name) }));
    await glue().send(
      new UpdateTableCommand({
        DatabaseName: db,
        TableInput: tableInput(name, { Description: 'first update' }),
      }),
    );
    await glue().send(
      new UpdateTableCommand({
        DatabaseName: db,
        TableInput: tableInput(name, { Description: 'second update' }),
        SkipArchive: true,
      }),
    );
    const { Table } = await glue().send(new GetTableCommand({ DatabaseName: db, Name: name }));
    expect({ VersionId: Table?.VersionId, Description: Table?.Description }).toEqual({
      VersionId: '2',
      Description: 'second update',
    });
    const { TableVersions } = await glue().send(
      new GetTableVersionsCommand({ DatabaseName: db, TableName: name }),
    );
    expect(TableVersions?.map((v) => [v.VersionId, v.Table?.VersionId, v.Table?.Description])).toEqual([
      ['2', '2', 'second update'],
      ['0', '0', undefined],
    ]);
    const paged = await glue().send(
      new GetTableVersionsCommand({ DatabaseName: db, TableName: name, MaxResults: 1 }),
    );
    expect(paged.TableVersions?.map((v) => v.VersionId)).toEqual(['2']);
    const rest = await glue().send(
      new GetTableVersionsCommand({ DatabaseName: db, TableName: name, NextToken: paged.NextToken }),
    );
    expect(rest.TableVersions?.map((v) => v.VersionId)).toEqual(['0']);

    const { TableVersion } = await glue().send(
      new GetTableVersionCommand({ DatabaseName: db, TableName: name, VersionId: '0' }),
    );
    expect(TableVersion?.VersionId).toBe('0');
    expect(
      (await glue().send(new GetTableVersionCommand({ DatabaseName: db, TableName: name }))).TableVersion
        ?.VersionId,
    ).toBe('2');
    await expect(
      glue().send(new GetTableVersionCommand({ DatabaseName: db, TableName: name, VersionId: '1' })),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
  });

  // DeleteTable: EntityNotFoundException for a missing table; its versions go with it.
  test('DeleteTable removes the table and its versions', async () => {
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput('gone') }));
    await glue().send(new UpdateTableCommand({ DatabaseName: db, TableInput: tableInput('gone') }));
    await glue().send(new DeleteTableCommand({ DatabaseName: db, Name: 'gone' }));
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput('gone') }));
    const { TableVersions } = await glue().send(
      new GetTableVersionsCommand({ DatabaseName: db, TableName: 'gone' }),
    );
    expect(TableVersions?.map((v) => v.VersionId)).toEqual(['0']);
    await expect(
      glue().send(new DeleteTableCommand({ DatabaseName: db, Name: 'never' })),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
  });

  // BatchDeleteTable: Errors lists the tables that could not be deleted, with an ErrorDetail.
  test('BatchDeleteTable deletes what exists and reports the rest in Errors', async () => {
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput('batch_a') }));
    const { Errors } = await glue().send(
      new BatchDeleteTableCommand({ DatabaseName: db, TablesToDelete: ['batch_a', 'batch_missing'] }),
    );
    expect(Errors?.map((e) => [e.TableName, e.ErrorDetail?.ErrorCode])).toEqual([
      ['batch_missing', 'EntityNotFoundException'],
    ]);
  });
});

describe('partitions', () => {
  const table = 'parts';
  beforeAll(async () => {
    await glue().send(new CreateTableCommand({ DatabaseName: db, TableInput: tableInput(table) }));
  });
  const ref = { DatabaseName: db, TableName: table };

  // CreatePartition: AlreadyExistsException for an existing one; InvalidInputException for a wrong value count.
  test('CreatePartition, a duplicate and a wrong number of values', async () => {
    await glue().send(new CreatePartitionCommand({ ...ref, PartitionInput: partition(table, '2024-01-01') }));
    await expect(
      glue().send(new CreatePartitionCommand({ ...ref, PartitionInput: partition(table, '2024-01-01') })),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
    await expect(
      glue().send(new CreatePartitionCommand({ ...ref, PartitionInput: { Values: ['a', 'b'] } })),
    ).rejects.toBeInstanceOf(InvalidInputException);
  });

  // BatchCreatePartition: Errors holds the partitions not created (PartitionValues + ErrorDetail).
  test('BatchCreatePartition reports the existing one in Errors', async () => {
    const { Errors } = await glue().send(
      new BatchCreatePartitionCommand({
        ...ref,
        PartitionInputList: [partition(table, '2024-01-01'), partition(table, '2024-01-02')],
      }),
    );
    expect(Errors?.map((e) => [e.PartitionValues, e.ErrorDetail?.ErrorCode])).toEqual([
      [['2024-01-01'], 'AlreadyExistsException'],
    ]);
  });

  // GetPartition: the partition; EntityNotFoundException when missing.
  test('GetPartition', async () => {
    const { Partition } = await glue().send(
      new GetPartitionCommand({ ...ref, PartitionValues: ['2024-01-02'] }),
    );
    expect(Partition?.StorageDescriptor?.Location).toBe(`s3://${h.bucket}/conf/${table}/dt=2024-01-02/`);
    await expect(
      glue().send(new GetPartitionCommand({ ...ref, PartitionValues: ['1999-01-01'] })),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
  });

  // GetPartitions: Expression "filters the partitions to be returned" (SQL WHERE syntax over partition keys).
  test('GetPartitions with an Expression', async () => {
    const { Partitions } = await glue().send(
      new GetPartitionsCommand({ ...ref, Expression: "dt > '2024-01-01'" }),
    );
    expect(valuesOf(Partitions)).toEqual(['2024-01-02']);
  });

  // BatchGetPartition: Partitions holds those found; UnprocessedKeys "A list of the partition values in the
  // request for which partitions were not returned" is for throttled keys, which clients retry: a partition
  // that does not exist is simply not returned.
  test('BatchGetPartition leaves missing partitions out, UnprocessedKeys empty', async () => {
    const result = await glue().send(
      new BatchGetPartitionCommand({
        ...ref,
        PartitionsToGet: [{ Values: ['2024-01-01'] }, { Values: ['1999-01-01'] }, { Values: ['2024-01-02'] }],
      }),
    );
    expect(valuesOf(result.Partitions)).toEqual(['2024-01-01', '2024-01-02']);
    expect(result.UnprocessedKeys ?? []).toEqual([]);
  });

  // UpdatePartition: replaces the partition (its values may change); EntityNotFoundException when missing.
  test('UpdatePartition moves a partition to new values', async () => {
    await glue().send(
      new UpdatePartitionCommand({
        ...ref,
        PartitionValueList: ['2024-01-02'],
        PartitionInput: partition(table, '2024-01-03'),
      }),
    );
    const { Partitions } = await glue().send(new GetPartitionsCommand(ref));
    expect(valuesOf(Partitions)).toEqual(['2024-01-01', '2024-01-03']);
  });

  // BatchUpdatePartition: Errors holds the entries not updated.
  test('BatchUpdatePartition reports a missing partition in Errors', async () => {
    const { Errors } = await glue().send(
      new BatchUpdatePartitionCommand({
        ...ref,
        Entries: [
          {
            PartitionValueList: ['2024-01-01'],
            PartitionInput: { ...partition(table, '2024-01-01'), Parameters: { k: 'v' } },
          },
          { PartitionValueList: ['1999-01-01'], PartitionInput: partition(table, '1999-01-01') },
        ],
      }),
    );
    expect(Errors?.map((e) => [e.PartitionValueList, e.ErrorDetail?.ErrorCode])).toEqual([
      [['1999-01-01'], 'EntityNotFoundException'],
    ]);
    const { Partition } = await glue().send(
      new GetPartitionCommand({ ...ref, PartitionValues: ['2024-01-01'] }),
    );
    expect(Partition?.Parameters).toEqual({ k: 'v' });
  });

  // DeletePartition / BatchDeletePartition (Errors for those not deleted).
  test('DeletePartition and BatchDeletePartition', async () => {
    await glue().send(new DeletePartitionCommand({ ...ref, PartitionValues: ['2024-01-03'] }));
    await expect(
      glue().send(new DeletePartitionCommand({ ...ref, PartitionValues: ['2024-01-03'] })),
    ).rejects.toBeInstanceOf(EntityNotFoundException);
    const { Errors } = await glue().send(
      new BatchDeletePartitionCommand({
        ...ref,
        PartitionsToDelete: [{ Values: ['2024-01-01'] }, { Values: ['x'] }],
      }),
    );
    expect(Errors?.map((e) => [e.PartitionValues, e.ErrorDetail?.ErrorCode])).toEqual([
      [['x'], 'EntityNotFoundException'],
    ]);
    expect((await glue().send(new GetPartitionsCommand(ref))).Partitions).toEqual([]);
  });
});

describe('crawlers', () => {
  const crawler = `conf-crawler-${suffix()}`;
  beforeAll(async () => {
    await put(h.aws.s3, h.bucket, 'crawl/orders/part-0.parquet', parquetOf(orderRows(3, 'c')));
    await glue().send(
      new CreateCrawlerCommand({
        Name: crawler,
        Role: 'role',
        DatabaseName: db,
        TablePrefix: 'crawled_',
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/crawl/` }] },
      }),
    );
  });
  afterAll(async () => {
    await h?.aws.glue.send(new DeleteCrawlerCommand({ Name: crawler })).catch(() => undefined);
  });

  // CreateCrawler: AlreadyExistsException; GetCrawler: the definition, State READY.
  test('CreateCrawler and GetCrawler', async () => {
    const { Crawler } = await glue().send(new GetCrawlerCommand({ Name: crawler }));
    expect({ Name: Crawler?.Name, State: Crawler?.State, DatabaseName: Crawler?.DatabaseName }).toEqual({
      Name: crawler,
      State: 'READY',
      DatabaseName: db,
    });
    await expect(
      glue().send(
        new CreateCrawlerCommand({
          Name: crawler,
          Role: 'role',
          Targets: { S3Targets: [{ Path: 's3://x/' }] },
        }),
      ),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
  });

  // GetCrawlers (definitions), ListCrawlers (names), BatchGetCrawlers (CrawlersNotFound for missing names).
  test('GetCrawlers, ListCrawlers and BatchGetCrawlers', async () => {
    expect((await glue().send(new GetCrawlersCommand({}))).Crawlers?.map((c) => c.Name)).toContain(crawler);
    expect((await glue().send(new ListCrawlersCommand({}))).CrawlerNames).toContain(crawler);
    const batch = await glue().send(
      new BatchGetCrawlersCommand({ CrawlerNames: [crawler, 'no-such-crawler'] }),
    );
    expect({ found: batch.Crawlers?.map((c) => c.Name), missing: batch.CrawlersNotFound }).toEqual({
      found: [crawler],
      missing: ['no-such-crawler'],
    });
  });

  // UpdateCrawler: changes the definition and its Version.
  test('UpdateCrawler', async () => {
    await glue().send(new UpdateCrawlerCommand({ Name: crawler, Description: 'updated' }));
    const { Crawler } = await glue().send(new GetCrawlerCommand({ Name: crawler }));
    expect({ Description: Crawler?.Description, Version: Crawler?.Version }).toEqual({
      Description: 'updated',
      Version: 2,
    });
  });

  // StartCrawler runs a crawl; StopCrawler on a crawler that is not running is CrawlerNotRunningException;
  // ListCrawls lists the crawl; GetCrawlerMetrics counts the tables it created.
  test('StartCrawler, StopCrawler, ListCrawls and GetCrawlerMetrics', async () => {
    await glue().send(new StartCrawlerCommand({ Name: crawler }));
    const done = await waitForCrawler(glue(), crawler);
    expect(done.LastCrawl?.Status).toBe('SUCCEEDED');
    await expect(glue().send(new StopCrawlerCommand({ Name: crawler }))).rejects.toBeInstanceOf(
      CrawlerNotRunningException,
    );
    const crawls = await glue().send(new ListCrawlsCommand({ CrawlerName: crawler }));
    expect(crawls.Crawls?.map((c) => c.State)).toEqual(['COMPLETED']);
    const metrics = await glue().send(new GetCrawlerMetricsCommand({ CrawlerNameList: [crawler] }));
    expect(metrics.CrawlerMetricsList?.map((m) => [m.CrawlerName, m.TablesCreated])).toEqual([[crawler, 1]]);
  });

  // StartCrawlerSchedule: NoScheduleException without a schedule, SchedulerRunningException when running;
  // StopCrawlerSchedule: SchedulerNotRunningException when it is not running.
  test('StartCrawlerSchedule and StopCrawlerSchedule', async () => {
    await expect(
      glue().send(new StartCrawlerScheduleCommand({ CrawlerName: crawler })),
    ).rejects.toBeInstanceOf(NoScheduleException);
    await expect(
      glue().send(new StopCrawlerScheduleCommand({ CrawlerName: crawler })),
    ).rejects.toBeInstanceOf(SchedulerNotRunningException);
    await glue().send(new UpdateCrawlerCommand({ Name: crawler, Schedule: 'cron(0 3 1 1 ? 2099)' }));
    await expect(
      glue().send(new StartCrawlerScheduleCommand({ CrawlerName: crawler })),
    ).rejects.toBeInstanceOf(SchedulerRunningException);
    await glue().send(new StopCrawlerScheduleCommand({ CrawlerName: crawler }));
    expect((await glue().send(new GetCrawlerCommand({ Name: crawler }))).Crawler?.Schedule?.State).toBe(
      'NOT_SCHEDULED',
    );
    await glue().send(new StartCrawlerScheduleCommand({ CrawlerName: crawler }));
    expect((await glue().send(new GetCrawlerCommand({ Name: crawler }))).Crawler?.Schedule?.State).toBe(
      'SCHEDULED',
    );
  });

  // DeleteCrawler: removes it; EntityNotFoundException afterwards.
  test('DeleteCrawler', async () => {
    const other = `conf-delete-${suffix()}`;
    await glue().send(
      new CreateCrawlerCommand({
        Name: other,
        Role: 'role',
        DatabaseName: db,
        Targets: { S3Targets: [{ Path: `s3://${h.bucket}/x/` }] },
      }),
    );
    await glue().send(new DeleteCrawlerCommand({ Name: other }));
    await expect(glue().send(new GetCrawlerCommand({ Name: other }))).rejects.toBeInstanceOf(
      EntityNotFoundException,
    );
  });
});
