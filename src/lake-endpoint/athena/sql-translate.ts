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
  identifierName,
  isTrivia,
  joinTokens,
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
  to_unixtime: 'epoch',
  from_unixtime: 'to_timestamp',
  contains: 'list_contains',
  day_of_week: 'isodow',
  dow: 'isodow',
  day_of_year: 'dayofyear',
  doy: 'dayofyear',
  year_of_week: 'isoyear',
  yow: 'isoyear',
  last_day_of_month: 'last_day',
  truncate: 'trunc',
  format: 'printf',
  date_diff: 'date_sub',
  transform: 'list_transform',
  filter: 'list_filter',
  array_max: 'list_max',
  array_min: 'list_min',
  arrays_overlap: 'list_has_any',
  split: 'string_split',
  regexp_split: 'regexp_split_to_array',
  codepoint: 'unicode',
  levenshtein_distance: 'levenshtein',
  hamming_distance: 'hamming',
  json_parse: 'json',
  // Trino's semantics as DuckDB macros (trino-functions.ts)
  split_part: 'trino_split_part',
  json_extract_scalar: 'trino_json_extract_scalar',
  json_size: 'trino_json_size',
  is_json_scalar: 'trino_is_json_scalar',
  regexp_count: 'trino_regexp_count',
  array_position: 'trino_array_position',
  array_remove: 'trino_array_remove',
  slice: 'trino_slice',
  array_distinct: 'trino_array_distinct',
  contains_sequence: 'trino_contains_sequence',
  trim_array: 'trino_trim_array',
  millisecond: 'trino_millisecond',
  to_iso8601: 'trino_to_iso8601',
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

const DATE_UNITS = new Set(['day', 'week', 'month', 'quarter', 'year']);

export interface TranslateOptions {
  /** Lower-case names of the DATE columns the query can read: arithmetic on them stays a date, as in Trino. */
  dateColumns?: ReadonlySet<string>;
  /**
   * Read a collection whose kind only its type tells as a map (`cardinality(x)`, `UNNEST(x) AS t(k, v)`):
   * the engine translates again with this set when DuckDB finds a map where a list was assumed.
   */
  maps?: boolean;
}

interface Context {
  options: TranslateOptions;
  translate: (t: Token[]) => string;
}

type Rewrite = (args: Token[][], tr: (t: Token[]) => string, context: Context) => string | undefined;

const meaningful = (tokens: Token[]) => tokens.filter((t) => !isTrivia(t));

/** Words that may precede `(` without naming a function. */
const KEYWORDS = new Set([
  'select',
  'where',
  'and',
  'or',
  'not',
  'on',
  'when',
  'then',
  'else',
  'in',
  'by',
  'as',
  'from',
  'join',
  'having',
  'case',
  'between',
  'like',
  'is',
  'exists',
  'with',
  'values',
  'over',
  'using',
  'lateral',
]);

const lowerWord = (t: Token | undefined) => (t?.kind === 'word' ? t.text.toLowerCase() : '');

/**
 * Whether an expression is a Trino DATE by its form: a DATE literal, current_date, a cast to DATE, a function
 * returning one, or a DATE column of the query's tables.
 */
function isDateExpression(tokens: Token[], options: TranslateOptions): boolean {
  const ts = meaningful(tokens);
  const first = lowerWord(ts[0]);
  if (ts.length === 2 && first === 'date' && ts[1].kind === 'string') return true;
  if (ts.length === 1 && first === 'current_date') return true;
  if (
    ts.length >= 1 &&
    ts.length % 2 === 1 &&
    ts.every((t, i) => (i % 2 === 1 ? t.text === '.' : t.kind !== 'punct'))
  ) {
    const last = ts[ts.length - 1];
    if (last.kind === 'word' || last.kind === 'qident')
      return options.dateColumns?.has(identifierName(last)) ?? false;
  }
  if (ts[1]?.text !== '(' || ts[ts.length - 1]?.text !== ')') return false;
  if (['date', 'from_iso8601_date', 'last_day_of_month', 'current_date'].includes(first)) return true;
  if (first === 'cast' || first === 'try_cast') {
    const last = ts[ts.length - 2];
    return lowerWord(last) === 'date' && lowerWord(ts[ts.length - 3]) === 'as';
  }
  if (first === 'date_trunc' || first === 'date_add') {
    const all = tokens.slice(tokens.indexOf(ts[1]));
    const close = matchingParen(all, 0);
    const args = splitArguments(all, 0, close);
    return args.length > 0 && isDateExpression(args[args.length - 1], options);
  }
  return false;
}

