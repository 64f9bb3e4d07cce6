/**
 * SQL literals for statements this project builds for DuckDB (the S3 sink's encoder, the local Athena's views
 * and translations). Values are always quoted here, never pasted into SQL as they are.
 */

/** A double-quoted identifier: `my "col"` → `"my ""col"""`. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A single-quoted string literal: `it's` → `'it''s'`. */
export const quoteString = (value: string) => `'${value.replace(/'/g, "''")}'`;
