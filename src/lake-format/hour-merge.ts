/**
 * Merges lake objects into sorted parts of a target size with memory bounded whatever the hour's size: the
 * objects are downloaded to a temporary folder, DuckDB (one thread, a small memory limit, spilling to that folder)
 * sorts all their rows into one local Parquet file, each part is a range of its rows, and each part is uploaded
 * from its file a slice at a time. Measured: the process's peak RSS rises by 250-300 MB (a real hour of 534
 * objects; 400,000 synthetic changes), as much for 800,000, and falls back to within about 30 MB when the merge ends. Reading an hour into JavaScript rows instead cost the worker about
 * 1 KB of heap per change (an hour at 50 changes/s: +330 MB of RSS at every hourly compaction, the 2-hour soak).
 *
 * Parquet parts are written by DuckDB with the sink's schema (TIMESTAMP_MILLIS, snappy: formats/duckdb-encoder.ts);
 * JSON-lines parts by the format's own encoder, from chunks of the sorted table, so their bytes match the sink's.
 * Objects written before a column was added read it as NULL (schema evolution: lake-schema.ts).
 */
import { createWriteStream } from 'node:fs';
import { rm, stat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from '../support/duckdb-sql-literals';
import { createProcessTempDir } from '../support/process-temp-dirs';
import { mapWithConcurrency } from '../support/concurrency';
import { LakeFormatError } from './errors';
import { encodeJsonLines } from './formats/jsonl';
import type { LakeFormat } from './formats';
import type { LakeRow, LakeValue } from './lake-row';
import { CDC_LAKE_COLUMNS, type LakeColumnType } from './lake-schema';
import type { LakeStorage, StoredObject } from './storage';

const TEMP_PREFIX = 'orders-compaction-';
const DOWNLOAD_CONCURRENCY = 8;
/**
 * DuckDB's buffer pool: sorting spills to disk beyond it, so the worker's memory does not grow with the hour.
 * Measured: 800,000 synthetic changes sorted within 96 MB, but a real hour of a 2-hour soak (534 sink objects,
 * about 135,000 changes) failed there with DuckDB's out-of-memory error and needed 128 MB; the peak RSS rose by
 * about 245 MB at 128, 192 and 256 MB alike. Twice what that hour needed.
 */
const MEMORY_LIMIT = '256MB';
const ROW_GROUP_ROWS = 100_000;

const DUCKDB_TYPES: Record<LakeColumnType, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  // What both sink encoders write (TIMESTAMP_MILLIS): what Glue catalogs as `timestamp`.
  timestamp: 'TIMESTAMP_MS',
};

/** An object the merge cannot read: another try reads the same object, so it is not retried. */
export class HourMergeError extends LakeFormatError {
  override readonly name = 'HourMergeError';
  readonly retriable = false;
}

export interface MergeObjectsInput {
  storage: LakeStorage;
  /** The objects to merge (any format the lake holds, by extension). */
  inputs: StoredObject[];
  /** The format of the parts. */
  format: LakeFormat;
  targetBytes: number;
  /** Key prefix of the parts: `<to>part-00000.<ext>`, ... */
  to: string;
  /** Called after each object read and each part written (the activity heartbeats). */
  onProgress?: (detail: { read: string } | { wrote: string }) => void;
}

export interface MergedObjects {
  rows: number;
  parts: { name: string; bytes: number }[];
}

type InputKind = 'parquet' | 'json';

/** By the name's ending: a sink object's name holds the topic's dots (`orders.cdc+0+42.parquet`). */
function kindOf(key: string): { kind: InputKind; extension: string } | undefined {
  if (key.endsWith('.parquet')) return { kind: 'parquet', extension: 'parquet' };
  if (key.endsWith('.jsonl.gz')) return { kind: 'json', extension: 'jsonl.gz' };
  if (key.endsWith('.jsonl')) return { kind: 'json', extension: 'jsonl' };
  return undefined;
}

/** The lake columns from a source, cast to their types; a column the source does not have is NULL. */
function lakeSelect(present: Set<string>): string {
  return CDC_LAKE_COLUMNS.map((column) => {
    const type = DUCKDB_TYPES[column.type];
    const value = present.has(column.name) ? `CAST(${quoteIdent(column.name)} AS ${type})` : `NULL::${type}`;
    return `${value} AS ${quoteIdent(column.name)}`;
  }).join(', ');
}

const fileList = (files: string[]) => `[${files.map(quoteString).join(', ')}]`;

