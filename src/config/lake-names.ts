/** The CDC table name in the lake and the Glue catalog (the crawler names it after the folder). */
export const CDC_TABLE_FOLDER = 'orders_cdc';

/** `<lake.prefix>-compacted`: compacted versions sit beside the lake prefix, outside every crawler target. */
export function compactedLakePrefix(config: { lake: { prefix: string } }): string {
  return `${config.lake.prefix}-compacted`;
}
