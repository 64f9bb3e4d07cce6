/** Pure logic of the local Athena endpoint: Trino → DuckDB translation, the read-only guard, result text. */
import { QueryRejectedError, classifyStatement } from '../../src/lake-endpoint/athena/sql-guard';
import {
  jodaFormatToStrftime,
  mysqlFormatToStrftime,
  translateTrinoToDuckDb,
} from '../../src/lake-endpoint/athena/sql-translate';
import { javaDouble, toCsv } from '../../src/lake-endpoint/athena/result-format';

describe('translateTrinoToDuckDb', () => {
  test.each([
    ['SELECT approx_distinct(order_id) FROM t', 'SELECT approx_count_distinct(order_id) FROM t'],
    ["SELECT date_parse(s, '%Y-%m-%d %H:%i:%s') FROM t", "SELECT strptime(s, '%Y-%m-%d %H:%M:%S') FROM t"],
    ["SELECT date_format(ts, '%Y-%m-%d %T') FROM t", "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S') FROM t"],
    [
      'SELECT from_iso8601_timestamp(s), from_iso8601_date(d) FROM t',
      'SELECT CAST(s AS TIMESTAMPTZ), CAST(d AS DATE) FROM t',
    ],
    ['SELECT to_unixtime(ts), from_unixtime(n) FROM t', 'SELECT epoch(ts), to_timestamp(n) FROM t'],
    [
      "SELECT date_add('day', -1, current_date)",
      'SELECT CAST((current_date + (-1) * INTERVAL 1 DAY) AS DATE)',
    ],
    ["SELECT date_add('hour', 1, ts)", 'SELECT (ts + (1) * INTERVAL 1 HOUR)'],
    ["SELECT date_diff('hour', a, b)", "SELECT date_sub('hour', a, b)"],
    ['SELECT * FROM awsdatacatalog.lake.orders', 'SELECT * FROM lake.orders'],
    ['SELECT * FROM "AwsDataCatalog"."lake"."orders"', 'SELECT * FROM "lake"."orders"'],
    ['SELECT CAST(x AS timestamp(3)) FROM t', 'SELECT CAST(x AS TIMESTAMP) FROM t'],
    [
      'SELECT CAST(j AS ARRAY(ROW(a BIGINT, b MAP(VARCHAR, timestamp(3) with time zone)))), CAST(x AS JSON)',
      'SELECT CAST(j AS STRUCT(a BIGINT, b MAP(VARCHAR, TIMESTAMPTZ))[]), to_json(x)',
    ],
    [
      "SELECT DATE '2024-01-31' + INTERVAL '1' MONTH, ts + INTERVAL '1' DAY",
      "SELECT CAST(DATE '2024-01-31' + INTERVAL '1' MONTH AS DATE), ts + INTERVAL '1' DAY",
    ],
    [
      "SELECT TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'Asia/Tokyo'",
      "SELECT CAST(TIMESTAMPTZ '2012-10-31 01:00:00 UTC' AS TIMESTAMPTZ) AT TIME ZONE 'Asia/Tokyo'",
    ],
    [
      'SELECT x, n FROM t CROSS JOIN UNNEST(arr) WITH ORDINALITY AS u(x, n)',
      'SELECT x, n FROM t CROSS JOIN LATERAL (SELECT unnest(arr) AS x, unnest(range(1, greatest(len(arr)) + 1)) AS n) AS u',
    ],
    [
      'SELECT k, v FROM t CROSS JOIN UNNEST(m) AS u(k, v)',
      'SELECT k, v FROM t CROSS JOIN LATERAL (SELECT struct_extract_at(trino_u, 1) AS k, struct_extract_at(trino_u, 2) AS v FROM (SELECT unnest(m) AS trino_u) AS trino_r) AS u',
    ],
    [
      "SELECT concat(a, 'b'), element_at(arr, -1), reduce(xs, 0, (s, x) -> s + x, s -> s)",
      "SELECT (a || 'b'), (arr)[-1], list_transform([list_reduce(xs, (s, x) -> s + x, 0)], s -> s)[1]",
    ],
    [
      "SELECT regexp_replace(s, '(a)(b)', '$2$1'), regexp_replace(s, 'x')",
      "SELECT regexp_replace(s, '(a)(b)', '\\2\\1', 'g'), regexp_replace(s, 'x', '', 'g')",
    ],
    [
      "SELECT json_extract_scalar(j, '$.a'), cardinality(arr), arbitrary(x)",
      "SELECT trino_json_extract_scalar(j, '$.a'), len(arr), any_value(x)",
    ],
    [
      'SELECT approx_percentile(x, 0.5), regexp_like(s, p), date(ts)',
      'SELECT approx_quantile(x, 0.5), regexp_matches(s, p), CAST(ts AS DATE)',
    ],
  ])('%s', (trino, duckdb) => {
    expect(translateTrinoToDuckDb(trino)).toBe(duckdb);
  });

  test('reads a collection only its type tells as a map when asked, and DATE columns as dates', () => {
    expect(
      translateTrinoToDuckDb('SELECT cardinality(m) FROM t CROSS JOIN UNNEST(m) AS u(k, v)', { maps: true }),
    ).toBe(
      'SELECT cardinality(m) FROM t CROSS JOIN LATERAL (SELECT struct_extract_at(trino_u, 1) AS k, struct_extract_at(trino_u, 2) AS v FROM (SELECT unnest(map_entries(m)) AS trino_u) AS trino_r) AS u',
    );
    expect(
      translateTrinoToDuckDb("SELECT t.d - INTERVAL '1' DAY FROM t", { dateColumns: new Set(['d']) }),
    ).toBe("SELECT CAST(t.d - INTERVAL '1' DAY AS DATE) FROM t");
    expect(translateTrinoToDuckDb("SELECT DATE '2024-01-31' + INTERVAL '1' DAY + INTERVAL '1' MONTH")).toBe(
      "SELECT CAST(CAST(DATE '2024-01-31' + INTERVAL '1' DAY AS DATE) + INTERVAL '1' MONTH AS DATE)",
    );
  });

  test("Trino's listagg and one-column VALUES rows without parentheses", () => {
    expect(
      translateTrinoToDuckDb("SELECT listagg(v, ',') WITHIN GROUP (ORDER BY v) FROM (VALUES 'a', 'c') t(v)"),
    ).toBe("SELECT string_agg(v, ',' ORDER BY v) FROM (VALUES ('a'), ('c')) t(v)");
  });

  test('translates nested calls and leaves strings, quoted identifiers and comments alone', () => {
    expect(translateTrinoToDuckDb("SELECT date_format(date_parse(s, '%d/%m/%Y'), '%Y') FROM t")).toBe(
      "SELECT strftime(strptime(s, '%d/%m/%Y'), '%Y') FROM t",
    );
    const untouched = `SELECT 'approx_distinct(x)', "date_parse"(1) -- approx_distinct(y)\nFROM t /* from_unixtime(1) */`;
    expect(translateTrinoToDuckDb(untouched)).toBe(untouched);
    expect(translateTrinoToDuckDb('SELECT s.approx_distinct(x)')).toBe('SELECT s.approx_distinct(x)');
  });

  test('converts MySQL and Joda date formats', () => {
    expect(mysqlFormatToStrftime('%Y-%m-%d %H:%i:%s.%f %p %W %b %e %%')).toBe(
      '%Y-%m-%d %H:%M:%S.%f %p %A %b %-d %%',
    );
    expect(jodaFormatToStrftime("yyyy-MM-dd'T'HH:mm:ss.SSS")).toBe('%Y-%m-%dT%H:%M:%S.%g');
    expect(jodaFormatToStrftime('EEE, d MMM yy h:mm a')).toBe('%a, %-d %b %y %-I:%M %p');
  });
});

