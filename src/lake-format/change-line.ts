/**
 * The one line of newline-delimited JSON per change that the encoder reads (formats/duckdb-encoder.ts).
 *
 * Decoding and validation stay in JavaScript (cdc-record.ts, lake-row.ts), so what is accepted or dead-lettered
 * is decided in one place. The encoder then only has to read values that already have their column's JSON
 * type, which a typed reader converts exactly as toLakeRow would. Most changes (everything the relay writes)
 * are like that, and their own bytes are the line: no row is built and nothing is serialized again on the
 * consumer's thread. Any other valid change gets a normalized line built from its lake row.
 */
import { imageAttributes, ORDER_COLUMNS, type CdcEvent } from './lake-schema';
import { checkLakeColumns, toLakeRow, type LakeRow, type LakeValue } from './lake-row';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
// JSON.stringify escapes only control characters and lone surrogates as \u: a reader may reject the latter.
const UNICODE_ESCAPE = Buffer.from('\\u');

/** A JSON value a typed reader reads back to exactly this lake value. */
function plainJson(value: LakeValue): string {
  if (value === null) return 'null';
  // As a string: beyond 2^53 a JSON number would lose digits in JSON.parse (the fallback encoder's reader).
  if (typeof value === 'bigint') return `"${value.toString()}"`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'string') return JSON.stringify(value.toWellFormed());
  return JSON.stringify(value);
}

/** The lake column of each image attribute, or of each field of a map attribute. */
const COLUMN_OF = new Map(ORDER_COLUMNS.map((c) => [`${c.from}\u0000${c.field ?? ''}`, c.name]));
const columnOf = (attribute: string, field = '') => COLUMN_OF.get(`${attribute}\u0000${field}`)!;
const IMAGE_ATTRIBUTES = [...imageAttributes(ORDER_COLUMNS)];

/** The change with every lake value in its plain JSON form, in the shape the encoder reads. */
function normalizedChangeLine(event: CdcEvent): Buffer {
  const row = toLakeRow(event);
  const image = IMAGE_ATTRIBUTES.map(([attribute, fields]) => {
    const value =
      fields.length === 0
        ? plainJson(row[columnOf(attribute)])
        : `{${fields.map((field) => `${JSON.stringify(field)}:${plainJson(row[columnOf(attribute, field)])}`).join(',')}}`;
    return `${JSON.stringify(attribute)}:${value}`;
  }).join(',');
  const imageField = event.op === 'REMOVE' ? 'oldImage' : 'newImage';
  return Buffer.from(
    `{"op":${plainJson(row.op)},"sequenceNumber":${plainJson(row.sequence_number)},` +
      `"changeTime":${plainJson(row.change_time)},${JSON.stringify(imageField)}:{${image}}}`,
  );
}

/**
 * Validates a decoded change (throws InvalidCdcRecordError like toLakeRow) and returns its encoder line.
 *
 * @example
 *   const line = changeLine(message.value, decodeCdcRecord(message.value));
 */
export function changeLine(value: Buffer, event: CdcEvent): Buffer {
  const plain = checkLakeColumns(event);
  if (
    plain &&
    value.indexOf(NEWLINE) < 0 &&
    value.indexOf(CARRIAGE_RETURN) < 0 &&
    value.indexOf(UNICODE_ESCAPE) < 0
  ) {
    return value;
  }
  return normalizedChangeLine(event);
}

/** The lake row of a change line: what the encoder writes for it, computed in JavaScript (the fallback encoder). */
export function lakeRowOfLine(line: Buffer): LakeRow {
  return toLakeRow(JSON.parse(line.toString('utf8')) as CdcEvent);
}
