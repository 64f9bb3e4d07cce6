/**
 * Column lists as the crawler infers them, and how they merge: within a JSON file record by record,
 * across the files of a table, and with the table already in the catalog.
 */
import { type GlueType, mergeGlueTypes, primitive } from './glue-types';

export interface ColumnSchema {
  /** Lower-case, as Glue stores column names. */
  name: string;
  type: GlueType;
  /** The name as written in the data (JSON keys are case-sensitive for the reader). */
  sourceName: string;
}

/**
 * Merges two column lists by (case-insensitive) name, keeping the order of first appearance.
 * Returns undefined when `strict` (Parquet) and a column's types cannot be widened losslessly.
 *
 * @example mergeColumns([{name:'a', type:int}], [{name:'a', type:bigint}, {name:'b', ...}]) // a:bigint, b
 */
export function mergeColumns(
  a: ColumnSchema[],
  b: ColumnSchema[],
  strict: boolean,
): ColumnSchema[] | undefined {
  const out = a.map((c) => ({ ...c }));
  const index = new Map(out.map((c, i) => [c.name, i]));
  for (const column of b) {
    const at = index.get(column.name);
    if (at === undefined) {
      index.set(column.name, out.length);
      out.push({ ...column });
      continue;
    }
    const merged = mergeGlueTypes(out[at].type, column.type, strict);
    if (!merged) return undefined;
    out[at] = { ...out[at], type: merged };
  }
  return out;
}

/** Merges many column lists; undefined when any pair conflicts under `strict`. */
export function mergeAllColumns(lists: ColumnSchema[][], strict: boolean): ColumnSchema[] | undefined {
  let merged: ColumnSchema[] = [];
  for (const list of lists) {
    const next = mergeColumns(merged, list, strict);
    if (!next) return undefined;
    merged = next;
  }
  return merged;
}

/** Share of the union's columns present in a list: how Glue decides that sibling folders are "similar". */
export function schemaSimilarity(list: ColumnSchema[], union: ColumnSchema[]): number {
  if (union.length === 0) return 1;
  const names = new Set(list.map((c) => c.name));
  return union.filter((c) => names.has(c.name)).length / union.length;
}

type Inferred = GlueType | undefined;

/** The Glue type of one JSON value, as Glue's JSON classifier infers it (null: unknown yet). */
export function inferJsonType(value: unknown): Inferred {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return primitive('boolean');
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return primitive('double');
    return Math.abs(value) <= 2147483647 ? primitive('int') : primitive('bigint');
  }
  if (typeof value === 'string') return primitive('string');
  if (Array.isArray(value)) {
    let element: Inferred;
    for (const item of value) element = mergeInferred(element, inferJsonType(item));
    return { kind: 'array', element: element ?? primitive('string') };
  }
  if (typeof value === 'object') {
    const fields: { name: string; type: GlueType }[] = [];
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      fields.push({ name, type: inferJsonType(v) ?? primitive('string') });
    }
    return { kind: 'struct', fields };
  }
  return primitive('string');
}

function mergeInferred(a: Inferred, b: Inferred): Inferred {
  if (!a) return b;
  if (!b) return a;
  return mergeGlueTypes(a, b, false);
}

/**
 * The columns of a set of JSON records: keys in order of first appearance, types merged record by record,
 * keys that were only ever null typed `string`.
 */
export function inferJsonColumns(records: Iterable<Record<string, unknown>>): ColumnSchema[] {
  const columns = new Map<string, { sourceName: string; type: Inferred }>();
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) {
      const name = key.toLowerCase();
      const existing = columns.get(name);
      const type = inferJsonType(value);
      if (!existing) columns.set(name, { sourceName: key, type });
      else existing.type = mergeInferred(existing.type, type);
    }
  }
  return [...columns].map(([name, c]) => ({
    name,
    sourceName: c.sourceName,
    type: c.type ?? primitive('string'),
  }));
}