const asDate = (sql: string, date: boolean) => (date ? `CAST(${sql} AS DATE)` : sql);

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
  date: (args, tr) => (args.length === 1 ? `CAST(${tr(args[0])} AS DATE)` : undefined),
  date_add: (args, tr, { options }) => {
    const unit = args.length === 3 ? soleToken(args[0]) : undefined;
    if (unit?.kind !== 'string') return undefined;
    const name = stringValue(unit).toLowerCase();
    if (!INTERVAL_UNITS.has(name)) return undefined;
    const sum = `(${tr(args[2])} + (${tr(args[1])}) * INTERVAL 1 ${name.toUpperCase()})`;
    return asDate(sum, DATE_UNITS.has(name) && isDateExpression(args[2], options));
  },
  date_trunc: (args, tr, { options }) =>
    args.length === 2
      ? asDate(`date_trunc(${tr(args[0])}, ${tr(args[1])})`, isDateExpression(args[1], options))
      : undefined,
  // Trino's session zone is UTC: the wall-clock timestamp in `zone`, as an instant.
  with_timezone: (args, tr) => (args.length === 2 ? `timezone(${tr(args[1])}, ${tr(args[0])})` : undefined),
  current_timezone: (args) => (args.length === 0 ? "'UTC'" : undefined),
  regexp_replace: (args, tr) => {
    if (args.length === 2) return `regexp_replace(${tr(args[0])}, ${tr(args[1])}, '', 'g')`;
    if (args.length !== 3) return undefined;
    const replacement = convertFormatArgument(args[2], (r) => r.replace(/\$(\d)/g, '\\$1'), tr);
    return `regexp_replace(${tr(args[0])}, ${tr(args[1])}, ${replacement}, 'g')`;
  },
  regexp_extract: (args, tr) =>
    args.length === 2 || args.length === 3
      ? `trino_regexp_extract(${tr(args[0])}, ${tr(args[1])}, ${args.length === 3 ? tr(args[2]) : '0'})`
      : undefined,
  // SQL's || is NULL when any argument is (Trino's concat is that operator); DuckDB's concat skips NULLs.
  concat: (args, tr) => (args.length >= 2 ? `(${args.map(tr).join(' || ')})` : undefined),
  replace: (args, tr) => (args.length === 2 ? `replace(${tr(args[0])}, ${tr(args[1])}, '')` : undefined),
  element_at: (args, tr) => (args.length === 2 ? `(${tr(args[0])})[${tr(args[1])}]` : undefined),
  cardinality: (args, tr, { options }) =>
    args.length === 1 ? `${options.maps ? 'cardinality' : 'len'}(${tr(args[0])})` : undefined,
  array_join: (args, tr) => {
    if (args.length === 2) return `array_to_string(${tr(args[0])}, ${tr(args[1])})`;
    return args.length === 3 ? `trino_array_join(${args.map(tr).join(', ')})` : undefined;
  },
  array_sort: (args, tr) =>
    args.length === 1 ? `list_sort(${tr(args[0])}, 'ASC', 'NULLS LAST')` : undefined,
  reduce: (args, tr) =>
    args.length === 4
      ? `list_transform([list_reduce(${tr(args[0])}, ${tr(args[2])}, ${tr(args[1])})], ${tr(args[3])})[1]`
      : undefined,
  any_match: (args, tr) =>
    args.length === 2
      ? `coalesce(list_bool_or(list_transform(${tr(args[0])}, ${tr(args[1])})), false)`
      : undefined,
  all_match: (args, tr) =>
    args.length === 2
      ? `coalesce(list_bool_and(list_transform(${tr(args[0])}, ${tr(args[1])})), true)`
      : undefined,
  none_match: (args, tr) =>
    args.length === 2
      ? `NOT coalesce(list_bool_or(list_transform(${tr(args[0])}, ${tr(args[1])})), false)`
      : undefined,
  sequence: (args, tr) =>
    args.length === 2
      ? `trino_sequence(${tr(args[0])}, ${tr(args[1])})`
      : args.length === 3
        ? `generate_series(${args.map(tr).join(', ')})`
        : undefined,
  json_format: (args, tr) => (args.length === 1 ? `CAST(${tr(args[0])} AS VARCHAR)` : undefined),
  cast: (args, tr) => translateCast(args, tr, 'CAST'),
  try_cast: (args, tr) => translateCast(args, tr, 'TRY_CAST'),
};

