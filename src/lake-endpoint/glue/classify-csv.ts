/**
 * Glue's built-in CSV classifier ("Built-in classifiers" in the Glue developer guide): a delimited text whose
 * rows all split into the same number (≥ 2) of columns on one of comma, pipe, tab, semicolon or Ctrl-A, with
 * at least two rows. The first row is a header when every field of it is a string (not a number or boolean),
 * short (< 150 characters, the last excepted) and a valid column name, and some data row has a field that is
 * not a string; otherwise the columns are `col0`, `col1`, …. Quoted fields make the table OpenCSVSerde's, plain
 * ones LazySimpleSerDe's, as Glue's crawler chooses.
 */
import { type GlueType, primitive } from './glue-types';
import type { ColumnSchema } from './schema-merge';

export interface CsvSettings {
  delimiter: string;
  header: boolean;
  /** Some field is enclosed in double quotes: OpenCSVSerde reads it, LazySimpleSerDe would keep the quotes. */
  quoted: boolean;
}

export interface CsvClassification {
  settings: CsvSettings;
  columns: ColumnSchema[];
}

const DELIMITERS = [',', '|', '\t', ';', '\u0001'];
const MAX_SAMPLE_ROWS = 1000;
const MAX_HEADER_FIELD = 150;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_ .-]*$/;

/** RFC 4180 rows: fields split at `delimiter`, `"…"` quoting (`""` inside), CRLF or LF line ends. */
function parseRows(text: string, delimiter: string, limit: number): { rows: string[][]; quoted: boolean } {
  const rows: string[][] = [];
  let quoted = false;
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let i = 0;
  const endRow = () => {
    row.push(field);
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
    field = '';
  };
  while (i < text.length && rows.length < limit) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') inQuotes = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') {
      inQuotes = true;
      quoted = true;
    } else if (ch === delimiter) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++;
      endRow();
    } else field += ch;
    i++;
  }
  if (rows.length < limit && (field !== '' || row.length > 0)) endRow();
  return { rows, quoted };
}

type FieldType = 'boolean' | 'bigint' | 'double' | 'string';

function fieldType(value: string): FieldType | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  if (/^(true|false)$/i.test(v)) return 'boolean';
  if (/^[+-]?\d{1,18}$/.test(v)) return 'bigint';
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return 'double';
  return 'string';
}

function mergeType(a: FieldType | undefined, b: FieldType | undefined): FieldType | undefined {
  if (a === undefined) return b;
  if (b === undefined || a === b) return a;
  if ((a === 'bigint' && b === 'double') || (a === 'double' && b === 'bigint')) return 'double';
  return 'string';
}

/**
 * The CSV reading of a text, or undefined when it is not CSV as Glue's classifier sees it.
 *
 * @example classifyCsvText('id,name\n1,a\n2,b\n') // → { settings: { delimiter: ',', header: true, quoted: false }, … }
 */
export function classifyCsvText(text: string, complete: boolean): CsvClassification | undefined {
  for (const delimiter of DELIMITERS) {
    const parsed = parseRows(text, delimiter, MAX_SAMPLE_ROWS);
    // A sample cut mid-row: its last row may be partial.
    const rows = complete ? parsed.rows : parsed.rows.slice(0, -1);
    const width = rows[0]?.length ?? 0;
    if (rows.length < 2 || width < 2 || rows.some((r) => r.length !== width)) continue;
    const [first, ...rest] = rows;
    const dataTypes = (body: string[][]) =>
      first.map((_, c) =>
        body.reduce<FieldType | undefined>((t, r) => mergeType(t, fieldType(r[c])), undefined),
      );
    const restTypes = dataTypes(rest);
    const header =
      first.every((f, c) => fieldType(f) === 'string' && (c === width - 1 || f.length < MAX_HEADER_FIELD)) &&
      first.every((f) => COLUMN_NAME.test(f.trim())) &&
      restTypes.some((t) => t !== undefined && t !== 'string');
    const types = header ? restTypes : dataTypes(rows);
    const names = header ? first.map((f) => f.trim()) : first.map((_, c) => `col${c}`);
    return {
      settings: { delimiter, header, quoted: parsed.quoted },
      columns: names.map((name, c) => ({
        name: name.toLowerCase(),
        sourceName: name,
        type: primitive(types[c] ?? 'string') as GlueType,
      })),
    };
  }
  return undefined;
}
