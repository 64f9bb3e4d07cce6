/**
 * Failed queries in Athena's words (issue 17): StateChangeReason and AthenaError.ErrorMessage carry Trino's
 * error names with `line L:C:` positions of the query as sent, never DuckDB's error classes, catalog names or
 * hints; AthenaError.ErrorCategory/ErrorType are numbered as the Athena error catalog numbers them.
 * Each case names the documentation (or Trino source) its text comes from.
 */
import { CreateDatabaseCommand, DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import {
  crawlPrefix,
  type LakeHarness,
  orderRows,
  parquetOf,
  put,
  runQuery,
  startHarness,
  suffix,
} from './lake-support';

let h: LakeHarness;
const db = `athena_errors_${suffix()}`;

beforeAll(async () => {
  h = await startHarness();
  await h.aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  await put(h.aws.s3, h.bucket, 'errors/orders/part-0.parquet', parquetOf(orderRows(5, 'e')));
  await crawlPrefix(h, db, 'errors');
});

afterAll(async () => {
  await h?.aws.glue.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
  await h?.close();
});

async function failure(sql: string) {
  const q = await runQuery(h, sql, db);
  return { state: q.Status?.State, reason: q.Status?.StateChangeReason, error: q.Status?.AthenaError };
}

/** What DuckDB's own messages look like: none of it may reach the client. */
const DUCKDB_TEXT = /Error: |Did you mean|Candidate|LINE \d|pg_|explicit type casts|INT32|INT64/;

describe('errors in Athena words', () => {
  // The example (Athena's TABLE_NOT_FOUND on a missing table, with the qualified name).
  test('TABLE_NOT_FOUND names the table fully qualified, at its position', async () => {
    expect((await failure('SELECT count(*) FROM orders_cdc')).reason).toBe(
      `TABLE_NOT_FOUND: line 1:22: Table 'awsdatacatalog.${db}.orders_cdc' does not exist`,
    );
  });

  // Trino's SCHEMA_NOT_FOUND ("Schema '%s' does not exist").
  test('SCHEMA_NOT_FOUND for a database that is not in the catalog', async () => {
    expect((await failure('SELECT * FROM no_such_db.orders')).reason).toBe(
      "SCHEMA_NOT_FOUND: line 1:15: Schema 'no_such_db' does not exist",
    );
  });

  // Athena's COLUMN_NOT_FOUND wording (issue 17: "Column 'x' cannot be resolved or requester is not
  // authorized to access requested resources"); Trino names a dereference whole ('o.x').
  test('COLUMN_NOT_FOUND, on one line and on a later line of the query', async () => {
    const suffixText = 'cannot be resolved or requester is not authorized to access requested resources';
    expect((await failure('SELECT x FROM orders')).reason).toBe(
      `COLUMN_NOT_FOUND: line 1:8: Column 'x' ${suffixText}`,
    );
    expect((await failure('SELECT o.nope FROM orders o')).reason).toBe(
      `COLUMN_NOT_FOUND: line 1:8: Column 'o.nope' ${suffixText}`,
    );
    expect((await failure('SELECT p.order_id FROM orders o')).reason).toBe(
      `COLUMN_NOT_FOUND: line 1:8: Column 'p.order_id' ${suffixText}`,
    );
    expect((await failure('SELECT order_id\nFROM orders\nWHERE  nosuch > 3')).reason).toBe(
      `COLUMN_NOT_FOUND: line 3:8: Column 'nosuch' ${suffixText}`,
    );
  });

  // Trino's parser: "mismatched input '<token>'" at the token, '<EOF>' past the end of the text.
  test('SYNTAX_ERROR at the offending token or at the end of the text', async () => {
    expect((await failure('SELECT order_id FROM orders WHERE')).reason).toBe(
      "SYNTAX_ERROR: line 1:34: mismatched input '<EOF>'",
    );
    expect((await failure('SELECT order_id FROM FROM orders')).reason).toBe(
      "SYNTAX_ERROR: line 1:22: mismatched input 'FROM'",
    );
  });

  // Trino's FunctionResolver: "Function '%s' not registered" and
  // "Unexpected parameters (%s) for function %s" (both FUNCTION_NOT_FOUND).
  test('FUNCTION_NOT_FOUND for an unknown function and for wrong argument types', async () => {
    expect((await failure('SELECT no_such_fn(1)')).reason).toBe(
      "FUNCTION_NOT_FOUND: line 1:8: Function 'no_such_fn' not registered",
    );
    expect((await failure('SELECT upper(quantity) FROM orders')).reason).toBe(
      'FUNCTION_NOT_FOUND: line 1:8: Unexpected parameters (bigint) for function upper',
    );
  });

  // Trino's OperatorNotFoundException: "Cannot apply operator: %s %s %s", at the operator.
  test('TYPE_MISMATCH for an operator over the wrong types', async () => {
    expect((await failure('SELECT true + 1')).reason).toBe(
      'TYPE_MISMATCH: line 1:13: Cannot apply operator: boolean + integer',
    );
  });

  // Trino's VarcharOperators: "Cannot cast '%s' to INT" (INVALID_CAST_ARGUMENT, no position: a runtime error).
  test('INVALID_CAST_ARGUMENT for a string that is not a number', async () => {
    expect((await failure("SELECT CAST('abc' AS INTEGER)")).reason).toBe(
      "INVALID_CAST_ARGUMENT: Cannot cast 'abc' to INT",
    );
  });

  // Trino's BigintOperators: "bigint addition overflow: %s + %s" (NUMERIC_VALUE_OUT_OF_RANGE).
  test('NUMERIC_VALUE_OUT_OF_RANGE for a bigint overflow', async () => {
    expect((await failure('SELECT 9223372036854775807 + 1')).reason).toBe(
      'NUMERIC_VALUE_OUT_OF_RANGE: bigint addition overflow: 9223372036854775807 + 1',
    );
  });

  // Trino's analyzer: "'%s' must be an aggregate expression or appear in GROUP BY clause".
  test('EXPRESSION_NOT_AGGREGATE for a column outside GROUP BY', async () => {
    expect((await failure('SELECT order_id FROM orders GROUP BY region')).reason).toBe(
      "EXPRESSION_NOT_AGGREGATE: line 1:8: 'order_id' must be an aggregate expression or appear in GROUP BY clause",
    );
  });

  // INVALID_FUNCTION_ARGUMENT is Trino's name for a bad argument value; its sentence is the engine's.
  test('INVALID_FUNCTION_ARGUMENT for a bad argument value, without the engine error class', async () => {
    const { reason } = await failure('SELECT chr(-1)');
    expect(reason).toMatch(/^INVALID_FUNCTION_ARGUMENT: /);
    expect(reason).not.toMatch(DUCKDB_TEXT);
  });

  test('no DuckDB text reaches StateChangeReason', async () => {
    for (const sql of [
      'SELECT count(*) FROM orders_cdc',
      'SELECT x FROM orders',
      'SELECT upper(quantity) FROM orders',
      "SELECT CAST('abc' AS BIGINT)",
      'SELECT order_id FROM FROM orders',
      "SELECT date_add('day', 1, 'x') + true FROM orders",
    ]) {
      const { state, reason } = await failure(sql);
      expect({ sql, state }).toEqual({ sql, state: 'FAILED' });
      expect({ sql, reason }).toEqual({ sql, reason: expect.not.stringMatching(DUCKDB_TEXT) });
    }
  });

  // Athena API reference, AthenaError; Athena error catalog: ErrorCategory 2 = USER, ErrorType 1000 = user error.
  test('AthenaError carries the category, the type and the same message', async () => {
    const { reason, error } = await failure('SELECT x FROM orders');
    expect(error).toEqual({ ErrorCategory: 2, ErrorType: 1000, Retryable: false, ErrorMessage: reason });
  });
});