/** `CAST(x AS type)` with Trino's type names; a cast to JSON is Trino's value-to-JSON conversion. */
function translateCast(args: Token[][], tr: (t: Token[]) => string, cast: string): string | undefined {
  if (args.length !== 1) return undefined;
  const tokens = args[0];
  let as = -1;
  let depth = 0;
  for (const [i, t] of tokens.entries()) {
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && lowerWord(t) === 'as') as = i;
  }
  if (as === -1) return undefined;
  const type = translateType(meaningful(tokens.slice(as + 1)));
  if (type === undefined) return undefined;
  const value = tr(tokens.slice(0, as)).trim();
  return type === 'JSON' ? `to_json(${value})` : `${cast}(${value} AS ${type})`;
}

/** A Trino type (`array(row(a bigint, b varchar))`, `timestamp(3) with time zone`) in DuckDB's words. */
export function translateType(tokens: Token[]): string | undefined {
  let i = 0;
  const expect = (text: string) => {
    if (tokens[i]?.text !== text) throw new Error(`expected ${text}`);
    i++;
  };
  const type = (): string => {
    const word = tokens[i++];
    if (!word || (word.kind !== 'word' && word.kind !== 'qident')) throw new Error('expected a type');
    const name = word.text.toLowerCase();
    if (name === 'array') {
      expect('(');
      const element = type();
      expect(')');
      return `${element}[]`;
    }
    if (name === 'map') {
      expect('(');
      const key = type();
      expect(',');
      const value = type();
      expect(')');
      return `MAP(${key}, ${value})`;
    }
    if (name === 'row') {
      expect('(');
      const fields: string[] = [];
      for (;;) {
        const field = tokens[i++];
        if (!field) throw new Error('expected a field');
        fields.push(`${field.text} ${type()}`);
        if (tokens[i]?.text === ',') i++;
        else break;
      }
      expect(')');
      return `STRUCT(${fields.join(', ')})`;
    }
    if (name === 'timestamp' || name === 'time') {
      if (tokens[i]?.text === '(') i += 3;
      const zoned = ['with', 'time', 'zone'].every((w, k) => lowerWord(tokens[i + k]) === w);
      if (zoned) i += 3;
      return `${name.toUpperCase()}${zoned ? 'TZ' : ''}`;
    }
    if (name === 'varbinary') return 'BLOB';
    if (name === 'json') return 'JSON';
    let text = word.text;
    if (tokens[i]?.text === '(') {
      const close = matchingParen(tokens, i);
      if (close === -1) throw new Error('unclosed type parameters');
      text += joinTokens(tokens.slice(i, close + 1));
      i = close + 1;
    }
    return text;
  };
  try {
    const translated = type();
    return i === tokens.length ? translated : undefined;
  } catch {
    return undefined;
  }
}

