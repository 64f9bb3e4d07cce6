/**
 * One comparable form of an order for the reconciliation of DynamoDB with the lake: the order columns of the
 * lake schema (ORDER_COLUMNS, each read from the item attribute, or the field of a map attribute, it names), every value as canonical text
 * or null. Both sides go through the same conversion the S3 sink uses (toColumnValue), so a column the lake
 * gains is compared without edits here, and `12.5` / `1.25E1`, `2024-05-01T10:00:00Z` /
 * `2024-05-01 10:00:00.000` and a missing attribute / SQL NULL compare equal.
 */
import { imageValue, ORDER_COLUMNS, type LakeColumn } from './lake-schema';
import { toColumnValue } from './lake-row';
import { InvalidCdcRecordError } from './cdc-record';

/** Column name → canonical text (null: absent / NULL). */
export type ComparableRow = Record<string, string | null>;

/** The columns compared: those an order item holds (the CDC metadata columns have no DynamoDB counterpart). */
export const RECONCILED_COLUMNS: LakeColumn[] = ORDER_COLUMNS.filter((c) => c.from !== undefined);

const ID_COLUMN = RECONCILED_COLUMNS.find((c) => c.from === 'orderId')!.name;
const VERSION_COLUMN = RECONCILED_COLUMNS.find((c) => c.from === 'version')!.name;

/** Athena prints timestamps as `2024-05-01 10:00:00.000` (UTC, no zone) or with ` UTC`. */
const ATHENA_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: UTC)?$/;

function canonical(column: LakeColumn, read: () => unknown): string | null {
  let raw: unknown;
  try {
    raw = read();
    const value =
      column.type === 'timestamp' && typeof raw === 'string' ? raw.replace(ATHENA_TIMESTAMP, '$1T$2Z') : raw;
    const converted = toColumnValue(column, value);
    if (converted === null) return null;
    return converted instanceof Date ? converted.toISOString() : String(converted);
  } catch (error) {
    // A value the lake cannot hold is kept as it is (marked), so it differs from whatever the other side has.
    if (error instanceof InvalidCdcRecordError) return `invalid:${JSON.stringify(raw)}`;
    throw error;
  }
}

/** An order item (unmarshalled) in comparable form. */
export function comparableItem(item: Record<string, unknown>): ComparableRow {
  const row: ComparableRow = {};
  // A nested field (a v2 shipping address) is read as the S3 sink reads it into its flat column.
  for (const column of RECONCILED_COLUMNS)
    row[column.name] = canonical(column, () => imageValue(column, item));
  return row;
}

/** A row of the view as Athena returns it (column name → text, null for NULL) in comparable form. */
export function comparableLakeRow(record: Record<string, string | null | undefined>): ComparableRow {
  const row: ComparableRow = {};
  for (const column of RECONCILED_COLUMNS)
    row[column.name] = canonical(column, () => record[column.name] ?? null);
  return row;
}

/** An Athena timestamp's instant in ms (NaN for NULL or another shape). */
export function athenaTimestampMs(text: string | null): number {
  return text === null ? Number.NaN : Date.parse(text.replace(ATHENA_TIMESTAMP, '$1T$2Z'));
}

export const orderIdOf = (row: ComparableRow): string => row[ID_COLUMN] ?? '';
export const versionOf = (row: ComparableRow | undefined): string | null => row?.[VERSION_COLUMN] ?? null;
export const ORDER_ID_COLUMN = ID_COLUMN;

/** Names of the columns whose values differ. */
export function differingFields(a: ComparableRow, b: ComparableRow): string[] {
  return RECONCILED_COLUMNS.map((c) => c.name).filter((name) => (a[name] ?? null) !== (b[name] ?? null));
}

/**
 * Order ids in Unicode code point order, the order Athena's (and DuckDB's) ORDER BY gives varchar: JavaScript's
 * `<` compares UTF-16 code units, which puts characters above U+FFFF before U+E000–U+FFFF.
 */
export function compareOrderIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
