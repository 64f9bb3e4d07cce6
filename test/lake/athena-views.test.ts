/**
 * Views on the local Athena endpoint, through @aws-sdk/client-athena and client-glue against moto's S3:
 * CREATE [OR REPLACE] VIEW / DROP VIEW / SHOW VIEWS / SHOW CREATE VIEW, views in joins and CTEs and over other
 * views, the errors Athena gives, the view as Glue keeps it (field by field, the Presto View encoding decoded),
 * a view put into Glue by hand the way AWS-created catalogs hold them, and `orders_current` over a CDC table.
 */
import { CreateTableCommand, GetTableCommand, type Table } from '@aws-sdk/client-glue';
import { ORDERS_CURRENT_VIEW, withOverrides, type Config } from '../../src/config';
import { ORDERS_CURRENT_COLUMNS } from '../../src/lake-format/current-view';
import { encodeParquet } from '../../src/lake-format/formats/parquet';
import type { LakeRow } from '../../src/lake-format/lake-row';
import { ensureWorkgroup } from '../../src/resources/athena';
import { ensureCdcTable, registerCdcPartitions } from '../../src/resources/cdc-catalog';
import { ensureGlueDatabase } from '../../src/resources/glue';
import { ensureOrdersCurrentView } from '../../src/resources/orders-current-view';
import { allRows, type LakeHarness, put, runQuery, select, startHarness, suffix } from './lake-support';

let h: LakeHarness;
let config: Config;
let db: string;

/** An order's changes: [order, version, status, op, minute of change_time]. */
const CHANGES: [string, number, string, string, number][] = [
  ['o-1', 1, 'CREATED', 'INSERT', 0],
  ['o-1', 2, 'PAID', 'MODIFY', 5],
  ['o-1', 3, 'SHIPPED', 'MODIFY', 70],
  ['o-2', 1, 'CREATED', 'INSERT', 1],
  ['o-2', 2, 'CANCELLED', 'MODIFY', 2],
  ['o-3', 1, 'CREATED', 'INSERT', 3],
  ['o-3', 1, 'CREATED', 'REMOVE', 65],
  ['o-4', 1, 'CREATED', 'INSERT', 62],
];
const BASE = Date.UTC(2024, 4, 1, 10, 0, 0);

function changeRow([orderId, version, status, op, minute]: (typeof CHANGES)[number]): LakeRow {
  const at = new Date(BASE + minute * 60_000);
  return {
    order_id: orderId,
    customer_id: `c-${orderId}`,
    status,
    version: BigInt(version),
    amount: 10 * version,
    currency: 'USD',
    region: orderId === 'o-4' ? 'us-east' : 'eu-west',
    item_count: 1n,
    created_at: new Date(BASE),
    updated_at: at,
    last_event_type: status,
    last_event_id: `${orderId}-${version}`,
    op,
    change_time: at,
    sequence_number: String(1000 + minute),
  };
}

const failure = async (sql: string, database = db) => {
  const q = await runQuery(h, sql, database);
  expect(q.Status?.State).toBe('FAILED');
  return q.Status?.StateChangeReason ?? '';
};
const succeed = async (sql: string, database = db) => {
  const q = await runQuery(h, sql, database);
  expect(q.Status?.StateChangeReason).toBeUndefined();
  expect(q.Status?.State).toBe('SUCCEEDED');
  return q;
};
/** Rows of a SHOW / DESCRIBE statement (which, unlike a SELECT, has no header row). */
const show = async (sql: string, database = db) => {
  const q = await succeed(sql, database);
  return (await allRows(h.aws.athena, q.QueryExecutionId ?? '')).rows;
};
const getTable = async (name: string): Promise<Table> =>
  (await h.aws.glue.send(new GetTableCommand({ DatabaseName: db, Name: name }))).Table as Table;
const decode = (text: string | undefined) => {
  const match = /^\/\* Presto View: (.+) \*\/$/.exec(text ?? '');
  expect(match).not.toBeNull();
  return JSON.parse(Buffer.from(match?.[1] ?? '', 'base64').toString('utf8')) as Record<string, unknown>;
};

beforeAll(async () => {
  h = await startHarness();
  db = `views_${suffix()}`;
  config = withOverrides(h.config, {
    glue: { database: db },
    lake: { bucket: h.bucket },
    athena: { workgroup: `views-${suffix()}` },
  });
  await ensureGlueDatabase(h.aws.glue, config);
  await ensureCdcTable(h.aws.glue, config);
  await ensureWorkgroup(h.aws.athena, config);
  const byHour = new Map<string, LakeRow[]>();
  for (const change of CHANGES) {
    const row = changeRow(change);
    const iso = (row.change_time as Date).toISOString();
    const path = `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
    byHour.set(path, [...(byHour.get(path) ?? []), row]);
  }
  const partitions = [];
  for (const [path, rows] of byHour) {
    await put(
      h.aws.s3,
      h.bucket,
      `${config.lake.prefix}/orders_cdc/${path}/part-0.parquet`,
      encodeParquet(rows),
    );
    partitions.push({
      partitionPath: path,
      location: `s3://${h.bucket}/${config.lake.prefix}/orders_cdc/${path}/`,
    });
  }
  await registerCdcPartitions(h.aws.glue, config, partitions);
}, 120_000);

