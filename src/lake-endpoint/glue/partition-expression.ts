/**
 * Predicates over partition values, from SQL parsed by node-sql-parser (a real parser, no regexes).
 *
 * Two users share the evaluator:
 * - Glue's GetPartitions `Expression` (`dt='2024-01-01' AND hour>='03'`), strict: anything it cannot
 *   evaluate is an InvalidInputException, as on AWS;
 * - Athena's partition pruning, lenient: a WHERE conjunct it cannot evaluate is "unknown" and keeps the
 *   partition, so pruning only ever drops partitions the query could not have matched.
 *
 * Values compare by the partition key's declared type: numerically for numeric keys, as strings otherwise.
 */
import { Parser } from 'node-sql-parser';
import type { GlueColumn } from '../lake-state';
import { isNumericGlueType } from './glue-types';

/** true / false, or undefined when the predicate cannot decide (SQL NULL or an unsupported construct). */
export type Truth = boolean | undefined;

export type PartitionPredicate = (values: ReadonlyMap<string, string>) => Truth;

export class PartitionExpressionError extends Error {
  override readonly name = 'PartitionExpressionError';
}

export type AstNode = Record<string, unknown>;

export function asNode(value: unknown): AstNode | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as AstNode)
    : undefined;
}

/** The column name of a node-sql-parser column_ref (dialects differ: a string or `{expr:{value}}`). */
export function columnRefName(node: AstNode): string | undefined {
  const column = node.column;
  if (typeof column === 'string') return column;
  const expr = asNode(asNode(column)?.expr);
  return typeof expr?.value === 'string' ? expr.value : undefined;
}

export function columnRefTable(node: AstNode): string | undefined {
  const table = node.table;
  if (typeof table === 'string') return table;
  const expr = asNode(asNode(table)?.expr);
  return typeof expr?.value === 'string' ? expr.value : undefined;
}

export interface PredicateOptions {
  /** Partition keys (lower-case names) and whether they compare numerically. */
  keys: ReadonlyMap<string, { numeric: boolean }>;
  /** Maps a column reference to a partition key name, or undefined when it is not one. */
  resolveColumn: (table: string | undefined, column: string) => string | undefined;
  /** Throw PartitionExpressionError on anything unsupported (Glue) instead of answering unknown (Athena). */
  strict: boolean;
  /** Trino reads "x" as an identifier; Hive (Glue expressions) as a string. */
  doubleQuotedIsIdentifier: boolean;
}

type Operand =
  | { kind: 'column'; key: string; numeric: boolean }
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'unknown' };

const STRING_LITERALS = new Set(['single_quote_string', 'string', 'natural_string', 'var_string']);

function unquoteSql(value: string): string {
  return value.replace(/''/g, "'");
}

