/**
 * Parquet from change lines (change-line.ts) with DuckDB: its JSON reader and Parquet writer are native and run
 * on DuckDB's own threads, so encoding an object costs the consumer's thread almost nothing. In JavaScript the
 * same work (hyparquet-writer, after building typed rows) cost more CPU per record than consuming the record.
 *
 * The lines are written to a temporary file, DuckDB reads them with an explicit typed schema (the lake columns'
 * sources, from CDC_LAKE_COLUMNS) and COPYs the lake columns to a Parquet file, which is read back and removed.
 * Timestamps are written as TIMESTAMP_MILLIS like the JavaScript writer, so both encoders produce the same schema.
 *
 * A line DuckDB refuses (duplicate keys, invalid UTF-8, an odd value in an image the change does not use) fails
 * the whole object: the caller falls back to the JavaScript encoder for that object (formats/parquet.ts).
 */
import { closeSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { CDC_LAKE_COLUMNS, imageAttributes, ORDER_COLUMNS, type LakeColumnType } from '../lake-schema';
import { quoteIdent, quoteString } from '../../support/duckdb-sql-literals';
import { createProcessTempDir } from '../../support/process-temp-dirs';

const READ_TYPES: Record<LakeColumnType, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  // TIMESTAMPTZ honours the offset of the ISO string, as Date.parse does (a plain TIMESTAMP would drop it).
  timestamp: 'TIMESTAMPTZ',
};

/**
 * The longest line the reader takes (its read buffer is sized from it). A change holds at most two DynamoDB items
 * of 400 KB; a longer line fails the object, which then goes through the JavaScript writer.
 */
const MAX_LINE_BYTES = 4 * 1024 * 1024;
const NEWLINE = Buffer.from('\n');

/** The JSON reader's schema: the change fields the lake columns come from, typed (a map attribute as a STRUCT). */
function readColumns(): string {
  const typeOf = (attribute: string, field?: string) =>
    READ_TYPES[ORDER_COLUMNS.find((c) => c.from === attribute && c.field === field)!.type];
  const attributes = [...imageAttributes(ORDER_COLUMNS)].map(([attribute, fields]) => {
    const type =
      fields.length === 0
        ? typeOf(attribute)
        : `STRUCT(${fields.map((field) => `${quoteIdent(field)} ${typeOf(attribute, field)}`).join(', ')})`;
    return `${quoteIdent(attribute)} ${type}`;
  });
  const image = `STRUCT(${attributes.join(', ')})`;
  const fields: [string, string][] = [
    ...CDC_LAKE_COLUMNS.filter((c) => c.fromChange !== undefined).map((c): [string, string] => [
      c.fromChange!,
      READ_TYPES[c.type],
    ]),
    ['newImage', image],
    ['oldImage', image],
  ];
  return `{${fields.map(([name, type]) => `${quoteString(name)}: ${quoteString(type)}`).join(', ')}}`;
}

/** The lake columns in order, each from its source; order columns from the image the change uses. */
function selectList(): string {
  return CDC_LAKE_COLUMNS.map((column) => {
    const path = [column.from, column.field]
      .filter((part) => part !== undefined)
      .map(quoteIdent)
      .join('.');
    const source =
      column.from !== undefined
        ? `CASE WHEN op = 'REMOVE' THEN oldImage.${path} ELSE newImage.${path} END`
        : quoteIdent(column.fromChange!);
    // In UTC (the session's time zone), at the millisecond precision of the JavaScript writer.
    const value = column.type === 'timestamp' ? `(${source})::TIMESTAMP::TIMESTAMP_MS` : source;
    return `${value} AS ${quoteIdent(column.name)}`;
  }).join(', ');
}

export interface DuckDbChangeEncoder {
  /** One Parquet object (snappy) holding the lake rows of these lines, in order. */
  encodeParquet(lines: Buffer[]): Promise<Buffer>;
  close(): void;
}

