/**
 * Athena views as the Glue catalog keeps them (what Athena's `CREATE VIEW` writes, and Trino's Hive connector
 * reads): a table of type `VIRTUAL_VIEW` whose `ViewOriginalText` is `/* Presto View: <base64 JSON> *\/` and
 * `ViewExpandedText` the marker `/* Presto View *\/`, with Parameters `presto_view: true` and
 * `comment: Presto View`. The JSON is Trino's view definition: `originalSql`, `catalog`, `schema` and the
 * `columns` with their Trino types; the table's own columns carry the same columns with Hive types.
 */
import {
  type DuckDBType,
  DuckDBDecimalType,
  DuckDBListType,
  DuckDBMapType,
  DuckDBStructType,
} from '@duckdb/node-api';
import { DuckDBTypeId } from '@duckdb/node-api';
import type { TableRecord } from '../lake-state';
import type { TableInput } from './catalog';
import { formatGlueType, type GlueType, GlueTypeError, primitive } from './glue-types';

export const VIRTUAL_VIEW = 'VIRTUAL_VIEW';
const VIEW_PREFIX = '/* Presto View: ';
const VIEW_SUFFIX = ' */';
const EXPANDED_TEXT_MARKER = '/* Presto View */';
const VIEW_COMMENT = 'Presto View';
/** The catalog name Athena writes into every view definition (its Glue catalog). */
export const ATHENA_CATALOG = 'awsdatacatalog';

export interface ViewColumn {
  name: string;
  /** Trino type: `varchar`, `bigint`, `timestamp(3)`, `row(a varchar, b bigint)`, … */
  type: string;
}

export interface ViewDefinition {
  originalSql: string;
  catalog?: string;
  schema?: string;
  columns: ViewColumn[];
  [member: string]: unknown;
}

/** A view in the catalog whose definition cannot be read: queries of it fail with this message. */
export class InvalidViewError extends Error {
  override readonly name = 'InvalidViewError';
}

/** Whether a catalog table is a view (Athena's or another engine's). */
export const isView = (table: TableRecord): boolean => table.TableType === VIRTUAL_VIEW;

/** Trino's test for a view it can read: the Presto View encoding, not a Hive view's plain SQL. */
export const isPrestoView = (table: TableRecord): boolean =>
  isView(table) &&
  (table.Parameters.presto_view === 'true' ||
    (typeof table.ViewOriginalText === 'string' && table.ViewOriginalText.startsWith(VIEW_PREFIX)));

export function encodeViewText(definition: ViewDefinition): string {
  return `${VIEW_PREFIX}${Buffer.from(JSON.stringify(definition), 'utf8').toString('base64')}${VIEW_SUFFIX}`;
}

/**
 * The view definition of a catalog table (one Athena created, or one put into Glue by hand the same way).
 *
 * @example decodeView(catalog.getTable('orders_lake', 'orders_current')).originalSql
 */
export function decodeView(table: TableRecord): ViewDefinition {
  const name = `${table.DatabaseName}.${table.Name}`;
  const text = typeof table.ViewOriginalText === 'string' ? table.ViewOriginalText.trim() : '';
  if (!isPrestoView(table) || !text.startsWith(VIEW_PREFIX) || !text.endsWith(VIEW_SUFFIX))
    throw new InvalidViewError(
      `HIVE_UNSUPPORTED_FORMAT: View ${name} is not an Athena (Presto) view: its ViewOriginalText is not "/* Presto View: <base64> */" (Hive views are not supported)`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(text.slice(VIEW_PREFIX.length, -VIEW_SUFFIX.length), 'base64').toString('utf8'),
    );
  } catch (error) {
    throw new InvalidViewError(
      `HIVE_INVALID_VIEW_DATA: View data missing prefix or invalid JSON in view ${name}: ${(error as Error).message}`,
    );
  }
  const definition = parsed as Partial<ViewDefinition> | null;
  if (
    typeof definition?.originalSql !== 'string' ||
    !Array.isArray(definition.columns) ||
    !definition.columns.every((c) => typeof c?.name === 'string' && typeof c?.type === 'string')
  )
    throw new InvalidViewError(
      `HIVE_INVALID_VIEW_DATA: View ${name} has no originalSql or columns (name and type) in its definition`,
    );
  return definition as ViewDefinition;
}

/**
 * The Glue TableInput Athena writes for `CREATE VIEW`: view columns typed as Hive types in the storage
 * descriptor, an empty location and SerDe, no partition keys.
 */
export function viewTableInput(name: string, definition: ViewDefinition): TableInput {
  return {
    Name: name,
    TableType: VIRTUAL_VIEW,
    Parameters: { comment: VIEW_COMMENT, presto_view: 'true' },
    PartitionKeys: [],
    ViewOriginalText: encodeViewText(definition),
    ViewExpandedText: EXPANDED_TEXT_MARKER,
    StorageDescriptor: {
      Columns: definition.columns.map((c) => ({
        Name: c.name,
        Type: formatGlueType(trinoTypeToGlue(c.type)),
      })),
      Location: '',
      Compressed: false,
      NumberOfBuckets: 0,
      SerdeInfo: {},
      SortColumns: [],
      StoredAsSubDirectories: false,
    },
  };
}

