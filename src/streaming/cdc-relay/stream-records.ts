/**
 * Turns a DynamoDB Streams record into the CdcEvent published on `orders.cdc`: operation, images as plain
 * JSON (unmarshalled), approximate creation time, sequence number and shard. Pure.
 */
import type { AttributeValue as DynamoAttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CdcEvent, CdcOperation } from '../../domain/lake-schema';
import { ORDERS_KEY } from '../../resources/dynamodb-tables';
import { StreamRecordError } from './errors';

const OPERATIONS = new Set<CdcOperation>(['INSERT', 'MODIFY', 'REMOVE']);

function plainImage(image: Record<string, AttributeValue> | undefined): Record<string, unknown> | null {
  if (!image) return null;
  // The Streams client's AttributeValue is the same wire shape as DynamoDB's; util-dynamodb types the latter.
  return unmarshall(image as Record<string, DynamoAttributeValue>);
}

/**
 * @example
 *   const event = toCdcEvent(record, 'shardId-000001');
 *   // { op: 'MODIFY', orderId: 'ord-1', sequenceNumber: '1100…', changeTime: '2026-…Z', shardId, newImage, oldImage }
 */
export function toCdcEvent(record: _Record, shardId: string): CdcEvent {
  const op = record.eventName as CdcOperation | undefined;
  const change = record.dynamodb;
  if (!op || !OPERATIONS.has(op)) throw new StreamRecordError(`unknown stream event name "${record.eventName}"`);
  if (!change?.SequenceNumber) throw new StreamRecordError('stream record without a sequence number');
  const keys = plainImage(change.Keys);
  const orderId = keys?.[ORDERS_KEY];
  if (typeof orderId !== 'string') {
    throw new StreamRecordError(`stream record ${change.SequenceNumber} has no string ${ORDERS_KEY} key`);
  }
  const created = change.ApproximateCreationDateTime;
  return {
    op,
    orderId,
    sequenceNumber: change.SequenceNumber,
    changeTime: (created instanceof Date ? created : new Date(created ?? Date.now())).toISOString(),
    shardId,
    newImage: plainImage(change.NewImage),
    oldImage: plainImage(change.OldImage),
  };
}

/** Sequence numbers are decimal strings of up to 40 digits: compare them as integers, not as text. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isSequenceNumber(value: string | undefined): value is string {
  return value !== undefined && /^\d{1,40}$/.test(value);
}

/** The later of two checkpoints, either of which may be a marker (TRIM_HORIZON) or absent. */
export function laterSequence(a: string | undefined, b: string | undefined): string | undefined {
  if (!isSequenceNumber(a)) return isSequenceNumber(b) ? b : undefined;
  if (!isSequenceNumber(b)) return a;
  return compareSequenceNumbers(a, b) >= 0 ? a : b;
}
