/**
 * Runs one Athena query on DuckDB.
 *
 * A SELECT gets a fresh in-memory DuckDB, its memory capped (`queryMemoryBytes`; past it DuckDB spills to a folder
 * of the query's own, and what cannot spill fails as Athena's "Query exhausted resources"): the tables it names (found by DuckDB's own parser) resolve through
 * the Glue catalog; their partitions are pruned with the query's partition-key predicates, the remaining
 * partitions' objects listed in S3 and fetched into the ETag-keyed cache, and each table becomes a view over
 * its files. Then the engine is locked down: it may read exactly those files (nothing else of the cache, so
 * neither other tables nor objects since deleted from S3) and its configuration is frozen; DuckDB's own
 * file and settings functions are refused before that as Athena refuses unknown functions. The statement is
 * prepared, must be a SELECT, and its rows are streamed chunk by chunk to the caller's sink, so no result is
 * ever held whole in memory. `DataScannedInBytes` is the size of the objects the views read.
 * A view the query names (a VIRTUAL_VIEW table, see glue/presto-view.ts) becomes a DuckDB view of its stored
 * SQL, after the tables and views that SQL reads, its columns cast to the stored types; a name that is neither
 * a table nor a view fails as Trino's TABLE_NOT_FOUND. CREATE VIEW analyses its query the same way over empty
 * tables (no data read) to store its columns.
 * EXPLAIN [ANALYZE] of a query prints DuckDB's plan (not Trino's), one text row per line. SHOW/DESCRIBE are
 * answered from the catalog.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, StatementType } from '@duckdb/node-api';
import type { S3Client } from '@aws-sdk/client-s3';
import { quoteIdent, quoteString } from '../../support/duckdb-sql-literals';
import type { Logger } from '../logger';
import type { GlueCatalog } from '../glue/catalog';
import { asNode, columnRefName, partitionValueMap } from '../glue/partition-expression';
import type { TableRecord } from '../lake-state';
import {
  describeS3Error,
  isHiddenOrMarker,
  listObjects,
  parseS3Folder,
  type S3ObjectInfo,
} from '../s3-objects';
import type { ObjectCache } from './object-cache';
import { glueTypeToDuckDb } from '../glue/glue-types';
import {
  ATHENA_CATALOG,
  decodeView,
  duckDbTypeToTrino,
  InvalidViewError,
  isView,
  trinoTypeToGlue,
  type ViewColumn,
  type ViewDefinition,
} from '../glue/presto-view';
import {
  keepPartition,
  parseTrino,
  planPartitionPruning,
  pruningKey,
  type PruningPlan,
} from './partition-pruning';
import { type Cell, type ColumnInfo, columnInfo, formatValue, stringColumn } from './result-format';
import { athenaFailure, type ErrorContext, QUERY_EXHAUSTED_RESOURCES } from './athena-errors';
import { classifyStatement, QueryRejectedError } from './sql-guard';
import { identifierName, isTrivia, joinTokens, type Token, tokenize } from './sql-tokens';
import { type TranslateOptions, translateTrinoToDuckDb } from './sql-translate';
import { installTrinoFunctions } from './trino-functions';
import { createTableView, type TableFile, tableFormat, UnsupportedTableError } from './table-views';
import { runUtilityStatement } from './utility-statements';
import { runViewStatement, ViewStatementError } from './view-statements';

export interface QueryRequest {
  sql: string;
  /** QueryExecutionContext.Database (Athena's default: `default`). */
  database: string;
  /** ExecutionParameters, substituted for `?` in order. */
  parameters?: string[];
}

/** Where a query's result goes as it is produced. */
export interface ResultSink {
  /** Called once, before any rows. */
  columns(columns: ColumnInfo[], header: boolean): Promise<void>;
  /** Called per chunk of rows; the next chunk is read once this resolves. */
  rows(rows: Cell[][]): Promise<void>;
}

export interface QueryOutcome {
  columns: ColumnInfo[];
  rowCount: number;
  /** SELECT results start with a header row (GetQueryResults, CSV); SHOW/DESCRIBE ones do not. */
  header: boolean;
  dataScannedBytes: number;
  planningMs: number;
  engineMs: number;
}

