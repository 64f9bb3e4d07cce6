/**
 * Query results as Athena presents them: column types with Athena's (Trino's) names, values as text the way
 * Athena prints them (timestamps with milliseconds, `{a=1, b=x}` rows, `[1, 2]` arrays, doubles like Java),
 * and the result CSV (every value quoted, NULL as an empty field).
 */
import {
  DuckDBDecimalType,
  DuckDBIntervalValue,
  DuckDBListType,
  DuckDBListValue,
  DuckDBMapType,
  DuckDBMapValue,
  DuckDBStructType,
  DuckDBStructValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';

export interface ColumnInfo {
  CatalogName: string;
  SchemaName: string;
  TableName: string;
  Name: string;
  Label: string;
  Type: string;
  Precision: number;
  Scale: number;
  Nullable: 'NOT_NULL' | 'NULLABLE' | 'UNKNOWN';
  CaseSensitive: boolean;
}

export type Cell = string | null;

const ATHENA_TYPES: Partial<Record<DuckDBTypeId, [string, number]>> = {
  [DuckDBTypeId.BOOLEAN]: ['boolean', 0],
  [DuckDBTypeId.TINYINT]: ['tinyint', 3],
  [DuckDBTypeId.SMALLINT]: ['smallint', 5],
  [DuckDBTypeId.INTEGER]: ['integer', 10],
  [DuckDBTypeId.BIGINT]: ['bigint', 19],
  [DuckDBTypeId.HUGEINT]: ['bigint', 19],
  [DuckDBTypeId.UTINYINT]: ['smallint', 5],
  [DuckDBTypeId.USMALLINT]: ['integer', 10],
  [DuckDBTypeId.UINTEGER]: ['bigint', 19],
  [DuckDBTypeId.UBIGINT]: ['bigint', 19],
  [DuckDBTypeId.UHUGEINT]: ['bigint', 19],
  [DuckDBTypeId.FLOAT]: ['real', 24],
  [DuckDBTypeId.DOUBLE]: ['double', 53],
  [DuckDBTypeId.VARCHAR]: ['varchar', 2147483647],
  [DuckDBTypeId.BLOB]: ['varbinary', 2147483647],
  [DuckDBTypeId.DATE]: ['date', 0],
  [DuckDBTypeId.TIME]: ['time', 3],
  [DuckDBTypeId.TIMESTAMP]: ['timestamp', 3],
  [DuckDBTypeId.TIMESTAMP_S]: ['timestamp', 3],
  [DuckDBTypeId.TIMESTAMP_MS]: ['timestamp', 3],
  [DuckDBTypeId.TIMESTAMP_NS]: ['timestamp', 3],
  [DuckDBTypeId.TIMESTAMP_TZ]: ['timestamp with time zone', 3],
  [DuckDBTypeId.INTERVAL]: ['interval day to second', 0],
  [DuckDBTypeId.UUID]: ['uuid', 0],
  [DuckDBTypeId.LIST]: ['array', 0],
  [DuckDBTypeId.ARRAY]: ['array', 0],
  [DuckDBTypeId.STRUCT]: ['row', 0],
  [DuckDBTypeId.MAP]: ['map', 0],
  [DuckDBTypeId.SQLNULL]: ['unknown', 0],
};

/** Athena's ColumnInfo for a DuckDB result column. */
export function columnInfo(name: string, type: DuckDBType): ColumnInfo {
  let athenaType = 'varchar';
  let precision = 2147483647;
  let scale = 0;
  if (type instanceof DuckDBDecimalType) {
    athenaType = 'decimal';
    precision = type.width;
    scale = type.scale;
  } else if (type.alias?.toUpperCase() === 'JSON') {
    athenaType = 'json';
  } else {
    const mapped = ATHENA_TYPES[type.typeId];
    if (mapped) [athenaType, precision] = mapped;
  }
  return {
    CatalogName: 'hive',
    SchemaName: '',
    TableName: '',
    Name: name,
    Label: name,
    Type: athenaType,
    Precision: precision,
    Scale: scale,
    Nullable: 'UNKNOWN',
    CaseSensitive: athenaType === 'varchar',
  };
}

/** ColumnInfo of a text column (SHOW / DESCRIBE output). */
export function stringColumn(name: string): ColumnInfo {
  return { ...columnInfo(name, { typeId: DuckDBTypeId.VARCHAR } as DuckDBType), Type: 'string' };
}

/** Java's Double.toString, which Trino uses: 2.0, 1.0E7, 1.234E-5. */
export function javaDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e7) {
    const text = String(value);
    return text.includes('.') || text.includes('e') ? text : `${text}.0`;
  }
  const [mantissa, exponent] = value.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** `2024-01-01 03:04:05.123456` → `2024-01-01 03:04:05.123` (Athena prints milliseconds). */
