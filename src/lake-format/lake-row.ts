/**
 * The one mapping from a CdcEvent to a flat, typed lake row, shared by every format writer (Parquet and
 * JSON lines) so both formats always carry the same columns with the same values.
 *
 * Columns come from CDC_LAKE_COLUMNS (the single definition shared with the crawler tests and report SQL):
 * order columns from the new image (the old image for REMOVE), then `op`, `change_time`, `sequence_number`.
 */
import {
  CDC_LAKE_COLUMNS,
  imageValue,
  type CdcEvent,
  type LakeColumn,
  type LakeColumnType,
} from './lake-schema';
import { InvalidCdcRecordError } from './cdc-record';

/** In memory: bigint columns as bigint, timestamps as Date, so the Parquet writer gets INT64 and TIMESTAMP. */
export type LakeValue = string | number | bigint | Date | null;
export type LakeRow = Record<string, LakeValue>;

const MAX_DATE_MS = 8.64e15;

function invalid(column: LakeColumn, value: unknown, expected: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  throw new InvalidCdcRecordError(
    'column-invalid',
    `${column.name} (${[column.from ?? column.name, column.field].filter(Boolean).join('.')}): expected ${expected}, got ${shown}`,
  );
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
      const ms =
        typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN;
      // Within the range a Date can hold (±8.64e15 ms): beyond it new Date() is an Invalid Date.
      if (Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS) return new Date(ms);
      return invalid(column, value, 'an ISO-8601 timestamp');
    }
  }
}

for (const column of CDC_LAKE_COLUMNS) {
  if (column.from === undefined && column.fromChange === undefined) {
    throw new Error(`lake column ${column.name} has no source in the S3 sink's row mapping`);
  }
}

/** The image a change's order columns come from: the new image, or the old one for a REMOVE. */
function changeImage(event: CdcEvent): Record<string, unknown> {
  return (event.op === 'REMOVE' ? event.oldImage : event.newImage) ?? {};
}

const rawValue = (column: LakeColumn, event: CdcEvent, image: Record<string, unknown>): unknown =>
  column.from !== undefined ? imageValue(column, image) : event[column.fromChange!];

/**
 * @example
 *   const row = toLakeRow(event); // { order_id: 'o-1', version: 3n, change_time: Date, op: 'MODIFY', ... }
 */
export function toLakeRow(event: CdcEvent): LakeRow {
  const image = changeImage(event);
  const row: LakeRow = {};
  for (const column of CDC_LAKE_COLUMNS)
    row[column.name] = toColumnValue(column, rawValue(column, event, image));
  return row;
}

/**
 * A timestamp both JavaScript's Date.parse and DuckDB's TIMESTAMPTZ cast read to the same instant: ISO-8601 with
 * an explicit offset and at most millisecond precision (Date.parse drops finer digits, DuckDB keeps them).
 */
const PLAIN_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;

/** Whether a value already has its column's JSON type, so a typed JSON reader gets exactly toColumnValue's value. */
const IS_PLAIN: Record<LakeColumnType, (value: unknown) => boolean> = {
  string: (value) => typeof value === 'string',
  bigint: (value) => typeof value === 'number' && Number.isSafeInteger(value),
  double: (value) => typeof value === 'number' && Number.isFinite(value),
  timestamp: (value) =>
    typeof value === 'string' && PLAIN_TIMESTAMP.test(value) && Number.isFinite(Date.parse(value)),
};

/** One column's check on the hot path: whether its value is plain (or absent); throws like toLakeRow when invalid. */
type ColumnCheck = (event: CdcEvent, image: Record<string, unknown>) => boolean;

/**
 * The column's check, specialised once from its definition in CDC_LAKE_COLUMNS (the one schema): a direct read
 * of its source and its type's test, instead of interpreting the column's definition for every record.
 */
function compileColumnCheck(column: LakeColumn): ColumnCheck {
  const isPlain = IS_PLAIN[column.type];
  const verdict = (value: unknown): boolean => {
    if (value === null || value === undefined || isPlain(value)) return true;
    toColumnValue(column, value); // throws InvalidCdcRecordError when the value is invalid, not just converted
    return false;
  };
  const { from, field, fromChange } = column;
  if (from === undefined) return (event) => verdict(event[fromChange!]);
  if (field === undefined) return (_event, image) => verdict(image[from]);
  return (_event, image) => verdict(imageValue(column, image));
}

const COLUMN_CHECKS: readonly ColumnCheck[] = CDC_LAKE_COLUMNS.map(compileColumnCheck);

/**
 * Validates every lake column of a change exactly as toLakeRow does (same errors), without building the row:
 * the sink's hot path. Returns whether every value is plain (see IS_PLAIN): then the change's own JSON can
 * be handed to the encoder as it is; otherwise it needs the normalized line (change-line.ts).
 */
export function checkLakeColumns(event: CdcEvent): boolean {
  const image = changeImage(event);
  let plain = true;
  for (const check of COLUMN_CHECKS) if (!check(event, image)) plain = false;
  return plain;
}