const ZONED_TIMESTAMP =
  /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2})(:\d{2}(?:\.\d+)?)?)?\s*([A-Za-z][\w/+-]*|[+-]\d{2}(?::?\d{2})?)$/;

/** `TIMESTAMP '2020-01-01 00:00 UTC'` is Trino's timestamp with time zone literal; DuckDB wants seconds. */
function zonedTimestampLiteral(literal: string): string | undefined {
  const match = ZONED_TIMESTAMP.exec(literal.trim());
  if (!match) return undefined;
  const [, date, hm, seconds, zone] = match;
  return `TIMESTAMPTZ ${quoteString(`${date} ${hm ?? '00:00'}${seconds ?? ':00'} ${zone}`)}`;
}

/** Index of the first token of the operand ending at `end` (a primary: literal, name chain, call, parenthesis). */
function operandStart(tokens: Token[], end: number): number {
  let i = end;
  const previous = (at: number) => {
    let k = at - 1;
    while (k >= 0 && isTrivia(tokens[k])) k--;
    return k;
  };
  if (tokens[i].text === ')') {
    let depth = 0;
    for (; i >= 0; i--) {
      if (tokens[i].text === ')') depth++;
      else if (tokens[i].text === '(' && --depth === 0) break;
    }
    const name = previous(i);
    if (name >= 0 && tokens[name].kind === 'word' && !KEYWORDS.has(lowerWord(tokens[name]))) i = name;
  } else if (tokens[i].kind === 'string') {
    const type = previous(i);
    if (['date', 'timestamp', 'time', 'json'].includes(lowerWord(tokens[type]))) i = type;
  }
  for (;;) {
    const dot = previous(i);
    if (dot < 1 || tokens[dot].text !== '.') return i;
    i = previous(dot);
  }
}

/** The index after `INTERVAL '<n>' <unit> [TO <unit>]` starting at `start`, or -1. */
function intervalEnd(tokens: Token[], start: number): number {
  const positions: number[] = [];
  for (let k = start; k < tokens.length && positions.length < 5; k++)
    if (!isTrivia(tokens[k])) positions.push(k);
  const [interval, value, unit, to, second] = positions.map((k) => tokens[k]);
  if (lowerWord(interval) !== 'interval' || value?.kind !== 'string' || unit?.kind !== 'word') return -1;
  return lowerWord(to) === 'to' && second?.kind === 'word' ? positions[4] + 1 : positions[2] + 1;
}

const synthetic = (text: string): Token => ({ kind: 'word', text });

/**
 * Rewrites that need the operand before an operator: `x AT TIME ZONE z` (x read as UTC when it has no zone)
 * and `date ± INTERVAL …` (a date stays a date).
 */
function wrapOperands(tokens: Token[], options: TranslateOptions): Token[] {
  let out = [...tokens];
  for (let i = 0; i < out.length; i++) {
    const t = out[i];
    const next = (from: number) => {
      let k = from;
      while (k < out.length && isTrivia(out[k])) k++;
      return k;
    };
    let end = i - 1;
    while (end >= 0 && isTrivia(out[end])) end--;
    if (end < 0) continue;
    if (lowerWord(t) === 'at' && lowerWord(out[next(i + 1)]) === 'time') {
      const zone = next(next(i + 1) + 1);
      if (lowerWord(out[zone]) !== 'zone') continue;
      const start = operandStart(out, end);
      out.splice(end + 1, 0, synthetic(' AS TIMESTAMPTZ)'));
      out.splice(start, 0, synthetic('CAST('));
      i += 2;
      continue;
    }
    if (t.kind === 'punct' && (t.text === '+' || t.text === '-')) {
      const stop = intervalEnd(out, i + 1);
      if (stop === -1) continue;
      const start = operandStart(out, end);
      if (!isDateExpression(out.slice(start, end + 1), options)) continue;
      const unit = lowerWord(out.slice(i + 1, stop).filter((x) => x.kind === 'word')[1]);
      if (!DATE_UNITS.has(unit)) continue;
      out.splice(stop, 0, synthetic(' AS DATE)'));
      out.splice(start, 0, synthetic('CAST('));
      // Tokenized again, the cast is one operand for a next `+ INTERVAL …` (chained intervals).
      const resume = joinTokens(out.slice(0, stop + 2)).length;
      out = retokenize(out);
      let offset = 0;
      i = 0;
      while (i < out.length && offset < resume) offset += out[i++].text.length;
      i--;
    }
  }
  return retokenize(out);
}

