/**
 * Athena (Trino) SQL → DuckDB SQL, for the differences that matter in reports. Works on tokens, so string
 * literals, quoted identifiers and comments are never rewritten by accident.
 *
 * | Trino | DuckDB |
 * |---|---|
 * | `awsdatacatalog.db.t` | `db.t` (`"db"."t"` already works) |
 * | `date_parse(s, '%Y-%m-%d %H:%i:%s')` (MySQL specifiers) | `strptime(s, '%Y-%m-%d %H:%M:%S')` |
 * | `date_format(ts, fmt)` | `strftime(ts, fmt)` (specifiers converted) |
 * | `parse_datetime` / `format_datetime` (Joda patterns) | `strptime` / `strftime` |
 * | `from_iso8601_timestamp(s)` / `from_iso8601_date(s)` | `CAST(s AS TIMESTAMPTZ)` / `CAST(s AS DATE)` |
 * | `to_iso8601(x)` | `replace(CAST(x AS VARCHAR), ' ', 'T')` |
 * | `to_unixtime(ts)` / `from_unixtime(n)` | `epoch(ts)` / `to_timestamp(n)` |
 * | `date_add('day', n, ts)` | `(ts + (n) * INTERVAL 1 DAY)` |
 * | `date_diff(unit, a, b)` (whole units) | `date_sub(unit, a, b)` (DuckDB's date_diff counts boundaries) |
 * | `approx_distinct`, `approx_percentile`, `arbitrary` | `approx_count_distinct`, `approx_quantile`, `any_value` |
 * | `regexp_like`, `regexp_replace` (all matches, `$1`) | `regexp_matches`, `regexp_replace(..., 'g')` (`\1`) |
 * | `json_extract_scalar`, `cardinality`, `array_join`, `contains` | `json_extract_string`, `len`, `array_to_string`, `list_contains` |
 * | `day_of_week`/`dow`, `day_of_year`/`doy`, `truncate`, `format`, `date(x)` | `isodow`, `dayofyear`, `trunc`, `printf`, `CAST(x AS DATE)` |
 * | `timestamp(3)` type | `timestamp` |
 * Integer division (`7/2 = 3`) is a session setting of the engine, not a rewrite.
 */
import { quoteString } from '../../support/duckdb-sql-literals';
import {
  isTrivia,
  matchingParen,
  soleToken,
  splitArguments,
  stringValue,
  type Token,
  tokenize,
} from './sql-tokens';

const RENAMES: Record<string, string> = {
  approx_distinct: 'approx_count_distinct',
  approx_percentile: 'approx_quantile',
  arbitrary: 'any_value',
  regexp_like: 'regexp_matches',
  cardinality: 'len',
  to_unixtime: 'epoch',
  from_unixtime: 'to_timestamp',
  json_extract_scalar: 'json_extract_string',
  array_join: 'array_to_string',
  contains: 'list_contains',
  day_of_week: 'isodow',
  dow: 'isodow',
  day_of_year: 'dayofyear',
  doy: 'dayofyear',
  truncate: 'trunc',
  format: 'printf',
  date_diff: 'date_sub',
};

/** MySQL-style specifiers (Trino's date_parse/date_format) → DuckDB strftime/strptime. */
const MYSQL_SPECIFIERS: Record<string, string> = {
  a: '%a',
  b: '%b',
  c: '%-m',
  d: '%d',
  e: '%-d',
  f: '%f',
  H: '%H',
  h: '%I',
  I: '%I',
  i: '%M',
  j: '%j',
  k: '%-H',
  l: '%-I',
  M: '%B',
  m: '%m',
  p: '%p',
  r: '%I:%M:%S %p',
  S: '%S',
  s: '%S',
  T: '%H:%M:%S',
  U: '%U',
  u: '%W',
  V: '%V',
  v: '%V',
  W: '%A',
  w: '%w',
  X: '%G',
  x: '%G',
  Y: '%Y',
  y: '%y',
  '%': '%%',
};

export function mysqlFormatToStrftime(format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch === '%' && i + 1 < format.length) {
      const spec = format[i + 1];
      out += MYSQL_SPECIFIERS[spec] ?? `%${spec}`;
      i++;
    } else out += ch;
  }
  return out;
}

const JODA: Record<string, (n: number) => string | undefined> = {
  y: (n) => (n === 2 ? '%y' : '%Y'),
  Y: (n) => (n === 2 ? '%y' : '%Y'),
  M: (n) => (n >= 4 ? '%B' : n === 3 ? '%b' : n === 2 ? '%m' : '%-m'),
  d: (n) => (n >= 2 ? '%d' : '%-d'),
  H: (n) => (n >= 2 ? '%H' : '%-H'),
  h: (n) => (n >= 2 ? '%I' : '%-I'),
  m: (n) => (n >= 2 ? '%M' : '%-M'),
  s: (n) => (n >= 2 ? '%S' : '%-S'),
  S: (n) => (n >= 6 ? '%f' : n >= 4 ? '%f' : '%g'),
  a: () => '%p',
  E: (n) => (n >= 4 ? '%A' : '%a'),
  Z: () => '%z',
  z: () => '%Z',
  D: () => '%j',
};

/** Joda-Time patterns (format_datetime/parse_datetime) → DuckDB strftime/strptime. */
export function jodaFormatToStrftime(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === "'") {
      const close = pattern.indexOf("'", i + 1);
      const literal = close === -1 ? pattern.slice(i + 1) : pattern.slice(i + 1, close);
      out += literal === '' ? "'" : literal.replace(/%/g, '%%');
      i = close === -1 ? pattern.length : close + 1;
      continue;
    }
    let n = 1;
    while (pattern[i + n] === ch) n++;
    const spec = JODA[ch]?.(n);
    out += spec ?? pattern.slice(i, i + n).replace(/%/g, '%%');
    i += n;
  }
  return out;
}

