/**
 * Parquet with typed columns. The sink encodes natively with DuckDB (duckdb-encoder.ts); this file's JavaScript
 * writer (hyparquet-writer) is the fallback for an object DuckDB refuses, writes the backfill's snapshots
 * (snapshot-parquet.ts) and test fixtures. Both write: STRING (UTF8 byte arrays), INT64 for bigint, DOUBLE, and TIMESTAMP as INT64
 * TIMESTAMP_MILLIS. TIMESTAMP_MILLIS is what DuckDB's read_parquet reports as TIMESTAMP (checked by a test)
 * and what the Glue crawler catalogs as `timestamp` for Athena; the legacy INT96 encoding is not needed.
 * Snappy is the compression hyparquet-writer ships built in (and Athena's default for Parquet).
 */
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer, type BasicType, type ColumnSource } from 'hyparquet-writer';
import { CDC_LAKE_COLUMNS, type LakeColumn, type LakeColumnType } from '../lake-schema';
import { lakeRowOfLine } from '../change-line';
import type { LakeRow, LakeValue } from '../lake-row';
import { createDuckDbChangeEncoder, type DuckDbChangeEncoder } from './duckdb-encoder';
import type { LakeFormat } from './format';

const PARQUET_TYPES: Record<LakeColumnType, BasicType> = {
  string: 'STRING',
  bigint: 'INT64',
  double: 'DOUBLE',
  timestamp: 'TIMESTAMP',
};

/** One row group per object up to this many rows: our objects are small, so readers do one seek. */
const ROW_GROUP_ROWS = 100_000;

export interface ParquetEncodeOptions {
  /** The table's columns, in file order: the CDC table's by default, ORDER_COLUMNS for a backfill snapshot. */
  columns?: readonly LakeColumn[];
  /** The writer named in the file's metadata. */
  createdBy?: string;
  /** Min/max statistics on string columns too (snapshots keep them: their readers prune on order ids). */
  stringStatistics?: boolean;
}

export function encodeParquet(
  rows: LakeRow[],
  {
    columns = CDC_LAKE_COLUMNS,
    createdBy = 'orders-pipeline s3-sink',
    stringStatistics = false,
  }: ParquetEncodeOptions = {},
): Buffer {
  const columnData: ColumnSource[] = columns.map((column) => {
    const data = new Array<LakeValue>(rows.length);
    for (let i = 0; i < rows.length; i++) data[i] = rows[i][column.name] ?? null;
    // Min/max statistics let Athena skip row groups on numbers and times; on strings (ids, enums) they buy
    // little pruning and cost the most to compute, so they are left out there.
    return {
      name: column.name,
      data,
      type: PARQUET_TYPES[column.type],
      nullable: true,
      statistics: stringStatistics || column.type !== 'string',
    };
  });
  const buffer = parquetWriteBuffer({
    columnData,
    codec: 'SNAPPY',
    rowGroupSize: ROW_GROUP_ROWS,
    createdBy,
  });
  return Buffer.from(buffer);
}

export async function decodeParquet(body: Uint8Array): Promise<LakeRow[]> {
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as LakeRow[];
}

export interface ParquetFormatOptions {
  /** DuckDB refused an object and the JavaScript writer encoded it instead. */
  onFallback?: (error: Error, rows: number) => void;
}

export function createParquetFormat(options: ParquetFormatOptions = {}): LakeFormat {
  // Created on the first object: the lake reader and the tests use this format without ever encoding changes.
  let native: DuckDbChangeEncoder | undefined;
  let closed = false;
  return {
    name: 'parquet',
    extension: 'parquet',
    contentType: 'application/vnd.apache.parquet',
    encode: (rows) => encodeParquet(rows),
    async encodeChanges(lines) {
      // Nothing to read (an anchor emptied by de-duplication), or closed: the JavaScript writer, no DuckDB.
      if (lines.length === 0 || closed) return encodeParquet(lines.map(lakeRowOfLine));
      native ??= createDuckDbChangeEncoder();
      try {
        return await native.encodeParquet(lines);
      } catch (error) {
        options.onFallback?.(error as Error, lines.length);
        return encodeParquet(lines.map(lakeRowOfLine));
      }
    },
    decode: decodeParquet,
    close() {
      closed = true;
      native?.close();
    },
  };
}