/** Synthetic tokens carry SQL text of several tokens: tokenizing again keeps later passes exact. */
const retokenize = (tokens: Token[]) => tokenize(joinTokens(tokens));

/** `UNNEST(a [, b …]) [WITH ORDINALITY] [AS] t(x …)` in a FROM clause as a DuckDB lateral subquery. */
function translateUnnest(
  tokens: Token[],
  open: number,
  close: number,
  afterFrom: boolean,
  context: Context,
): { sql: string; end: number } | undefined {
  const exprs = splitArguments(tokens, open, close).map((a) => context.translate(a).trim());
  let k = close + 1;
  const skip = () => {
    while (k < tokens.length && isTrivia(tokens[k])) k++;
  };
  skip();
  let ordinality = false;
  if (lowerWord(tokens[k]) === 'with') {
    k++;
    skip();
    if (lowerWord(tokens[k]) !== 'ordinality') return undefined;
    ordinality = true;
    k++;
    skip();
  }
  if (lowerWord(tokens[k]) === 'as') {
    k++;
    skip();
  }
  const aliasToken = tokens[k];
  if (!aliasToken || (aliasToken.kind !== 'word' && aliasToken.kind !== 'qident')) return undefined;
  const alias = aliasToken.text;
  k++;
  let end = k - 1;
  let columns: string[] = [];
  let after = k;
  while (after < tokens.length && isTrivia(tokens[after])) after++;
  if (tokens[after]?.text === '(') {
    const closing = matchingParen(tokens, after);
    if (closing === -1) return undefined;
    columns = splitArguments(tokens, after, closing).map((c) => joinTokens(c).trim());
    end = closing;
  }
  const values = columns.length - (ordinality ? 1 : 0);
  const named = (sql: string, k: number) => (columns[k] ? `${sql} AS ${columns[k]}` : sql);
  let select: string;
  if (exprs.length === 1 && values > 1) {
    // One collection into several columns: an array of rows (its fields) or a map (key, value). Columns are
    // named inside the subquery: DuckDB finds no tables in a query whose alias lists outnumber the columns.
    const collection = context.options.maps ? `map_entries(${exprs[0]})` : exprs[0];
    const fields = Array.from({ length: values }, (_, k) => named(`struct_extract_at(trino_u, ${k + 1})`, k));
    if (ordinality) fields.push(named('trino_n', values));
    const ordinal = ordinality ? `, unnest(range(1, len(${collection}) + 1)) AS trino_n` : '';
    select = `SELECT ${fields.join(', ')} FROM (SELECT unnest(${collection}) AS trino_u${ordinal}) AS trino_r`;
  } else {
    const items = exprs.map((e, k) => named(`unnest(${e})`, k));
    if (ordinality)
      items.push(
        named(`unnest(range(1, greatest(${exprs.map((e) => `len(${e})`).join(', ')}) + 1))`, exprs.length),
      );
    select = `SELECT ${items.join(', ')}`;
  }
  return { sql: `${afterFrom ? '' : 'LATERAL '}(${select}) AS ${alias}`, end };
}

