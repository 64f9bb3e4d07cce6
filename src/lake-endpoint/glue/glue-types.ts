/**
 * Hive/Glue column types as a small tree: parse `struct<a:array<bigint>,b:decimal(10,2)>`, print it back,
 * merge two inferred types (what the crawler does across files), and translate to DuckDB's type syntax
 * (what the query engine casts to).
 */
import { quoteIdent } from '../../support/duckdb-sql-literals';

export type GlueType =
  | { kind: 'primitive'; name: string }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'array'; element: GlueType }
  | { kind: 'map'; key: GlueType; value: GlueType }
  | { kind: 'struct'; fields: { name: string; type: GlueType }[] };

export class GlueTypeError extends Error {
  override readonly name = 'GlueTypeError';
}

export const primitive = (name: string): GlueType => ({ kind: 'primitive', name });

/** Parses a Glue/Hive type string. */
export function parseGlueType(text: string): GlueType {
  let pos = 0;
  const src = text.trim();
  const peek = () => src[pos];
  const skipWs = () => {
    while (pos < src.length && /\s/.test(src[pos])) pos++;
  };
  const expect = (ch: string) => {
    skipWs();
    if (src[pos] !== ch) throw new GlueTypeError(`invalid type "${text}": expected "${ch}" at ${pos}`);
    pos++;
  };
  const ident = (): string => {
    skipWs();
    const start = pos;
    while (pos < src.length && !/[<>(),:\s]/.test(src[pos])) pos++;
    const word = src.slice(start, pos);
    if (!word) throw new GlueTypeError(`invalid type "${text}": expected a name at ${start}`);
    return word;
  };
  const integer = (): number => {
    skipWs();
    const start = pos;
    while (pos < src.length && /[0-9]/.test(src[pos])) pos++;
    if (start === pos) throw new GlueTypeError(`invalid type "${text}": expected a number at ${start}`);
    return Number(src.slice(start, pos));
  };
  const type = (): GlueType => {
    const name = ident().toLowerCase();
    skipWs();
    if (name === 'array') {
      expect('<');
      const element = type();
      expect('>');
      return { kind: 'array', element };
    }
    if (name === 'map') {
      expect('<');
      const key = type();
      expect(',');
      const value = type();
      expect('>');
      return { kind: 'map', key, value };
    }
    if (name === 'struct') {
      expect('<');
      const fields: { name: string; type: GlueType }[] = [];
      skipWs();
      if (peek() !== '>') {
        for (;;) {
          const fieldName = ident();
          expect(':');
          fields.push({ name: fieldName, type: type() });
          skipWs();
          if (peek() === ',') {
            pos++;
            continue;
          }
          break;
        }
      }
      expect('>');
      return { kind: 'struct', fields };
    }
    if (name === 'decimal' || name === 'numeric') {
      if (peek() !== '(') return { kind: 'decimal', precision: 10, scale: 0 };
      expect('(');
      const precision = integer();
      let scale = 0;
      skipWs();
      if (peek() === ',') {
        pos++;
        scale = integer();
      }
      expect(')');
      return { kind: 'decimal', precision, scale };
    }
    if ((name === 'varchar' || name === 'char') && peek() === '(') {
      expect('(');
      integer();
      expect(')');
      return primitive(name === 'char' ? 'char' : 'varchar');
    }
    return primitive(name);
  };
  const result = type();
  skipWs();
  if (pos !== src.length) throw new GlueTypeError(`invalid type "${text}": unexpected "${src.slice(pos)}"`);
  return result;
}