/** A format argument rewritten when it is a literal; otherwise left to the engine. */
function convertFormatArgument(
  arg: Token[],
  convert: (f: string) => string,
  translate: (t: Token[]) => string,
): string {
  const only = soleToken(arg);
  return only?.kind === 'string' ? quoteString(convert(stringValue(only))) : translate(arg);
}

const INTERVAL_UNITS = new Set([
  'millisecond',
  'second',
  'minute',
  'hour',
  'day',
  'week',
  'month',
  'quarter',
  'year',
]);

type Rewrite = (args: Token[][], translate: (t: Token[]) => string) => string | undefined;

const REWRITES: Record<string, Rewrite> = {
  date_parse: (args, tr) =>
    args.length === 2
      ? `strptime(${tr(args[0])}, ${convertFormatArgument(args[1], mysqlFormatToStrftime, tr)})`
      : undefined,
  date_format: (args, tr) =>
    args.length === 2
      ? `strftime(${tr(args[0])}, ${convertFormatArgument(args[1], mysqlFormatToStrftime, tr)})`
      : undefined,
  parse_datetime: (args, tr) =>
    args.length === 2
      ? `strptime(${tr(args[0])}, ${convertFormatArgument(args[1], jodaFormatToStrftime, tr)})`
      : undefined,
  format_datetime: (args, tr) =>
    args.length === 2
      ? `strftime(${tr(args[0])}, ${convertFormatArgument(args[1], jodaFormatToStrftime, tr)})`
      : undefined,
  from_iso8601_timestamp: (args, tr) =>
    args.length === 1 ? `CAST(${tr(args[0])} AS TIMESTAMPTZ)` : undefined,
  from_iso8601_date: (args, tr) => (args.length === 1 ? `CAST(${tr(args[0])} AS DATE)` : undefined),
  to_iso8601: (args, tr) =>
    args.length === 1 ? `replace(CAST(${tr(args[0])} AS VARCHAR), ' ', 'T')` : undefined,
  date: (args, tr) => (args.length === 1 ? `CAST(${tr(args[0])} AS DATE)` : undefined),
  date_add: (args, tr) => {
    const unit = args.length === 3 ? soleToken(args[0]) : undefined;
    if (unit?.kind !== 'string') return undefined;
    const name = stringValue(unit).toLowerCase();
    if (!INTERVAL_UNITS.has(name)) return undefined;
    return `(${tr(args[2])} + (${tr(args[1])}) * INTERVAL 1 ${name.toUpperCase()})`;
  },
  regexp_replace: (args, tr) => {
    if (args.length === 2) return `regexp_replace(${tr(args[0])}, ${tr(args[1])}, '', 'g')`;
    if (args.length !== 3) return undefined;
    const replacement = convertFormatArgument(args[2], (r) => r.replace(/\$(\d)/g, '\\$1'), tr);
    return `regexp_replace(${tr(args[0])}, ${tr(args[1])}, ${replacement}, 'g')`;
  },
};

function translateTokens(tokens: Token[]): string {
  let out = '';
  const translate = (t: Token[]) => translateTokens(t);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const lower = t.kind === 'word' || t.kind === 'qident' ? t.text.replace(/"/g, '').toLowerCase() : '';
    // awsdatacatalog.db.t → db.t
    if (lower === 'awsdatacatalog' && tokens[i + 1]?.kind === 'punct' && tokens[i + 1].text === '.') {
      i++;
      continue;
    }
    if (t.kind === 'word') {
      let j = i + 1;
      while (j < tokens.length && isTrivia(tokens[j])) j++;
      const opens = tokens[j]?.kind === 'punct' && tokens[j].text === '(';
      let k = i - 1;
      while (k >= 0 && isTrivia(tokens[k])) k--;
      const previous = tokens[k];
      const qualified = previous?.kind === 'punct' && previous.text === '.';
      if (opens && !qualified) {
        const close = matchingParen(tokens, j);
        // timestamp(3) / time(3) as a type: DuckDB has no precision parameter
        if (
          (lower === 'timestamp' || lower === 'time') &&
          close === j + 2 &&
          tokens[j + 1].kind === 'number'
        ) {
          out += t.text;
          i = close;
          continue;
        }
        if (close !== -1 && (REWRITES[lower] || RENAMES[lower])) {
          const args = splitArguments(tokens, j, close);
          const rewritten = REWRITES[lower]?.(args, (arg) => translate(arg).trim());
          if (rewritten !== undefined) {
            out += rewritten;
            i = close;
            continue;
          }
          if (RENAMES[lower]) {
            out += `${RENAMES[lower]}(${args.map(translate).join(',')})`;
            i = close;
            continue;
          }
        }
      }
    }
    out += t.text;
  }
  return out;
}

/**
 * @example
 *   translateTrinoToDuckDb(`SELECT approx_distinct(order_id) FROM "lake"."orders" WHERE dt = date_format(now(), '%Y-%m-%d')`)
 *   // SELECT approx_count_distinct(order_id) FROM "lake"."orders" WHERE dt = strftime(now(), '%Y-%m-%d')
 */
export function translateTrinoToDuckDb(sql: string): string {
  return translateTokens(tokenize(sql));
}