/** `listagg(x, sep) WITHIN GROUP (ORDER BY …)` as DuckDB's `string_agg(x, sep ORDER BY …)`. */
function translateListagg(
  tokens: Token[],
  open: number,
  close: number,
  context: Context,
): { sql: string; end: number } | undefined {
  const words: number[] = [];
  for (let k = close + 1; k < tokens.length && words.length < 3; k++) if (!isTrivia(tokens[k])) words.push(k);
  const [within, group, paren] = words;
  if (lowerWord(tokens[within]) !== 'within' || lowerWord(tokens[group]) !== 'group') return undefined;
  if (tokens[paren]?.text !== '(') return undefined;
  const end = matchingParen(tokens, paren);
  if (end === -1) return undefined;
  const args = splitArguments(tokens, open, close).map((a) => context.translate(a).trim());
  const order = context.translate(tokens.slice(paren + 1, end)).trim();
  return { sql: `string_agg(${args.join(', ')} ${order})`, end };
}

/** Trino's `VALUES 'a', 'b'` (rows of one column without parentheses) as `VALUES ('a'), ('b')`. */
function translateBareValues(tokens: Token[], start: number, context: Context): { sql: string; end: number } {
  const rows: Token[][] = [[]];
  let depth = 0;
  let k = start;
  for (; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') {
      if (depth === 0) break;
      depth--;
    } else if (
      depth === 0 &&
      (t.text === ';' ||
        ['order', 'limit', 'union', 'except', 'intersect', 'offset', 'fetch'].includes(lowerWord(t)))
    )
      break;
    if (depth === 0 && t.text === ',') rows.push([]);
    else rows[rows.length - 1].push(t);
  }
  const sql = rows.map((row) => `(${context.translate(row).trim()})`).join(', ');
  return { sql: ` ${sql}${tokens[k]?.kind === 'word' ? ' ' : ''}`, end: k - 1 };
}

function translateTokens(tokens: Token[], context: Context): string {
  let out = '';
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
      if (lower === 'values' && tokens[j] && tokens[j].text !== '(') {
        const values = translateBareValues(tokens, j, context);
        out += `${t.text}${values.sql}`;
        i = values.end;
        continue;
      }
      const opens = tokens[j]?.kind === 'punct' && tokens[j].text === '(';
      let k = i - 1;
      while (k >= 0 && isTrivia(tokens[k])) k--;
      const previous = tokens[k];
      const qualified = previous?.kind === 'punct' && previous.text === '.';
      if (tokens[j]?.kind === 'string' && !qualified) {
        const literal = stringValue(tokens[j]);
        const zoned = lower === 'timestamp' ? zonedTimestampLiteral(literal) : undefined;
        if (zoned !== undefined || lower === 'json') {
          out += zoned ?? `json(${tokens[j].text})`;
          i = j;
          continue;
        }
      }
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
        const relation = lowerWord(previous);
        if (
          close !== -1 &&
          lower === 'unnest' &&
          (relation === 'join' || relation === 'from' || previous?.text === ',')
        ) {
          const unnest = translateUnnest(tokens, j, close, relation === 'from', context);
          if (unnest) {
            out += unnest.sql;
            i = unnest.end;
            continue;
          }
        }
        const listagg =
          lower === 'listagg' && close !== -1 ? translateListagg(tokens, j, close, context) : undefined;
        if (listagg) {
          out += listagg.sql;
          i = listagg.end;
          continue;
        }
        if (close !== -1 && (REWRITES[lower] || RENAMES[lower])) {
          const args = splitArguments(tokens, j, close);
          const rewritten = REWRITES[lower]?.(args, (arg) => context.translate(arg).trim(), context);
          if (rewritten !== undefined) {
            out += rewritten;
            i = close;
            continue;
          }
          if (RENAMES[lower]) {
            out += `${RENAMES[lower]}(${args.map(context.translate).join(',')})`;
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
export function translateTrinoToDuckDb(sql: string, options: TranslateOptions = {}): string {
  const context: Context = {
    options,
    translate: (t) => translateTokens(t, context),
  };
  return translateTokens(wrapOperands(tokenize(sql), options), context);
}
