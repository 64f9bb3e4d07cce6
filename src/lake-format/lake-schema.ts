/**
 * The flat, typed columns of the CDC table in the data lake (one row per DynamoDB change) and of the
 * backfill snapshots (one row per item). Column names are snake_case because Glue and Athena lower-case
 * identifiers. This is the one definition the S3 sink, the backfill, the crawler tests and the report SQL share.
 */
import { InvalidCdcRecordError } from './cdc-record';

export type LakeColumnType = 'string' | 'bigint' | 'double' | 'timestamp';

export interface LakeColumn {
  name: string;
  type: LakeColumnType;
  /** Where the value comes from in an order item (OrderState); undefined for CDC metadata columns. */
  from?: string;
  /** The field of the `from` map the value is (a nested attribute, flattened into its own column). */
  field?: string;
  /** Where a CDC metadata column comes from in the change event (CdcEvent). */
  fromChange?: 'op' | 'changeTime' | 'sequenceNumber';
}

/** Columns of order-event schema version 1, taken from the order item (the new image; for REMOVE the old image). */
const ORDER_V1_COLUMNS: LakeColumn[] = [
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

/**
 * Columns of the fields order-event schema version 2 adds. They are optional, so every one is nullable: rows of v1
 * orders, and every object written before v2, read them as NULL.
 *
 * Flattened rather than one `shipping_address` struct: a struct's type names its fields, so a field added later
 * changes the column's type, which Athena checks between table and partitions and the Glue crawler reports as a
 * schema change, while a new flat column is the one change every format allows ("add columns at the end").
 */
export const ORDER_V2_COLUMNS: LakeColumn[] = [
  { name: 'channel', type: 'string', from: 'channel' },
  { name: 'discount_code', type: 'string', from: 'discountCode' },
  { name: 'shipping_country', type: 'string', from: 'shippingAddress', field: 'country' },
  { name: 'shipping_postcode', type: 'string', from: 'shippingAddress', field: 'postcode' },
];

/** Every column taken from the order item, in table order (a backfill snapshot's columns). */
export const ORDER_COLUMNS: LakeColumn[] = [...ORDER_V1_COLUMNS, ...ORDER_V2_COLUMNS];

/** CDC metadata columns appended after the order columns. */
export const CDC_COLUMNS: LakeColumn[] = [
  { name: 'op', type: 'string', fromChange: 'op' },
  { name: 'change_time', type: 'timestamp', fromChange: 'changeTime' },
  { name: 'sequence_number', type: 'string', fromChange: 'sequenceNumber' },
];

/**
 * The CDC table's columns, in order. A new schema version's columns go at the end and existing ones never move:
 * Athena allows adding columns at the end of a table in every format ("Add columns at the end of the table",
 * https://docs.aws.amazon.com/athena/latest/ug/updates-add-columns-end-of-table.html), and provisioning appends
 * them to a table that exists (cdc-catalog.ts).
 */
export const CDC_LAKE_COLUMNS: LakeColumn[] = [...ORDER_V1_COLUMNS, ...CDC_COLUMNS, ...ORDER_V2_COLUMNS];

/** The order attributes the columns read (a nested field's map once), with the nested fields each map has. */
export function imageAttributes(columns: readonly LakeColumn[]): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const { from, field } of columns) {
    if (from === undefined) continue;
    const fields = attributes.get(from) ?? [];
    if (field !== undefined) fields.push(field);
    attributes.set(from, fields);
  }
  return attributes;
}

/**
 * An order column's raw value in an image (an unmarshalled item): the attribute, or the field of a map attribute.
 * A missing map reads as a missing field; a map attribute that is not a map throws InvalidCdcRecordError.
 *
 * @example
 *   imageValue({ name: 'shipping_country', type: 'string', from: 'shippingAddress', field: 'country' }, item); // 'DE'
 */
export function imageValue(column: LakeColumn, image: Record<string, unknown>): unknown {
  const value = image[column.from!];
  if (column.field === undefined || value === null || value === undefined) return value;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidCdcRecordError(
      'column-invalid',
      `${column.name} (${column.from}.${column.field}): expected ${column.from} to be a map, got ${JSON.stringify(value)?.slice(0, 40)}`,
    );
  }
  return (value as Record<string, unknown>)[column.field];
}

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