const TRINO_PRIMITIVES: Partial<Record<DuckDBTypeId, string>> = {
  [DuckDBTypeId.BOOLEAN]: 'boolean',
  [DuckDBTypeId.TINYINT]: 'tinyint',
  [DuckDBTypeId.SMALLINT]: 'smallint',
  [DuckDBTypeId.INTEGER]: 'integer',
  [DuckDBTypeId.BIGINT]: 'bigint',
  [DuckDBTypeId.HUGEINT]: 'bigint',
  [DuckDBTypeId.UTINYINT]: 'smallint',
  [DuckDBTypeId.USMALLINT]: 'integer',
  [DuckDBTypeId.UINTEGER]: 'bigint',
  [DuckDBTypeId.UBIGINT]: 'bigint',
  [DuckDBTypeId.FLOAT]: 'real',
  [DuckDBTypeId.DOUBLE]: 'double',
  [DuckDBTypeId.VARCHAR]: 'varchar',
  [DuckDBTypeId.BLOB]: 'varbinary',
  [DuckDBTypeId.DATE]: 'date',
  [DuckDBTypeId.TIMESTAMP]: 'timestamp(3)',
  [DuckDBTypeId.TIMESTAMP_S]: 'timestamp(3)',
  [DuckDBTypeId.TIMESTAMP_MS]: 'timestamp(3)',
  [DuckDBTypeId.TIMESTAMP_NS]: 'timestamp(3)',
  [DuckDBTypeId.TIMESTAMP_TZ]: 'timestamp(3) with time zone',
  [DuckDBTypeId.SQLNULL]: 'unknown',
};

/** The Trino type a DuckDB result column is stored with in a view definition (Athena's precision for timestamps). */
export function duckDbTypeToTrino(type: DuckDBType): string {
  if (type instanceof DuckDBDecimalType) return `decimal(${type.width},${type.scale})`;
  if (type instanceof DuckDBListType) return `array(${duckDbTypeToTrino(type.valueType)})`;
  if (type instanceof DuckDBMapType)
    return `map(${duckDbTypeToTrino(type.keyType)}, ${duckDbTypeToTrino(type.valueType)})`;
  if (type instanceof DuckDBStructType)
    return `row(${type.entryNames.map((n, i) => `${n} ${duckDbTypeToTrino(type.entryTypes[i])}`).join(', ')})`;
  return TRINO_PRIMITIVES[type.typeId] ?? 'varchar';
}

const HIVE_PRIMITIVES: Record<string, string> = {
  varchar: 'string',
  char: 'string',
  integer: 'int',
  real: 'float',
  varbinary: 'binary',
  unknown: 'string',
};

/** Hive's name for a Trino type, as Athena writes a view's columns into Glue (`varchar` → `string`, `row` → `struct`). */
export function trinoTypeToGlue(text: string): GlueType {
  const src = text.trim();
  let pos = 0;
  const fail = (what: string): never => {
    throw new GlueTypeError(`invalid Trino type "${text}": ${what} at ${pos}`);
  };
  const skipWs = () => {
    while (pos < src.length && /\s/.test(src[pos])) pos++;
  };
  const word = (): string => {
    skipWs();
    if (src[pos] === '"') {
      const end = src.indexOf('"', pos + 1);
      if (end === -1) fail('unterminated quoted name');
      const name = src.slice(pos + 1, end);
      pos = end + 1;
      return name;
    }
    const start = pos;
    while (pos < src.length && /[A-Za-z0-9_]/.test(src[pos])) pos++;
    if (start === pos) fail('expected a name');
    return src.slice(start, pos);
  };
  const punct = (ch: string) => {
    skipWs();
    if (src[pos] !== ch) fail(`expected "${ch}"`);
    pos++;
  };
  const at = (ch: string) => {
    skipWs();
    return src[pos] === ch;
  };
  const numbers = (): number[] => {
    const values: number[] = [];
    punct('(');
    for (;;) {
      values.push(Number(word()));
      if (!at(',')) break;
      pos++;
    }
    punct(')');
    return values;
  };
  const type = (): GlueType => {
    const name = word().toLowerCase();
    if (name === 'array') {
      punct('(');
      const element = type();
      punct(')');
      return { kind: 'array', element };
    }
    if (name === 'map') {
      punct('(');
      const key = type();
      punct(',');
      const value = type();
      punct(')');
      return { kind: 'map', key, value };
    }
    if (name === 'row') {
      punct('(');
      const fields: { name: string; type: GlueType }[] = [];
      for (;;) {
        fields.push({ name: word(), type: type() });
        if (!at(',')) break;
        pos++;
      }
      punct(')');
      return { kind: 'struct', fields };
    }
    if (name === 'decimal') {
      const [precision = 38, scale = 0] = at('(') ? numbers() : [];
      return { kind: 'decimal', precision, scale };
    }
    if (at('(')) numbers();
    if (name === 'timestamp' || name === 'time') {
      skipWs();
      const rest = src.slice(pos).toLowerCase();
      // Hive has no zoned types: Athena stores them as the plain type.
      if (rest.startsWith('with time zone')) pos += 'with time zone'.length;
      return primitive(name === 'time' ? 'string' : 'timestamp');
    }
    return primitive(HIVE_PRIMITIVES[name] ?? name);
  };
  const result = type();
  skipWs();
  if (pos !== src.length) fail('unexpected text');
  return result;
}
