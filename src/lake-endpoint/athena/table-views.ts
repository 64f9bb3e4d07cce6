/**
 * A Glue table as a DuckDB view over its (cached, pruned) files: the catalog's columns cast to the
 * catalog's types (a column missing from every file reads as NULL, as in Athena), plus the partition
 * columns from each file's partition values.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../../support/duckdb-sql-literals';
import { glueTypeStringToDuckDb } from '../glue/glue-types';
import type { TableRecord } from '../lake-state';
import type { ParquetFileSchema } from './object-cache';

export interface TableFile {
  path: string;
  /** Partition values of the file's partition (empty for an unpartitioned table). */
  values: string[];
}

export class UnsupportedTableError extends Error {
  override readonly name = 'UnsupportedTableError';
}

const FILE_COLUMN = '__lake_file';

export type TableFormat = 'parquet' | 'json' | 'csv';

/** Parquet, JSON or CSV, from the table's classification / SerDe / input format. */
export function tableFormat(table: TableRecord): TableFormat {
  const sd = table.StorageDescriptor;
  const hints = [table.Parameters.classification, sd?.SerdeInfo?.SerializationLibrary, sd?.InputFormat]
    .join(' ')
    .toLowerCase();
  if (hints.includes('parquet')) return 'parquet';
  if (hints.includes('json')) return 'json';
  if (hints.includes('csv') || hints.includes('lazysimpleserde')) return 'csv';
  throw new UnsupportedTableError(
    `Table ${table.DatabaseName}.${table.Name} has a format the local Athena endpoint cannot read (classification "${table.Parameters.classification ?? ''}"): only Parquet, JSON and CSV tables are supported`,
  );
}

/**
 * Creates `"<db>"."<table>"` in the connection.
 *
 * @example await createTableView(conn, table, [{ path: '/cache/ab/…parquet', values: ['2024-01-01', '03'] }]);
 */
export async function createTableView(
  conn: DuckDBConnection,
  table: TableRecord,
  files: TableFile[],
  parquetSchemaOf: (path: string) => Promise<ParquetFileSchema>,
): Promise<void> {
  const format = tableFormat(table);
  const columns = (table.StorageDescriptor?.Columns ?? []).map((c) => ({
    name: c.Name.toLowerCase(),
    type: glueTypeStringToDuckDb(c.Type),
  }));
  const keys = table.PartitionKeys.map((k) => ({
    name: k.Name.toLowerCase(),
    type: glueTypeStringToDuckDb(k.Type),
  }));
  const view = `${quoteIdent(table.DatabaseName)}.${quoteIdent(table.Name)}`;
  await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.DatabaseName)}`);

  if (files.length === 0) {
    const empty = [...columns, ...keys]
      .map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`)
      .join(', ');
    await conn.run(`CREATE VIEW ${view} AS SELECT ${empty || '1 AS "_empty"'} WHERE false`);
    return;
  }

  const fileList = `[${files.map((f) => quoteString(f.path)).join(', ')}]`;
  let source: string;
  let select: string[];
  if (format === 'parquet') {
    // Files of one schema are read as they are; a mix (schema evolution) by name, at some bind-time cost.
    const fileSchemas = await Promise.all(files.map((f) => parquetSchemaOf(f.path)));
    const present = new Set(fileSchemas.flatMap((fs) => fs.columns));
    const uniform = new Set(fileSchemas.map((fs) => fs.signature)).size === 1;
    source = `read_parquet(${fileList}, union_by_name = ${uniform ? 'false' : 'true'}, filename = ${quoteString(FILE_COLUMN)})`;
    select = columns.map((c) =>
      present.has(c.name)
        ? `CAST(d.${quoteIdent(c.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`
        : `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`,
    );
  } else if (format === 'csv') {
    source = csvSource(table, columns, fileList);
    // A field that does not parse as the column's type reads as NULL, as the text SerDes read it.
    select = columns.map((c) => `TRY_CAST(d.${quoteIdent(c.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`);
  } else {
    // JSON keys are matched as written in the data: the SerDe's `paths` keep their original spelling.
    const paths = (table.StorageDescriptor?.SerdeInfo?.Parameters?.paths ?? '').split(',').filter(Boolean);
    const sourceName = new Map(paths.map((p) => [p.toLowerCase(), p]));
    const struct = columns
      .map((c) => `${quoteString(sourceName.get(c.name) ?? c.name)}: ${quoteString(c.type)}`)
      .join(', ');
    source = `read_json(${fileList}, format = 'auto', columns = {${struct || `'_empty': 'VARCHAR'`}}, filename = ${quoteString(FILE_COLUMN)})`;
    select = columns.map((c) => `d.${quoteIdent(sourceName.get(c.name) ?? c.name)} AS ${quoteIdent(c.name)}`);
  }

  if (keys.length === 0) {
    await conn.run(
      `CREATE VIEW ${view} AS SELECT ${select.join(', ') || 'NULL AS "_empty"'} FROM ${source} d`,
    );
    return;
  }
  const values = files.map((f) => `(${[f.path, ...f.values].map(quoteString).join(', ')})`).join(',\n');
  const partitionColumns = keys.map(
    (k) => `CAST(p.${quoteIdent(k.name)} AS ${k.type}) AS ${quoteIdent(k.name)}`,
  );
  const aliases = [FILE_COLUMN, ...keys.map((k) => k.name)].map(quoteIdent).join(', ');
  await conn.run(
    `CREATE VIEW ${view} AS SELECT ${[...select, ...partitionColumns].join(', ')} FROM ${source} d ` +
      `JOIN (VALUES ${values}) AS p(${aliases}) ON d.${quoteIdent(FILE_COLUMN)} = p.${quoteIdent(FILE_COLUMN)}`,
  );
}

/**
 * `read_csv` as the table's SerDe reads its files: LazySimpleSerDe's `field.delim` or OpenCSVSerde's
 * `separatorChar`/`quoteChar`, `skip.header.line.count` lines skipped in every file, columns by position,
 * `\N` as NULL (Hive's null format; an empty field is an empty string).
 */
function csvSource(table: TableRecord, columns: { name: string }[], fileList: string): string {
  const serde = table.StorageDescriptor?.SerdeInfo?.Parameters ?? {};
  const delimiter = serde['field.delim'] ?? serde.separatorChar ?? table.Parameters.delimiter ?? ',';
  const quote = serde.quoteChar ?? '"';
  const skip = Number.parseInt(table.Parameters['skip.header.line.count'] ?? '0', 10) || 0;
  const struct = columns.map((c) => `${quoteString(c.name)}: 'VARCHAR'`).join(', ');
  return (
    `read_csv(${fileList}, delim = ${quoteString(delimiter)}, quote = ${quoteString(quote)}, ` +
    `escape = ${quoteString(quote)}, header = false, skip = ${skip}, nullstr = ${quoteString('\\N')}, ` +
    `auto_detect = false, null_padding = true, columns = {${struct || `'_empty': 'VARCHAR'`}}, ` +
    `filename = ${quoteString(FILE_COLUMN)})`
  );
}
