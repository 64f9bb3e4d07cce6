/** The CDC table name in the lake and the Glue catalog (the crawler names it after the folder). */
export const CDC_TABLE_FOLDER = 'orders_cdc';

/** The Athena view with the current state of each order, over the CDC table (src/lake-format/current-view.ts). */
export const ORDERS_CURRENT_VIEW = 'orders_current';

/** `<lake.prefix>-compacted`: compacted versions sit beside the lake prefix, outside every crawler target. */
export function compactedLakePrefix(config: { lake: { prefix: string } }): string {
  return `${config.lake.prefix}-compacted`;
}
