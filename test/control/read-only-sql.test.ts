/** The read-only SQL guard of the query workflow (pure logic): what passes, what is rejected and why. */
import { checkReadOnlySql, ReadOnlySqlError, stripSqlLiterals } from '../../src/contract/read-only-sql';

const reason = (sql: string) => {
  try {
    checkReadOnlySql(sql);
    return 'accepted';
  } catch (error) {
    if (error instanceof ReadOnlySqlError) return error.reason;
    throw error;
  }
};

describe('checkReadOnlySql', () => {
  it.each([
    ['SELECT 1', 'select'],
    ['select * from orders_cdc limit 10;', 'select'],
    ['WITH t AS (SELECT order_id FROM orders_cdc) SELECT count(*) FROM t', 'select'],
    ['(SELECT 1)', 'select'],
    [
      "SELECT date_trunc('hour', created_at), row_number() OVER (PARTITION BY region ORDER BY amount DESC) FROM orders_cdc",
      'select',
    ],
    ['SELECT * FROM UNNEST(ARRAY[1, 2]) AS t(x)', 'select'],
    ['SHOW TABLES', 'show'],
    ['SHOW PARTITIONS orders_cdc', 'show'],
    ['SHOW CREATE TABLE orders_cdc', 'show'],
    ['DESCRIBE orders_cdc', 'describe'],
    ['EXPLAIN SELECT 1', 'explain'],
    ['EXPLAIN ANALYZE SELECT count(*) FROM orders_cdc', 'explain'],
    ['-- a comment; DROP TABLE x\nSELECT \'a;b\' AS "weird;name" /* ; DELETE */', 'select'],
    ["SELECT 'DROP TABLE orders' AS text", 'select'],
  ])('accepts %s', (sql, kind) => {
    expect(checkReadOnlySql(sql).kind).toBe(kind);
  });

  it.each([
    ['DROP TABLE orders_cdc', 'NotReadOnly'],
    ['CREATE TABLE x AS SELECT * FROM orders_cdc', 'NotReadOnly'],
    ['INSERT INTO orders_cdc VALUES (1)', 'NotReadOnly'],
    ['DELETE FROM orders_cdc', 'NotReadOnly'],
    ["UNLOAD (SELECT 1) TO 's3://bucket/x'", 'NotReadOnly'],
    ['MSCK REPAIR TABLE orders_cdc', 'NotReadOnly'],
    ['ALTER TABLE orders_cdc ADD PARTITION (dt = 1)', 'NotReadOnly'],
    ['EXPLAIN ANALYZE INSERT INTO t SELECT 1', 'NotReadOnly'],
    ['SELECT 1; SELECT 2', 'MultipleStatements'],
    ['SELECT 1; DROP TABLE orders_cdc', 'MultipleStatements'],
    ['  ;  ', 'EmptyQuery'],
    ['-- only a comment', 'EmptyQuery'],
    ["SELECT 'unterminated", 'NotReadOnly'],
  ])('rejects %s (%s)', (sql, expected) => {
    expect(reason(sql)).toBe(expected);
  });

  it('names the field and what it found', () => {
    expect(() => checkReadOnlySql('DROP TABLE x')).toThrow(/^sql: .*found DROP/);
    expect(() => checkReadOnlySql('SELECT 1; SELECT 2')).toThrow(
      /^sql: only one statement is allowed, found 2/,
    );
  });

  it('strips literals and comments but keeps the structure', () => {
    expect(stripSqlLiterals("SELECT 'it''s; here' -- x;\n, \"a;b\" /* ; */ FROM t")).toBe(
      'SELECT \'\'  \n, "_"   FROM t',
    );
  });
});
