/**
 * Backfill snapshot objects: one Parquet row per DynamoDB item with the order columns of the lake
 * (ORDER_COLUMNS: same names, types and value conversion as the S3 sink's rows, via its `toColumnValue`), written
 * by the lake format's Parquet encoder, so a snapshot can be crawled and queried like the CDC table minus the
 * change metadata.
 *
 * Deterministic: the same items in the same order give the same bytes, which is what lets a resumed backfill
 * rewrite a part identical to the one an uninterrupted run writes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LakeFormatError } from './errors';
import { encodeParquet } from './formats/parquet';
import { imageValue, ORDER_COLUMNS } from './lake-schema';
import { toColumnValue, type LakeRow } from './lake-row';

const SNAPSHOT_COLUMNS = ORDER_COLUMNS;

export class SnapshotItemError extends LakeFormatError {
  override readonly name = 'SnapshotItemError';
  /** The item's value is wrong: reading it again gives the same value. */
  readonly retriable = false;
}

/** One DynamoDB item (wire format) as a lake row; a value of the wrong type names the item and column. */
export function snapshotRow(item: Record<string, AttributeValue>): LakeRow {
  const plain = unmarshall(item) as Record<string, unknown>;
  const row: LakeRow = {};
  for (const column of SNAPSHOT_COLUMNS) {
    try {
      row[column.name] = toColumnValue(column, imageValue(column, plain));
    } catch (error) {
      throw new SnapshotItemError(`item ${String(plain.orderId)}: ${(error as Error).message}`, error);
    }
  }
  return row;
}

export function encodeSnapshotParquet(items: Record<string, AttributeValue>[]): Buffer {
  return encodeParquet(items.map(snapshotRow), {
    columns: SNAPSHOT_COLUMNS,
    createdBy: 'orders-pipeline backfill',
    stringStatistics: true,
  });
}
