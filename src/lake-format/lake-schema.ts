/**
 * The flat, typed columns of the CDC table in the data lake (one row per DynamoDB change) and of the
 * backfill snapshots (one row per item). Column names are snake_case because Glue and Athena lower-case
 * identifiers. This is the one definition the S3 sink, the backfill, the crawler tests and the report SQL share.
 */
export type LakeColumnType = 'string' | 'bigint' | 'double' | 'timestamp';

export interface LakeColumn {
  name: string;
  type: LakeColumnType;
  /** Where the value comes from in an order item (OrderState); undefined for CDC metadata columns. */
  from?: string;
  /** Where a CDC metadata column comes from in the change event (CdcEvent). */
  fromChange?: 'op' | 'changeTime' | 'sequenceNumber';
}

/** Columns taken from the order item (the new image; for REMOVE the old image). */
export const ORDER_COLUMNS: LakeColumn[] = [
  { name: 'order_id', type: 'string', from: 'orderId' },
  { name: 'customer_id', type: 'string', from: 'customerId' },
  { name: 'status', type: 'string', from: 'status' },
  { name: 'version', type: 'bigint', from: 'version' },
  { name: 'amount', type: 'double', from: 'amount' },
  { name: 'currency', type: 'string', from: 'currency' },
  { name: 'region', type: 'string', from: 'region' },
  { name: 'item_count', type: 'bigint', from: 'itemCount' },
  { name: 'created_at', type: 'timestamp', from: 'createdAt' },
  { name: 'updated_at', type: 'timestamp', from: 'updatedAt' },
  { name: 'last_event_type', type: 'string', from: 'lastEventType' },
  { name: 'last_event_id', type: 'string', from: 'lastEventId' },
];

/** CDC metadata columns appended after the order columns. */
export const CDC_COLUMNS: LakeColumn[] = [
  { name: 'op', type: 'string', fromChange: 'op' },
  { name: 'change_time', type: 'timestamp', fromChange: 'changeTime' },
  { name: 'sequence_number', type: 'string', fromChange: 'sequenceNumber' },
];

export const CDC_LAKE_COLUMNS: LakeColumn[] = [...ORDER_COLUMNS, ...CDC_COLUMNS];

/** Hive-style partition keys of the CDC table, derived from change_time (UTC). */
export const CDC_PARTITION_KEYS = ['dt', 'hour'] as const;

export type CdcOperation = 'INSERT' | 'MODIFY' | 'REMOVE';

/** A change event on the `orders.cdc` topic, as the relay publishes it. */
export interface CdcEvent {
  op: CdcOperation;
  orderId: string;
  /** DynamoDB Streams sequence number (decimal string) of the change. */
  sequenceNumber: string;
  /** ApproximateCreationDateTime of the stream record, ISO-8601. */
  changeTime: string;
  /** Shard the change was read from: with sequenceNumber it identifies the change. */
  shardId: string;
  /**
   * The stream record's eventID, unique per change. The relay always sets it (optional for older
   * producers). Safer than shardId + sequenceNumber against moto, whose concurrent writes to one table
   * can give two different changes the same sequence number (a local-stack race; AWS never does).
   */
  eventId?: string;
  newImage: Record<string, unknown> | null;
  oldImage: Record<string, unknown> | null;
}
