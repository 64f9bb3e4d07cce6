/**
 * How a Glue crawler names what it finds, as AWS does it: the local crawler (src/lake-endpoint) follows it, and code
 * that must know the name of a table a crawl will create (a backfill snapshot's) derives it here too.
 */

/** Table names as Glue writes them: lower case, anything but letters, digits and `_` becomes `_`. */
export function sanitizeTableName(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return cleaned || 'table';
}
