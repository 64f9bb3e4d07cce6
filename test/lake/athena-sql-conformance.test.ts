/**
 * Athena (engine v3) SQL as its documentation defines it, run on the local Athena endpoint through
 * @aws-sdk/client-athena: each case is an example or a documented rule of the page named above its group, with
 * the rows Athena returns (text as GetQueryResults gives it, NULL as null). Collections, UNNEST and dates
 * also run over a Parquet table and a JSON table in S3 registered in Glue, as a crawler would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateDatabaseCommand, CreateTableCommand, DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import { DuckDBInstance } from '@duckdb/node-api';
import { allRows, type LakeHarness, put, runQuery, select, startHarness, suffix } from './lake-support';

type Row = (string | null)[];
type Case = [sql: string, rows: Row[]];

const one = (value: string | null): Row[] => [[value]];

/** Cases without tables, by the documentation page they come from. */
const SCALAR_CASES: Record<string, Case[]> = {
  'https://trino.io/docs/current/functions/array.html': [
    ['SELECT ARRAY[1, 2, 3][2]', one('2')],
    ['SELECT element_at(ARRAY[1, 2, 3], 2)', one('2')],
    ['SELECT element_at(ARRAY[1, 2, 3], -1)', one('3')],
    ['SELECT element_at(ARRAY[1, 2, 3], 5)', one(null)],
    ['SELECT cardinality(ARRAY[1, 2, 3])', one('3')],
    ['SELECT cardinality(ARRAY[])', one('0')],
    ['SELECT contains(ARRAY[1, 2, 3], 2)', one('true')],
    ['SELECT contains(ARRAY[1, 2, 3], 5)', one('false')],
    ['SELECT array_position(ARRAY[10, 20, 30], 20)', one('2')],
    ['SELECT array_position(ARRAY[10, 20, 30], 40)', one('0')],
    ['SELECT array_max(ARRAY[1, 3, 2])', one('3')],
    ['SELECT array_min(ARRAY[1, 3, 2])', one('1')],
    ['SELECT array_distinct(ARRAY[1, 2, 3])', one('[1, 2, 3]')],
    ['SELECT array_distinct(ARRAY[1, 1, 2, 3])', one('[1, 2, 3]')],
    ['SELECT array_remove(ARRAY[1, 2, 1, 3], 1)', one('[2, 3]')],
    ['SELECT array_sort(ARRAY[3, NULL, 1])', one('[1, 3, null]')],
    ["SELECT array_join(ARRAY['a', 'b', 'c'], ',')", one('a,b,c')],
    ["SELECT array_join(ARRAY['a', NULL, 'b'], ',', 'x')", one('a,x,b')],
    ['SELECT arrays_overlap(ARRAY[1, 2], ARRAY[2, 3])', one('true')],
    ['SELECT arrays_overlap(ARRAY[1, 2], ARRAY[3, 4])', one('false')],
    ['SELECT concat(ARRAY[1, 2], ARRAY[3, 4])', one('[1, 2, 3, 4]')],
    ['SELECT ARRAY[1] || ARRAY[2]', one('[1, 2]')],
    ['SELECT flatten(ARRAY[ARRAY[1, 2], ARRAY[3]])', one('[1, 2, 3]')],
    ['SELECT sequence(1, 5)', one('[1, 2, 3, 4, 5]')],
    ['SELECT sequence(5, 1)', one('[5, 4, 3, 2, 1]')],
    ['SELECT sequence(1, 10, 3)', one('[1, 4, 7, 10]')],
    ['SELECT slice(ARRAY[1, 2, 3, 4], 2, 2)', one('[2, 3]')],
    ['SELECT slice(ARRAY[1, 2, 3, 4], -2, 2)', one('[3, 4]')],
    ['SELECT trim_array(ARRAY[1, 2, 3, 4], 1)', one('[1, 2, 3]')],
    ['SELECT trim_array(ARRAY[1, 2, 3, 4], 2)', one('[1, 2]')],
    ['SELECT filter(ARRAY[], x -> true)', one('[]')],
    ['SELECT filter(ARRAY[5, -6, NULL, 7], x -> x > 0)', one('[5, 7]')],
    ['SELECT filter(ARRAY[5, NULL, 7, NULL], x -> x IS NOT NULL)', one('[5, 7]')],
    ['SELECT transform(ARRAY[], x -> x + 1)', one('[]')],
    ['SELECT transform(ARRAY[5, 6], x -> x + 1)', one('[6, 7]')],
    ['SELECT transform(ARRAY[5, NULL, 6], x -> coalesce(x, 0) + 1)', one('[6, 1, 7]')],
    ["SELECT transform(ARRAY['x', 'abc', 'z'], x -> x || '0')", one('[x0, abc0, z0]')],
    ['SELECT reduce(ARRAY[], 0, (s, x) -> s + x, s -> s)', one('0')],
    ['SELECT reduce(ARRAY[5, 20, 50], 0, (s, x) -> s + x, s -> s)', one('75')],
    ['SELECT reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + x, s -> s)', one(null)],
    ['SELECT reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + coalesce(x, 0), s -> s)', one('75')],
    ['SELECT reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> IF(x IS NULL, s, s + x), s -> s)', one('75')],
    ["SELECT reduce(ARRAY[2147483647, 1], BIGINT '0', (s, x) -> s + x, s -> s)", one('2147483648')],
    ['SELECT any_match(ARRAY[1, 2, 3], x -> x > 2)', one('true')],
    ['SELECT any_match(ARRAY[], x -> true)', one('false')],
    ['SELECT all_match(ARRAY[1, 2, 3], x -> x > 0)', one('true')],
    ['SELECT all_match(ARRAY[], x -> false)', one('true')],
    ['SELECT none_match(ARRAY[1, 2, 3], x -> x > 5)', one('true')],
  ],
  'https://trino.io/docs/current/functions/lambda.html': [
    [
      'SELECT numbers, transform(numbers, n -> n * n) AS squared_numbers FROM (VALUES (ARRAY[1, 2]), (ARRAY[3, 4]), (ARRAY[5, 6, 7])) AS t(numbers)',
      [
        ['[1, 2]', '[1, 4]'],
        ['[3, 4]', '[9, 16]'],
        ['[5, 6, 7]', '[25, 36, 49]'],
      ],
    ],
    [
      "SELECT transform(prices, n -> TRY_CAST(n AS VARCHAR) || '$') AS price_tags FROM (VALUES (ARRAY[100, 200]), (ARRAY[30, 4])) AS t(prices)",
      [['[100$, 200$]'], ['[30$, 4$]']],
    ],
    [
      'SELECT xvalues, a, b, transform(xvalues, x -> a * x + b) AS linear_function_values FROM (VALUES (ARRAY[1, 2], 10, 5), (ARRAY[3, 4], 4, 2)) AS t(xvalues, a, b)',
      [
        ['[1, 2]', '10', '5', '[15, 25]'],
        ['[3, 4]', '4', '2', '[14, 18]'],
      ],
    ],
    [
      'SELECT numbers, any_match(numbers, n -> COALESCE(n, 0) > 100) AS matches FROM (VALUES (ARRAY[1, NULL, 3]), (ARRAY[NULL, 200, 3]), (ARRAY[101])) AS t(numbers)',
      [
        ['[1, null, 3]', 'false'],
        ['[null, 200, 3]', 'true'],
        ['[101]', 'true'],
      ],
    ],
  ],
  'https://trino.io/docs/current/functions/map.html': [
    ['SELECT map()', one('{}')],
    ["SELECT map(ARRAY[1, 3], ARRAY['foo', 'bar'])", one('{1=foo, 3=bar}')],
    ["SELECT map(ARRAY['k1', 'k2'], ARRAY[1, 2])['k2']", one('2')],
    ["SELECT element_at(map(ARRAY['k1', 'k2'], ARRAY[1, 2]), 'k1')", one('1')],
    ["SELECT element_at(map(ARRAY['k1', 'k2'], ARRAY[1, 2]), 'k3')", one(null)],
    ["SELECT cardinality(map(ARRAY['k1', 'k2'], ARRAY[1, 2]))", one('2')],
    ["SELECT map_keys(map(ARRAY['k1', 'k2'], ARRAY[1, 2]))", one('[k1, k2]')],
    ["SELECT map_values(map(ARRAY['k1', 'k2'], ARRAY[1, 2]))", one('[1, 2]')],
    ["SELECT map_concat(map(ARRAY['a'], ARRAY[1]), map(ARRAY['a', 'b'], ARRAY[2, 3]))", one('{a=2, b=3}')],
  ],
  'https://trino.io/docs/current/language/types.html (ROW)': [
    ['SELECT CAST(ROW(1, 2e0) AS ROW(x BIGINT, y DOUBLE))', one('{x=1, y=2.0}')],
    ['SELECT CAST(ROW(1, 2e0) AS ROW(x BIGINT, y DOUBLE)).x', one('1')],
    ["SELECT CAST(ROW('Bob', 38) AS ROW(name VARCHAR, age INTEGER)).name", one('Bob')],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/creating-arrays.html': [
    ['SELECT ARRAY [1,2,3,4] AS items', one('[1, 2, 3, 4]')],
    ['SELECT ARRAY[ ARRAY[1,2], ARRAY[3,4] ] AS items', one('[[1, 2], [3, 4]]')],
    [
      "SELECT ARRAY[CAST(ROW('Bob', 38) AS ROW(name VARCHAR, age INTEGER)), CAST(ROW('Alice', 35) AS ROW(name VARCHAR, age INTEGER))] AS users",
      one('[{name=Bob, age=38}, {name=Alice, age=35}]'),
    ],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/accessing-array-elements.html': [
    [
      "WITH dataset AS (SELECT ARRAY[CAST(MAP(ARRAY['a1', 'a2', 'a3'], ARRAY[1, 2, 3]) AS JSON)] || ARRAY[CAST(MAP(ARRAY['b1', 'b2', 'b3'], ARRAY[4, 5, 6]) AS JSON)] AS items) SELECT items[1] AS item FROM dataset",
      one('{"a1":1,"a2":2,"a3":3}'),
    ],
    [
      "WITH dataset AS (SELECT ARRAY[CAST(MAP(ARRAY['a1', 'a2', 'a3'], ARRAY[1, 2, 3]) AS JSON)] || ARRAY[CAST(MAP(ARRAY['b1', 'b2', 'b3'], ARRAY[4, 5, 6]) AS JSON)] AS items) SELECT element_at(items, -1) AS item FROM dataset",
      one('{"b1":4,"b2":5,"b3":6}'),
    ],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/concatenating-arrays.html': [
    ['SELECT concat(ARRAY[1,2], ARRAY[3,4]) AS items', one('[1, 2, 3, 4]')],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/converting-arrays-to-strings.html': [
    ["SELECT array_join(ARRAY['this', 'is', 'a', 'test'], ' ') AS welcome_msg", one('this is a test')],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/finding-lengths.html': [
    ['SELECT cardinality(ARRAY[1,2,3,4]) AS item_count', one('4')],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/flattening-arrays.html': [
    ['SELECT flatten(ARRAY[ ARRAY[1,2], ARRAY[3,4] ]) AS items', one('[1, 2, 3, 4]')],
    [
      "WITH dataset AS (SELECT 'engineering' AS department, ARRAY['Sharon', 'John', 'Bob', 'Sally'] AS users) SELECT department, names FROM dataset CROSS JOIN UNNEST(users) AS t(names)",
      [
        ['engineering', 'Sharon'],
        ['engineering', 'John'],
        ['engineering', 'Bob'],
        ['engineering', 'Sally'],
      ],
    ],
    [
      "WITH dataset AS (SELECT ARRAY[CAST(ROW('Sally', 'engineering', ARRAY[1,2,3,4]) AS ROW(name VARCHAR, department VARCHAR, scores ARRAY(INTEGER))), CAST(ROW('John', 'finance', ARRAY[7,8,9]) AS ROW(name VARCHAR, department VARCHAR, scores ARRAY(INTEGER)))] AS users) SELECT person.name, person.department, score FROM dataset CROSS JOIN UNNEST(users) AS t(person) CROSS JOIN UNNEST(person.scores) AS t(score)",
      [
        ['Sally', 'engineering', '1'],
        ['Sally', 'engineering', '2'],
        ['Sally', 'engineering', '3'],
        ['Sally', 'engineering', '4'],
        ['John', 'finance', '7'],
        ['John', 'finance', '8'],
        ['John', 'finance', '9'],
      ],
    ],
  ],
  'https://trino.io/docs/current/sql/select.html (UNNEST)': [
    [
      "SELECT numbers, animals, n, a FROM (VALUES (ARRAY[2, 5], ARRAY['dog', 'cat', 'bird']), (ARRAY[7, 8, 9], ARRAY['cow', 'pig'])) AS x (numbers, animals) CROSS JOIN UNNEST(numbers, animals) AS t (n, a)",
      [
        ['[2, 5]', '[dog, cat, bird]', '2', 'dog'],
        ['[2, 5]', '[dog, cat, bird]', '5', 'cat'],
        ['[2, 5]', '[dog, cat, bird]', null, 'bird'],
        ['[7, 8, 9]', '[cow, pig]', '7', 'cow'],
        ['[7, 8, 9]', '[cow, pig]', '8', 'pig'],
        ['[7, 8, 9]', '[cow, pig]', '9', null],
      ],
    ],
    [
      'SELECT numbers, n, a FROM (VALUES (ARRAY[2, 5]), (ARRAY[7, 8, 9])) AS x (numbers) CROSS JOIN UNNEST(numbers) WITH ORDINALITY AS t (n, a)',
      [
        ['[2, 5]', '2', '1'],
        ['[2, 5]', '5', '2'],
        ['[7, 8, 9]', '7', '1'],
        ['[7, 8, 9]', '8', '2'],
        ['[7, 8, 9]', '9', '3'],
      ],
    ],
    [
      "SELECT runner, checkpoint FROM (VALUES ('Joe', ARRAY[10, 20, 30, 42]), ('Roger', ARRAY[10]), ('Dave', ARRAY[]), ('Levi', NULL)) AS marathon (runner, checkpoints) LEFT JOIN UNNEST(checkpoints) AS t(checkpoint) ON TRUE",
      [
        ['Joe', '10'],
        ['Joe', '20'],
        ['Joe', '30'],
        ['Joe', '42'],
        ['Roger', '10'],
        ['Dave', null],
        ['Levi', null],
      ],
    ],
    ['SELECT x FROM UNNEST(ARRAY[1, 2]) AS t(x)', [['1'], ['2']]],
    [
      "SELECT k, v FROM UNNEST(map(ARRAY['a', 'b'], ARRAY[1, 2])) AS t(k, v)",
      [
        ['a', '1'],
        ['b', '2'],
      ],
    ],
  ],
  'https://trino.io/docs/current/functions/string.html': [
    ["SELECT concat('a', 'b', 'c')", one('abc')],
    // concat "provides the same functionality as the SQL-standard concatenation operator (||)"
    ["SELECT concat('a', NULL)", one(null)],
    ["SELECT 'a' || NULL", one(null)],
    ["SELECT concat_ws(',', 'a', 'b')", one('a,b')],
    ["SELECT length('abc')", one('3')],
    ["SELECT lower('AbC'), upper('AbC')", [['abc', 'ABC']]],
    ["SELECT lpad('abc', 5, 'x')", one('xxabc')],
    ["SELECT lpad('abc', 2, 'x')", one('ab')],
    ["SELECT rpad('abc', 5, 'x')", one('abcxx')],
    ["SELECT replace('abcabc', 'b')", one('acac')],
    ["SELECT replace('abc', 'b', 'x')", one('axc')],
    ["SELECT reverse('abc')", one('cba')],
    ["SELECT strpos('abcabc', 'c')", one('3')],
    ["SELECT strpos('abc', 'x')", one('0')],
    ["SELECT position('c' IN 'abc')", one('3')],
    ["SELECT substr('abcdef', 2, 3)", one('bcd')],
    ["SELECT substr('abcdef', -2)", one('ef')],
    ["SELECT trim('  a  '), ltrim('  a'), rtrim('a  ')", [['a', 'a', 'a']]],
    ["SELECT starts_with('abc', 'ab')", one('true')],
    ["SELECT split('a,b,c', ',')", one('[a, b, c]')],
    ["SELECT split_part('a,b,c', ',', 2)", one('b')],
    ["SELECT split_part('a,b,c', ',', 4)", one(null)],
    ["SELECT codepoint('A')", one('65')],
    ['SELECT chr(65)', one('A')],
    ["SELECT levenshtein_distance('kitten', 'sitting')", one('3')],
    ["SELECT hamming_distance('abcde', 'abXde')", one('1')],
    ["SELECT translate('abcd', '', '')", one('abcd')],
    ["SELECT translate('abcd', 'a', 'z')", one('zbcd')],
    ["SELECT translate('abcda', 'a', 'z')", one('zbcdz')],
    ["SELECT translate('abcd', 'a', '')", one('bcd')],
    ["SELECT translate('abcd', 'a', 'zy')", one('zbcd')],
    ["SELECT translate('abcd', 'ac', 'z')", one('zbd')],
    ["SELECT translate('abcd', 'aac', 'zq')", one('zbd')],
  ],
  'https://trino.io/docs/current/functions/regexp.html': [
    ["SELECT regexp_count('1a 2b 14m', '\\s*[a-z]+\\s*')", one('3')],
    ["SELECT regexp_extract_all('1a 2b 14m', '\\d+')", one('[1, 2, 14]')],
    ["SELECT regexp_extract_all('1a 2b 14m', '(\\d+)([a-z]+)', 2)", one('[a, b, m]')],
    ["SELECT regexp_extract('1a 2b 14m', '\\d+')", one('1')],
    ["SELECT regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", one('a')],
    ["SELECT regexp_extract('abc', '\\d+')", one(null)],
    ["SELECT regexp_like('1a 2b 14m', '\\d+b')", one('true')],
    ["SELECT regexp_replace('1a 2b 14m', '\\d+[ab] ')", one('14m')],
    ["SELECT regexp_replace('1a 2b 14m', '(\\d+)([ab]) ', '3c$2 ')", one('3ca 3cb 14m')],
    ["SELECT regexp_split('1a 2b 14m', '\\s*[a-z]+\\s*')", one('[1, 2, 14, ]')],
  ],
  'https://trino.io/docs/current/functions/json.html': [
    ["SELECT json_array_length('[1, 2, 3]')", one('3')],
    ["SELECT json_extract_scalar('[1, 2, 3]', '$[2]')", one('3')],
    // "The value referenced by json_path must be a scalar (boolean, number or string)"
    ["SELECT json_extract_scalar('{\"a\": [1, 2]}', '$.a')", one(null)],
    ['SELECT json_extract_scalar(\'{"a": {"b": 1}}\', \'$.a\')', one(null)],
    ['SELECT json_extract_scalar(\'{"a": "x"}\', \'$.a\')', one('x')],
    ['SELECT json_extract(\'{"a": {"b": 1}}\', \'$.a\')', one('{"b":1}')],
    ["SELECT json_format(JSON '[1, 2, 3]')", one('[1,2,3]')],
    ['SELECT json_format(JSON \'"a"\')', one('"a"')],
    ["SELECT json_parse('[1, 2, 3]')", one('[1,2,3]')],
    ['SELECT json_parse(\'"abc"\')', one('"abc"')],
    ['SELECT json_size(\'{"x": {"a": 1, "b": 2}}\', \'$.x\')', one('2')],
    ["SELECT json_size('{\"x\": [1, 2, 3]}', '$.x')", one('3')],
    ['SELECT json_size(\'{"x": {"a": 1, "b": 2}}\', \'$.x.a\')', one('0')],
    ["SELECT is_json_scalar('1')", one('true')],
    ["SELECT is_json_scalar('[1, 2, 3]')", one('false')],
    ['SELECT CAST(NULL AS JSON)', one(null)],
    ['SELECT CAST(1 AS JSON)', one('1')],
    ['SELECT CAST(9223372036854775807 AS JSON)', one('9223372036854775807')],
    ["SELECT CAST('abc' AS JSON)", one('"abc"')],
    ['SELECT CAST(true AS JSON)', one('true')],
    ['SELECT CAST(ARRAY[1, 23, 456] AS JSON)', one('[1,23,456]')],
    ['SELECT CAST(ARRAY[1, NULL, 456] AS JSON)', one('[1,null,456]')],
    ['SELECT CAST(ARRAY[ARRAY[1, 23], ARRAY[456]] AS JSON)', one('[[1,23],[456]]')],
    [
      "SELECT CAST(MAP(ARRAY['k1', 'k2', 'k3'], ARRAY[1, 23, 456]) AS JSON)",
      one('{"k1":1,"k2":23,"k3":456}'),
    ],
    ["SELECT CAST(JSON '1' AS INTEGER)", one('1')],
    ["SELECT CAST(JSON 'true' AS BOOLEAN)", one('true')],
    ["SELECT CAST(JSON '1.234' AS DOUBLE)", one('1.234')],
    ["SELECT CAST(JSON '[1,23,456]' AS ARRAY(INTEGER))", one('[1, 23, 456]')],
    ["SELECT CAST(JSON '[1,null,456]' AS ARRAY(INTEGER))", one('[1, null, 456]')],
    ["SELECT CAST(JSON '[[1,23],[456]]' AS ARRAY(ARRAY(INTEGER)))", one('[[1, 23], [456]]')],
    [
      'SELECT CAST(JSON \'{"k1":1,"k2":23,"k3":456}\' AS MAP(VARCHAR, INTEGER))',
      one('{k1=1, k2=23, k3=456}'),
    ],
    [
      'SELECT CAST(JSON \'{"v1":123,"v2":"abc","v3":true}\' AS ROW(v1 BIGINT, v2 VARCHAR, v3 BOOLEAN))',
      one('{v1=123, v2=abc, v3=true}'),
    ],
  ],
  'https://trino.io/docs/current/functions/datetime.html': [
    ["SELECT date '2012-08-08' + interval '2' day", one('2012-08-10')],
    ["SELECT timestamp '2012-08-08 01:00' + interval '29' hour", one('2012-08-09 06:00:00.000')],
    ["SELECT timestamp '2012-10-31 01:00' + interval '1' month", one('2012-11-30 01:00:00.000')],
    ["SELECT interval '2' day + interval '3' hour", one('2 03:00:00.000')],
    ["SELECT interval '3' year + interval '5' month", one('3-5')],
    ["SELECT date '2012-08-08' - interval '2' day", one('2012-08-06')],
    ["SELECT timestamp '2012-08-08 01:00' - interval '29' hour", one('2012-08-06 20:00:00.000')],
    ["SELECT timestamp '2012-10-31 01:00' - interval '1' month", one('2012-09-30 01:00:00.000')],
    ["SELECT interval '2' day - interval '3' hour", one('1 21:00:00.000')],
    ["SELECT interval '3' year - interval '5' month", one('2-7')],
    ["SELECT timestamp '2012-10-31 01:00 UTC'", one('2012-10-31 01:00:00.000 UTC')],
    ["SELECT date_trunc('second', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-22 03:04:05.000')],
    ["SELECT date_trunc('minute', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-22 03:04:00.000')],
    ["SELECT date_trunc('hour', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-22 03:00:00.000')],
    ["SELECT date_trunc('day', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-22 00:00:00.000')],
    ["SELECT date_trunc('week', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-20 00:00:00.000')],
    ["SELECT date_trunc('month', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-08-01 00:00:00.000')],
    ["SELECT date_trunc('quarter', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-07-01 00:00:00.000')],
    ["SELECT date_trunc('year', TIMESTAMP '2001-08-22 03:04:05.321')", one('2001-01-01 00:00:00.000')],
    ["SELECT date_trunc('day', DATE '2001-08-22')", one('2001-08-22')],
    ["SELECT date_trunc('week', DATE '2001-08-22')", one('2001-08-20')],
    ["SELECT date_trunc('month', DATE '2001-08-22')", one('2001-08-01')],
    ["SELECT date_trunc('quarter', DATE '2001-08-22')", one('2001-07-01')],
    ["SELECT date_trunc('year', DATE '2001-08-22')", one('2001-01-01')],
    ["SELECT date_add('second', 86, TIMESTAMP '2020-03-01 00:00:00')", one('2020-03-01 00:01:26.000')],
    ["SELECT date_add('hour', 9, TIMESTAMP '2020-03-01 00:00:00')", one('2020-03-01 09:00:00.000')],
    ["SELECT date_add('day', -1, TIMESTAMP '2020-03-01 00:00:00 UTC')", one('2020-02-29 00:00:00.000 UTC')],
    ["SELECT date_add('month', 1, DATE '2020-01-31')", one('2020-02-29')],
    [
      "SELECT date_diff('second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')",
      one('86400'),
    ],
    [
      "SELECT date_diff('hour', TIMESTAMP '2020-03-01 00:00:00 UTC', TIMESTAMP '2020-03-02 00:00:00 UTC')",
      one('24'),
    ],
    ["SELECT date_diff('day', DATE '2020-03-01', DATE '2020-03-02')", one('1')],
    [
      "SELECT date_diff('second', TIMESTAMP '2020-06-01 12:30:45.000000000', TIMESTAMP '2020-06-02 12:30:45.123456789')",
      one('86400'),
    ],
    [
      "SELECT date_diff('millisecond', TIMESTAMP '2020-06-01 12:30:45.000000000', TIMESTAMP '2020-06-02 12:30:45.123456789')",
      one('86400123'),
    ],
    ["SELECT from_iso8601_timestamp('2020-05-11T11:15:05')", one('2020-05-11 11:15:05.000 UTC')],
    ["SELECT from_iso8601_date('2020-05-11')", one('2020-05-11')],
    ["SELECT date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')", one('10-20-2022 05')],
    ["SELECT date_parse('2022/10/20/05', '%Y/%m/%d/%H')", one('2022-10-20 05:00:00.000')],
    ['SELECT from_unixtime(1500000000)', one('2017-07-14 02:40:00.000 UTC')],
    ["SELECT to_unixtime(TIMESTAMP '2017-07-14 02:40:00 UTC')", one('1.5E9')],
    ["SELECT to_iso8601(DATE '2020-05-11')", one('2020-05-11')],
    ["SELECT to_iso8601(TIMESTAMP '2020-05-11 11:15:05.123')", one('2020-05-11T11:15:05.123')],
    ["SELECT last_day_of_month(DATE '2020-02-10')", one('2020-02-29')],
    ["SELECT year(TIMESTAMP '2001-08-22 03:04:05.321')", one('2001')],
    ["SELECT quarter(TIMESTAMP '2001-08-22 03:04:05.321')", one('3')],
    ["SELECT month(TIMESTAMP '2001-08-22 03:04:05.321')", one('8')],
    ["SELECT week(TIMESTAMP '2001-08-22 03:04:05.321')", one('34')],
    ["SELECT day(TIMESTAMP '2001-08-22 03:04:05.321')", one('22')],
    ["SELECT day_of_week(DATE '2001-08-22')", one('3')],
    ["SELECT day_of_year(DATE '2001-08-22')", one('234')],
    ["SELECT hour(TIMESTAMP '2001-08-22 03:04:05.321')", one('3')],
    ["SELECT minute(TIMESTAMP '2001-08-22 03:04:05.321')", one('4')],
    ["SELECT second(TIMESTAMP '2001-08-22 03:04:05.321')", one('5')],
    ["SELECT millisecond(TIMESTAMP '2001-08-22 03:04:05.321')", one('321')],
    ["SELECT extract(YEAR FROM TIMESTAMP '2001-08-22 03:04:05.321')", one('2001')],
    ["SELECT hour(TIMESTAMP '2012-10-31 01:00 UTC' AT TIME ZONE 'America/Los_Angeles')", one('18')],
    [
      "SELECT to_unixtime(with_timezone(TIMESTAMP '2020-01-01 00:00:00', 'America/New_York'))",
      one('1.5778548E9'),
    ],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/engine-versions-reference-0003.html (added functions)': [
    [
      "SELECT listagg(value, ',') WITHIN GROUP (ORDER BY value) csv_value FROM (VALUES 'a', 'c', 'b') t(value)",
      one('a,b,c'),
    ],
    ['SELECT contains_sequence(ARRAY [1,2,3,4,5,6], ARRAY[1,2])', one('true')],
    ['SELECT contains_sequence(ARRAY [1,2,3,4,5,6], ARRAY[2,1])', one('false')],
  ],
  'https://trino.io/docs/current/sql/values.html': [
    ['VALUES 1, 2, 3', [['1'], ['2'], ['3']]],
    [
      "VALUES (1, 'a'), (2, 'b'), (3, 'c')",
      [
        ['1', 'a'],
        ['2', 'b'],
        ['3', 'c'],
      ],
    ],
    [
      "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t (id, name)",
      [
        ['1', 'a'],
        ['2', 'b'],
        ['3', 'c'],
      ],
    ],
  ],
  'https://docs.aws.amazon.com/athena/latest/ug/querying-JSON.html (extracting data)': [
    [
      'WITH dataset AS (SELECT \'{"name": "Susan Smith", "org": "engineering", "projects": [{"name":"project1", "completed":false}, {"name":"project2", "completed":true}]}\' AS blob) SELECT json_extract_scalar(blob, \'$.name\') AS name, json_extract_scalar(blob, \'$.projects\') AS projects FROM dataset',
      [['Susan Smith', null]],
    ],
    [
      'WITH dataset AS (SELECT \'{"name": "Bob Smith", "org": "engineering", "projects": [{"name":"project1", "completed":false}, {"name":"project2", "completed":true}]}\' AS blob) SELECT json_extract(blob, \'$.projects\') AS projects FROM dataset',
      one('[{"name":"project1","completed":false},{"name":"project2","completed":true}]'),
    ],
    [
      'WITH dataset AS (SELECT \'{"name": "Bob Smith", "org": "engineering", "projects": [{"name":"project1", "completed":false}, {"name":"project2", "completed":true}]}\' AS blob) SELECT json_array_length(json_extract(blob, \'$.projects\')) AS count FROM dataset',
      one('2'),
    ],
    [
      'WITH dataset AS (SELECT \'{"name": "Bob Smith", "org": "engineering", "projects": [{"name":"project1", "completed":false}, {"name":"project2", "completed":true}]}\' AS blob) SELECT json_extract_scalar(blob, \'$.projects[0].name\') AS project_name FROM dataset',
      one('project1'),
    ],
  ],
};

let h: LakeHarness;
const db = `sql_conformance_${suffix()}`;
const scratch = mkdtempSync(join(tmpdir(), 'sql-conformance-'));

/** The columns both tables declare in Glue, as a crawler would for these files. */
const COLUMNS = [
  { Name: 'id', Type: 'int' },
  { Name: 'tags', Type: 'array<string>' },
  { Name: 'attrs', Type: 'map<string,int>' },
  { Name: 'address', Type: 'struct<city:string,zip:string>' },
  { Name: 'scores', Type: 'array<int>' },
  { Name: 'd', Type: 'date' },
  { Name: 'ts', Type: 'timestamp' },
];

/** The rows of both tables, written as Parquet by DuckDB and as JSON lines. */
const ROWS_SQL = `SELECT * FROM (VALUES
  (1, ['a', 'b', 'c'], MAP {'x': 1, 'y': 2}, {'city': 'Paris', 'zip': '75001'}, [10, 20], DATE '2024-01-31', TIMESTAMP '2024-01-31 10:00:00.123'),
  (2, [], MAP {}, {'city': 'Lyon', 'zip': '69001'}, [30], DATE '2024-02-29', TIMESTAMP '2024-02-29 23:59:59.999'),
  (3, NULL, MAP {'x': 5}, NULL, NULL, DATE '2024-03-15', TIMESTAMP '2024-03-15 00:00:00')
) AS t(id, tags, attrs, address, scores, d, ts)`;

async function createTable(name: string, format: 'parquet' | 'json', body: Uint8Array) {
  const prefix = `conformance/${name}/`;
  await put(h.aws.s3, h.bucket, `${prefix}part-0.${format}`, body);
  await h.aws.glue.send(
    new CreateTableCommand({
      DatabaseName: db,
      TableInput: {
        Name: name,
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: format },
        StorageDescriptor: {
          Columns: COLUMNS,
          Location: `s3://${h.bucket}/${prefix}`,
          ...(format === 'parquet'
            ? {
                InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
                OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
                SerdeInfo: {
                  SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
                },
              }
            : {
                InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
                OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
                SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
              }),
        },
      },
    }),
  );
}

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  const parquetPath = join(scratch, 'rows.parquet');
  const jsonPath = join(scratch, 'rows.json');
  await conn.run(`COPY (${ROWS_SQL}) TO '${parquetPath}' (FORMAT parquet)`);
  await conn.run(
    `COPY (SELECT id, tags, to_json(attrs) AS attrs, address, scores, d, strftime(ts, '%Y-%m-%d %H:%M:%S.%g') AS ts FROM (${ROWS_SQL})) TO '${jsonPath}' (FORMAT json)`,
  );
  conn.closeSync();
  duck.closeSync();
  await createTable('events_parquet', 'parquet', readFileSync(parquetPath));
  await createTable('events_json', 'json', readFileSync(jsonPath));
});

afterAll(async () => {
  await h.aws.glue.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
  await h.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Rows in a stable order: the cases state no ORDER BY unless their source does. */
const sorted = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();

async function rowsOf(sql: string): Promise<Row[]> {
  return (await select(h, sql, db)).map((row) => row.map((cell) => cell ?? null));
}

describe.each(Object.entries(SCALAR_CASES))('%s', (_source, cases) => {
  test.each(cases)('%s', async (sql, expected) => {
    expect(sorted(await rowsOf(sql))).toEqual(sorted(expected));
  });
});

/** Cases over a table's collection and date columns; `T` is the table. Rules from the pages named per case. */
const TABLE_CASES: Case[] = [
  // https://trino.io/docs/current/sql/select.html (UNNEST)
  [
    'SELECT id, tag FROM T CROSS JOIN UNNEST(tags) AS t(tag)',
    [
      ['1', 'a'],
      ['1', 'b'],
      ['1', 'c'],
    ],
  ],
  [
    'SELECT id, tag, n FROM T CROSS JOIN UNNEST(tags) WITH ORDINALITY AS t(tag, n)',
    [
      ['1', 'a', '1'],
      ['1', 'b', '2'],
      ['1', 'c', '3'],
    ],
  ],
  [
    'SELECT id, k, v FROM T CROSS JOIN UNNEST(attrs) AS t(k, v)',
    [
      ['1', 'x', '1'],
      ['1', 'y', '2'],
      ['3', 'x', '5'],
    ],
  ],
  [
    'SELECT id, tag FROM T LEFT JOIN UNNEST(tags) AS t(tag) ON true',
    [
      ['1', 'a'],
      ['1', 'b'],
      ['1', 'c'],
      ['2', null],
      ['3', null],
    ],
  ],
  ['SELECT sum(s) FROM T CROSS JOIN UNNEST(scores) AS u(s)', one('60')],
  [
    'SELECT id, s FROM T CROSS JOIN UNNEST(scores) AS u(s) WHERE s > 15',
    [
      ['1', '20'],
      ['2', '30'],
    ],
  ],
  // https://trino.io/docs/current/functions/array.html
  [
    'SELECT id, cardinality(tags) FROM T',
    [
      ['1', '3'],
      ['2', '0'],
      ['3', null],
    ],
  ],
  [
    'SELECT element_at(tags, 1), element_at(tags, -1), element_at(tags, 5) FROM T WHERE id = 1',
    [['a', 'c', null]],
  ],
  ["SELECT contains(tags, 'b'), array_position(tags, 'c') FROM T WHERE id = 1", [['true', '3']]],
  ["SELECT array_join(tags, '-') FROM T WHERE id = 1", one('a-b-c')],
  ['SELECT transform(scores, s -> s * 2) FROM T WHERE id = 1', one('[20, 40]')],
  ["SELECT filter(tags, t -> t <> 'b') FROM T WHERE id = 1", one('[a, c]')],
  ['SELECT reduce(scores, 0, (s, x) -> s + x, s -> s) FROM T WHERE id = 1', one('30')],
  // https://trino.io/docs/current/functions/map.html
  ["SELECT element_at(attrs, 'y'), element_at(attrs, 'zz') FROM T WHERE id = 1", [['2', null]]],
  ["SELECT attrs['x'] FROM T WHERE id = 3", one('5')],
  ['SELECT map_keys(attrs), map_values(attrs) FROM T WHERE id = 1', [['[x, y]', '[1, 2]']]],
  [
    'SELECT id, cardinality(attrs) FROM T',
    [
      ['1', '2'],
      ['2', '0'],
      ['3', '1'],
    ],
  ],
  // https://trino.io/docs/current/language/types.html (ROW): field access
  ['SELECT address.city, address.zip FROM T WHERE id = 1', [['Paris', '75001']]],
  ['SELECT address FROM T WHERE id = 2', one('{city=Lyon, zip=69001}')],
  // https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html: names are case-insensitive
  ['SELECT ID, Address.City FROM T WHERE Id = 1', [['1', 'Paris']]],
  // https://trino.io/docs/current/functions/datetime.html
  ["SELECT d + INTERVAL '1' MONTH FROM T WHERE id = 1", one('2024-02-29')],
  ["SELECT d - INTERVAL '1' DAY FROM T WHERE id = 3", one('2024-03-14')],
  ["SELECT date_add('day', 1, d) FROM T WHERE id = 2", one('2024-03-01')],
  ["SELECT date_trunc('month', d) FROM T WHERE id = 3", one('2024-03-01')],
  ['SELECT ts FROM T WHERE id = 1', one('2024-01-31 10:00:00.123')],
  ['SELECT to_iso8601(ts), to_iso8601(d) FROM T WHERE id = 1', [['2024-01-31T10:00:00.123', '2024-01-31']]],
  ["SELECT date_diff('day', d, DATE '2024-04-01') FROM T WHERE id = 3", one('17')],
];

describe.each([
  ['Parquet', 'events_parquet'],
  ['JSON', 'events_json'],
])('a %s table', (_format, table) => {
  test.each(TABLE_CASES)('%s', async (sql, expected) => {
    expect(sorted(await rowsOf(sql.replace(/\bT\b/g, table)))).toEqual(sorted(expected));
  });
});

// https://docs.aws.amazon.com/athena/latest/ug/views.html: a view runs its stored query, here with a map's
// UNNEST and a DATE column's arithmetic (https://trino.io/docs/current/sql/select.html, functions/datetime.html).
describe('a view', () => {
  test('unnests a map and keeps a date a date, as its query alone does', async () => {
    const view = `SELECT id, k, v, d + INTERVAL '1' DAY AS next_day FROM events_parquet CROSS JOIN UNNEST(attrs) AS t(k, v)`;
    const created = await runQuery(h, `CREATE VIEW attrs_view AS ${view}`, db);
    expect(created.Status?.StateChangeReason).toBeUndefined();
    const expected = [
      ['1', 'x', '1', '2024-02-01'],
      ['1', 'y', '2', '2024-02-01'],
      ['3', 'x', '5', '2024-03-16'],
    ];
    expect(sorted(await rowsOf('SELECT * FROM attrs_view'))).toEqual(sorted(expected));
    expect(sorted(await rowsOf(view))).toEqual(sorted(expected));
  });
});

// https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html: matching ignores case;
// the result's headings are the query's own names.
describe('result headings', () => {
  test('keep the casing of aliases and columns as the query writes them', async () => {
    const q = await runQuery(
      h,
      'SELECT ID AS OrderId, Address.City AS "CityName", cardinality(tags) FROM events_parquet WHERE id = 1',
      db,
    );
    expect(q.Status?.StateChangeReason).toBeUndefined();
    const { rows } = await allRows(h.aws.athena, q.QueryExecutionId ?? '');
    expect(rows).toEqual([
      ['OrderId', 'CityName', '_col2'],
      ['1', 'Paris', '3'],
    ]);
  });
});