/** Compiles a parsed WHERE-style expression into a predicate over partition values. */
export function compilePartitionPredicate(root: unknown, options: PredicateOptions): PartitionPredicate {
  const unsupported = (what: string): PartitionPredicate => {
    if (options.strict) throw new PartitionExpressionError(`unsupported in a partition expression: ${what}`);
    return () => undefined;
  };

  const operand = (value: unknown): Operand => {
    const node = asNode(value);
    if (!node) return { kind: 'unknown' };
    const type = node.type;
    if (type === 'column_ref' || (type === 'double_quote_string' && options.doubleQuotedIsIdentifier)) {
      const name = type === 'column_ref' ? columnRefName(node) : String(node.value);
      const key =
        name === undefined
          ? undefined
          : options.resolveColumn(type === 'column_ref' ? columnRefTable(node) : undefined, name);
      if (key === undefined) {
        if (options.strict) throw new PartitionExpressionError(`"${name}" is not a partition key`);
        return { kind: 'unknown' };
      }
      return { kind: 'column', key, numeric: options.keys.get(key)?.numeric ?? false };
    }
    if (
      typeof type === 'string' &&
      (STRING_LITERALS.has(type) || type === 'double_quote_string' || type === 'backticks_quote_string')
    ) {
      return { kind: 'literal', value: unquoteSql(String(node.value)) };
    }
    if (type === 'number') return { kind: 'literal', value: Number(node.value) };
    if (type === 'bool' || type === 'boolean') return { kind: 'literal', value: Boolean(node.value) };
    if (type === 'null') return { kind: 'literal', value: null };
    if (options.strict) {
      const what =
        type === 'function' || type === 'aggr_func'
          ? `function ${functionName(node).toLowerCase()}()`
          : `operand of type ${String(type)}`;
      throw new PartitionExpressionError(`unsupported in a partition expression: ${what}`);
    }
    return { kind: 'unknown' };
  };

  /** Compares a column with a literal by the column's type; undefined when the types do not line up. */
  const compare = (left: Operand, right: Operand, row: ReadonlyMap<string, string>): number | undefined => {
    const value = (op: Operand): { v: string | number | boolean | null; numeric: boolean } | undefined => {
      if (op.kind === 'unknown') return undefined;
      if (op.kind === 'literal') return { v: op.value, numeric: typeof op.value === 'number' };
      const raw = row.get(op.key);
      if (raw === undefined) return undefined;
      return { v: op.numeric ? Number(raw) : raw, numeric: op.numeric };
    };
    const a = value(left);
    const b = value(right);
    if (!a || !b || a.v === null || b.v === null) return undefined;
    let x = a.v;
    let y = b.v;
    if (a.numeric !== b.numeric) {
      const columnSide = left.kind === 'column' ? a : b;
      if (columnSide.numeric) {
        // numeric key vs string literal: compare as numbers when the literal is one
        x = Number(x);
        y = Number(y);
      } else if (options.strict) {
        // Glue: a string key against a number literal compares the literal's text
        x = String(x);
        y = String(y);
      } else {
        // Trino would reject varchar = integer; do not guess
        return undefined;
      }
    }
    if (typeof x === 'number' && typeof y === 'number') {
      if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
      return x === y ? 0 : x < y ? -1 : 1;
    }
    const sx = String(x);
    const sy = String(y);
    return sx === sy ? 0 : sx < sy ? -1 : 1;
  };

  const not =
    (p: PartitionPredicate): PartitionPredicate =>
    (row) => {
      const v = p(row);
      return v === undefined ? undefined : !v;
    };

  const compile = (value: unknown): PartitionPredicate => {
    const node = asNode(value);
    if (!node) return unsupported('empty expression');
    if (node.type === 'unary_expr' && String(node.operator).toUpperCase() === 'NOT')
      return not(compile(node.expr));
    if (node.type === 'function') {
      const fn = functionName(node).toUpperCase();
      const args = asNode(node.args)?.value;
      if (fn === 'NOT' && Array.isArray(args) && args.length === 1) return not(compile(args[0]));
      return unsupported(`function ${fn.toLowerCase()}()`);
    }
    if (node.type === 'bool' || node.type === 'boolean') {
      const v = Boolean(node.value);
      return () => v;
    }
    if (node.type !== 'binary_expr') return unsupported(String(node.type));
    const op = String(node.operator).toUpperCase();
    if (op === 'AND' || op === 'OR') {
      const l = compile(node.left);
      const r = compile(node.right);
      return op === 'AND'
        ? (row) => {
            const a = l(row);
            if (a === false) return false;
            const b = r(row);
            if (b === false) return false;
            return a === true && b === true ? true : undefined;
          }
        : (row) => {
            const a = l(row);
            if (a === true) return true;
            const b = r(row);
            if (b === true) return true;
            return a === false && b === false ? false : undefined;
          };
    }
    const left = operand(node.left);
    if (op === 'IS' || op === 'IS NOT') {
      const right = operand(node.right);
      if (right.kind !== 'literal' || right.value !== null)
        return unsupported(`${op} with a non-NULL operand`);
      // Partition values are never NULL.
      if (left.kind === 'column') return () => op === 'IS NOT';
      if (left.kind === 'literal') return () => (left.value === null) === (op === 'IS');
      return unsupported(op);
    }
    if (op === 'IN' || op === 'NOT IN') {
      const list = asNode(node.right)?.value;
      if (asNode(node.right)?.type !== 'expr_list' || !Array.isArray(list))
        return unsupported(`${op} with a subquery`);
      const items = list.map(operand);
      const inList: PartitionPredicate = (row) => {
        let unknown = false;
        for (const item of items) {
          const c = compare(left, item, row);
          if (c === 0) return true;
          if (c === undefined) unknown = true;
        }
        return unknown ? undefined : false;
      };
      return op === 'IN' ? inList : not(inList);
    }
    if (op === 'BETWEEN' || op === 'NOT BETWEEN') {
      const bounds = asNode(node.right)?.value;
      if (!Array.isArray(bounds) || bounds.length !== 2) return unsupported(op);
      const low = operand(bounds[0]);
      const high = operand(bounds[1]);
      const between: PartitionPredicate = (row) => {
        const a = compare(left, low, row);
        const b = compare(left, high, row);
        if (a === undefined || b === undefined) return undefined;
        return a >= 0 && b <= 0;
      };
      return op === 'BETWEEN' ? between : not(between);
    }
    if (op === 'LIKE' || op === 'NOT LIKE') {
      const pattern = operand(node.right);
      if (pattern.kind !== 'literal' || typeof pattern.value !== 'string')
        return unsupported(`${op} without a string pattern`);
      const regex = likeToRegExp(pattern.value);
      const like: PartitionPredicate = (row) => {
        if (left.kind !== 'column') return undefined;
        const v = row.get(left.key);
        return v === undefined ? undefined : regex.test(v);
      };
      return op === 'LIKE' ? like : not(like);
    }
    const right = operand(node.right);
    const test = COMPARATORS[op];
    if (!test) return unsupported(`operator ${op}`);
    if (left.kind === 'unknown' || right.kind === 'unknown') return unsupported(`operands of ${op}`);
    return (row) => {
      const c = compare(left, right, row);
      return c === undefined ? undefined : test(c);
    };
  };

  return compile(root);
}

