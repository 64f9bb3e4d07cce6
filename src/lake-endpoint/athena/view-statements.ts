/**
 * The view statements of the local Athena endpoint, kept in the Glue catalog the way Athena keeps them
 * (presto-view.ts): `CREATE [OR REPLACE] VIEW [db.]name AS query` analyses the query (its columns and Trino
 * types; a missing table fails it) and writes the VIRTUAL_VIEW table; `DROP VIEW [IF EXISTS] name` deletes it.
 * `DROP TABLE` is accepted only to refuse it on a view as Athena does; on a table it stays unsupported here.
 * Errors carry Athena's error names and Trino's messages (`TABLE_ALREADY_EXISTS: line 1:1: View '…' already exists`).
 */
import type { GlueCatalog } from '../glue/catalog';
import {
  ATHENA_CATALOG,
  isView,
  type ViewColumn,
  type ViewDefinition,
  viewTableInput,
} from '../glue/presto-view';
import { unsupportedStatement } from './sql-guard';
import { identifierName, isTrivia, joinTokens, type Token } from './sql-tokens';

/** A failed view statement: the message is the query's StateChangeReason. */
export class ViewStatementError extends Error {
  override readonly name = 'ViewStatementError';
}

/** The columns (names and Trino types) a query returns, found without reading any data. */
export type DescribeQuery = (sql: string, database: string) => Promise<ViewColumn[]>;

interface QualifiedName {
  database: string;
  name: string;
}

const displayName = (n: QualifiedName) => `${ATHENA_CATALOG}.${n.database}.${n.name}`;

class Reader {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}
  private skip() {
    while (this.i < this.tokens.length && isTrivia(this.tokens[this.i])) this.i++;
  }
  word(...words: string[]): string | undefined {
    this.skip();
    const t = this.tokens[this.i];
    if (t?.kind !== 'word' || !words.includes(t.text.toUpperCase())) return undefined;
    this.i++;
    return t.text.toUpperCase();
  }
  /** `[catalog.][db.]name`; the catalog must be Athena's. */
  name(defaultDatabase: string): QualifiedName | undefined {
    const parts: string[] = [];
    for (;;) {
      this.skip();
      const t = this.tokens[this.i];
      if (!t || !['word', 'qident', 'bident'].includes(t.kind)) return undefined;
      parts.push(identifierName(t));
      this.i++;
      if (this.tokens[this.i]?.text !== '.') break;
      this.i++;
    }
    if (parts.length > 3 || (parts.length === 3 && parts[0] !== ATHENA_CATALOG)) return undefined;
    const name = parts[parts.length - 1];
    return { database: parts.length >= 2 ? parts[parts.length - 2] : defaultDatabase, name };
  }
  rest(): Token[] {
    return this.tokens.slice(this.i);
  }
  done(): boolean {
    this.skip();
    return this.i >= this.tokens.length;
  }
}

const syntaxError = (sql: string, expected: string) =>
  new ViewStatementError(`SYNTAX_ERROR: line 1:1: ${expected} expected in "${sql.trim().slice(0, 120)}"`);

/**
 * Runs a view statement against the catalog.
 *
 * @example await runViewStatement(catalog, tokenize('CREATE OR REPLACE VIEW v AS SELECT 1 AS a'), 'orders_lake', describe);
 */
export async function runViewStatement(
  catalog: GlueCatalog,
  statement: Token[],
  defaultDatabase: string,
  describe: DescribeQuery,
): Promise<void> {
  const sql = joinTokens(statement);
  const r = new Reader(statement);
  if (r.word('CREATE')) {
    const replace = r.word('OR') ? Boolean(r.word('REPLACE')) : false;
    r.word('VIEW');
    const target = r.name(defaultDatabase);
    if (!target || !r.word('AS')) throw syntaxError(sql, 'CREATE [OR REPLACE] VIEW [database.]name AS query');
    const rest = r.rest();
    const query = joinTokens(rest).trim();
    // Positions in error messages count from the start of the statement, as Trino's do.
    const lead = joinTokens(statement.slice(0, statement.length - rest.length)).replace(/[^\n]/g, ' ');
    requireDatabase(catalog, target);
    const existing = catalog.findTable(target.database, target.name);
    if (existing && !isView(existing))
      throw new ViewStatementError(
        `TABLE_ALREADY_EXISTS: line 1:1: Table '${displayName(target)}' already exists`,
      );
    if (existing && !replace)
      throw new ViewStatementError(
        `TABLE_ALREADY_EXISTS: line 1:1: View '${displayName(target)}' already exists`,
      );
    const columns = await describe(`${lead}${joinTokens(rest)}`, target.database);
    const duplicate = columns.find((c, i) => columns.findIndex((d) => d.name === c.name) !== i);
    if (duplicate)
      throw new ViewStatementError(
        `DUPLICATE_COLUMN_NAME: line 1:1: Column '${duplicate.name}' specified more than once`,
      );
    const definition: ViewDefinition = {
      originalSql: query,
      catalog: ATHENA_CATALOG,
      schema: target.database,
      columns,
    };
    const input = viewTableInput(target.name, definition);
    // Checked again: the analysis above awaited, and another statement may have created the name meanwhile.
    const now = catalog.findTable(target.database, target.name);
    if (now && !isView(now))
      throw new ViewStatementError(
        `TABLE_ALREADY_EXISTS: line 1:1: Table '${displayName(target)}' already exists`,
      );
    if (now) catalog.updateTable(target.database, input);
    else catalog.createTable(target.database, input);
    return;
  }
  if (r.word('DROP')) {
    const kind = r.word('VIEW', 'TABLE');
    const ifExists = r.word('IF') ? Boolean(r.word('EXISTS')) : false;
    const target = r.name(defaultDatabase);
    if (!target || !r.done()) throw syntaxError(sql, `DROP ${kind ?? 'VIEW'} [IF EXISTS] [database.]name`);
    const existing = catalog.findDatabase(target.database)
      ? catalog.findTable(target.database, target.name)
      : undefined;
    if (kind === 'TABLE') {
      // Athena runs DROP TABLE as Hive DDL, which refuses views with Hive's error.
      if (existing && isView(existing))
        throw new ViewStatementError(
          'FAILED: SemanticException [Error 10137]: Cannot drop a view with DROP TABLE',
        );
      throw unsupportedStatement('DROP');
    }
    if (existing && !isView(existing))
      throw new ViewStatementError(
        `TABLE_NOT_FOUND: line 1:1: View '${displayName(target)}' does not exist, but a table with that name exists. Did you mean DROP TABLE ${displayName(target)}?`,
      );
    if (!existing) {
      if (ifExists) return;
      throw new ViewStatementError(`TABLE_NOT_FOUND: line 1:1: View '${displayName(target)}' does not exist`);
    }
    catalog.deleteTable(target.database, target.name);
    return;
  }
  throw syntaxError(sql, 'CREATE [OR REPLACE] VIEW or DROP VIEW');
}

function requireDatabase(catalog: GlueCatalog, target: QualifiedName): void {
  if (!catalog.findDatabase(target.database))
    throw new ViewStatementError(`SCHEMA_NOT_FOUND: line 1:1: Schema '${target.database}' does not exist`);
}