afterAll(async () => {
  await h.close();
});

describe('view statements', () => {
  it('creates a view Glue keeps as Athena does, field by field', async () => {
    const sql = `SELECT order_id, status, version * 2 AS doubled, amount, change_time, dt FROM orders_cdc WHERE op <> 'REMOVE'`;
    const q = await succeed(`CREATE VIEW open_changes AS ${sql}`);
    expect(q.StatementType).toBe('DDL');
    const table = await getTable('open_changes');
    expect(table).toMatchObject({
      Name: 'open_changes',
      DatabaseName: db,
      TableType: 'VIRTUAL_VIEW',
      ViewExpandedText: '/* Presto View */',
      Parameters: { comment: 'Presto View', presto_view: 'true' },
      PartitionKeys: [],
      StorageDescriptor: {
        Columns: [
          { Name: 'order_id', Type: 'string' },
          { Name: 'status', Type: 'string' },
          { Name: 'doubled', Type: 'bigint' },
          { Name: 'amount', Type: 'double' },
          { Name: 'change_time', Type: 'timestamp' },
          { Name: 'dt', Type: 'string' },
        ],
        Location: '',
        Compressed: false,
        NumberOfBuckets: 0,
        SerdeInfo: {},
        SortColumns: [],
        StoredAsSubDirectories: false,
      },
    });
    expect(Object.keys(table.Parameters ?? {}).sort()).toEqual(['comment', 'presto_view']);
    expect(decode(table.ViewOriginalText)).toEqual({
      originalSql: sql,
      catalog: 'awsdatacatalog',
      schema: db,
      columns: [
        { name: 'order_id', type: 'varchar' },
        { name: 'status', type: 'varchar' },
        { name: 'doubled', type: 'bigint' },
        { name: 'amount', type: 'double' },
        { name: 'change_time', type: 'timestamp(3)' },
        { name: 'dt', type: 'varchar' },
      ],
    });
  });

  it('lists views in SHOW TABLES and SHOW VIEWS, prints SHOW CREATE VIEW, describes their columns', async () => {
    await succeed(`CREATE OR REPLACE VIEW listed_view AS SELECT order_id FROM orders_cdc`);
    expect(await show('SHOW TABLES', db)).toEqual(expect.arrayContaining([['listed_view'], ['orders_cdc']]));
    const views = (await show(`SHOW VIEWS IN ${db}`, 'default')).flat();
    expect(views).toContain('listed_view');
    expect(views).not.toContain('orders_cdc');
    expect(await show(`SHOW VIEWS LIKE 'listed*'`, db)).toEqual([['listed_view']]);
    expect(await show('SHOW CREATE VIEW listed_view', db)).toEqual([
      [`CREATE VIEW awsdatacatalog.${db}.listed_view SECURITY DEFINER AS`],
      ['SELECT order_id FROM orders_cdc'],
    ]);
    expect(await show('DESCRIBE listed_view', db)).toEqual([['order_id', 'string', '']]);
  });

  it('replaces a view with OR REPLACE and drops it with DROP VIEW [IF EXISTS]', async () => {
    await succeed(`CREATE VIEW replaced_view AS SELECT order_id FROM orders_cdc`);
    await succeed(`CREATE OR REPLACE VIEW replaced_view AS SELECT order_id, status FROM orders_cdc`);
    expect((await getTable('replaced_view')).StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual([
      'order_id',
      'status',
    ]);
    await succeed(`DROP VIEW replaced_view`);
    expect((await show('SHOW TABLES', db)).flat()).not.toContain('replaced_view');
    await succeed(`DROP VIEW IF EXISTS replaced_view`);
  });

  it('refuses what Athena refuses, in its words', async () => {
    expect(await failure(`CREATE VIEW over_nothing AS SELECT * FROM missing_table`)).toBe(
      `TABLE_NOT_FOUND: line 1:43: Table 'awsdatacatalog.${db}.missing_table' does not exist`,
    );
    expect((await show('SHOW TABLES', db)).flat()).not.toContain('over_nothing');
    await succeed(`CREATE VIEW taken AS SELECT 1 AS one`);
    expect(await failure(`CREATE VIEW taken AS SELECT 2 AS two`)).toBe(
      `TABLE_ALREADY_EXISTS: line 1:1: View 'awsdatacatalog.${db}.taken' already exists`,
    );
    expect(await failure(`CREATE OR REPLACE VIEW orders_cdc AS SELECT 1 AS one`)).toBe(
      `TABLE_ALREADY_EXISTS: line 1:1: Table 'awsdatacatalog.${db}.orders_cdc' already exists`,
    );
    expect(await failure(`DROP VIEW orders_cdc`)).toBe(
      `TABLE_NOT_FOUND: line 1:1: View 'awsdatacatalog.${db}.orders_cdc' does not exist, but a table with that name exists. Did you mean DROP TABLE awsdatacatalog.${db}.orders_cdc?`,
    );
    expect(await failure(`DROP VIEW no_such_view`)).toBe(
      `TABLE_NOT_FOUND: line 1:1: View 'awsdatacatalog.${db}.no_such_view' does not exist`,
    );
    expect(await failure(`DROP TABLE taken`)).toBe(
      'FAILED: SemanticException [Error 10137]: Cannot drop a view with DROP TABLE',
    );
    expect(await failure(`DROP TABLE orders_cdc`)).toMatch(/^DROP statements are not supported/);
    expect(await failure(`SELECT m.a FROM missing_table m`)).toBe(
      `TABLE_NOT_FOUND: line 1:17: Table 'awsdatacatalog.${db}.missing_table' does not exist`,
    );
    expect(await failure(`SELECT * FROM no_such_db.t`)).toBe(
      `SCHEMA_NOT_FOUND: line 1:15: Schema 'no_such_db' does not exist`,
    );
    // Still there after all that.
    expect(await select(h, 'SELECT one FROM taken', db)).toEqual([['1']]);
  });
});

describe('querying views', () => {
  beforeAll(async () => {
    await succeed(
      `CREATE OR REPLACE VIEW statuses AS SELECT order_id, max(version) AS top_version FROM orders_cdc GROUP BY order_id`,
    );
    await succeed(`CREATE OR REPLACE VIEW shipped AS SELECT order_id FROM statuses WHERE top_version = 3`);
  });

  it('reads a view alone, over another view, in a join and in a CTE', async () => {
    expect(await select(h, 'SELECT order_id, top_version FROM statuses ORDER BY order_id', db)).toEqual([
      ['o-1', '3'],
      ['o-2', '2'],
      ['o-3', '1'],
      ['o-4', '1'],
    ]);
    expect(await select(h, 'SELECT * FROM shipped', db)).toEqual([['o-1']]);
    expect(
      await select(
        h,
        `SELECT c.order_id, c.status FROM "${db}"."orders_cdc" c JOIN ${db}.statuses s ` +
          'ON c.order_id = s.order_id AND c.version = s.top_version ORDER BY 1, 2',
        'default',
      ),
    ).toEqual([
      ['o-1', 'SHIPPED'],
      ['o-2', 'CANCELLED'],
      ['o-3', 'CREATED'],
      ['o-3', 'CREATED'],
      ['o-4', 'CREATED'],
    ]);
    expect(
      await select(h, 'WITH s AS (SELECT * FROM statuses WHERE top_version > 1) SELECT count(*) FROM s', db),
    ).toEqual([['2']]);
    // The query's partition predicate on the table does not prune what the view reads of the same table.
    expect(
      await select(
        h,
        `SELECT (SELECT count(*) FROM orders_cdc WHERE hour = '10'), (SELECT count(*) FROM statuses)`,
        db,
      ),
    ).toEqual([['5', '4']]);
  });

  it('fails a view whose table is gone, and a view gone stale, as Trino does', async () => {
    await h.aws.glue.send(
      new CreateTableCommand({
        DatabaseName: db,
        TableInput: {
          Name: 'dangling',
          TableType: 'VIRTUAL_VIEW',
          Parameters: { comment: 'Presto View', presto_view: 'true' },
          ViewExpandedText: '/* Presto View */',
          ViewOriginalText: `/* Presto View: ${Buffer.from(
            JSON.stringify({
              originalSql: 'SELECT a FROM dropped_table',
              catalog: 'awsdatacatalog',
              schema: db,
              columns: [{ name: 'a', type: 'varchar' }],
            }),
          ).toString('base64')} */`,
          StorageDescriptor: { Columns: [{ Name: 'a', Type: 'string' }], Location: '', SerdeInfo: {} },
        },
      }),
    );
    expect(await failure('SELECT * FROM dangling')).toBe(
      `INVALID_VIEW: Failed analyzing stored view 'awsdatacatalog.${db}.dangling': TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.${db}.dropped_table' does not exist`,
    );
    await h.aws.glue.send(
      new CreateTableCommand({
        DatabaseName: db,
        TableInput: {
          Name: 'stale',
          TableType: 'VIRTUAL_VIEW',
          Parameters: { comment: 'Presto View', presto_view: 'true' },
          ViewExpandedText: '/* Presto View */',
          ViewOriginalText: `/* Presto View: ${Buffer.from(
            JSON.stringify({
              originalSql: 'SELECT order_id, status FROM orders_cdc',
              catalog: 'awsdatacatalog',
              schema: db,
              columns: [{ name: 'order_id', type: 'varchar' }],
            }),
          ).toString('base64')} */`,
          StorageDescriptor: { Columns: [{ Name: 'order_id', Type: 'string' }], Location: '', SerdeInfo: {} },
        },
      }),
    );
    expect(await failure('SELECT * FROM stale')).toBe(
      `VIEW_IS_STALE: View 'awsdatacatalog.${db}.stale' is stale or in invalid state: stored view column count (1) does not match column count derived from the view query analysis (2)`,
    );
  });

  it('reads a view an AWS catalog holds: put into Glue directly with the Presto View encoding', async () => {
    // As Athena on AWS writes it (and Terraform/CDK modules copy it): Trino types in the JSON, Hive types in Glue.
    const definition = {
      originalSql: `SELECT "order_id", CAST("amount" AS decimal(10,2)) AS "amount", ARRAY["status"] AS "statuses", "change_time"\nFROM "${db}"."orders_cdc"\nWHERE "op" = 'INSERT'`,
      catalog: 'awsdatacatalog',
      schema: db,
      columns: [
        { name: 'order_id', type: 'varchar' },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'statuses', type: 'array(varchar)' },
        { name: 'change_time', type: 'timestamp(3)' },
      ],
      owner: 'arn:aws:iam::123456789012:user/analyst',
      runAsInvoker: false,
    };
    await h.aws.glue.send(
      new CreateTableCommand({
        DatabaseName: db,
        TableInput: {
          Name: 'aws_made',
          Owner: 'hadoop',
          TableType: 'VIRTUAL_VIEW',
          Parameters: { comment: 'Presto View', presto_view: 'true' },
          ViewExpandedText: '/* Presto View */',
          ViewOriginalText: `/* Presto View: ${Buffer.from(JSON.stringify(definition)).toString('base64')} */`,
          PartitionKeys: [],
          StorageDescriptor: {
            Columns: [
              { Name: 'order_id', Type: 'string' },
              { Name: 'amount', Type: 'decimal(10,2)' },
              { Name: 'statuses', Type: 'array<string>' },
              { Name: 'change_time', Type: 'timestamp' },
            ],
            Location: '',
            Compressed: false,
            NumberOfBuckets: 0,
            SerdeInfo: {},
            SortColumns: [],
            StoredAsSubDirectories: false,
          },
        },
      }),
    );
    expect(await select(h, 'SELECT * FROM aws_made ORDER BY order_id', db)).toEqual([
      ['o-1', '10.00', '[CREATED]', '2024-05-01 10:00:00.000'],
      ['o-2', '10.00', '[CREATED]', '2024-05-01 10:01:00.000'],
      ['o-3', '10.00', '[CREATED]', '2024-05-01 10:03:00.000'],
      ['o-4', '10.00', '[CREATED]', '2024-05-01 11:02:00.000'],
    ]);
    expect((await show('SHOW VIEWS', db)).flat()).toContain('aws_made');
    expect(await show('SHOW CREATE VIEW aws_made', db)).toEqual([
      [`CREATE VIEW awsdatacatalog.${db}.aws_made SECURITY DEFINER AS`],
      ...definition.originalSql.split('\n').map((line) => [line]),
    ]);
  });
});

describe('orders_current', () => {
  it('is created through Athena once, and holds the latest image of each order, REMOVEs excluded', async () => {
    expect(await ensureOrdersCurrentView(h.aws.athena, h.aws.glue, config)).toEqual({
      kind: 'athena-view',
      name: ORDERS_CURRENT_VIEW,
      action: 'created',
    });
    expect(await ensureOrdersCurrentView(h.aws.athena, h.aws.glue, config)).toMatchObject({
      action: 'exists',
    });
    const table = await getTable(ORDERS_CURRENT_VIEW);
    expect(table.StorageDescriptor?.Columns?.map((c) => c.Name)).toEqual(ORDERS_CURRENT_COLUMNS);
    expect(
      await select(h, `SELECT order_id, status, version, region FROM ${ORDERS_CURRENT_VIEW} ORDER BY 1`, db),
    ).toEqual([
      ['o-1', 'SHIPPED', '3', 'eu-west'],
      ['o-2', 'CANCELLED', '2', 'eu-west'],
      ['o-4', 'CREATED', '1', 'us-east'],
    ]);
  });
});