/** DuckDB's error in Athena's words (see athena-errors.ts). */
function athenaQueryError(error: unknown, context: ErrorContext): QueryFailedError {
  const failure = athenaFailure((error as Error).message, context);
  return new QueryFailedError(failure.message, failure.category);
}

/** A query that ran and failed: the message is what StateChangeReason says. */
export class QueryFailedError extends Error {
  override readonly name = 'QueryFailedError';
  constructor(
    message: string,
    readonly category: 'USER' | 'SYSTEM' = 'USER',
  ) {
    super(message);
  }
}

export type QueryEngine = ReturnType<typeof createQueryEngine>;

/** Default memory of one query's DuckDB (`--query-memory-mb`); the endpoint runs two queries at a time. */
export const DEFAULT_QUERY_MEMORY_BYTES = 1024 ** 3;

const normalizeFolder = (location: string | undefined) =>
  location ? (location.endsWith('/') ? location : `${location}/`) : '';

function substituteParameters(tokens: Token[], parameters: string[] | undefined): Token[] {
  const placeholders = tokens.filter((t) => t.kind === 'punct' && t.text === '?').length;
  const count = parameters?.length ?? 0;
  if (placeholders !== count) {
    throw new QueryFailedError(
      `The query has ${placeholders} parameter placeholder(s) (?) but ${count} ExecutionParameters were given`,
    );
  }
  if (count === 0) return tokens;
  let next = 0;
  return tokens.map((t) =>
    t.kind === 'punct' && t.text === '?' ? { kind: 'word', text: parameters?.[next++] ?? '' } : t,
  );
}

/** `db.t AS x` / `catalog.db.t` (DuckDB's getTableNames) → [database?, table]. */
function splitTableName(qualified: string): [string | undefined, string] {
  const name = qualified.replace(/\s+AS\s+.*$/i, '');
  const parts = name.split('.');
  const table = parts[parts.length - 1];
  const database = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  return [database?.toLowerCase(), table.toLowerCase()];
}

/**
 * Trino's names of result columns, as the query spells them (matching is case-insensitive, headings are not):
 * an alias or a column keeps its name, any other expression is `_col<i>`.
 */
function trinoColumnNames(parsed: unknown, count: number): string[] | undefined {
  const top = asNode(Array.isArray(parsed) ? parsed[0] : parsed);
  if (top?.type !== 'select' || !Array.isArray(top.columns) || top.columns.length !== count) return undefined;
  const names: string[] = [];
  for (const [i, item] of top.columns.entries()) {
    const column = asNode(item);
    const expr = asNode(column?.expr);
    if (!column || !expr || expr.type === 'star') return undefined;
    const alias = typeof column.as === 'string' ? column.as : asNode(column.as)?.value;
    if (typeof alias === 'string' && alias !== '') {
      names.push(alias);
      continue;
    }
    if (expr.type === 'column_ref') {
      const name = columnRefName(expr);
      if (name === undefined || name === '*') return undefined;
      names.push(name);
      continue;
    }
    names.push(`_col${i}`);
  }
  return names;
}

/**
 * DuckDB functions that read files or reveal the engine's settings and views (and so the cache's paths).
 * Athena has none of them; the lock-down below is what enforces the boundary, this only gives Athena's error.
 */
const ENGINE_ONLY_FUNCTIONS = new Set([
  'current_setting',
  'duckdb_settings',
  'duckdb_views',
  'duckdb_secrets',
  'getvariable',
  'glob',
  'parquet_scan',
  'read_parquet',
  'parquet_metadata',
  'parquet_file_metadata',
  'parquet_kv_metadata',
  'parquet_schema',
  'parquet_bloom_probe',
  'read_json',
  'read_json_auto',
  'read_json_objects',
  'read_json_objects_auto',
  'read_ndjson',
  'read_ndjson_auto',
  'read_ndjson_objects',
  'read_csv',
  'read_csv_auto',
  'sniff_csv',
  'read_text',
  'read_blob',
]);