function timestampMillis(text: string): string {
  const match = /^(\S+ \d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(text);
  if (!match) return text;
  return `${match[1]}.${(match[2] ?? '').padEnd(3, '0').slice(0, 3)}${match[3]}`;
}

const pad2 = (n: bigint | number) => String(n).padStart(2, '0');

/**
 * Trino's interval text: `3-5` (years-months) or `2 03:00:00.000` (days hours:minutes:seconds.millis).
 * @see https://trino.io/docs/current/functions/datetime.html (interval arithmetic examples)
 */
function intervalText(value: DuckDBIntervalValue): string {
  if (value.months !== 0 && value.days === 0 && value.micros === 0n) {
    const sign = value.months < 0 ? '-' : '';
    const months = Math.abs(value.months);
    return `${sign}${Math.floor(months / 12)}-${months % 12}`;
  }
  const total = BigInt(value.days) * 86_400_000_000n + value.micros;
  const sign = total < 0n ? '-' : '';
  const micros = total < 0n ? -total : total;
  const millis = micros / 1000n;
  const days = millis / 86_400_000n;
  const rest = millis % 86_400_000n;
  const time = `${pad2(rest / 3_600_000n)}:${pad2((rest / 60_000n) % 60n)}:${pad2((rest / 1000n) % 60n)}`;
  return `${sign}${days} ${time}.${String(rest % 1000n).padStart(3, '0')}`;
}

/** A DuckDB value as the text Athena would return (null stays null). */
export function formatValue(value: DuckDBValue, type: DuckDBType, nested = false): Cell {
  if (value === null) return nested ? 'null' : null;
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return value ? 'true' : 'false';
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.FLOAT:
      return typeof value === 'number' ? javaDouble(value) : String(value);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return timestampMillis(String(value));
    case DuckDBTypeId.TIMESTAMP_TZ:
      return `${timestampMillis(String(value).replace(/\+00(:00)?$/, ''))} UTC`;
    case DuckDBTypeId.INTERVAL:
      return value instanceof DuckDBIntervalValue ? intervalText(value) : String(value);
    default:
      break;
  }
  if (
    value instanceof DuckDBListValue &&
    (type instanceof DuckDBListType || type.typeId === DuckDBTypeId.ARRAY)
  ) {
    const itemType = (type as DuckDBListType).valueType;
    return `[${value.items.map((item) => formatValue(item, itemType, true)).join(', ')}]`;
  }
  if (value instanceof DuckDBStructValue && type instanceof DuckDBStructType) {
    return `{${type.entryNames.map((name, i) => `${name}=${formatValue(value.entries[name] ?? null, type.entryTypes[i], true)}`).join(', ')}}`;
  }
  if (value instanceof DuckDBMapValue && type instanceof DuckDBMapType) {
    return `{${value.entries.map((e) => `${formatValue(e.key, type.keyType, true)}=${formatValue(e.value, type.valueType, true)}`).join(', ')}}`;
  }
  return String(value);
}

const csvField = (cell: Cell) => (cell === null ? '' : `"${cell.replace(/"/g, '""')}"`);

/** Athena's result CSV: a header line of quoted names, then quoted values, NULL as an empty field. */
export function toCsv(header: string[] | undefined, rows: Cell[][]): string {
  const lines: string[] = [];
  if (header) lines.push(header.map(csvField).join(','));
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

/**
 * Reads up to `max` whole rows of a result CSV written by `toCsv` from the start of `bytes` (quoted value,
 * empty field = NULL, rows end with `\n`, which may also appear inside a quoted value). A row cut off by the
 * end of `bytes` is left for the next read; `consumed` is where it starts.
 *
 * @example parseCsvRows(Buffer.from('"a",\n"b'), 10) // { rows: [['a', null]], consumed: 5 }
 */
export function parseCsvRows(bytes: Buffer, max: number): { rows: Cell[][]; consumed: number } {
  const rows: Cell[][] = [];
  let consumed = 0;
  rows: while (rows.length < max && consumed < bytes.length) {
    const row: Cell[] = [];
    let i = consumed;
    for (;;) {
      if (i >= bytes.length) break rows;
      if (bytes[i] === QUOTE) {
        const pieces: string[] = [];
        let start = i + 1;
        let j = start;
        for (;;) {
          if (j + 1 >= bytes.length) break rows; // the closing quote, or what follows it, is not read yet
          if (bytes[j] !== QUOTE) {
            j++;
            continue;
          }
          if (bytes[j + 1] !== QUOTE) break;
          pieces.push(bytes.toString('utf8', start, j + 1));
          j += 2;
          start = j;
        }
        pieces.push(bytes.toString('utf8', start, j));
        row.push(pieces.join(''));
        i = j + 1;
      } else {
        row.push(null);
      }
      if (bytes[i] === COMMA) {
        i++;
        continue;
      }
      if (bytes[i] === NEWLINE) break;
      throw new Error(`malformed result CSV at byte ${i}: expected "," or a line end`);
    }
    rows.push(row);
    consumed = i + 1;
  }
  return { rows, consumed };
}
