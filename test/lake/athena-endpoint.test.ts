/**
 * The local Athena endpoint through @aws-sdk/client-athena: SQL on DuckDB over tables crawled by the local
 * Glue endpoint from Parquet written to moto's S3 — results, paging, errors, partition pruning, read-only
 * guard, result files in S3, workgroups, named queries, and a restart of the endpoint.
 */
import {
  BatchGetNamedQueryCommand,
  BatchGetQueryExecutionCommand,
  CreateNamedQueryCommand,
  CreateWorkGroupCommand,
  DeleteNamedQueryCommand,
  GetNamedQueryCommand,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  GetWorkGroupCommand,
  InvalidRequestException,
  ListNamedQueriesCommand,
  ListQueryExecutionsCommand,
  ListWorkGroupsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CreateCrawlerCommand, CreateDatabaseCommand, GetTableCommand } from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  allRows,
  crawl,
  type LakeHarness,
  jsonLinesOf,
  orderRows,
  type OrderRow,
  parquetOf,
  put,
  runQuery,
  select,
  startHarness,
  suffix,
  waitForQuery,
} from './lake-support';

let h: LakeHarness;
const db = `athena_test_${suffix()}`;
const written: (OrderRow & { dt: string; hour: string })[] = [];
const PARTITIONS = ['2024-01-01', '2024-01-02'].flatMap((dt) =>
  ['00', '01', '02', '03'].map((hour) => ({ dt, hour })),
);

async function objectBytes(prefix: string): Promise<number> {
  const listed = await h.aws.s3.send(new ListObjectsV2Command({ Bucket: h.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).reduce((n, o) => n + (o.Size ?? 0), 0);
}

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  for (const [i, { dt, hour }] of PARTITIONS.entries()) {
    const rows = orderRows(100 + i * 10, `${dt}-${hour}`);
    written.push(...rows.map((r) => ({ ...r, dt, hour })));
    await put(h.aws.s3, h.bucket, `lake/orders/dt=${dt}/hour=${hour}/part-0.parquet`, parquetOf(rows));
  }
  await put(h.aws.s3, h.bucket, 'big/many_rows/part-0.parquet', parquetOf(orderRows(2500, 'big')));
  await put(
    h.aws.s3,
    h.bucket,
    'json/order_events/dt=2024-01-01/a.json.gz',
    jsonLinesOf(orderRows(40, 'j1'), true),
  );
  await put(
    h.aws.s3,
    h.bucket,
    'json/order_events/dt=2024-01-02/a.jsonl',
    jsonLinesOf(orderRows(60, 'j2', true)),
  );
  const crawler = `athena-${suffix()}`;
  await h.aws.glue.send(
    new CreateCrawlerCommand({
      Name: crawler,
      Role: 'role',
      DatabaseName: db,
      Targets: {
        S3Targets: [
          { Path: `s3://${h.bucket}/lake/` },
          { Path: `s3://${h.bucket}/big/` },
          { Path: `s3://${h.bucket}/json/` },
        ],
      },
    }),
  );
  const crawled = await crawl(h.aws.glue, crawler);
  if (crawled.LastCrawl?.Status !== 'SUCCEEDED')
    throw new Error(`crawl failed: ${crawled.LastCrawl?.ErrorMessage}`);
});

afterAll(async () => {
  await h?.close();
});

