/**
 * The DynamoDB tables' partition keys. The orders table is keyed by the order id of the events it holds; the
 * relay's checkpoint (lease) table by the shard lease it records. Provisioning creates the tables with these
 * keys, the DynamoDB sink and the relay read and write items by them, and the stream's records carry them.
 */
export const ORDERS_KEY = 'orderId';
export const CHECKPOINT_KEY = 'leaseKey';
