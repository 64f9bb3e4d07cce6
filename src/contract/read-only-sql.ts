/**
 * The guard in front of ad-hoc Athena queries: exactly one read-only statement (SELECT, WITH … SELECT, SHOW,
 * DESCRIBE or EXPLAIN of one of those), checked before anything reaches Athena.
 *
 * Two layers, because no SQL parser knows every Athena (Trino) construct:
 * 1. a lexer that strips comments, string literals and quoted identifiers, so `;` or `DROP` inside a string never
 *    counts, then rejects a second statement and any leading keyword other than the read-only ones;
 * 2. node-sql-parser (Trino grammar) on what the lexer allowed: the AST must be one SELECT/SHOW/DESCRIBE. When the
 *    grammar cannot parse valid Athena SQL (e.g. `SHOW PARTITIONS`), the statement is still accepted only if no
 *    write keyword appears as a bare word anywhere in it.
 *
 * Pure and free of Node built-ins: it runs inside the workflow sandbox, in the CLI and in the query activity.
 *
 * @example
 *   checkReadOnlySql('SELECT 1');          // { kind: 'select' }
 *   checkReadOnlySql('DROP TABLE orders'); // throws ReadOnlySqlError: ... found DROP
 */
import { Parser } from 'node-sql-parser/build/trino';
import { RetriableError } from '../support/errors';

export type ReadOnlyKind = 'select' | 'show' | 'describe' | 'explain';

export class ReadOnlySqlError extends RetriableError {
  override readonly name = 'ReadOnlySqlError';
  /** The same SQL is refused again. */
  readonly retriable = false;
  constructor(
    message: string,
    /** `MultipleStatements`, `NotReadOnly` or `EmptyQuery`: the failure type the workflow reports. */
    readonly reason: 'MultipleStatements' | 'NotReadOnly' | 'EmptyQuery',
  ) {
    super(message);
  }
}

const READ_ONLY_LEADS: Record<string, ReadOnlyKind> = {
  SELECT: 'select',
  WITH: 'select',
  VALUES: 'select',
  TABLE: 'select',
  SHOW: 'show',
  DESCRIBE: 'describe',
  DESC: 'describe',
  EXPLAIN: 'explain',
};

/** Statements that change data, the catalog or the session. Never allowed, even nested in EXPLAIN. */
const WRITE_KEYWORDS = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'UNLOAD',
  'MSCK',
  'REPAIR',
  'CALL',
  'EXECUTE',
  'PREPARE',
  'DEALLOCATE',
  'VACUUM',
  'OPTIMIZE',
  'REFRESH',
  'COMMENT',
  'RENAME',
]);

/** Placeholders for stripped literals: keep token boundaries but lose the content. */
const STRING_MARK = "''";
const IDENT_MARK = '"_"';

/**
 * Removes comments and replaces string literals and quoted identifiers by placeholders, so that only the SQL
 * structure is left for keyword and `;` checks. Throws on an unterminated literal or comment.
 */
export function stripSqlLiterals(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      out += ' ';
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new ReadOnlySqlError('sql: unterminated /* comment', 'NotReadOnly');
      i = end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      // SQL escapes a quote inside a literal by doubling it.
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) throw new ReadOnlySqlError(`sql: unterminated ${c} literal`, 'NotReadOnly');
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out += c === "'" ? STRING_MARK : IDENT_MARK;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Bare words (keywords and unquoted identifiers), upper-cased. */
function words(structure: string): string[] {
  return (structure.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).map((w) => w.toUpperCase());
}

let parser: Parser | undefined;

function astTypes(sql: string): string[] | undefined {
  parser ??= new Parser();
  try {
    const ast = parser.astify(sql);
    return (Array.isArray(ast) ? ast : [ast]).map((node) =>
      String((node as { type?: unknown }).type ?? 'unknown'),
    );
  } catch {
    return undefined; // the grammar does not cover this statement: the lexical checks decide
  }
}

/**
 * Returns the statement kind when `sql` is exactly one read-only statement; throws ReadOnlySqlError otherwise.
 * The message names the field (`sql`) and what was found.
 */
export function checkReadOnlySql(sql: string): { kind: ReadOnlyKind } {
  const structure = stripSqlLiterals(sql);
  // One trailing `;` is fine; anything after a `;` is a second statement.
  const statements = structure
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (statements.length === 0)
    throw new ReadOnlySqlError('sql: is empty (only comments or ";")', 'EmptyQuery');
  if (statements.length > 1) {
    throw new ReadOnlySqlError(
      `sql: only one statement is allowed, found ${statements.length} separated by ";"`,
      'MultipleStatements',
    );
  }
  return { kind: checkStatement(statements[0], sql.trim().replace(/;\s*$/, '')) };
}

function checkStatement(structure: string, original: string): ReadOnlyKind {
  // A parenthesised query `(SELECT …)` starts with "(".
  const tokens = words(structure);
  const lead = tokens[0];
  const kind = lead ? READ_ONLY_LEADS[lead] : undefined;
  if (!kind) {
    throw new ReadOnlySqlError(
      `sql: only read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) are allowed, found ${lead ?? 'no keyword'}`,
      'NotReadOnly',
    );
  }
  const write = tokens.find((t) => WRITE_KEYWORDS.has(t));
  if (kind === 'explain') {
    // EXPLAIN ANALYZE executes its statement, so the explained statement must itself be read-only.
    const inner = structure
      .replace(/^\s*EXPLAIN\s+/i, '')
      .replace(/^ANALYZE\s+(VERBOSE\s+)?/i, '')
      .replace(/^\([^)]*\)\s*/, '');
    const innerOriginal = original
      .replace(/^\s*EXPLAIN\s+/i, '')
      .replace(/^ANALYZE\s+(VERBOSE\s+)?/i, '')
      .replace(/^\([^)]*\)\s*/, '');
    const innerKind = checkStatement(inner, innerOriginal);
    if (innerKind === 'explain')
      throw new ReadOnlySqlError('sql: nested EXPLAIN is not allowed', 'NotReadOnly');
    return 'explain';
  }
  if (kind === 'show' || kind === 'describe') {
    if (write && !(kind === 'show' && write === 'CREATE' && tokens[1] === 'CREATE')) {
      throw new ReadOnlySqlError(`sql: ${lead} statement contains ${write}`, 'NotReadOnly');
    }
    return kind;
  }
  const types = astTypes(original);
  if (types) {
    if (types.length !== 1) {
      throw new ReadOnlySqlError(
        `sql: only one statement is allowed, found ${types.length}`,
        'MultipleStatements',
      );
    }
    if (types[0] !== 'select') {
      throw new ReadOnlySqlError(
        `sql: only read-only statements are allowed, found ${types[0].toUpperCase()}`,
        'NotReadOnly',
      );
    }
    return 'select';
  }
  if (write) {
    throw new ReadOnlySqlError(`sql: a read-only query may not contain ${write}`, 'NotReadOnly');
  }
  return 'select';
}
