/**
 * A small SQL tokenizer: enough to rewrite function calls, find the first keyword and split statements
 * without ever touching the inside of string literals, quoted identifiers or comments.
 */
export type TokenKind = 'ws' | 'comment' | 'string' | 'qident' | 'bident' | 'word' | 'number' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
}

const PUNCT2 = new Set(['<=', '>=', '<>', '!=', '||', '::', '->', '=>']);

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, text: sql.slice(i, end) });
    i = end;
  };
  const quoted = (quote: string): number => {
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === quote) {
        if (sql[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    return sql.length; // unterminated: the engine reports it
  };
  while (i < sql.length) {
    const ch = sql[i];
    if (/\s/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j])) j++;
      push('ws', j);
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      push('comment', nl === -1 ? sql.length : nl);
    } else if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      push('comment', close === -1 ? sql.length : close + 2);
    } else if (ch === "'") {
      push('string', quoted("'"));
    } else if (ch === '"') {
      push('qident', quoted('"'));
    } else if (ch === '`') {
      push('bident', quoted('`'));
    } else if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const match = /^(?:[0-9]*\.?[0-9]+|[0-9]+\.)(?:[eE][+-]?[0-9]+)?/.exec(sql.slice(i));
      push('number', i + (match ? match[0].length : 1));
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      push('word', j);
    } else if (PUNCT2.has(sql.slice(i, i + 2))) {
      push('punct', i + 2);
    } else {
      push('punct', i + 1);
    }
  }
  return tokens;
}

export const isTrivia = (t: Token) => t.kind === 'ws' || t.kind === 'comment';

export const joinTokens = (tokens: Token[]) => tokens.map((t) => t.text).join('');

/** The value of a string literal token ('it''s' → it's). */
export const stringValue = (t: Token) =>
  t.text.slice(1, t.text.endsWith("'") && t.text.length > 1 ? -1 : undefined).replace(/''/g, "'");

/** An identifier's name: unquoted words lower-cased (Trino/Athena are case-insensitive), quotes removed. */
export function identifierName(t: Token): string {
  if (t.kind === 'qident') return t.text.slice(1, -1).replace(/""/g, '"').toLowerCase();
  if (t.kind === 'bident') return t.text.slice(1, -1).replace(/``/g, '`').toLowerCase();
  return t.text.toLowerCase();
}

/** The statements of a script: split at top-level semicolons, empty ones dropped. */
export function splitStatements(tokens: Token[]): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === ';') {
      statements.push(current);
      current = [];
    } else current.push(t);
  }
  statements.push(current);
  return statements.filter((s) => s.some((t) => !isTrivia(t)));
}

/** Index of the parenthesis closing the one at `open`, or -1. */
export function matchingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== 'punct') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** The top-level, comma-separated arguments between tokens[open] = '(' and tokens[close] = ')'. */
export function splitArguments(tokens: Token[], open: number, close: number): Token[][] {
  const args: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i];
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) depth++;
    if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) depth--;
    if (depth === 0 && t.kind === 'punct' && t.text === ',') {
      args.push(current);
      current = [];
    } else current.push(t);
  }
  if (current.some((t) => !isTrivia(t)) || args.length > 0) args.push(current);
  return args;
}

/** The only non-trivia token of a token list, if there is exactly one. */
export function soleToken(tokens: Token[]): Token | undefined {
  const meaningful = tokens.filter((t) => !isTrivia(t));
  return meaningful.length === 1 ? meaningful[0] : undefined;
}
