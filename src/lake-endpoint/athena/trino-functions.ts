/**
 * Trino functions whose edge cases DuckDB's namesakes answer differently, as DuckDB macros that
 * sql-translate.ts calls by their `trino_` names. Each query's engine gets them before it is locked down.
 * A macro is used where the rewrite would repeat an argument (a macro binds it once per call) or needs a CASE.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

const MACROS: Record<string, string> = {
  // https://trino.io/docs/current/functions/string.html#split_part: an index past the last field is NULL.
  'trino_split_part(s, d, i)': 'CASE WHEN i > len(string_split(s, d)) THEN NULL ELSE split_part(s, d, i) END',
  // https://trino.io/docs/current/functions/json.html#json_extract_scalar: only scalars (else NULL).
  'trino_json_extract_scalar(j, p)':
    "CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END",
  'trino_json_size(j, p)':
    "CASE json_type(j, p) WHEN 'ARRAY' THEN json_array_length(j, p) WHEN 'OBJECT' THEN len(json_keys(j, p)) ELSE 0 END",
  'trino_is_json_scalar(j)': "json_type(j) NOT IN ('OBJECT', 'ARRAY')",
  // https://trino.io/docs/current/functions/regexp.html#regexp_extract: no match is NULL, not ''.
  'trino_regexp_extract(s, p, g)': 'CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END',
  'trino_regexp_count(s, p)': 'len(regexp_extract_all(s, p))',
  // https://trino.io/docs/current/functions/array.html#array_position: 0 when absent.
  'trino_array_position(a, x)': 'coalesce(list_position(a, x), 0)',
  'trino_array_remove(a, x)': 'list_filter(a, trino_e -> trino_e IS DISTINCT FROM x)',
  'trino_slice(a, s, n)':
    'CASE WHEN s > 0 THEN list_slice(a, s, s + n - 1) ELSE list_slice(a, len(a) + s + 1, len(a) + s + n) END',
  // Trino keeps each element's first occurrence in order; DuckDB's list_distinct does not keep order.
  'trino_array_distinct(a)': 'list_filter(a, (trino_e, trino_i) -> list_position(a, trino_e) = trino_i)',
  // https://trino.io/docs/current/functions/array.html#sequence: counts down when stop < start.
  'trino_sequence(a, b)': 'generate_series(a, b, CASE WHEN a <= b THEN 1 ELSE -1 END)',
  // https://docs.aws.amazon.com/athena/latest/ug/engine-versions-reference-0003.html (added functions)
  'trino_contains_sequence(x, seq)':
    'len(seq) = 0 OR coalesce(list_bool_or(list_transform(range(1, len(x) - len(seq) + 2), ' +
    'trino_i -> list_slice(x, trino_i, trino_i + len(seq) - 1) = seq)), false)',
  'trino_trim_array(a, n)': 'list_slice(a, 1, len(a) - n)',
  'trino_array_join(a, d, r)':
    'array_to_string(list_transform(a, trino_e -> coalesce(CAST(trino_e AS VARCHAR), r)), d)',
  // Trino's millisecond() is the millisecond of the second; DuckDB's counts the seconds in too.
  'trino_millisecond(x)': 'millisecond(x) % 1000',
  // https://trino.io/docs/current/functions/datetime.html#to_iso8601: dates as dates, UTC instants with Z.
  'trino_to_iso8601(x)':
    "CASE WHEN typeof(x) = 'DATE' THEN strftime(CAST(x AS TIMESTAMP), '%Y-%m-%d') " +
    "WHEN typeof(x) = 'TIMESTAMP WITH TIME ZONE' THEN strftime(CAST(x AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ') " +
    "ELSE strftime(CAST(x AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g') END",
};

const STATEMENT = Object.entries(MACROS)
  .map(([signature, body]) => `CREATE TEMP MACRO ${signature} AS ${body};`)
  .join('\n');

/** Defines the `trino_` macros in a fresh connection. */
export async function installTrinoFunctions(conn: DuckDBConnection): Promise<void> {
  await conn.run(STATEMENT);
}
