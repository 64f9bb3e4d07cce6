/**
 * JSON lines, one row per line, columns in CDC_LAKE_COLUMNS order (deterministic bytes for replays).
 * bigint columns are written as exact JSON numbers; timestamps as `YYYY-MM-DD HH:MM:SS.sss` in UTC, the Hive
 * timestamp format that Glue's JSON classifier and the OpenX SerDe read as `timestamp` (an ISO string with
 * `T`/`Z` would be cataloged as a plain string). Optional gzip (`.jsonl.gz`), which Athena reads natively.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { CDC_LAKE_COLUMNS } from '../lake-schema';
import { lakeRowOfLine } from '../change-line';
import type { LakeRow, LakeValue } from '../lake-row';
import type { LakeFormat } from './format';

function hiveTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

function jsonValue(value: LakeValue): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return JSON.stringify(hiveTimestamp(value));
  return JSON.stringify(value);
}

const KEYS = CDC_LAKE_COLUMNS.map((column) => JSON.stringify(column.name));

export function encodeJsonLines(rows: LakeRow[]): string {
  const lines = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const fields = CDC_LAKE_COLUMNS.map((column, i) => `${KEYS[i]}:${jsonValue(row[column.name] ?? null)}`);
    lines[r] = `{${fields.join(',')}}\n`;
  }
  return lines.join('');
}

export function decodeJsonLines(text: string): LakeRow[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const row: LakeRow = {};
      for (const column of CDC_LAKE_COLUMNS) {
        const value = parsed[column.name];
        if (value === null || value === undefined) row[column.name] = null;
        else if (column.type === 'bigint') row[column.name] = BigInt(value as number);
        else if (column.type === 'timestamp')
          row[column.name] = new Date(`${String(value).replace(' ', 'T')}Z`);
        else row[column.name] = value as string | number;
      }
      return row;
    });
}

export function createJsonLinesFormat(options: { gzip: boolean }): LakeFormat {
  const encode = (rows: LakeRow[]) => {
    const text = Buffer.from(encodeJsonLines(rows), 'utf8');
    return options.gzip ? gzipSync(text) : text;
  };
  return {
    name: 'jsonl',
    extension: options.gzip ? 'jsonl.gz' : 'jsonl',
    contentType: options.gzip ? 'application/gzip' : 'application/x-ndjson',
    encode,
    // The optional format: encoded in JavaScript from the rows (Parquet, the default, is encoded natively).
    encodeChanges: async (lines) => encode(lines.map(lakeRowOfLine)),
    close: () => undefined,
    decode: async (body) => {
      const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      return decodeJsonLines((options.gzip ? gunzipSync(bytes) : bytes).toString('utf8'));
    },
  };
}
