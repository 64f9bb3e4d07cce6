/** The CDC table name in the lake and the Glue catalog (the crawler names it after the folder). */
export const CDC_TABLE_FOLDER = 'orders_cdc';
