/**
 * Partition pruning for Athena queries: which partitions of each table a query can possibly read.
 *
 * The query is parsed with node-sql-parser's Trino grammar. In every SELECT scope, the top-level AND-ed
 * WHERE conjuncts that only reference one table's partition keys (qualified by its alias, or unqualified when
 * the scope reads a single table) become that occurrence's predicate, evaluated with the same machinery as
 * Glue's GetPartitions expressions. Anything uncertain keeps partitions: an unparseable query, an outer join,
 * a conjunct with functions or subqueries, a table referenced in a way not seen here. DuckDB still applies
 * the full WHERE, so pruning changes bytes read, never results.
 */
import { Parser } from 'node-sql-parser';
import {
  asNode,
  type AstNode,
  columnRefName,
  columnRefTable,
  compilePartitionPredicate,
  type PartitionPredicate,
  partitionKeyTypes,
} from '../glue/partition-expression';
import type { GlueColumn } from '../lake-state';

export interface PrunableTable {
  database: string;
  name: string;
  partitionKeys: GlueColumn[];
}

/** Per table (keyed `db.table`): the predicates of each occurrence, or 'all' when any occurrence cannot be pruned. */
export type PruningPlan = Map<string, PartitionPredicate[] | 'all'>;

export const pruningKey = (database: string, table: string) => `${database}.${table}`.toLowerCase();

const parser = new Parser();

/** Parses Trino SQL with node-sql-parser; undefined when its grammar does not cover the query. */
export function parseTrino(sql: string): unknown {
  try {
    return parser.astify(sql, { database: 'trino' });
  } catch {
    return undefined;
  }
}

function collectSelects(value: unknown, out: AstNode[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectSelects(item, out);
    return;
  }
  const node = asNode(value);
  if (!node) return;
  if (node.type === 'select') out.push(node);
  for (const child of Object.values(node)) collectSelects(child, out);
}

function collectCteNames(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectCteNames(item, out);
    return;
  }
  const node = asNode(value);
  if (!node) return;
  if (Array.isArray(node.with)) {
    for (const cte of node.with) {
      const cteName = asNode(cte)?.name;
      const text = typeof cteName === 'string' ? cteName : asNode(cteName)?.value;
      if (typeof text === 'string') out.add(text.toLowerCase());
    }
  }
  for (const child of Object.values(node)) collectCteNames(child, out);
}

function splitConjuncts(where: unknown): unknown[] {
  const node = asNode(where);
  if (node?.type === 'binary_expr' && String(node.operator).toUpperCase() === 'AND') {
    return [...splitConjuncts(node.left), ...splitConjuncts(node.right)];
  }
  return where ? [where] : [];
}

/** Column references in an expression, or undefined when it holds a subquery (never analyzed). */
function columnRefs(value: unknown, out: { table?: string; column: string }[]): boolean {
  if (Array.isArray(value)) return value.every((item) => columnRefs(item, out));
  const node = asNode(value);
  if (!node) return true;
  if (node.type === 'select' || 'ast' in node) return false;
  if (node.type === 'column_ref') {
    const column = columnRefName(node);
    if (column === undefined) return false;
    out.push({ table: columnRefTable(node)?.toLowerCase(), column: column.toLowerCase() });
    return true;
  }
  if (node.type === 'double_quote_string') {
    out.push({ column: String(node.value).toLowerCase() });
    return true;
  }
  return Object.values(node).every((child) => columnRefs(child, out));
}

/**
 * @example
 *   const plan = planPartitionPruning(sql, 'lake', (db, t) => catalogTable(db, t));
 *   plan.get('lake.orders_cdc') // [predicate] → keep partitions where predicate(values) !== false
 */
export function planPartitionPruning(
  sql: string,
  defaultDatabase: string,
  lookup: (database: string, table: string) => PrunableTable | undefined,
  parsed: unknown = parseTrino(sql),
): PruningPlan {
  const plan: PruningPlan = new Map();
  if (parsed === undefined) return plan;
  const selects: AstNode[] = [];
  collectSelects(parsed, selects);
  const ctes = new Set<string>();
  collectCteNames(parsed, ctes);

  const record = (key: string, predicate: PartitionPredicate | 'all') => {
    const existing = plan.get(key);
    if (existing === 'all') return;
    if (predicate === 'all') plan.set(key, 'all');
    else plan.set(key, [...(existing ?? []), predicate]);
  };

  for (const select of selects) {
    const from = Array.isArray(select.from)
      ? select.from.map(asNode).filter((n): n is AstNode => n !== undefined)
      : [];
    const occurrences = from.filter((item) => typeof item.table === 'string' && !item.expr);
    const outerJoin = from.some((item) => /LEFT|RIGHT|FULL/i.test(String(item.join ?? '')));
    const conjuncts = splitConjuncts(select.where);
    for (const item of occurrences) {
      const tableName = String(item.table).toLowerCase();
      let database = typeof item.db === 'string' && item.db !== '' ? item.db.toLowerCase() : undefined;
      if (database === 'awsdatacatalog' && typeof item.schema === 'string')
        database = item.schema.toLowerCase();
      if (database === undefined && ctes.has(tableName)) continue;
      const table = lookup(database ?? defaultDatabase, tableName);
      if (!table) continue;
      const key = pruningKey(table.database, table.name);
      if (table.partitionKeys.length === 0) continue;
      if (outerJoin) {
        record(key, 'all');
        continue;
      }
      const alias = typeof item.as === 'string' ? item.as.toLowerCase() : undefined;
      const keyTypes = partitionKeyTypes(table.partitionKeys);
      const resolve = (qualifier: string | undefined, column: string): string | undefined => {
        const name = column.toLowerCase();
        if (!keyTypes.has(name)) return undefined;
        if (qualifier === undefined) return occurrences.length === 1 && from.length === 1 ? name : undefined;
        return qualifier === (alias ?? tableName) ? name : undefined;
      };
      const mine = conjuncts.filter((conjunct) => {
        const refs: { table?: string; column: string }[] = [];
        return (
          columnRefs(conjunct, refs) &&
          refs.length > 0 &&
          refs.every((r) => resolve(r.table, r.column) !== undefined)
        );
      });
      const predicates = mine.map((conjunct) =>
        compilePartitionPredicate(conjunct, {
          keys: keyTypes,
          resolveColumn: resolve,
          strict: false,
          doubleQuotedIsIdentifier: true,
        }),
      );
      record(key, (values) => {
        let unknown = false;
        for (const p of predicates) {
          const v = p(values);
          if (v === false) return false;
          if (v === undefined) unknown = true;
        }
        return unknown ? undefined : true;
      });
    }
  }
  return plan;
}

/** Whether a partition survives the plan for its table (kept unless every occurrence rules it out). */
export function keepPartition(plan: PruningPlan, key: string, values: ReadonlyMap<string, string>): boolean {
  const predicates = plan.get(key);
  if (predicates === undefined || predicates === 'all') return true;
  return predicates.some((p) => p(values) !== false);
}
