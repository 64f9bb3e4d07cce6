/**
 * DuckDB's error messages in Athena's (Trino's) words: `<ERROR_NAME>: line L:C: <message>`, the position in
 * the ORIGINAL query text, never DuckDB's error classes, catalog names (`pg_description`), hints ("Did you
 * mean", "Candidate bindings") or its `LINE n:` excerpt.
 *
 * DuckDB points at the offending token of the SQL it ran (the translation of the query); the position is
 * carried back to the original by the token's text and its ordinal among the tokens with that text, which
 * the translation keeps for every token it does not rewrite.
 *
 * Texts follow Trino's sources (Athena engine version 3 runs Trino): `Function 'f' not registered`,
 * `Unexpected parameters (t) for function f` (FUNCTION_NOT_FOUND), `Cannot apply operator: a + b`
 * (TYPE_MISMATCH), `Cannot cast 'x' to INT` (INVALID_CAST_ARGUMENT), `bigint addition overflow: a + b`
 * (NUMERIC_VALUE_OUT_OF_RANGE), and Athena's COLUMN_NOT_FOUND wording. Whatever else DuckDB raises becomes
 * GENERIC_USER_ERROR with DuckDB's sentence stripped of its class and hints.
 */
import { identifierName, isTrivia, type Token, tokenize } from './sql-tokens';

export interface AthenaQueryFailure {
  /** StateChangeReason / AthenaError.ErrorMessage. */
  message: string;
  category: 'USER' | 'SYSTEM';
}

export interface ErrorContext {
  /** The query as the client sent it: positions refer to it. */
  sql: string;
  /** The SQL DuckDB ran (positions in DuckDB's message refer to it). */
  translated: string;
  /** QueryExecutionContext.Database: unqualified names resolve in it. */
  database: string;
}

/**
 * Athena's message for a query that ran out of memory (the error catalog's ErrorType 0-8, category SYSTEM):
 * DuckDB's "Out of Memory Error", raised when what cannot spill to disk exceeds the query's memory.
 */
export const QUERY_EXHAUSTED_RESOURCES = 'Query exhausted resources at this scale factor';

/** Trino prints relations fully qualified. */
const CATALOG = 'awsdatacatalog';

const DUCKDB_TYPE_NAMES: Record<string, string> = {
  INTEGER_LITERAL: 'integer',
  INTEGER: 'integer',
  INT32: 'integer',
  BIGINT: 'bigint',
  INT64: 'bigint',
  SMALLINT: 'smallint',
  TINYINT: 'tinyint',
  DOUBLE: 'double',
  FLOAT: 'real',
  VARCHAR: 'varchar',
  STRING_LITERAL: 'varchar',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIME: 'time',
  TIMESTAMP: 'timestamp',
  'TIMESTAMP WITH TIME ZONE': 'timestamp with time zone',
  INTERVAL: 'interval day to second',
  BLOB: 'varbinary',
  DECIMAL: 'decimal',
};

/** `INTEGER[]` → `array(integer)`; DuckDB's own types keep their name in lower case. */
function trinoType(duckType: string): string {
  const type = duckType.trim();
  if (type.endsWith('[]')) return `array(${trinoType(type.slice(0, -2))})`;
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) return `decimal(${decimal[1]},${decimal[2]})`;
  return DUCKDB_TYPE_NAMES[type] ?? type.toLowerCase();
}

/** Trino's name of a cast target in INVALID_CAST_ARGUMENT messages. */
const CAST_TARGETS: Record<string, string> = {
  INT8: 'TINYINT',
  INT16: 'SMALLINT',
  INT32: 'INT',
  INT64: 'BIGINT',
  DOUBLE: 'DOUBLE',
  FLOAT: 'REAL',
  BOOL: 'BOOLEAN',
};

const OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '<>', '!=', '<', '<=', '>', '>=', '||']);

interface Located {
  line: number;
  column: number;
}

/** Start line:column of every token. */
function tokenStarts(tokens: Token[]): Located[] {
  let line = 1;
  let column = 1;
  return tokens.map((token) => {
    const start = { line, column };
    const lines = token.text.split('\n');
    if (lines.length > 1) {
      line += lines.length - 1;
      column = lines[lines.length - 1].length + 1;
    } else column += token.text.length;
    return start;
  });
}

