/** Crawler logic without S3: Glue types, schema inference and merging, table layout, exclusion globs. */
import type { ClassifiedObject } from '../../src/lake-endpoint/glue/classify';
import {
  formatGlueType,
  glueTypeStringToDuckDb,
  mergeGlueTypes,
  parseGlueType,
} from '../../src/lake-endpoint/glue/glue-types';
import { inferJsonColumns, mergeColumns, type ColumnSchema } from '../../src/lake-endpoint/glue/schema-merge';
import { sanitizeTableName } from '../../src/support/glue-table-names';
import { layoutTables } from '../../src/lake-endpoint/glue/table-layout';
import { globToRegExp } from '../../src/lake-endpoint/s3-objects';

const t = parseGlueType;

describe('Glue types', () => {
  test('parse and print round-trip', () => {
    for (const text of [
      'string',
      'decimal(10,2)',
      'array<struct<a:int,b:array<string>>>',
      'map<string,bigint>',
      'struct<>',
    ]) {
      expect(formatGlueType(t(text))).toBe(text);
    }
    expect(formatGlueType(t(' STRUCT< a : INT , b : varchar(10) > '))).toBe('struct<a:int,b:varchar>');
    expect(() => t('array<int')).toThrow('invalid type');
  });

  test('merge widens, falls back to string, or refuses when strict', () => {
    const merge = (a: string, b: string, strict = false) => {
      const merged = mergeGlueTypes(t(a), t(b), strict);
      return merged && formatGlueType(merged);
    };
    expect(merge('int', 'bigint')).toBe('bigint');
    expect(merge('int', 'double')).toBe('double');
    expect(merge('float', 'double')).toBe('double');
    expect(merge('int', 'string')).toBe('string');
    expect(merge('int', 'string', true)).toBeUndefined();
    expect(merge('struct<a:int>', 'struct<b:string,a:bigint>')).toBe('struct<a:bigint,b:string>');
    expect(merge('array<int>', 'array<double>')).toBe('array<double>');
    expect(merge('decimal(10,2)', 'decimal(12,4)')).toBe('decimal(12,4)');
  });

  test('DuckDB spelling', () => {
    expect(glueTypeStringToDuckDb('array<int')).toBe('VARCHAR');
    expect(glueTypeStringToDuckDb('array<struct<a:int,b:decimal(10,2)>>')).toBe(
      'STRUCT("a" INTEGER, "b" DECIMAL(10,2))[]',
    );
    expect(glueTypeStringToDuckDb('map<string,bigint>')).toBe('MAP(VARCHAR, BIGINT)');
    expect(glueTypeStringToDuckDb('timestamp')).toBe('TIMESTAMP');
    expect(glueTypeStringToDuckDb(undefined)).toBe('VARCHAR');
  });
});

describe('schema inference and merge', () => {
  test('JSON records: keys in order, types merged record by record, nulls only → string', () => {
    const columns = inferJsonColumns([
      { orderId: 'a', amount: 1, tags: [], nested: { x: 1 }, gone: null },
      { orderId: 'b', amount: 2.5, tags: ['x'], nested: { y: 'z' }, big: 2 ** 40, flag: true },
    ]);
    expect(columns.map((c) => `${c.name}(${c.sourceName}):${formatGlueType(c.type)}`)).toEqual([
      'orderid(orderId):string',
      'amount(amount):double',
      'tags(tags):array<string>',
      'nested(nested):struct<x:int,y:string>',
      'gone(gone):string',
      'big(big):bigint',
      'flag(flag):boolean',
    ]);
  });

  test('column lists merge by name, strictly for Parquet', () => {
    const col = (name: string, type: string): ColumnSchema => ({ name, sourceName: name, type: t(type) });
    const merged = mergeColumns(
      [col('a', 'int'), col('b', 'string')],
      [col('a', 'bigint'), col('c', 'double')],
      true,
    );
    expect(merged?.map((c) => `${c.name}:${formatGlueType(c.type)}`)).toEqual([
      'a:bigint',
      'b:string',
      'c:double',
    ]);
    expect(mergeColumns([col('a', 'int')], [col('a', 'string')], true)).toBeUndefined();
  });
});

describe('layoutTables', () => {
  const columns = (...names: string[]) =>
    names.map((name) => ({ name, sourceName: name, type: t('string') }));
  const file = (
    key: string,
    format: 'parquet' | 'json' = 'parquet',
    cols = columns('id', 'v'),
  ): ClassifiedObject => ({
    bucket: 'b',
    key,
    size: 100,
    etag: 'e',
    format,
    compression: 'none',
    columns: cols,
    recordCount: 10,
  });

  test('a lone folder is looked through; key=value folders become named partition keys', () => {
    const tables = layoutTables(
      'b',
      'lake/',
      [
        file('lake/orders_cdc/dt=2024-01-01/hour=00/a.parquet'),
        file('lake/orders_cdc/dt=2024-01-01/hour=01/a.parquet'),
      ],
      {
        combineCompatibleSchemas: true,
      },
    );
    expect(tables).toHaveLength(1);
    expect(tables[0]).toMatchObject({
      name: 'orders_cdc',
      prefix: 'lake/orders_cdc/',
      partitionKeys: ['dt', 'hour'],
    });
    expect(tables[0].partitions.map((p) => p.values)).toEqual([
      ['2024-01-01', '00'],
      ['2024-01-01', '01'],
    ]);
  });

  test('folders of different formats become separate tables; other folders become partition_N', () => {
    const tables = layoutTables(
      'b',
      'root/',
      [
        file('root/p/2023/12/a.parquet'),
        file('root/p/2024/01/a.parquet'),
        file('root/j/x=1/a.json', 'json'),
        file('root/j/x=2/a.json', 'json'),
      ],
      { combineCompatibleSchemas: false },
    );
    expect(tables.map((tb) => [tb.name, tb.format, tb.partitionKeys.join(',')])).toEqual([
      ['p', 'parquet', 'partition_0,partition_1'],
      ['j', 'json', 'x'],
    ]);
  });

  test('without CombineCompatibleSchemas dissimilar sibling folders are separate tables', () => {
    const files = [
      file('r/a/x.parquet', 'parquet', columns('id', 'v')),
      file('r/b/x.parquet', 'parquet', columns('k', 'w', 'z')),
    ];
    expect(layoutTables('b', 'r/', files, { combineCompatibleSchemas: false }).map((tb) => tb.name)).toEqual([
      'a',
      'b',
    ]);
    expect(layoutTables('b', 'r/', files, { combineCompatibleSchemas: true }).map((tb) => tb.name)).toEqual([
      'r',
    ]);
  });

  test('table names are sanitized', () => {
    expect(sanitizeTableName('Orders-CDC.v2')).toBe('orders_cdc_v2');
  });
});

describe('exclusion globs', () => {
  test.each([
    ['**/_SUCCESS', 'dt=1/_SUCCESS', true],
    ['**.csv', 'a/b/c.csv', true],
    ['*.csv', 'a/b/c.csv', false],
    ['*.csv', 'c.csv', true],
    ['archive/**', 'archive/2024/x.json', true],
    ['{tmp,bak}/**', 'bak/x', true],
    ['dt=2024-0[1-3]*/**', 'dt=2024-02-01/x.parquet', true],
    ['dt=2024-0[!1-3]*/**', 'dt=2024-02-01/x.parquet', false],
  ] as const)('%s matches %s: %s', (glob, key, expected) => {
    expect(globToRegExp(glob).test(key)).toBe(expected);
  });
});