export function formatGlueType(type: GlueType): string {
  switch (type.kind) {
    case 'primitive':
      return type.name;
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'array':
      return `array<${formatGlueType(type.element)}>`;
    case 'map':
      return `map<${formatGlueType(type.key)},${formatGlueType(type.value)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${formatGlueType(f.type)}`).join(',')}>`;
  }
}

const INTEGER_RANK: Record<string, number> = { tinyint: 1, smallint: 2, int: 3, integer: 3, bigint: 4 };
const FLOAT_RANK: Record<string, number> = { float: 1, double: 2 };

/**
 * The type both values fit in, for schema merging across files: widen integers, integers → double,
 * merge structs field by field and arrays element-wise; anything else that disagrees becomes string
 * (what Glue's JSON classifier does). Returns undefined when `strict` (Parquet) and no lossless widening exists.
 */
export function mergeGlueTypes(a: GlueType, b: GlueType, strict = false): GlueType | undefined {
  const fa = formatGlueType(a);
  const fb = formatGlueType(b);
  if (fa === fb) return a;
  if (a.kind === 'primitive' && b.kind === 'primitive') {
    const ia = INTEGER_RANK[a.name];
    const ib = INTEGER_RANK[b.name];
    if (ia && ib) return ia >= ib ? a : b;
    const na = FLOAT_RANK[a.name];
    const nb = FLOAT_RANK[b.name];
    if (na && nb) return na >= nb ? a : b;
    if ((ia && nb) || (na && ib)) return primitive('double');
  }
  if (a.kind === 'array' && b.kind === 'array') {
    const element = mergeGlueTypes(a.element, b.element, strict);
    return element && { kind: 'array', element };
  }
  if (a.kind === 'struct' && b.kind === 'struct') {
    const fields = a.fields.map((f) => ({ ...f }));
    for (const field of b.fields) {
      const existing = fields.find((f) => f.name === field.name);
      if (!existing) {
        fields.push({ ...field });
        continue;
      }
      const merged = mergeGlueTypes(existing.type, field.type, strict);
      if (!merged) return undefined;
      existing.type = merged;
    }
    return { kind: 'struct', fields };
  }
  if (a.kind === 'decimal' && b.kind === 'decimal') {
    const scale = Math.max(a.scale, b.scale);
    const integerDigits = Math.max(a.precision - a.scale, b.precision - b.scale);
    return { kind: 'decimal', precision: Math.min(38, integerDigits + scale), scale };
  }
  return strict ? undefined : primitive('string');
}

const DUCKDB_PRIMITIVES: Record<string, string> = {
  string: 'VARCHAR',
  varchar: 'VARCHAR',
  char: 'VARCHAR',
  tinyint: 'TINYINT',
  smallint: 'SMALLINT',
  int: 'INTEGER',
  integer: 'INTEGER',
  bigint: 'BIGINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  date: 'DATE',
  binary: 'BLOB',
};

/** DuckDB's spelling of a Glue type (unknown primitives read as VARCHAR). */
export function glueTypeToDuckDb(type: GlueType): string {
  switch (type.kind) {
    case 'primitive':
      return DUCKDB_PRIMITIVES[type.name] ?? 'VARCHAR';
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    case 'array':
      return `${glueTypeToDuckDb(type.element)}[]`;
    case 'map':
      return `MAP(${glueTypeToDuckDb(type.key)}, ${glueTypeToDuckDb(type.value)})`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${glueTypeToDuckDb(f.type)}`).join(', ')})`;
  }
}

/** DuckDB type of a Glue type string; unparseable strings read as VARCHAR rather than failing a query. */
export function glueTypeStringToDuckDb(text: string | undefined): string {
  if (!text) return 'VARCHAR';
  try {
    return glueTypeToDuckDb(parseGlueType(text));
  } catch {
    return 'VARCHAR';
  }
}

export const NUMERIC_GLUE_TYPES = new Set([
  'tinyint',
  'smallint',
  'int',
  'integer',
  'bigint',
  'float',
  'double',
  'decimal',
]);

/** Whether partition values of this key type compare as numbers (Glue compares by the key's declared type). */
export function isNumericGlueType(text: string | undefined): boolean {
  if (!text) return false;
  const base = text.trim().toLowerCase().replace(/\(.*$/, '');
  return NUMERIC_GLUE_TYPES.has(base);
}
