/**
 * What kind of statement a query is, decided before anything runs: the local Athena endpoint only reads data.
 * SELECT / WITH / VALUES and EXPLAIN [ANALYZE] of one of them run on DuckDB, SHOW / DESCRIBE are answered
 * from the Glue catalog, the view statements (CREATE [OR REPLACE] VIEW, DROP VIEW) change only views in
 * the catalog, and everything else that would change data, the catalog or the engine (DROP, CREATE, INSERT,
 * ALTER, COPY, ATTACH, PRAGMA, SET, …) or holds several statements is rejected with a reason naming it.
 */
import { isTrivia, splitStatements, type Token, tokenize } from './sql-tokens';

export class QueryRejectedError extends Error {
  override readonly name = 'QueryRejectedError';
}

export type StatementKind =
  | { kind: 'query'; statementType: 'DML' }
  | { kind: 'utility'; statementType: 'UTILITY'; keyword: string }
  /** `CREATE [OR REPLACE] VIEW`, `DROP VIEW`, and `DROP TABLE` (which only views may meet: see view-statements.ts). */
  | { kind: 'view'; statementType: 'DDL' }
  /** `EXPLAIN [ANALYZE] <query>`: the query starts at `tokens[queryStart]`. */
  | { kind: 'explain'; statementType: 'DML'; analyze: boolean; queryStart: number };

const QUERY_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE', '(']);
const UTILITY_KEYWORDS = new Set(['SHOW', 'DESCRIBE', 'DESC']);
const DDL_KEYWORDS = new Set([
  'CREATE',
  'DROP',
  'ALTER',
  'MSCK',
  'TRUNCATE',
  'COMMENT',
  'VACUUM',
  'OPTIMIZE',
  'REFRESH',
  'REPLACE',
]);
const DML_KEYWORDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'UNLOAD', 'COPY', 'UPSERT']);
/** Engine, session and transaction statements: never passed to DuckDB. */
const OTHER_REJECTED = new Set([
  'ATTACH',
  'DETACH',
  'PRAGMA',
  'SET',
  'RESET',
  'INSTALL',
  'LOAD',
  'FORCE',
  'CALL',
  'EXPORT',
  'IMPORT',
  'CHECKPOINT',
  'USE',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'GRANT',
  'REVOKE',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'ABORT',
  'ANALYZE',
  'SUMMARIZE',
  'UPDATE_EXTENSIONS',
]);

/** Statement type Athena reports for a statement starting with this keyword. */
export function statementTypeOf(keyword: string): 'DDL' | 'DML' | 'UTILITY' {
  if (DDL_KEYWORDS.has(keyword)) return 'DDL';
  if (DML_KEYWORDS.has(keyword) || QUERY_KEYWORDS.has(keyword)) return 'DML';
  return 'UTILITY';
}

/** The first keyword of a statement, upper-cased ('(' for a parenthesized query). */
export function firstKeyword(tokens: Token[]): string {
  const first = tokens.find((t) => !isTrivia(t));
  if (!first) return '';
  return first.kind === 'word' ? first.text.toUpperCase() : first.text;
}

/**
 * Classifies a query or throws QueryRejectedError with the reason Athena's StateChangeReason will carry.
 *
 * @example classifyStatement('DROP TABLE t') // throws: DROP statements are not supported ...
 */
export function classifyStatement(sql: string): StatementKind & { tokens: Token[] } {
  const tokens = tokenize(sql);
  const statements = splitStatements(tokens);
  if (statements.length === 0) throw new QueryRejectedError('The query is empty');
  if (statements.length > 1)
    throw new QueryRejectedError(`Only one sql statement is allowed. Got: ${statements.length}`);
  const [statement] = statements;
  const keyword = firstKeyword(statement);
  if (UTILITY_KEYWORDS.has(keyword))
    return { kind: 'utility', statementType: 'UTILITY', keyword, tokens: statement };
  if (keyword === 'EXPLAIN') return { ...classifyExplain(statement), tokens: statement };
  if (isViewStatement(statement)) return { kind: 'view', statementType: 'DDL', tokens: statement };
  if (DDL_KEYWORDS.has(keyword) || DML_KEYWORDS.has(keyword) || OTHER_REJECTED.has(keyword))
    throw unsupportedStatement(keyword);
  // SELECT and friends, and anything unknown: DuckDB parses it (a typo fails with the engine's own syntax
  // error) and the prepared statement must turn out to be a SELECT.
  return { kind: 'query', statementType: 'DML', tokens: statement };
}

/** The refusal of a statement that would change data, the catalog (other than views) or the engine. */
export function unsupportedStatement(keyword: string): QueryRejectedError {
  return new QueryRejectedError(
    `${keyword} statements are not supported by the local Athena endpoint: it only reads data through the Glue catalog ` +
      '(SELECT, WITH, VALUES, SHOW, DESCRIBE and the view statements CREATE [OR REPLACE] VIEW and DROP VIEW are accepted; change tables through Glue or a crawler)',
  );
}

/** The leading words of a statement, upper-cased, up to `count` of them. */
export function leadingWords(statement: Token[], count: number): string[] {
  return statement
    .filter((t) => !isTrivia(t))
    .slice(0, count)
    .map((t) => (t.kind === 'word' ? t.text.toUpperCase() : t.text));
}

function isViewStatement(statement: Token[]): boolean {
  const words = leadingWords(statement, 4).join(' ');
  return /^(CREATE (OR REPLACE )?VIEW|DROP (VIEW|TABLE))\b/.test(words);
}

const nextMeaningful = (tokens: Token[], from: number) => {
  let i = from;
  while (i < tokens.length && isTrivia(tokens[i])) i++;
  return i;
};

/** `EXPLAIN [ANALYZE] <query>`; Trino's options (`FORMAT`, `TYPE`) and `VERBOSE` have no DuckDB counterpart. */
function classifyExplain(statement: Token[]): Extract<StatementKind, { kind: 'explain' }> {
  let next = nextMeaningful(statement, nextMeaningful(statement, 0) + 1);
  const analyze = statement[next]?.kind === 'word' && statement[next].text.toUpperCase() === 'ANALYZE';
  if (analyze) next = nextMeaningful(statement, next + 1);
  const explained = firstKeyword(statement.slice(next));
  if (
    explained === '(' &&
    statement[next + 1] &&
    !QUERY_KEYWORDS.has(firstKeyword(statement.slice(next + 1)))
  )
    throw new QueryRejectedError(
      'EXPLAIN options (FORMAT, TYPE) are not supported by the local Athena endpoint: it prints the DuckDB plan as text',
    );
  if (explained === 'VERBOSE')
    throw new QueryRejectedError(
      'EXPLAIN ANALYZE VERBOSE is not supported by the local Athena endpoint: use EXPLAIN ANALYZE',
    );
  if (!QUERY_KEYWORDS.has(explained))
    throw new QueryRejectedError(
      `EXPLAIN ${explained || '(nothing)'} is not supported by the local Athena endpoint: only EXPLAIN [ANALYZE] of a query (SELECT, WITH, VALUES) is accepted`,
    );
  return { kind: 'explain', statementType: 'DML', analyze, queryStart: next };
}
