/** Partition predicates: Glue GetPartitions expressions (strict) and Athena partition pruning (lenient). */
import {
  keepPartition,
  planPartitionPruning,
  type PrunableTable,
} from '../../src/lake-endpoint/athena/partition-pruning';
import {
  parseGlueExpression,
  PartitionExpressionError,
  partitionValueMap,
} from '../../src/lake-endpoint/glue/partition-expression';

const keys = [
  { Name: 'dt', Type: 'string' },
  { Name: 'hour', Type: 'string' },
];
const values = (dt: string, hour: string) => partitionValueMap(keys, [dt, hour]);

describe('parseGlueExpression', () => {
  test.each([
    ["dt='2024-01-01' AND hour>='03'", ['2024-01-01', '04'], true],
    ["dt='2024-01-01' AND hour>='03'", ['2024-01-01', '02'], false],
    ["`dt` = '2024-01-02' OR hour = '00'", ['2024-01-01', '00'], true],
    ["hour IN ('01', '02')", ['2024-01-01', '02'], true],
    ["hour NOT IN ('01', '02')", ['2024-01-01', '02'], false],
    ["dt BETWEEN '2024-01-01' AND '2024-01-31'", ['2024-01-15', '00'], true],
    ["dt NOT BETWEEN '2024-01-01' AND '2024-01-31'", ['2024-01-15', '00'], false],
    ["dt LIKE '2024-01-%'", ['2024-01-15', '00'], true],
    ["NOT (dt = '2024-01-15')", ['2024-01-15', '00'], false],
    ["dt <> '2024-01-15'", ['2024-01-15', '00'], false],
    ['dt IS NOT NULL', ['2024-01-15', '00'], true],
    ["dt = 'it''s'", ["it's", '00'], true],
  ] as const)('%s on %j → %s', (expression, [dt, hour], expected) => {
    expect(parseGlueExpression(expression, keys)(values(dt, hour))).toBe(expected);
  });

  test('numeric keys compare as numbers, string keys as strings', () => {
    const numeric = [{ Name: 'year', Type: 'int' }];
    expect(parseGlueExpression('year > 9', numeric)(partitionValueMap(numeric, ['10']))).toBe(true);
    expect(parseGlueExpression("year > '9'", numeric)(partitionValueMap(numeric, ['10']))).toBe(true);
    expect(parseGlueExpression("dt > '9'", keys)(values('10', '00'))).toBe(false);
  });

  test.each([
    ['dt =', /cannot parse expression/],
    ["region = 'eu'", /"region" is not a partition key/],
    ["upper(dt) = 'X'", /function upper\(\)/],
  ])('rejects %j', (expression, message) => {
    expect(() => parseGlueExpression(expression, keys)).toThrow(PartitionExpressionError);
    expect(() => parseGlueExpression(expression, keys)).toThrow(message);
  });
});

describe('planPartitionPruning', () => {
  const tables: Record<string, PrunableTable> = {
    'lake.orders': { database: 'lake', name: 'orders', partitionKeys: keys },
    'lake.customers': { database: 'lake', name: 'customers', partitionKeys: [] },
  };
  const lookup = (db: string, t: string) => tables[`${db}.${t}`];
  const kept = (sql: string) => {
    const plan = planPartitionPruning(sql, 'lake', lookup);
    const all = ['2024-01-01', '2024-01-02'].flatMap((dt) =>
      ['00', '01', '02'].map((hour) => [dt, hour] as const),
    );
    return all
      .filter(([dt, hour]) => keepPartition(plan, 'lake.orders', values(dt, hour)))
      .map(([dt, hour]) => `${dt}/${hour}`);
  };

  test('keeps the partitions a WHERE on partition keys can match', () => {
    expect(kept("SELECT count(*) FROM orders WHERE dt = '2024-01-02' AND hour = '01'")).toEqual([
      '2024-01-02/01',
    ]);
    expect(kept(`SELECT * FROM "lake"."orders" o WHERE o.hour IN ('00', '02') AND o.region = 'eu'`)).toEqual([
      '2024-01-01/00',
      '2024-01-01/02',
      '2024-01-02/00',
      '2024-01-02/02',
    ]);
    expect(
      kept(
        "SELECT * FROM awsdatacatalog.lake.orders WHERE dt >= '2024-01-02' AND hour BETWEEN '01' AND '02'",
      ),
    ).toEqual(['2024-01-02/01', '2024-01-02/02']);
  });

  test('keeps everything it cannot be sure about', () => {
    const everything = 6;
    expect(kept("SELECT * FROM orders WHERE substr(dt, 1, 4) = '2024'")).toHaveLength(everything);
    expect(kept("SELECT * FROM orders WHERE dt = '2024-01-01' OR region = 'eu'")).toHaveLength(everything);
    expect(kept('SELECT * FROM orders WHERE hour = 1')).toHaveLength(everything); // varchar vs integer: not guessed
    expect(
      kept("SELECT * FROM customers c LEFT JOIN orders o ON c.id = o.customer_id WHERE o.dt = '2024-01-01'"),
    ).toHaveLength(everything);
    expect(kept('SELECT * FROM orders WHERE dt IN (SELECT max(dt) FROM orders)')).toHaveLength(everything);
    expect(kept('this is not SQL at all')).toHaveLength(everything);
  });

  test('a table read twice keeps the union of what each read needs', () => {
    expect(
      kept(
        "WITH a AS (SELECT * FROM orders WHERE dt = '2024-01-01' AND hour = '00') SELECT * FROM a UNION ALL SELECT * FROM lake.orders WHERE dt = '2024-01-02' AND hour = '02'",
      ),
    ).toEqual(['2024-01-01/00', '2024-01-02/02']);
    expect(
      kept("SELECT * FROM orders a JOIN orders b ON a.order_id = b.order_id WHERE a.hour = '00'"),
    ).toHaveLength(6);
    expect(
      kept(
        "SELECT * FROM orders a JOIN orders b ON a.order_id = b.order_id WHERE a.hour = '00' AND b.hour = '01'",
      ),
    ).toEqual(['2024-01-01/00', '2024-01-01/01', '2024-01-02/00', '2024-01-02/01']);
  });
});
