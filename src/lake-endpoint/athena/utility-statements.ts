/**
 * SHOW and DESCRIBE, answered from the Glue catalog (Athena answers them from the catalog too, without
 * reading data): SHOW DATABASES|SCHEMAS, SHOW TABLES [IN db] ['pattern'], SHOW COLUMNS IN t,
 * SHOW PARTITIONS t, SHOW TBLPROPERTIES t, SHOW VIEWS [IN db] [LIKE 'pattern'], SHOW CREATE VIEW v, DESCRIBE t.
 * Results have no header row, like Athena's.
 */
import type { GlueCatalog } from '../glue/catalog';
import { hivePatternMatcher } from '../glue/glue-api';
import type { TableRecord } from '../lake-state';
import { ATHENA_CATALOG, decodeView, isPrestoView, isView } from '../glue/presto-view';
import { type Cell, type ColumnInfo, stringColumn } from './result-format';
import { QueryRejectedError } from './sql-guard';
import { identifierName, isTrivia, stringValue, type Token } from './sql-tokens';

export interface UtilityResult {
  columns: ColumnInfo[];
  rows: Cell[][];
}

class Cursor {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}
  peekWord(): string | undefined {
    const t = this.tokens[this.i];
    return t?.kind === 'word' ? t.text.toUpperCase() : undefined;
  }
  acceptWord(...words: string[]): string | undefined {
    const w = this.peekWord();
    if (w && words.includes(w)) {
      this.i++;
      return w;
    }
    return undefined;
  }
  acceptString(): string | undefined {
    const t = this.tokens[this.i];
    if (t?.kind !== 'string') return undefined;
    this.i++;
    return stringValue(t);
  }
  identifier(): string | undefined {
    const t = this.tokens[this.i];
    if (!t || !(t.kind === 'word' || t.kind === 'qident' || t.kind === 'bident')) return undefined;
    this.i++;
    return identifierName(t);
  }
  /** `[db.]table` */
  qualifiedName(): { database?: string; table: string } | undefined {
    const first = this.identifier();
    if (!first) return undefined;
    const t = this.tokens[this.i];
    if (t?.kind === 'punct' && t.text === '.') {
      this.i++;
      const second = this.identifier();
      if (!second) return undefined;
      return { database: first, table: second };
    }
    return { table: first };
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
}

function unsupported(sql: string): never {
  throw new QueryRejectedError(
    `This statement is not supported by the local Athena endpoint: "${sql.trim().slice(0, 80)}" ` +
      '(supported: SHOW DATABASES|SCHEMAS, SHOW TABLES [IN db], SHOW VIEWS [IN db], SHOW CREATE VIEW v, SHOW COLUMNS IN t, SHOW PARTITIONS t, SHOW TBLPROPERTIES t, DESCRIBE t)',
  );
}

/**
 * @example runUtilityStatement(catalog, tokens, 'orders_lake') // SHOW TABLES → { columns: [tab_name], rows: [['orders_cdc']] }
 */
