/**
 * `orders_current`: the latest image of each order, a view over the CDC table. Its columns are the lake's
 * (lake-schema.ts) but for `op`, so a column the lake gains reaches the view the next time provisioning
 * replaces it. The latest image is the one with the highest order version (the change time breaks a tie); an
 * order whose latest change is a REMOVE is not current. Athena stores a view's column list when it is created,
 * so the view names its columns rather than `SELECT *`, which would go stale as the table grows.
 */
import { CDC_TABLE_FOLDER } from '../config';
import { CDC_LAKE_COLUMNS } from './lake-schema';

/** The view's columns, in order. */
export const ORDERS_CURRENT_COLUMNS: string[] = CDC_LAKE_COLUMNS.filter((c) => c.name !== 'op').map(
  (c) => c.name,
);

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The view's query (Trino SQL), reading the CDC table of `database`.
 *
 * @example ordersCurrentViewSql('orders_lake') // SELECT "order_id", … FROM (… row_number() …) WHERE …
 */
export function ordersCurrentViewSql(database: string): string {
  const columns = ORDERS_CURRENT_COLUMNS.map(quoted).join(', ');
  return [
    `SELECT ${columns}`,
    'FROM (',
    `  SELECT ${columns}, "op",`,
    '    row_number() OVER (PARTITION BY "order_id" ORDER BY "version" DESC, "change_time" DESC) AS "image_rank"',
    `  FROM ${quoted(database)}.${quoted(CDC_TABLE_FOLDER)}`,
    ') latest',
    `WHERE "image_rank" = 1 AND "op" <> 'REMOVE'`,
  ].join('\n');
}

/** The statement that creates or replaces the view, run through Athena. */
export function createOrdersCurrentViewSql(database: string, view: string): string {
  return `CREATE OR REPLACE VIEW ${quoted(database)}.${quoted(view)} AS\n${ordersCurrentViewSql(database)}`;
}