describe('Athena queries over crawled tables', () => {
  test('count and group-by equal what was written', async () => {
    const [[count, quantity]] = await select(h, 'SELECT count(*), sum(quantity) FROM orders', db);
    expect(Number(count)).toBe(written.length);
    expect(Number(quantity)).toBe(written.reduce((n, r) => n + Number(r.quantity), 0));

    const rows = await select(
      h,
      `SELECT region, count(*) AS n, round(sum(amount), 2) AS total FROM "${db}"."orders" GROUP BY region ORDER BY region`,
      db,
    );
    const expected = new Map<string, { n: number; total: number }>();
    for (const r of written) {
      const e = expected.get(r.region) ?? { n: 0, total: 0 };
      expected.set(r.region, { n: e.n + 1, total: e.total + r.amount });
    }
    expect(rows.map((r) => r[0])).toEqual([...expected.keys()].sort());
    for (const [region, n, total] of rows) {
      expect(Number(n)).toBe(expected.get(region ?? '')?.n);
      expect(Number(total)).toBeCloseTo(expected.get(region ?? '')?.total ?? 0, 2);
    }

    const perHour = await select(
      h,
      'SELECT dt, hour, count(*) FROM orders GROUP BY dt, hour ORDER BY dt, hour',
      db,
    );
    expect(perHour).toEqual(PARTITIONS.map(({ dt, hour }, i) => [dt, hour, String(100 + i * 10)]));
  });

  test('JSON-lines tables (gzip or not, camelCase keys, a column only some files have) are queried too', async () => {
    const rows = await select(
      h,
      'SELECT dt, count(*), count(channel), sum(quantity), min(orderid) FROM order_events GROUP BY dt ORDER BY dt',
      db,
    );
    expect(rows).toEqual([
      [
        '2024-01-01',
        '40',
        '0',
        String(orderRows(40, 'j1').reduce((n, r) => n + Number(r.quantity), 0)),
        'j1-0',
      ],
      [
        '2024-01-02',
        '60',
        '60',
        String(orderRows(60, 'j2').reduce((n, r) => n + Number(r.quantity), 0)),
        'j2-0',
      ],
    ]);
  });

  test('results carry Athena column names and types, and land in S3 as CSV + metadata', async () => {
    const q = await runQuery(
      h,
      `SELECT order_id, amount, quantity, created_at, count(*) OVER () FROM orders WHERE order_id = '2024-01-01-00-7'`,
      db,
    );
    expect(q.Status?.State).toBe('SUCCEEDED');
    expect(q.StatementType).toBe('DML');
    const id = q.QueryExecutionId ?? '';
    const page = await h.aws.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id }));
    expect(page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => `${c.Name}:${c.Type}`)).toEqual([
      'order_id:varchar',
      'amount:double',
      'quantity:bigint',
      'created_at:timestamp',
      '_col4:bigint',
    ]);
    expect(page.ResultSet?.Rows?.map((r) => r.Data?.map((d) => d.VarCharValue))).toEqual([
      ['order_id', 'amount', 'quantity', 'created_at', '_col4'],
      ['2024-01-01-00-7', '9.63', '1', '2024-01-01 00:00:07.000', '1'],
    ]);
    expect(q.ResultConfiguration?.OutputLocation).toBe(`s3://${h.bucket}/athena-results/${id}.csv`);
    const csv = await h.aws.s3.send(
      new GetObjectCommand({ Bucket: h.bucket, Key: `athena-results/${id}.csv` }),
    );
    expect(await csv.Body?.transformToString()).toBe(
      '"order_id","amount","quantity","created_at","_col4"\n"2024-01-01-00-7","9.63","1","2024-01-01 00:00:07.000","1"\n',
    );
    const metadata = await h.aws.s3.send(
      new GetObjectCommand({ Bucket: h.bucket, Key: `athena-results/${id}.csv.metadata` }),
    );
    expect(JSON.parse((await metadata.Body?.transformToString()) ?? '{}').ColumnInfo).toHaveLength(5);
  });

  test('2,500 rows page correctly with NextToken and MaxResults', async () => {
    const q = await runQuery(h, 'SELECT order_id FROM many_rows ORDER BY order_id', db);
    expect(q.Status?.State).toBe('SUCCEEDED');
    const id = q.QueryExecutionId ?? '';
    const { rows, pages } = await allRows(h.aws.athena, id, 1000);
    expect(pages).toBe(3);
    expect(rows[0]).toEqual(['order_id']);
    const data = rows.slice(1).map((r) => r[0]);
    expect(data).toHaveLength(2500);
    expect(new Set(data).size).toBe(2500);
    expect(data).toEqual([...data].sort());
    // The header row is only on the first page.
    const first = await h.aws.athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000 }),
    );
    const second = await h.aws.athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, NextToken: first.NextToken }),
    );
    expect(second.ResultSet?.Rows?.[0].Data?.[0].VarCharValue).not.toBe('order_id');
    await expect(
      h.aws.athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1001 })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
  });

  test("a syntax error ends FAILED with Athena's message", async () => {
    const q = await runQuery(h, 'SELECT order_id FROM orders WHERE', db);
    expect(q.Status?.State).toBe('FAILED');
    expect(q.Status?.StateChangeReason).toBe("SYNTAX_ERROR: line 1:34: mismatched input '<EOF>'");
    expect(q.Status?.AthenaError?.ErrorMessage).toBe(q.Status?.StateChangeReason);
    await expect(
      h.aws.athena.send(new GetQueryResultsCommand({ QueryExecutionId: q.QueryExecutionId })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
    const unknown = await runQuery(h, 'SELECT no_such_column FROM orders', db);
    expect(unknown.Status?.StateChangeReason).toContain('no_such_column');
  });

  test('a predicate on dt/hour reads fewer bytes (partition pruning)', async () => {
    const full = await runQuery(h, 'SELECT count(*) FROM orders', db);
    const total = await objectBytes('lake/orders/');
    expect(full.Statistics?.DataScannedInBytes).toBe(total);

    const pruned = await runQuery(
      h,
      `SELECT count(*) FROM orders WHERE dt = '2024-01-02' AND hour = '01'`,
      db,
    );
    expect(pruned.Status?.State).toBe('SUCCEEDED');
    const partition = await objectBytes('lake/orders/dt=2024-01-02/hour=01/');
    expect(pruned.Statistics?.DataScannedInBytes).toBe(partition);
    expect(pruned.Statistics?.DataScannedInBytes).toBeLessThan(total / 4);
    const [[count]] = (await allRows(h.aws.athena, pruned.QueryExecutionId ?? '')).rows.slice(1);
    expect(Number(count)).toBe(written.filter((r) => r.dt === '2024-01-02' && r.hour === '01').length);

    const ranged = await runQuery(
      h,
      `SELECT count(*) FROM orders o WHERE o.dt = '2024-01-01' AND o.hour IN ('00', '03') AND o.region = 'eu'`,
      db,
    );
    expect(ranged.Statistics?.DataScannedInBytes).toBe(
      (await objectBytes('lake/orders/dt=2024-01-01/hour=00/')) +
        (await objectBytes('lake/orders/dt=2024-01-01/hour=03/')),
    );
    // Not a partition predicate: everything is read, the answer is still right.
    const functional = await select(
      h,
      `SELECT count(*) FROM orders WHERE substr(dt, 1, 7) = '2024-01' AND hour >= '02'`,
      db,
    );
    expect(Number(functional[0][0])).toBe(written.filter((r) => r.hour >= '02').length);
  });

  test('statements that change data or the catalog are rejected with a clear reason', async () => {
    const drop = await runQuery(h, 'DROP TABLE orders', db);
    expect(drop.Status?.State).toBe('FAILED');
    expect(drop.StatementType).toBe('DDL');
    expect(drop.Status?.StateChangeReason).toMatch(
      /^DROP statements are not supported by the local Athena endpoint/,
    );
    await expect(
      h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'orders' })),
    ).resolves.toBeDefined();

    for (const [sql, reason] of [
      ["INSERT INTO orders VALUES ('x')", /^INSERT statements are not supported/],
      ["COPY orders TO '/tmp/x.csv'", /^COPY statements are not supported/],
      ["ATTACH '/tmp/x.db'", /^ATTACH statements are not supported/],
      ['SET threads = 1', /^SET statements are not supported/],
      ['SELECT 1; DROP TABLE orders', /^Only one sql statement is allowed\. Got: 2/],
      [
        "SELECT * FROM read_csv('/etc/passwd')",
        /^FUNCTION_NOT_FOUND: line 1:15: Function 'read_csv' not registered$/,
      ],
    ] as const) {
      const q = await runQuery(h, sql, db);
      expect({ sql, state: q.Status?.State }).toEqual({ sql, state: 'FAILED' });
      expect(q.Status?.StateChangeReason).toMatch(reason);
    }
  });

  test('SHOW DATABASES, SHOW TABLES, DESCRIBE and SHOW PARTITIONS answer from the catalog', async () => {
    expect(
      (await allRows(h.aws.athena, (await runQuery(h, 'SHOW DATABASES', db)).QueryExecutionId ?? '')).rows,
    ).toContainEqual([db]);
    const tables = await runQuery(h, `SHOW TABLES IN ${db}`, 'default');
    expect(tables.StatementType).toBe('UTILITY');
    expect(tables.ResultConfiguration?.OutputLocation).toMatch(/\.txt$/);
    expect((await allRows(h.aws.athena, tables.QueryExecutionId ?? '')).rows).toEqual([
      ['many_rows'],
      ['order_events'],
      ['orders'],
    ]);
    const describe = await allRows(
      h.aws.athena,
      (await runQuery(h, 'DESCRIBE orders', db)).QueryExecutionId ?? '',
    );
    expect(describe.rows.map((r) => `${r[0]}:${r[1]}`)).toEqual([
      'order_id:string',
      'region:string',
      'amount:double',
      'quantity:bigint',
      'created_at:timestamp',
      'dt:string',
      'hour:string',
    ]);
    const partitions = await allRows(
      h.aws.athena,
      (await runQuery(h, 'SHOW PARTITIONS orders', db)).QueryExecutionId ?? '',
    );
    expect(partitions.rows.map((r) => r[0]).sort()).toEqual(
      PARTITIONS.map(({ dt, hour }) => `dt=${dt}/hour=${hour}`),
    );
  });

  test('common Trino functions are translated to DuckDB', async () => {
    const [row] = await select(
      h,
      `SELECT approx_distinct(region),
              date_format(date_parse('2024-03-05 07:08:09', '%Y-%m-%d %H:%i:%s'), '%Y/%m/%d %H:%i'),
              to_unixtime(from_iso8601_timestamp('2024-01-01T01:00:00+01:00')),
              date_trunc('hour', max(created_at)),
              7 / 2,
              date_diff('day', TIMESTAMP '2024-01-01 23:00:00', TIMESTAMP '2024-01-02 01:00:00'),
              format_datetime(TIMESTAMP '2024-01-02 03:04:05', 'yyyy-MM-dd''T''HH:mm')
         FROM awsdatacatalog.${db}.orders`,
      db,
    );
    expect(row).toEqual([
      '3',
      '2024/03/05 07:08',
      '1.7040672E9',
      '2024-01-01 00:00:00.000',
      '3',
      '0',
      '2024-01-02T03:04',
    ]);
  });

  test('workgroups hold the result location; queries are listed, batch-fetched, idempotent by token and stoppable', async () => {
    const wg = `wg-${suffix()}`;
    await h.aws.athena.send(
      new CreateWorkGroupCommand({
        Name: wg,
        Configuration: { ResultConfiguration: { OutputLocation: `s3://${h.bucket}/wg-results/` } },
      }),
    );
    expect(
      (await h.aws.athena.send(new GetWorkGroupCommand({ WorkGroup: wg }))).WorkGroup?.Configuration
        ?.ResultConfiguration?.OutputLocation,
    ).toBe(`s3://${h.bucket}/wg-results/`);
    expect((await h.aws.athena.send(new ListWorkGroupsCommand({}))).WorkGroups?.map((w) => w.Name)).toEqual(
      expect.arrayContaining(['primary', wg]),
    );
    await expect(
      h.aws.athena.send(new GetWorkGroupCommand({ WorkGroup: `missing-${suffix()}` })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
    await expect(
      h.aws.athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1' })),
    ).rejects.toThrow('No output location provided');

    const token = `token-${suffix()}-${'x'.repeat(32)}`;
    const start = () =>
      h.aws.athena.send(
        new StartQueryExecutionCommand({
          QueryString: 'SELECT count(*) FROM orders',
          WorkGroup: wg,
          ClientRequestToken: token,
          QueryExecutionContext: { Database: db },
        }),
      );
    const first = await start();
    const again = await start();
    expect(again.QueryExecutionId).toBe(first.QueryExecutionId);
    const done = await waitForQuery(h.aws.athena, first.QueryExecutionId ?? '');
    expect(done.ResultConfiguration?.OutputLocation).toBe(
      `s3://${h.bucket}/wg-results/${first.QueryExecutionId}.csv`,
    );
    expect(done.WorkGroup).toBe(wg);

    // A long query (cross join of generated rows) is stopped.
    const long = await h.aws.athena.send(
      new StartQueryExecutionCommand({
        QueryString: 'SELECT sum(a.range * b.range) FROM range(200000) a CROSS JOIN range(200000) b',
        WorkGroup: wg,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await h.aws.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: long.QueryExecutionId }));
    const stopped = await waitForQuery(h.aws.athena, long.QueryExecutionId ?? '');
    expect(stopped.Status?.State).toBe('CANCELLED');

    const listed = await h.aws.athena.send(new ListQueryExecutionsCommand({ WorkGroup: wg }));
    expect(listed.QueryExecutionIds).toEqual([long.QueryExecutionId, first.QueryExecutionId]);
    const batch = await h.aws.athena.send(
      new BatchGetQueryExecutionCommand({ QueryExecutionIds: [first.QueryExecutionId ?? '', 'nope'] }),
    );
    expect(batch.QueryExecutions?.map((q) => q.Status?.State)).toEqual(['SUCCEEDED']);
    expect(batch.UnprocessedQueryExecutionIds?.map((u) => u.QueryExecutionId)).toEqual(['nope']);
  });

  test('named queries', async () => {
    const { NamedQueryId } = await h.aws.athena.send(
      new CreateNamedQueryCommand({
        Name: 'orders per region',
        Database: db,
        QueryString: 'SELECT region, count(*) FROM orders GROUP BY 1',
      }),
    );
    const named = await h.aws.athena.send(new GetNamedQueryCommand({ NamedQueryId }));
    expect(named.NamedQuery).toMatchObject({ Name: 'orders per region', Database: db, WorkGroup: 'primary' });
    expect((await h.aws.athena.send(new ListNamedQueriesCommand({}))).NamedQueryIds).toContain(NamedQueryId);
    expect(
      (await h.aws.athena.send(new BatchGetNamedQueryCommand({ NamedQueryIds: [NamedQueryId ?? ''] })))
        .NamedQueries,
    ).toHaveLength(1);
    await h.aws.athena.send(new DeleteNamedQueryCommand({ NamedQueryId }));
    await expect(h.aws.athena.send(new GetNamedQueryCommand({ NamedQueryId }))).rejects.toBeInstanceOf(
      InvalidRequestException,
    );
  });

  test('the endpoint restarts with its catalog and query history', async () => {
    const before = await runQuery(h, 'SELECT count(*) FROM orders', db);
    await h.restart();
    const { Table } = await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: 'orders' }));
    expect(Table?.PartitionKeys?.map((k) => k.Name)).toEqual(['dt', 'hour']);
    const again = await h.aws.athena.send(
      new GetQueryExecutionCommand({ QueryExecutionId: before.QueryExecutionId }),
    );
    expect(again.QueryExecution?.Status?.State).toBe('SUCCEEDED');
    expect((await allRows(h.aws.athena, before.QueryExecutionId ?? '')).rows).toEqual([
      ['_col0'],
      [String(written.length)],
    ]);
    const [[count]] = await select(h, `SELECT count(*) FROM orders WHERE hour = '00'`, db);
    expect(Number(count)).toBe(written.filter((r) => r.hour === '00').length);
  });
});