export function runUtilityStatement(
  catalog: GlueCatalog,
  statement: Token[],
  defaultDatabase: string,
): UtilityResult {
  const sql = statement.map((t) => t.text).join('');
  const c = new Cursor(statement.filter((t) => !isTrivia(t) && !(t.kind === 'punct' && t.text === ';')));
  const table = (name: { database?: string; table: string } | undefined): TableRecord => {
    if (!name) unsupported(sql);
    const database = name.database ?? defaultDatabase;
    if (!catalog.findTable(database, name.table)) {
      throw new QueryRejectedError(`Table ${database}.${name.table} does not exist in the Glue catalog`);
    }
    return catalog.getTable(database, name.table);
  };

  if (c.acceptWord('DESCRIBE', 'DESC')) {
    c.acceptWord('EXTENDED', 'FORMATTED');
    const t = table(c.qualifiedName());
    const column = c.identifier();
    const rows: Cell[][] = [];
    for (const col of t.StorageDescriptor?.Columns ?? [])
      rows.push([col.Name, col.Type ?? 'string', col.Comment ?? '']);
    for (const key of t.PartitionKeys)
      rows.push([key.Name, key.Type ?? 'string', key.Comment ?? 'partition key']);
    return {
      columns: [stringColumn('col_name'), stringColumn('data_type'), stringColumn('comment')],
      rows: column ? rows.filter((r) => r[0]?.toLowerCase() === column) : rows,
    };
  }
  if (!c.acceptWord('SHOW')) unsupported(sql);
  if (c.acceptWord('DATABASES', 'SCHEMAS')) {
    c.acceptWord('LIKE');
    const matches = hivePatternMatcher(c.acceptString());
    return {
      columns: [stringColumn('database_name')],
      rows: catalog
        .listDatabases()
        .filter((d) => matches(d.Name))
        .map((d) => [d.Name]),
    };
  }
  // SHOW TABLES and SHOW VIEWS: [IN|FROM db] [LIKE 'pattern'], views being the tables Athena stores as views.
  const tableListing = (heading: string, keep: (table: TableRecord) => boolean) => {
    const database = c.acceptWord('IN', 'FROM') ? c.identifier() : defaultDatabase;
    if (!database) unsupported(sql);
    c.acceptWord('LIKE');
    const matches = hivePatternMatcher(c.acceptString());
    if (!c.done()) unsupported(sql);
    catalog.getDatabase(database);
    return {
      columns: [stringColumn(heading)],
      rows: catalog
        .listTables(database)
        .filter((t) => keep(t) && matches(t.Name))
        .map((t) => [t.Name]),
    };
  };
  if (c.acceptWord('TABLES')) return tableListing('tab_name', () => true);
  if (c.acceptWord('VIEWS')) return tableListing('views', isPrestoView);
  if (c.acceptWord('CREATE')) {
    if (!c.acceptWord('VIEW')) unsupported(sql);
    const name = c.qualifiedName();
    if (!name) unsupported(sql);
    const database = name.database ?? defaultDatabase;
    const view = catalog.findTable(database, name.table);
    const qualified = `${ATHENA_CATALOG}.${database}.${name.table}`;
    if (!view || !isView(view))
      throw new QueryRejectedError(
        view
          ? `NOT_SUPPORTED: line 1:1: Relation '${qualified}' is a table, not a view`
          : `TABLE_NOT_FOUND: line 1:1: View '${qualified}' does not exist`,
      );
    const definition = decodeView(view);
    const text = `CREATE VIEW ${qualified} SECURITY DEFINER AS\n${definition.originalSql.trim()}`;
    return { columns: [stringColumn('Create View')], rows: text.split('\n').map((line) => [line]) };
  }
  if (c.acceptWord('COLUMNS')) {
    if (!c.acceptWord('IN', 'FROM')) unsupported(sql);
    const name = c.qualifiedName();
    const database = c.acceptWord('IN', 'FROM') ? c.identifier() : undefined;
    const t = table(name && database ? { database, table: name.table } : name);
    return {
      columns: [stringColumn('field')],
      rows: [...(t.StorageDescriptor?.Columns ?? []), ...t.PartitionKeys].map((col) => [col.Name]),
    };
  }
  if (c.acceptWord('PARTITIONS')) {
    const t = table(c.qualifiedName());
    return {
      columns: [stringColumn('partition')],
      rows: catalog
        .listPartitions(t)
        .map((p) => [t.PartitionKeys.map((k, i) => `${k.Name}=${p.Values[i]}`).join('/')]),
    };
  }
  if (c.acceptWord('TBLPROPERTIES')) {
    const t = table(c.qualifiedName());
    return {
      columns: [stringColumn('prpt_name'), stringColumn('prpt_value')],
      rows: Object.entries(t.Parameters).map(([k, v]) => [k, v]),
    };
  }
  return unsupported(sql);
}