describe('classifyStatement', () => {
  test.each([
    'SELECT 1',
    'with x as (select 1) select * from x',
    '(SELECT 1)',
    'VALUES (1)',
    '-- comment\n  select 1;',
    'SELEC 1',
  ])('runs %j as a query', (sql) => {
    expect(classifyStatement(sql)).toMatchObject({ kind: 'query', statementType: 'DML' });
  });

  test.each(['SHOW TABLES', 'describe t', 'DESC t', 'show databases'])(
    'answers %j from the catalog',
    (sql) => {
      expect(classifyStatement(sql)).toMatchObject({ kind: 'utility', statementType: 'UTILITY' });
    },
  );

  it('leaves DROP TABLE to the view statements: only a view may meet it (test/lake/athena-views.test.ts)', () => {
    expect(classifyStatement('DROP TABLE t').kind).toBe('view');
    expect(classifyStatement('drop view if exists v').kind).toBe('view');
  });

  test.each([
    ['create table x as select 1', /^CREATE statements are not supported/],
    ["insert into t values ('a')", /^INSERT statements are not supported/],
    ['UPDATE t SET a = 1', /^UPDATE statements are not supported/],
    ['DELETE FROM t', /^DELETE statements are not supported/],
    ['ALTER TABLE t ADD COLUMNS (x int)', /^ALTER statements are not supported/],
    ["COPY t TO 'x'", /^COPY statements are not supported/],
    ["ATTACH 'x.db'", /^ATTACH statements are not supported/],
    ['PRAGMA version', /^PRAGMA statements are not supported/],
    ["SET s3_region = 'x'", /^SET statements are not supported/],
    ['MSCK REPAIR TABLE t', /^MSCK statements are not supported/],
    ['SELECT 1; SELECT 2', /^Only one sql statement is allowed\. Got: 2$/],
    ["SELECT ';'; DROP TABLE t", /^Only one sql statement is allowed\. Got: 2$/],
    ['  ; ', /^The query is empty$/],
  ])('rejects %j', (sql, reason) => {
    expect(() => classifyStatement(sql)).toThrow(QueryRejectedError);
    expect(() => classifyStatement(sql)).toThrow(reason);
  });

  test('a semicolon inside a string is not a statement separator', () => {
    expect(classifyStatement("SELECT 'a;b';")).toMatchObject({ kind: 'query' });
  });
});

describe('result text', () => {
  test('doubles print like Java (Trino)', () => {
    expect([2, 2.5, 1e7, 1.234e-5, 0, -3, 123456.789].map(javaDouble)).toEqual([
      '2.0',
      '2.5',
      '1.0E7',
      '1.234E-5',
      '0.0',
      '-3.0',
      '123456.789',
    ]);
  });

  test('CSV quotes every value and leaves NULL empty', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x"y', null],
          ['', '1'],
        ],
      ),
    ).toBe('"a","b"\n"x""y",\n"","1"\n');
  });
});