/** The name of a node-sql-parser function node (`{name: {name: [{value}]}}` or a plain string). */
export function functionName(node: AstNode): string {
  const parts = asNode(node.name)?.name;
  if (Array.isArray(parts)) return parts.map((p) => String(asNode(p)?.value ?? '')).join('.');
  return typeof node.name === 'string' ? node.name : '';
}

const COMPARATORS: Record<string, (c: number) => boolean> = {
  '=': (c) => c === 0,
  '==': (c) => c === 0,
  '!=': (c) => c !== 0,
  '<>': (c) => c !== 0,
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
};

function likeToRegExp(pattern: string): RegExp {
  let out = '';
  for (const ch of pattern) {
    if (ch === '%') out += '.*';
    else if (ch === '_') out += '.';
    else out += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

const parser = new Parser();

/** The partition keys of a table as the predicate options want them. */
export function partitionKeyTypes(keys: GlueColumn[]): Map<string, { numeric: boolean }> {
  return new Map(keys.map((k) => [k.Name.toLowerCase(), { numeric: isNumericGlueType(k.Type) }]));
}

export function partitionValueMap(keys: GlueColumn[], values: string[]): Map<string, string> {
  return new Map(keys.map((k, i) => [k.Name.toLowerCase(), values[i]]));
}

/**
 * Parses a GetPartitions expression into a predicate; a partition matches when it evaluates to true.
 *
 * @example
 *   const match = parseGlueExpression("dt='2024-01-01' AND hour>='03'", table.PartitionKeys);
 *   match(partitionValueMap(table.PartitionKeys, ['2024-01-01', '04'])); // true
 */
export function parseGlueExpression(expression: string, keys: GlueColumn[]): PartitionPredicate {
  let where: unknown;
  try {
    const ast = parser.astify(`SELECT * FROM t WHERE ${expression}`, { database: 'hive' });
    where = (Array.isArray(ast) ? asNode(ast[0]) : asNode(ast))?.where;
  } catch (error) {
    throw new PartitionExpressionError(
      `cannot parse expression "${expression}": ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const keyTypes = partitionKeyTypes(keys);
  return compilePartitionPredicate(where, {
    keys: keyTypes,
    resolveColumn: (_table, column) =>
      keyTypes.has(column.toLowerCase()) ? column.toLowerCase() : undefined,
    strict: true,
    doubleQuotedIsIdentifier: false,
  });
}
