/**
 * The one mapping from a CdcEvent to a flat, typed lake row, shared by every format writer (Parquet and
 * JSON lines) so both formats always carry the same columns with the same values.
 *
 * Columns come from CDC_LAKE_COLUMNS (the single definition shared with the crawler tests and report SQL):
 * order columns from the new image (the old image for REMOVE), then `op`, `change_time`, `sequence_number`.
 */
import { CDC_LAKE_COLUMNS, type CdcEvent, type LakeColumn, type LakeColumnType } from '../../domain/lake-schema';
import { InvalidCdcRecordError } from './cdc-record';

/** In memory: bigint columns as bigint, timestamps as Date, so the Parquet writer gets INT64 and TIMESTAMP. */
export type LakeValue = string | number | bigint | Date | null;
export type LakeRow = Record<string, LakeValue>;

function invalid(column: LakeColumn, value: unknown, expected: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  throw new InvalidCdcRecordError('column-invalid', `${column.name} (${column.from ?? column.name}): expected ${expected}, got ${shown}`);
}

/** Converts one image value to its column type; null/undefined stay null (a column may be absent in an image). */
export function toColumnValue(column: LakeColumn, value: unknown): LakeValue {
  if (value === null || value === undefined) return null;
  const type: LakeColumnType = column.type;
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      return invalid(column, value, 'a string');
    case 'bigint':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === 'string' && /^-?\d{1,18}$/.test(value)) return BigInt(value);
      return invalid(column, value, 'an integer');
    case 'double': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n)) return n;
      return invalid(column, value, 'a finite number');
    }
    case 'timestamp': {
      const ms = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN;
      if (Number.isFinite(ms)) return new Date(ms);
      return invalid(column, value, 'an ISO-8601 timestamp');
    }
  }
}

/** Where each CDC metadata column comes from; a column added to CDC_COLUMNS without a source fails at load. */
const CDC_SOURCES: Record<string, (event: CdcEvent) => unknown> = {
  op: (event) => event.op,
  change_time: (event) => event.changeTime,
  sequence_number: (event) => event.sequenceNumber,
};
for (const column of CDC_LAKE_COLUMNS) {
  if (column.from === undefined && !CDC_SOURCES[column.name]) {
    throw new Error(`lake column ${column.name} has no source in the S3 sink's row mapping`);
  }
}

/**
 * @example
 *   const row = toLakeRow(event); // { order_id: 'o-1', version: 3n, change_time: Date, op: 'MODIFY', ... }
 */
export function toLakeRow(event: CdcEvent): LakeRow {
  const image = (event.op === 'REMOVE' ? event.oldImage : event.newImage) ?? {};
  const row: LakeRow = {};
  for (const column of CDC_LAKE_COLUMNS) {
    const raw = column.from !== undefined ? image[column.from] : CDC_SOURCES[column.name](event);
    row[column.name] = toColumnValue(column, raw);
  }
  return row;
}

/** The columns every format writes, in order. */
export const LAKE_COLUMN_NAMES: readonly string[] = CDC_LAKE_COLUMNS.map((c) => c.name);