/** Objects encoded at once (one DuckDB connection each). */
const CONCURRENCY = 2;
/** DuckDB worker threads: one is enough for objects of a few thousand rows and leaves the consumer a core. */
const THREADS = 1;

/** Bytes gathered per write: the lines go to the file a slice at a time, never as one copy of the whole object. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

function writeLines(path: string, lines: Buffer[]) {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    let used = 0;
    const flush = () => {
      if (used > 0) writeSync(fd, chunk, 0, used);
      used = 0;
    };
    for (const line of lines) {
      if (line.length + 1 > WRITE_CHUNK_BYTES) {
        flush();
        writeSync(fd, line);
        writeSync(fd, NEWLINE);
        continue;
      }
      if (used + line.length + 1 > WRITE_CHUNK_BYTES) flush();
      used += line.copy(chunk, used);
      chunk[used++] = 0x0a;
    }
    flush();
  } finally {
    closeSync(fd);
  }
}

const TEMP_PREFIX = 'orders-s3-sink-';

/**
 * @example
 *   const encoder = createDuckDbChangeEncoder();
 *   const body = await encoder.encodeParquet(lines);
 *   encoder.close();
 */
export function createDuckDbChangeEncoder(): DuckDbChangeEncoder {
  const columns = readColumns();
  const select = selectList();
  let dir: string | undefined;
  let connections: Promise<{ instance: DuckDBInstance; opened: DuckDBConnection[] }> | undefined;
  let ready: { instance: DuckDBInstance; opened: DuckDBConnection[] } | undefined;
  const idle: DuckDBConnection[] = [];
  const waiting: ((connection: DuckDBConnection) => void)[] = [];
  let sequence = 0;
  let closed = false;

  const open = () => {
    connections ??= (async () => {
      dir = createProcessTempDir(TEMP_PREFIX);
      const instance = await DuckDBInstance.create(':memory:', {
        threads: String(THREADS),
        // Give freed memory back soon: the sink encodes small objects all day, and its RSS is what is budgeted.
        allocator_flush_threshold: '4MB',
      });
      const opened: DuckDBConnection[] = [];
      for (let i = 0; i < CONCURRENCY; i++) {
        const connection = await instance.connect();
        await connection.run(`SET TimeZone = 'UTC'`);
        opened.push(connection);
      }
      idle.push(...opened);
      ready = { instance, opened };
      return ready;
    })();
    return connections;
  };

  const acquire = async (): Promise<DuckDBConnection> => {
    await open();
    const connection = idle.pop();
    if (connection) return connection;
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (connection: DuckDBConnection) => {
    const next = waiting.shift();
    if (next) next(connection);
    else idle.push(connection);
  };

  return {
    async encodeParquet(lines) {
      if (closed) throw new Error('the DuckDB encoder is closed');
      const connection = await acquire();
      const name = join(dir!, String(sequence++)); // the folder already names the process
      const input = `${name}.ndjson`;
      const output = `${name}.parquet`;
      try {
        // Synchronous on purpose: a write of a few MB into the page cache takes about a millisecond, while the
        // asynchronous calls each wait for a turn of the busy consumer's event loop (measured: hundreds of ms).
        writeLines(input, lines);
        await connection.run(
          `COPY (SELECT ${select} FROM read_json(${quoteString(input)}, format = 'newline_delimited', maximum_object_size = ${MAX_LINE_BYTES}, columns = ${columns})) ` +
            `TO ${quoteString(output)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000)`,
        );
        return readFileSync(output);
      } finally {
        release(connection);
        for (const file of [input, output]) {
          try {
            unlinkSync(file);
          } catch {
            // not created (the COPY failed before writing it)
          }
        }
      }
    },
    close() {
      closed = true;
      const shut = ({ instance, opened }: { instance: DuckDBInstance; opened: DuckDBConnection[] }) => {
        for (const connection of opened) connection.closeSync();
        instance.closeSync();
      };
      if (ready) shut(ready);
      else connections?.then(shut).catch(() => undefined); // still opening (or it failed to: nothing to close)
      // Synchronously: a stopping process may exit right after.
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