/** Athena's FUNCTION_NOT_FOUND (with Trino's `line:column`) for a call of an engine-only function. */
function rejectEngineFunctions(sql: string): void {
  const tokens = tokenize(sql);
  let line = 1;
  let column = 1;
  for (const [i, token] of tokens.entries()) {
    const name = ['word', 'qident', 'bident'].includes(token.kind) ? identifierName(token) : undefined;
    if (name !== undefined && ENGINE_ONLY_FUNCTIONS.has(name)) {
      let next = i + 1;
      while (next < tokens.length && isTrivia(tokens[next])) next++;
      if (tokens[next]?.text === '(')
        throw new QueryFailedError(
          `FUNCTION_NOT_FOUND: line ${line}:${column}: Function '${name}' not registered`,
        );
    }
    const lines = token.text.split('\n');
    if (lines.length > 1) {
      line += lines.length - 1;
      column = lines[lines.length - 1].length + 1;
    } else column += token.text.length;
  }
}

/**
 * Whether a reference DuckDB reports is a file (`FROM '/path/x.parquet'`, reported as one quoted name) rather
 * than a `[db.]table` name: Glue names hold no `/`, `*` or `.`.
 */
function isFilePath(qualified: string): boolean {
  const reference = qualified.replace(/\s+AS\s+.*$/i, '');
  const single = /^"(.*)"$/.exec(reference);
  return /[/*]/.test(reference) || (single !== null && !single[1].includes('"') && single[1].includes('.'));
}

/** What a query reads: base tables (by pruning key), views in dependency order, and the pruning plan. */
interface Relations {
  tables: Map<string, TableRecord>;
  views: ResolvedView[];
  plan: PruningPlan;
}

interface ResolvedView {
  key: string;
  table: TableRecord;
  definition: ViewDefinition;
  /** The database the view's unqualified names resolve in. */
  schema: string;
  /** The view's SQL as stored (one statement). */
  body: string;
  /** The view's SQL in DuckDB's dialect, for finding the relations it reads. */
  translated: string;
}

/** Both plans' occurrences: a partition is kept when any occurrence of its table needs it. */
function mergePlans(into: PruningPlan, from: PruningPlan): void {
  for (const [key, predicates] of from) {
    const existing = into.get(key);
    if (existing === 'all' || predicates === 'all') into.set(key, 'all');
    else into.set(key, [...(existing ?? []), ...predicates]);
  }
}

/** `line:column` of the first reference to `name` in `sql` (its qualifier included), as Trino reports it. */
function positionOf(sql: string, name: string): string {
  const tokens = tokenize(sql);
  let line = 1;
  let column = 1;
  const starts: { line: number; column: number }[] = [];
  for (const token of tokens) {
    starts.push({ line, column });
    const lines = token.text.split('\n');
    if (lines.length > 1) {
      line += lines.length - 1;
      column = lines[lines.length - 1].length + 1;
    } else column += token.text.length;
  }
  let at = tokens.findIndex(
    (t) => ['word', 'qident', 'bident'].includes(t.kind) && identifierName(t) === name.toLowerCase(),
  );
  if (at === -1) return '1:1';
  while (at >= 2 && tokens[at - 1].text === '.' && tokens[at - 2].kind !== 'punct') at -= 2;
  return `${starts[at].line}:${starts[at].column}`;
}

/**
 * Interrupts the connection's statement once `signal` aborts. DuckDB forgets an interrupt that arrives
 * before a statement starts executing, so it is repeated until the run ends; returns the cleanup.
 */
function interruptOnAbort(conn: DuckDBConnection, signal: AbortSignal): () => void {
  let repeating: NodeJS.Timeout | undefined;
  const interrupt = () => {
    conn.interrupt();
    repeating ??= setInterval(() => conn.interrupt(), 20);
  };
  if (signal.aborted) interrupt();
  else signal.addEventListener('abort', interrupt, { once: true });
  return () => {
    signal.removeEventListener('abort', interrupt);
    clearInterval(repeating);
  };
}

/** DuckDB's words when a collection the translation took for a list is a map (see TranslateOptions.maps). */
const MAP_READ_AS_LIST =
  /UNNEST\(\) can only be applied to lists, structs and NULL, not MAP|UNNEST not supported here|'len\(MAP\(/;

/**
 * Prepares the query translated with the tables' DATE columns known; a map read as a list is translated again
 * as a map. Returns the statement and the translation it was prepared from (without `prefix`).
 */
async function prepareTranslated(
  conn: DuckDBConnection,
  sql: string,
  tables: Iterable<TableRecord>,
  prefix = '',
) {
  const dateColumns = new Set<string>();
  for (const table of tables)
    for (const column of [...(table.StorageDescriptor?.Columns ?? []), ...table.PartitionKeys])
      if (column.Type?.trim().toLowerCase() === 'date') dateColumns.add(column.Name.toLowerCase());
  const options: TranslateOptions = { dateColumns };
  const translated = translateTrinoToDuckDb(sql, options);
  try {
    return { prepared: await conn.prepare(`${prefix}${translated}`), translated };
  } catch (error) {
    if (!MAP_READ_AS_LIST.test((error as Error).message)) throw error;
    const asMaps = translateTrinoToDuckDb(sql, { ...options, maps: true });
    // Not a map after all: the first translation's error is the query's.
    const prepared = await conn.prepare(`${prefix}${asMaps}`).catch(() => Promise.reject(error as Error));
    return { prepared, translated: asMaps };
  }
}

/** The column of an EXPLAIN result, as Athena names it. */
const QUERY_PLAN_COLUMN = 'Query Plan';

/**
 * @example
 *   const engine = createQueryEngine({ catalog, s3, cache, logger });
 *   const outcome = await engine.run({ sql: 'SELECT count(*) FROM orders_cdc', database: 'orders_lake' }, signal);
 */
export function createQueryEngine(deps: {
  catalog: GlueCatalog;
  s3: S3Client;
  cache: ObjectCache;
  logger: Logger;
  /** DuckDB's memory for one query; past it, sorts, joins and aggregates spill to `spillDir`. */
  queryMemoryBytes: number;
  /** Where each query's spill folder is made (and removed when it ends). */
  spillDir: string;
}) {
  const { catalog, s3, cache, logger } = deps;

  /** A DuckDB for one query: its memory capped, spilling into a folder of its own (two queries never share one). */
  const openEngine = async (threads: number) => {
    await mkdir(deps.spillDir, { recursive: true });
    const spill = await mkdtemp(join(deps.spillDir, 'query-'));
    try {
      const instance = await DuckDBInstance.create(':memory:', {
        threads: String(threads),
        memory_limit: `${Math.max(1, Math.floor(deps.queryMemoryBytes / 1024 ** 2))}MiB`,
        temp_directory: spill,
      });
      return { instance, spill };
    } catch (error) {
      await rm(spill, { recursive: true, force: true });
      throw error;
    }
  };

  const filesOf = async (
    table: TableRecord,
    keep: (values: string[]) => boolean,
    signal: AbortSignal,
  ): Promise<{ objects: S3ObjectInfo[]; values: string[][] }> => {
    const folders: { location: string; values: string[] }[] = [];
    if (table.PartitionKeys.length === 0) {
      const location = table.StorageDescriptor?.Location;
      if (!location)
        throw new QueryFailedError(`Table ${table.DatabaseName}.${table.Name} has no S3 location`);
      folders.push({ location, values: [] });
    } else {
      for (const partition of catalog.listPartitions(table)) {
        if (!keep(partition.Values)) continue;
        const location = partition.StorageDescriptor?.Location;
        if (location) folders.push({ location, values: partition.Values });
      }
    }
    const objects: S3ObjectInfo[] = [];
    const values: string[][] = [];
    const isData = (o: S3ObjectInfo) => o.size > 0 && !isHiddenOrMarker(o.key);
    const list = async (location: string) => {
      try {
        return await listObjects(s3, parseS3Folder(location), signal);
      } catch (error) {
        if (signal.aborted) throw error;
        throw new QueryFailedError(
          `HIVE_CANNOT_OPEN_SPLIT: cannot list ${location}: ${describeS3Error(error)}`,
        );
      }
    };
    const tableLocation = normalizeFolder(table.StorageDescriptor?.Location);
    if (
      folders.length > 1 &&
      tableLocation &&
      folders.every((f) => normalizeFolder(f.location).startsWith(tableLocation))
    ) {
      // Many partitions under the table folder: one listing of the table instead of one per partition.
      const byFolder = new Map(folders.map((f) => [normalizeFolder(f.location), f.values]));
      const bucketUrl = tableLocation.slice(0, tableLocation.indexOf('/', 5) + 1);
      for (const o of await list(tableLocation)) {
        if (!isData(o)) continue;
        const url = `${bucketUrl}${o.key}`;
        let folder = url.slice(0, url.lastIndexOf('/') + 1);
        // Objects in sub-folders of a partition belong to it too.
        while (folder.length >= tableLocation.length && !byFolder.has(folder))
          folder = folder.slice(0, folder.lastIndexOf('/', folder.length - 2) + 1);
        const partitionValues = byFolder.get(folder);
        if (partitionValues === undefined) continue;
        objects.push(o);
        values.push(partitionValues);
      }
      return { objects, values };
    }
    for (const folder of folders) {
      for (const o of await list(folder.location)) {
        if (!isData(o)) continue;
        objects.push(o);
        values.push(folder.values);
      }
    }
    return { objects, values };
  };

  /** Names Trino would print for a relation: `awsdatacatalog.<db>.<name>`. */
  const qualifiedName = (key: string) => `${ATHENA_CATALOG}.${key}`;

  /** Trino's error for a name that is neither a table nor a view, at the name's place in the SQL. */
  const missingRelation = (sql: string, database: string, name: string): QueryFailedError => {
    const where = `line ${positionOf(sql, name)}`;
    if (!catalog.findDatabase(database))
      return new QueryFailedError(`SCHEMA_NOT_FOUND: ${where}: Schema '${database}' does not exist`);
    return new QueryFailedError(
      `TABLE_NOT_FOUND: ${where}: Table '${qualifiedName(pruningKey(database, name))}' does not exist`,
    );
  };

  /**
   * The tables and views a query reads, views expanded into what they read (each view after the views it
   * reads), with the partition-pruning plan of the query and of every view's own SQL.
   */
  const resolveRelations = async (
    conn: DuckDBConnection,
    sql: string,
    translated: string,
    database: string,
    parsed: unknown,
    relations: Relations = { tables: new Map(), views: [], plan: new Map() },
    viewPath: string[] = [],
  ): Promise<Relations> => {
    let names: readonly string[];
    try {
      names = conn.getTableNames(translated, true);
    } catch (error) {
      throw athenaQueryError(error, { sql, translated, database });
    }
    const plan = planPartitionPruning(
      sql,
      database,
      (db, name) => {
        const table = catalog.findTable(db, name);
        if (!table || isView(table)) return undefined;
        return { database: table.DatabaseName, name: table.Name, partitionKeys: table.PartitionKeys };
      },
      parsed,
    );
    mergePlans(relations.plan, plan);
    for (const qualified of names) {
      const [qualifier, name] = splitTableName(qualified);
      const table = catalog.findTable(qualifier ?? database, name);
      // A file named by path is no catalog name: DuckDB refuses it below (PERMISSION_DENIED).
      if (!table && isFilePath(qualified)) continue;
      if (!table) throw missingRelation(sql, qualifier ?? database, name);
      const key = pruningKey(table.DatabaseName, table.Name);
      if (!isView(table)) {
        relations.tables.set(key, table);
        // Where this SQL could not be planned, it reads every partition, whatever other occurrences allow.
        if (!plan.has(key)) relations.plan.set(key, 'all');
        continue;
      }
      if (viewPath.includes(key))
        throw new QueryFailedError(`INVALID_VIEW: View '${qualifiedName(key)}' refers to itself`);
      if (relations.views.some((v) => v.key === key)) continue;
      const view = readView(table, key);
      try {
        rejectEngineFunctions(view.definition.originalSql);
        await resolveRelations(
          conn,
          view.definition.originalSql,
          view.translated,
          view.schema,
          parseTrino(view.definition.originalSql),
          relations,
          [...viewPath, key],
        );
      } catch (error) {
        if (!(error instanceof QueryFailedError)) throw error;
        throw new QueryFailedError(
          `INVALID_VIEW: Failed analyzing stored view '${qualifiedName(key)}': ${error.message}`,
        );
      }
      relations.views.push(view);
    }
    return relations;
  };

  const readView = (table: TableRecord, key: string): ResolvedView => {
    let definition: ViewDefinition;
    try {
      definition = decodeView(table);
    } catch (error) {
      if (error instanceof InvalidViewError) throw new QueryFailedError(error.message);
      throw error;
    }
    const body = definition.originalSql.trim().replace(/;+\s*$/, '');
    return {
      key,
      table,
      definition,
      schema: (definition.schema ?? table.DatabaseName).toLowerCase(),
      body,
      translated: translateTrinoToDuckDb(body),
    };
  };

  /**
   * A view in DuckDB as Trino runs one: its query bound in the view's schema, its columns cast to the types
   * stored in its definition; a query that no longer gives the stored number of columns makes the view stale.
   */
  const createViewRelation = async (
    conn: DuckDBConnection,
    view: ResolvedView,
    tables: Iterable<TableRecord>,
  ) => {
    const name = qualifiedName(view.key);
    const stored = view.definition.columns;
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(view.schema)}`);
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(view.table.DatabaseName)}`);
    await conn.run(`SET schema = ${quoteString(view.schema)}`);
    let derived: number;
    let translated: string;
    try {
      const analysed = await prepareTranslated(conn, view.body, tables);
      derived = analysed.prepared.columnCount;
      translated = analysed.translated;
    } catch (error) {
      throw new QueryFailedError(
        `INVALID_VIEW: Failed analyzing stored view '${name}': ${(error as Error).message}`,
      );
    }
    if (derived !== stored.length)
      throw new QueryFailedError(
        `VIEW_IS_STALE: View '${name}' is stale or in invalid state: stored view column count (${stored.length}) does not match column count derived from the view query analysis (${derived})`,
      );
    const positional = stored.map((_, i) => quoteIdent(`__view_column_${i}`));
    const columns = stored.map((column, i) => {
      let type: string;
      try {
        type = glueTypeToDuckDb(trinoTypeToGlue(column.type));
      } catch (error) {
        throw new QueryFailedError(`INVALID_VIEW: View '${name}': ${(error as Error).message}`);
      }
      return `CAST(${positional[i]} AS ${type}) AS ${quoteIdent(column.name.toLowerCase())}`;
    });
    await conn.run(
      `CREATE VIEW ${quoteIdent(view.table.DatabaseName)}.${quoteIdent(view.table.Name)} AS ` +
        `SELECT ${columns.join(', ')} FROM (${translated}) AS ${quoteIdent('__view')}(${positional.join(', ')})`,
    );
  };

  /**
   * Creates every relation in the connection: tables as views over their files (with `withFiles`, else empty,
   * for analysing a query without reading data), then the views.
   */
  const materialize = async (
    conn: DuckDBConnection,
    relations: Relations,
    signal: AbortSignal,
    held: (() => void)[],
    withFiles: boolean,
  ) => {
    let dataScannedBytes = 0;
    const readable: string[] = [];
    for (const [key, table] of relations.tables) {
      if (!withFiles) {
        await createTableView(conn, table, [], (path) => cache.parquetSchemaOf(path));
        continue;
      }
      const format = tableFormat(table);
      const t0 = Date.now();
      const { objects, values } = await filesOf(
        table,
        (v) => keepPartition(relations.plan, key, partitionValueMap(table.PartitionKeys, v)),
        signal,
      );
      const t1 = Date.now();
      const { paths, release } = await cache.fetch(objects, format, signal);
      held.push(release);
      readable.push(...paths);
      const t2 = Date.now();
      const bytes = objects.reduce((n, o) => n + o.size, 0);
      dataScannedBytes += bytes;
      const files: TableFile[] = paths.map((path, i) => ({ path, values: values[i] }));
      await createTableView(conn, table, files, (path) => cache.parquetSchemaOf(path));
      signal.throwIfAborted();
      logger.debug(
        {
          table: key,
          objects: objects.length,
          bytes,
          listMs: t1 - t0,
          fetchMs: t2 - t1,
          viewMs: Date.now() - t2,
        },
        'table view created',
      );
    }
    for (const view of relations.views) await createViewRelation(conn, view, relations.tables.values());
    return { dataScannedBytes, readable, tables: relations.tables };
  };

  /** The columns (names, Trino types) of a query, from the catalog's schemas only: what CREATE VIEW stores. */
  const describeQuery = async (sql: string, database: string, signal: AbortSignal): Promise<ViewColumn[]> => {
    rejectEngineFunctions(sql);
    const translated = translateTrinoToDuckDb(sql);
    const { instance, spill } = await openEngine(1);
    const conn = await instance.connect();
    try {
      await installTrinoFunctions(conn);
      const parsed = parseTrino(sql);
      const relations = await resolveRelations(conn, sql, translated, database, parsed);
      await materialize(conn, relations, signal, [], false);
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(database)}`);
      await conn.run(`SET schema = ${quoteString(database)}`);
      const { prepared } = await prepareTranslated(conn, sql, relations.tables.values());
      if (prepared.statementType !== StatementType.SELECT)
        throw new QueryRejectedError('A view is defined by a query (SELECT, WITH, VALUES)');
      const duckNames = Array.from({ length: prepared.columnCount }, (_, i) => prepared.columnName(i));
      const names = trinoColumnNames(parsed, duckNames.length) ?? duckNames;
      return names.map((name, i) => ({
        name: name.toLowerCase(),
        type: duckDbTypeToTrino(prepared.columnType(i)),
      }));
    } catch (error) {
      if (error instanceof QueryFailedError || error instanceof QueryRejectedError) throw error;
      if (error instanceof UnsupportedTableError) throw new QueryFailedError(error.message);
      throw athenaQueryError(error, { sql, translated, database });
    } finally {
      conn.closeSync();
      instance.closeSync();
      await rm(spill, { recursive: true, force: true });
    }
  };

  const runSelect = async (
    request: QueryRequest,
    sql: string,
    signal: AbortSignal,
    sink: ResultSink,
    explain?: 'EXPLAIN' | 'EXPLAIN ANALYZE',
  ): Promise<QueryOutcome> => {
    const started = Date.now();
    rejectEngineFunctions(sql);
    const translated = translateTrinoToDuckDb(sql);
    const { instance, spill } = await openEngine(2);
    const conn = await instance.connect();
    const stopInterrupting = interruptOnAbort(conn, signal);
    const held: (() => void)[] = [];
    try {
      await installTrinoFunctions(conn);
      const parsed = parseTrino(sql);
      const relations = await resolveRelations(conn, sql, translated, request.database, parsed);
      const { dataScannedBytes, readable, tables } = await materialize(conn, relations, signal, held, true);
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(request.database)}`);
      await conn.run(`SET schema = ${quoteString(request.database)}`);
      await conn.run(`SET TimeZone = 'UTC'`);
      // Trino divides integers as integers (7/2 = 3).
      await conn.run('SET integer_division = true');
      // Exactly the files of the tables this query names: not the cache directory.
      await conn.run(`SET allowed_paths = [${readable.map(quoteString).join(', ')}]`);
      await conn.run('SET allowed_directories = []');
      await conn.run('SET enable_external_access = false');
      await conn.run('SET lock_configuration = true');
      const planned = Date.now();
      signal.throwIfAborted();

      const { prepared } = await prepareTranslated(conn, sql, tables.values(), explain ? `${explain} ` : '');
      const expected = explain ? StatementType.EXPLAIN : StatementType.SELECT;
      if (prepared.statementType !== expected) {
        throw new QueryRejectedError('Only SELECT queries are accepted by the local Athena endpoint');
      }
      const result = await prepared.stream();
      const types = result.columnTypes();
      const duckNames = result.columnNames();
      const columns = explain
        ? [{ ...stringColumn(QUERY_PLAN_COLUMN), Type: 'varchar' }]
        : (trinoColumnNames(parsed, duckNames.length) ?? duckNames).map((name, i) =>
            columnInfo(name, types[i]),
          );
      await sink.columns(columns, true);
      let rowCount = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        // An interrupt ends DuckDB's stream early without an error: never take that for the end of the result.
        signal.throwIfAborted();
        if (!chunk || chunk.rowCount === 0) break;
        const values = chunk.getRows();
        const rows = explain
          ? values.flatMap((row) =>
              String(row[1])
                .replace(/\n$/, '')
                .split('\n')
                .map((line) => [line]),
            )
          : values.map((row) => row.map((value, i) => formatValue(value, types[i])));
        rowCount += rows.length;
        await sink.rows(rows);
      }
      logger.debug(
        { tables: tables.size, planningMs: planned - started, runMs: Date.now() - planned, rows: rowCount },
        'query executed',
      );
      return {
        columns,
        rowCount,
        header: true,
        dataScannedBytes,
        planningMs: planned - started,
        engineMs: Date.now() - planned,
      };
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof QueryFailedError || error instanceof QueryRejectedError) throw error;
      if (error instanceof UnsupportedTableError) throw new QueryFailedError(error.message);
      const message = (error as Error).message;
      // A file named in the query (`FROM '<path>'`): the lock-down refused it.
      if (/^Permission Error/.test(message))
        throw new QueryFailedError(
          `PERMISSION_DENIED: the local Athena endpoint reads only the tables a query names through the Glue catalog, not files by path (${message.split('\n')[0]})`,
        );
      const failure = athenaQueryError(error, { sql, translated, database: request.database });
      if (failure.message !== QUERY_EXHAUSTED_RESOURCES) throw failure;
      logger.warn({ error: message, queryMemoryBytes: deps.queryMemoryBytes }, 'query out of memory');
      throw new QueryFailedError(
        `${QUERY_EXHAUSTED_RESOURCES} (the local endpoint gives a query ${deps.queryMemoryBytes / 1024 ** 2} MB: --query-memory-mb)`,
        'SYSTEM',
      );
    } finally {
      stopInterrupting();
      conn.closeSync();
      instance.closeSync();
      for (const release of held) release();
      await rm(spill, { recursive: true, force: true });
    }
  };

  return {
    async run(request: QueryRequest, signal: AbortSignal, sink: ResultSink): Promise<QueryOutcome> {
      const statement = classifyStatement(request.sql);
      const tokens = substituteParameters(statement.tokens, request.parameters);
      if (statement.kind === 'utility') {
        const started = Date.now();
        let result: ReturnType<typeof runUtilityStatement>;
        try {
          result = runUtilityStatement(catalog, tokens, request.database);
        } catch (error) {
          if (error instanceof QueryRejectedError) throw error;
          throw new QueryFailedError((error as Error).message);
        }
        await sink.columns(result.columns, false);
        await sink.rows(result.rows);
        return {
          columns: result.columns,
          rowCount: result.rows.length,
          header: false,
          dataScannedBytes: 0,
          planningMs: 0,
          engineMs: Date.now() - started,
        };
      }
      if (statement.kind === 'view') {
        const started = Date.now();
        try {
          await runViewStatement(catalog, tokens, request.database, (sql, database) =>
            describeQuery(sql, database, signal),
          );
        } catch (error) {
          if (error instanceof ViewStatementError) throw new QueryFailedError(error.message);
          throw error;
        }
        await sink.columns([], false);
        return {
          columns: [],
          rowCount: 0,
          header: false,
          dataScannedBytes: 0,
          planningMs: 0,
          engineMs: Date.now() - started,
        };
      }
      if (statement.kind === 'explain')
        return runSelect(
          request,
          joinTokens(tokens.slice(statement.queryStart)),
          signal,
          sink,
          statement.analyze ? 'EXPLAIN ANALYZE' : 'EXPLAIN',
        );
      return runSelect(request, joinTokens(tokens), signal, sink);
    },
  };
}
