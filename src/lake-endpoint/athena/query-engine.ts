/**
 * Runs one Athena query on DuckDB.
 *
 * A SELECT gets a fresh in-memory DuckDB: the tables it names (found by DuckDB's own parser) resolve through
 * the Glue catalog; their partitions are pruned with the query's partition-key predicates, the remaining
 * partitions' objects listed in S3 and fetched into the ETag-keyed cache, and each table becomes a view over
 * its files. Then the engine is locked down (no file access outside the cache, no configuration changes),
 * the statement is prepared and must be a SELECT, and runs. `DataScannedInBytes` is the size of the objects
 * the views read. SHOW/DESCRIBE are answered from the catalog.
 */
import { DuckDBInstance, StatementType } from '@duckdb/node-api';
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
import { keepPartition, parseTrino, planPartitionPruning, pruningKey } from './partition-pruning';
import { type Cell, type ColumnInfo, columnInfo, formatValue } from './result-format';
import { classifyStatement, QueryRejectedError } from './sql-guard';
import { joinTokens, type Token } from './sql-tokens';
import { translateTrinoToDuckDb } from './sql-translate';
import { createTableView, type TableFile, tableFormat, UnsupportedTableError } from './table-views';
import { runUtilityStatement } from './utility-statements';

export interface QueryRequest {
  sql: string;
  /** QueryExecutionContext.Database (Athena's default: `default`). */
  database: string;
  /** ExecutionParameters, substituted for `?` in order. */
  parameters?: string[];
}

export interface QueryOutcome {
  columns: ColumnInfo[];
  rows: Cell[][];
  /** SELECT results start with a header row (GetQueryResults, CSV); SHOW/DESCRIBE ones do not. */
  header: boolean;
  dataScannedBytes: number;
  planningMs: number;
  engineMs: number;
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

/** Trino's names of unaliased result columns: a column keeps its name, any other expression is `_col<i>`. */
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
      names.push(alias.toLowerCase());
      continue;
    }
    if (expr.type === 'column_ref') {
      const name = columnRefName(expr);
      if (name === undefined || name === '*') return undefined;
      names.push(name.toLowerCase());
      continue;
    }
    names.push(`_col${i}`);
  }
  return names;
}

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
}) {
  const { catalog, s3, cache, logger } = deps;

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

  const runSelect = async (
    request: QueryRequest,
    sql: string,
    signal: AbortSignal,
  ): Promise<QueryOutcome> => {
    const started = Date.now();
    const translated = translateTrinoToDuckDb(sql);
    const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    const conn = await instance.connect();
    const interrupt = () => conn.interrupt();
    signal.addEventListener('abort', interrupt);
    try {
      let names: readonly string[];
      try {
        names = conn.getTableNames(translated, true);
      } catch (error) {
        throw new QueryFailedError((error as Error).message);
      }
      const tables = new Map<string, TableRecord>();
      for (const qualified of names) {
        const [database, name] = splitTableName(qualified);
        const table = catalog.findTable(database ?? request.database, name);
        if (table) tables.set(pruningKey(table.DatabaseName, table.Name), table);
      }

      const parsed = parseTrino(sql);
      const plan = planPartitionPruning(
        sql,
        request.database,
        (database, name) => {
          const table = catalog.findTable(database, name);
          return (
            table && { database: table.DatabaseName, name: table.Name, partitionKeys: table.PartitionKeys }
          );
        },
        parsed,
      );

      let dataScannedBytes = 0;
      for (const [key, table] of tables) {
        const format = tableFormat(table);
        const t0 = Date.now();
        const { objects, values } = await filesOf(
          table,
          (v) => keepPartition(plan, key, partitionValueMap(table.PartitionKeys, v)),
          signal,
        );
        const t1 = Date.now();
        const paths = await cache.fetch(objects, format, signal);
        const t2 = Date.now();
        const bytes = objects.reduce((n, o) => n + o.size, 0);
        dataScannedBytes += bytes;
        const files: TableFile[] = paths.map((path, i) => ({ path, values: values[i] }));
        await createTableView(conn, table, files, (path) => cache.parquetSchemaOf(path));
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
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(request.database)}`);
      await conn.run(`SET schema = ${quoteString(request.database)}`);
      await conn.run(`SET TimeZone = 'UTC'`);
      // Trino divides integers as integers (7/2 = 3).
      await conn.run('SET integer_division = true');
      await conn.run(`SET allowed_directories = [${quoteString(cache.dir)}]`);
      await conn.run('SET enable_external_access = false');
      await conn.run('SET lock_configuration = true');
      const planned = Date.now();

      const prepared = await conn.prepare(translated);
      if (prepared.statementType !== StatementType.SELECT) {
        throw new QueryRejectedError('Only SELECT queries are accepted by the local Athena endpoint');
      }
      const reader = await prepared.runAndReadAll();
      const ran = Date.now();
      const types = reader.columnTypes();
      const duckNames = reader.columnNames();
      const resultNames = trinoColumnNames(parsed, duckNames.length) ?? duckNames;
      const columns = resultNames.map((name, i) => columnInfo(name, types[i]));
      const rows = reader.getRows().map((row) => row.map((value, i) => formatValue(value, types[i])));
      logger.debug(
        {
          tables: tables.size,
          planningMs: planned - started,
          runMs: ran - planned,
          formatMs: Date.now() - ran,
          rows: rows.length,
        },
        'query executed',
      );
      return {
        columns,
        rows,
        header: true,
        dataScannedBytes,
        planningMs: planned - started,
        engineMs: Date.now() - planned,
      };
    } catch (error) {
      if (signal.aborted) throw error;
      if (error instanceof QueryFailedError || error instanceof QueryRejectedError) throw error;
      if (error instanceof UnsupportedTableError) throw new QueryFailedError(error.message);
      // DuckDB's own message (Parser Error, Binder Error, Catalog Error, Conversion Error, …).
      throw new QueryFailedError((error as Error).message);
    } finally {
      signal.removeEventListener('abort', interrupt);
      conn.closeSync();
      instance.closeSync();
    }
  };

  return {
    async run(request: QueryRequest, signal: AbortSignal): Promise<QueryOutcome> {
      const statement = classifyStatement(request.sql);
      const tokens = substituteParameters(statement.tokens, request.parameters);
      if (statement.kind === 'utility') {
        const started = Date.now();
        try {
          const result = runUtilityStatement(catalog, tokens, request.database);
          return {
            ...result,
            header: false,
            dataScannedBytes: 0,
            planningMs: 0,
            engineMs: Date.now() - started,
          };
        } catch (error) {
          if (error instanceof QueryRejectedError) throw error;
          throw new QueryFailedError((error as Error).message);
        }
      }
      return runSelect(request, joinTokens(tokens), signal);
    },
  };
}
