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
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { CDC_LAKE_COLUMNS, ORDER_COLUMNS, type LakeColumnType } from '../../../domain/lake-schema';

const READ_TYPES: Record<LakeColumnType, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  // TIMESTAMPTZ honours the offset of the ISO string, as Date.parse does (a plain TIMESTAMP would drop it).
  timestamp: 'TIMESTAMPTZ',
};

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const sqlString = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The JSON reader's schema: the change fields the lake columns come from, typed. */
function readColumns(): string {
  const image = `STRUCT(${ORDER_COLUMNS.map((c) => `${quoteIdent(c.from!)} ${READ_TYPES[c.type]}`).join(', ')})`;
  const fields: [string, string][] = [
    ...CDC_LAKE_COLUMNS.filter((c) => c.fromChange !== undefined).map((c): [string, string] => [c.fromChange!, READ_TYPES[c.type]]),
    ['newImage', image],
    ['oldImage', image],
  ];
  return `{${fields.map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`).join(', ')}}`;
}

/** The lake columns in order, each from its source; order columns from the image the change uses. */
function selectList(): string {
  return CDC_LAKE_COLUMNS.map((column) => {
    const source =
      column.from !== undefined
        ? `CASE WHEN op = 'REMOVE' THEN oldImage.${quoteIdent(column.from)} ELSE newImage.${quoteIdent(column.from)} END`
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

export interface DuckDbChangeEncoderOptions {
  /** Objects encoded at once (one DuckDB connection each). */
  concurrency?: number;
  /** DuckDB worker threads; one is enough for objects of a few thousand rows and leaves the consumer a core. */
  threads?: number;
}

function joinLines(lines: Buffer[]): Buffer {
  let total = 0;
  for (const line of lines) total += line.length + 1;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const line of lines) {
    at += line.copy(out, at);
    out[at++] = 0x0a;
  }
  return out;
}

/**
 * @example
 *   const encoder = createDuckDbChangeEncoder();
 *   const body = await encoder.encodeParquet(lines);
 *   encoder.close();
 */
export function createDuckDbChangeEncoder(options: DuckDbChangeEncoderOptions = {}): DuckDbChangeEncoder {
  const concurrency = options.concurrency ?? 2;
  const columns = readColumns();
  const select = selectList();
  let dir: string | undefined;
  let connections: Promise<DuckDBConnection[]> | undefined;
  const idle: DuckDBConnection[] = [];
  const waiting: ((connection: DuckDBConnection) => void)[] = [];
  let sequence = 0;
  let closed = false;

  const open = () => {
    connections ??= (async () => {
      dir = mkdtempSync(join(tmpdir(), 'orders-s3-sink-'));
      const instance = await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 1) });
      const opened: DuckDBConnection[] = [];
      for (let i = 0; i < concurrency; i++) {
        const connection = await instance.connect();
        await connection.run(`SET TimeZone = 'UTC'`);
        opened.push(connection);
      }
      idle.push(...opened);
      return opened;
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
      const name = join(dir!, `${process.pid}-${sequence++}`);
      const input = `${name}.ndjson`;
      const output = `${name}.parquet`;
      try {
        await writeFile(input, joinLines(lines));
        await connection.run(
          `COPY (SELECT ${select} FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = ${columns})) ` +
            `TO ${sqlString(output)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 100000)`,
        );
        return await readFile(output);
      } finally {
        release(connection);
        await Promise.all([unlink(input).catch(() => undefined), unlink(output).catch(() => undefined)]);
      }
    },
    close() {
      closed = true;
      void connections?.then((opened) => {
        for (const connection of opened) connection.closeSync();
      });
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