async function sourceQueries(connection: DuckDBConnection, parquet: string[], json: string[]) {
  const queries: string[] = [];
  if (parquet.length > 0) {
    const from = `read_parquet(${fileList(parquet)}, union_by_name = true)`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`);
    const present = new Set(described.getRows().map((row) => String(row[0])));
    queries.push(`SELECT ${lakeSelect(present)} FROM ${from}`);
  }
  if (json.length > 0) {
    // JSON lines carry every column by name (formats/jsonl.ts); a key an older object lacks reads as NULL.
    const columns = CDC_LAKE_COLUMNS.map(
      (c) =>
        `${quoteString(c.name)}: ${quoteString(c.type === 'timestamp' ? 'TIMESTAMP' : DUCKDB_TYPES[c.type])}`,
    ).join(', ');
    const from = `read_json(${fileList(json)}, format = 'newline_delimited', columns = {${columns}})`;
    queries.push(`SELECT ${lakeSelect(new Set(CDC_LAKE_COLUMNS.map((c) => c.name)))} FROM ${from}`);
  }
  return queries;
}

/** A JSON-lines part from a range of the sorted rows (`FROM ... WHERE ...`), a chunk at a time (gzip when the format is). */
async function writeJsonLinesPart(
  connection: DuckDBConnection,
  range: string,
  path: string,
  gzip: boolean,
): Promise<void> {
  const columns = CDC_LAKE_COLUMNS.map((c) =>
    c.type === 'timestamp' ? `epoch_ms(${quoteIdent(c.name)})` : quoteIdent(c.name),
  ).join(', ');
  const result = await connection.stream(`SELECT ${columns} ${range}`);
  async function* lines() {
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      const rows = chunk.getRows().map((values) => {
        const row: LakeRow = {};
        CDC_LAKE_COLUMNS.forEach((column, i) => {
          const value = values[i];
          let lakeValue: LakeValue = null;
          if (value !== null && value !== undefined) {
            if (column.type === 'timestamp') lakeValue = new Date(Number(value));
            else if (column.type === 'bigint') lakeValue = BigInt(value as bigint);
            else lakeValue = value as string | number;
          }
          row[column.name] = lakeValue;
        });
        return row;
      });
      yield Buffer.from(encodeJsonLines(rows), 'utf8');
    }
  }
  const output = createWriteStream(path);
  if (gzip) await pipeline(Readable.from(lines()), createGzip(), output);
  else await pipeline(Readable.from(lines()), output);
}

/**
 * @example
 *   const { rows, parts } = await mergeObjects({ storage, inputs, format, targetBytes, to: 'lake/...v=abc/' });
 */
export async function mergeObjects(input: MergeObjectsInput): Promise<MergedObjects> {
  const { storage, inputs, format, targetBytes, to, onProgress } = input;
  const dir = createProcessTempDir(TEMP_PREFIX);
  let instance: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  try {
    const parquet: string[] = [];
    const json: string[] = [];
    const local = inputs.map((object, i) => {
      const kind = kindOf(object.key);
      if (!kind) throw new HourMergeError(`cannot read ${object.key}: unknown format`);
      const path = join(dir, `in-${String(i).padStart(6, '0')}.${kind.extension}`);
      (kind.kind === 'parquet' ? parquet : json).push(path);
      return { object, path };
    });
    await mapWithConcurrency(local, DOWNLOAD_CONCURRENCY, async ({ object, path }) => {
      await storage.download(object.key, path);
      onProgress?.({ read: object.key });
    });

    await mkdir(join(dir, 'spill'));
    instance = await DuckDBInstance.create(':memory:', {
      threads: '1',
      memory_limit: MEMORY_LIMIT,
      temp_directory: join(dir, 'spill'),
      // Documented: without ORDER BY, results keep the order rows were read in (a part is a range of the sort).
      preserve_insertion_order: 'true',
      allocator_flush_threshold: '4MB',
    });
    connection = await instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`);
    const sources = await sourceQueries(connection, parquet, json);
    // Order id, then change time, then the stream's sequence number compared as a number: each order's changes
    // together, in order. One sorted file; parts are ranges of its rows.
    const sorted = join(dir, 'sorted.parquet');
    await connection.run(
      `COPY (SELECT * FROM (${sources.join(' UNION ALL ')}) ` +
        `ORDER BY order_id, change_time, length(sequence_number), sequence_number) ` +
        `TO ${quoteString(sorted)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
    );
    const counted = await connection.runAndReadAll(
      `SELECT count(*) FROM read_parquet(${quoteString(sorted)})`,
    );
    const rows = Number(counted.getRows()[0][0]);

    const inputBytes = inputs.reduce((n, o) => n + o.size, 0);
    const rowsPerPart = Math.max(1, Math.floor(targetBytes / Math.max(1, inputBytes / Math.max(1, rows))));
    const parts: MergedObjects['parts'] = [];
    const columns = CDC_LAKE_COLUMNS.map((c) => quoteIdent(c.name)).join(', ');
    for (let start = 0, index = 0; start < rows; start += rowsPerPart, index++) {
      const name = `part-${String(index).padStart(5, '0')}.${format.extension}`;
      let path = join(dir, name);
      const range =
        `FROM read_parquet(${quoteString(sorted)}, file_row_number = true) ` +
        `WHERE file_row_number >= ${start} AND file_row_number < ${start + rowsPerPart}`;
      if (format.name !== 'parquet')
        await writeJsonLinesPart(connection, range, path, format.extension.endsWith('.gz'));
      else if (rowsPerPart >= rows)
        path = sorted; // the whole hour is one part: the sorted file itself
      else
        await connection.run(
          `COPY (SELECT ${columns} ${range}) TO ${quoteString(path)} ` +
            `(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
        );
      await storage.putFile(`${to}${name}`, path, format.contentType);
      parts.push({ name, bytes: (await stat(path)).size });
      await rm(path);
      onProgress?.({ wrote: name });
    }
    return { rows, parts };
  } finally {
    connection?.closeSync();
    instance?.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}