/** Where the text ends (Trino's position of `<EOF>`). */
function endOf(sql: string): Located {
  const lines = sql.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/** The character offset DuckDB's `LINE n: <excerpt>\n<spaces>^` points at in `translated`, if it has one. */
function caretOffset(duckMessage: string, translated: string): number | undefined {
  const match = /\nLINE (\d+): (.*)\n( *)\^/.exec(duckMessage);
  if (!match) return undefined;
  const lineNumber = Number(match[1]);
  const prefixLength = `LINE ${match[1]}: `.length;
  let excerpt = match[2];
  let caret = match[3].length - prefixLength;
  // Long lines are shown as a window with `...` at its ends.
  if (excerpt.startsWith('...')) {
    excerpt = excerpt.slice(3);
    caret -= 3;
  }
  if (excerpt.endsWith('...')) excerpt = excerpt.slice(0, -3);
  const lines = translated.split('\n');
  const text = lines[lineNumber - 1];
  if (text === undefined || caret < 0) return undefined;
  const windowStart = text.indexOf(excerpt);
  if (windowStart === -1) return undefined;
  const before = lines.slice(0, lineNumber - 1).reduce((n, l) => n + l.length + 1, 0);
  return before + windowStart + caret;
}

const sameToken = (a: Token, b: Token) =>
  a.kind === b.kind &&
  (a.kind === 'word' ? a.text.toLowerCase() === b.text.toLowerCase() : a.text === b.text);

/** The original's token matching the translated token at `offset`: same text, same ordinal among equals. */
function originalTokenAt(
  context: ErrorContext,
  offset: number,
): { token: Token; at: Located; next?: Token } | undefined {
  const translatedTokens = tokenize(context.translated);
  let position = 0;
  let index = -1;
  for (const [i, token] of translatedTokens.entries()) {
    if (offset < position + token.text.length) {
      index = i;
      break;
    }
    position += token.text.length;
  }
  if (index === -1 || isTrivia(translatedTokens[index])) return undefined;
  const target = translatedTokens[index];
  const ordinal = translatedTokens.slice(0, index).filter((t) => sameToken(t, target)).length;
  const tokens = tokenize(context.sql);
  const starts = tokenStarts(tokens);
  let seen = 0;
  for (const [i, token] of tokens.entries()) {
    if (!sameToken(token, target)) continue;
    if (seen++ === ordinal) {
      const next = tokens.slice(i + 1).find((t) => !isTrivia(t));
      return { token, at: starts[i], next };
    }
  }
  return undefined;
}

/** The first occurrence of identifier `name` in the original, as a fallback position. */
function identifierPosition(sql: string, name: string): Located | undefined {
  const tokens = tokenize(sql);
  const starts = tokenStarts(tokens);
  const i = tokens.findIndex(
    (t) => ['word', 'qident', 'bident'].includes(t.kind) && identifierName(t) === name.toLowerCase(),
  );
  return i === -1 ? undefined : starts[i];
}

/** The message's first sentence without DuckDB's class (`Binder Error: `), hints and excerpt. */
function firstSentence(duckMessage: string): string {
  const body = duckMessage.replace(/^[A-Za-z ]+ Error: /, '').split('\n')[0];
  return body
    .replace(/\s*(Did you mean|You might need to|In order to select one|Either add it).*$/, '')
    .replace(/!$/, '')
    .trim();
}

/**
 * Athena's text for a DuckDB error raised while running `context.sql`.
 *
 * @example
 *   athenaFailure('Catalog Error: Table with name orders_cdc does not exist!\nDid you mean "pg_description"?', ctx)
 *   // → { message: "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.orders_lake.orders_cdc' does not exist", category: 'USER' }
 */
export function athenaFailure(duckMessage: string, context: ErrorContext): AthenaQueryFailure {
  const user = (message: string): AthenaQueryFailure => ({ message, category: 'USER' });
  const offset = caretOffset(duckMessage, context.translated);
  const found = offset === undefined ? undefined : originalTokenAt(context, offset);
  const where = (fallbackName?: string): string => {
    const at =
      found?.at ?? (fallbackName === undefined ? undefined : identifierPosition(context.sql, fallbackName));
    return at ? `line ${at.line}:${at.column}: ` : '';
  };
  const kind = /^([A-Za-z ]+) Error: /.exec(duckMessage)?.[1] ?? '';
  let m: RegExpExecArray | null;

  if (kind === 'Out of Memory') return { message: QUERY_EXHAUSTED_RESOURCES, category: 'SYSTEM' };

  if (kind === 'Parser') {
    if (/syntax error at end of input/.test(duckMessage)) {
      const end = endOf(context.sql);
      return user(`SYNTAX_ERROR: line ${end.line}:${end.column}: mismatched input '<EOF>'`);
    }
    if ((m = /at or near "((?:[^"]|"")*)"/.exec(duckMessage))) {
      const text = found?.token.text ?? m[1].replace(/""/g, '"');
      if (/^unterminated quoted/.test(firstSentence(duckMessage)))
        return user(`SYNTAX_ERROR: ${where()}token recognition error at: '${text}'`);
      return user(`SYNTAX_ERROR: ${where()}mismatched input '${text}'`);
    }
    return user(`SYNTAX_ERROR: ${where()}${firstSentence(duckMessage)}`);
  }

  if (
    (m = /^Catalog Error: Table with name "?([^".]+)\.([^"]+)"? does not exist because schema/.exec(
      duckMessage,
    ))
  )
    return user(`SCHEMA_NOT_FOUND: ${where(m[1])}Schema '${m[1].toLowerCase()}' does not exist`);
  if ((m = /^Catalog Error: Table with name "?([^"!]+?)"? does not exist/.exec(duckMessage))) {
    const name = m[1].toLowerCase();
    const qualified = name.includes('.') ? name : `${context.database}.${name}`;
    return user(`TABLE_NOT_FOUND: ${where(name)}Table '${CATALOG}.${qualified}' does not exist`);
  }
  if (
    (m =
      /^Catalog Error: (?:Scalar |Table |Aggregate |Macro )?Function with name "?([^"\s!]+)"? does not exist/.exec(
        duckMessage,
      ))
  )
    return user(`FUNCTION_NOT_FOUND: ${where(m[1])}Function '${m[1].toLowerCase()}' not registered`);

  const column = (name: string) =>
    user(
      `COLUMN_NOT_FOUND: ${where(name.split('.')[0])}Column '${name}' cannot be resolved or requester is not authorized to access requested resources`,
    );
  if ((m = /^Binder Error: Referenced column "([^"]+)" not found/.exec(duckMessage))) return column(m[1]);
  if (
    (m = /^Binder Error: (?:Table|Values list) "([^"]+)" does not have a column named "([^"]+)"/.exec(
      duckMessage,
    ))
  )
    return column(`${m[1]}.${m[2]}`);
  if ((m = /^Binder Error: Referenced table "([^"]+)" not found/.exec(duckMessage))) {
    // Trino names the whole dereference (`p.order_id`); DuckDB only the qualifier.
    const tokens = tokenize(context.sql);
    const at = tokens.findIndex(
      (t, i) => identifierName(t) === m?.[1].toLowerCase() && tokens[i + 1]?.text === '.',
    );
    const field = at === -1 ? undefined : tokens[at + 2];
    return column(field ? `${m[1]}.${identifierName(field)}` : m[1]);
  }
  if ((m = /^Binder Error: column "([^"]+)" must appear in the GROUP BY clause/.exec(duckMessage)))
    return user(
      `EXPRESSION_NOT_AGGREGATE: ${where(m[1])}'${m[1]}' must be an aggregate expression or appear in GROUP BY clause`,
    );
  if (
    (m =
      /^Binder Error: (?:No function matches the given name and argument types|Could not choose a best candidate function for the function call) ['"]([^(]+)\((.*)\)['"]/.exec(
        duckMessage,
      ))
  ) {
    const name = m[1];
    const types = m[2] === '' ? [] : m[2].split(/,\s*/).map(trinoType);
    if (OPERATORS.has(name) && types.length === 2)
      return user(`TYPE_MISMATCH: ${where()}Cannot apply operator: ${types[0]} ${name} ${types[1]}`);
    if (OPERATORS.has(name) && types.length === 1)
      return user(`TYPE_MISMATCH: ${where()}Cannot negate ${types[0]}`);
    return user(
      `FUNCTION_NOT_FOUND: ${where(name)}Unexpected parameters (${types.join(', ')}) for function ${name.toLowerCase()}`,
    );
  }
  if ((m = /^Binder Error: Cannot compare values of type (\S+) and type (\S+)/.exec(duckMessage))) {
    const operator = found && OPERATORS.has(found.token.text) ? found.token.text : '=';
    return user(
      `TYPE_MISMATCH: ${where()}Cannot apply operator: ${trinoType(m[1])} ${operator} ${trinoType(m[2])}`,
    );
  }
  if ((m = /^Binder Error: Cannot mix values of type (\S+) and (\S+) in (\S+) expression/.exec(duckMessage)))
    return user(
      `TYPE_MISMATCH: ${where()}All ${m[3]} results must be the same type or coercible to a common type. Cannot find common supertype for ${trinoType(m[1])} and ${trinoType(m[2])}`,
    );
  if ((m = /^Conversion Error: Unimplemented type for cast \((.+) -> (.+)\)/.exec(duckMessage)))
    return user(`TYPE_MISMATCH: ${where()}Cannot cast ${trinoType(m[1])} to ${trinoType(m[2])}`);
  if ((m = /^Conversion Error: Could not convert string '((?:[^']|'')*)' to (\w+)/.exec(duckMessage)))
    return user(`INVALID_CAST_ARGUMENT: Cannot cast '${m[1]}' to ${CAST_TARGETS[m[2]] ?? m[2]}`);
  if (kind === 'Conversion') return user(`INVALID_CAST_ARGUMENT: ${firstSentence(duckMessage)}`);
  if (
    (m = /^Out of Range Error: Overflow in (addition|subtraction|multiplication) of INT64 \((.+)\)/.exec(
      duckMessage,
    ))
  )
    return user(`NUMERIC_VALUE_OUT_OF_RANGE: bigint ${m[1]} overflow: ${m[2]}`);
  if (kind === 'Out of Range') return user(`NUMERIC_VALUE_OUT_OF_RANGE: ${firstSentence(duckMessage)}`);
  if (/^Invalid Input Error: .*(division by zero|Division by zero)/.test(duckMessage))
    return user('DIVISION_BY_ZERO: Division by zero');
  if (kind === 'Invalid Input') return user(`INVALID_FUNCTION_ARGUMENT: ${firstSentence(duckMessage)}`);
  if (kind === 'Binder' || kind === 'Catalog' || kind === 'Not implemented')
    return user(`GENERIC_USER_ERROR: ${where()}${firstSentence(duckMessage)}`);
  return { message: `GENERIC_INTERNAL_ERROR: ${firstSentence(duckMessage)}`, category: 'SYSTEM' };
}
