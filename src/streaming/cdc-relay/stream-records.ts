/**
 * Turns a DynamoDB Streams record into the CdcEvent published on `orders.cdc`: operation, images as plain
 * JSON (unmarshalled), approximate creation time, sequence number and shard. Pure.
 */
import type { AttributeValue as DynamoAttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { CdcEvent, CdcOperation } from '../../lake-format/lake-schema';
import { ORDERS_KEY } from '../../domain/table-keys';
import type { RecentIds } from '../recent-ids';
import { StreamRecordError } from './errors';

const OPERATIONS = new Set<CdcOperation>(['INSERT', 'MODIFY', 'REMOVE']);

/**
 * A DynamoDB number (up to 38 digits) as a JSON number. util-dynamodb would turn one beyond 2^53 into a BigInt,
 * which JSON cannot serialise (the publish would fail on every retry): such a number is refused instead.
 */
function jsonNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    throw new StreamRecordError(`number ${text} is beyond what a JSON number holds exactly (±2^53 - 1)`);
  }
  return value;
}

function plainImage(
  image: Record<string, AttributeValue> | undefined,
  what: string,
  sequenceNumber: string,
): Record<string, unknown> | null {
  if (!image) return null;
  try {
    // The Streams client's AttributeValue is the same wire shape as DynamoDB's; util-dynamodb types the latter.
    return unmarshall(image as Record<string, DynamoAttributeValue>, { wrapNumbers: jsonNumber });
  } catch (error) {
    throw new StreamRecordError(
      `the ${what} of stream record ${sequenceNumber} cannot be converted: ${(error as Error).message}`,
      error,
    );
  }
}

/**
 * @example
 *   const event = toCdcEvent(record, 'shardId-000001');
 *   // { op: 'MODIFY', orderId: 'ord-1', sequenceNumber: '1100…', changeTime: '2026-…Z', shardId, newImage, oldImage }
 */
export function toCdcEvent(record: _Record, shardId: string): CdcEvent {
  const op = record.eventName as CdcOperation | undefined;
  const change = record.dynamodb;
  if (!op || !OPERATIONS.has(op))
    throw new StreamRecordError(`unknown stream event name "${record.eventName}"`);
  if (!change?.SequenceNumber) throw new StreamRecordError('stream record without a sequence number');
  const sequenceNumber = change.SequenceNumber;
  const keys = plainImage(change.Keys, 'keys', sequenceNumber);
  const orderId = keys?.[ORDERS_KEY];
  if (typeof orderId !== 'string') {
    throw new StreamRecordError(`stream record ${sequenceNumber} has no string ${ORDERS_KEY} key`);
  }
  const created = change.ApproximateCreationDateTime;
  return {
    op,
    orderId,
    sequenceNumber,
    changeTime: (created instanceof Date ? created : new Date(created ?? Date.now())).toISOString(),
    shardId,
    ...(record.eventID ? { eventId: record.eventID } : {}),
    newImage: plainImage(change.NewImage, 'new image', sequenceNumber),
    oldImage: plainImage(change.OldImage, 'old image', sequenceNumber),
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

/**
 * What has been relayed up to: the last sequence number, and the ids of the records carrying it.
 * On AWS sequence numbers strictly increase within a shard, so `sequenceNumber` alone would do; the ids
 * guard against moto, which can repeat a sequence number and then re-serve a record after it.
 */
export interface RelayPosition {
  sequenceNumber: string;
  eventIds: string[];
}

/** Serialised into the Kafka checkpoint metadata: `<seq>` or `<seq>:<id>,<id>` (well under 4 KB). */
export function formatPosition(position: RelayPosition): string {
  return position.eventIds.length > 0
    ? `${position.sequenceNumber}:${position.eventIds.join(',')}`
    : position.sequenceNumber;
}

export function parsePosition(text: string | null | undefined): RelayPosition | undefined {
  if (!text) return undefined;
  const [sequenceNumber, ids] = text.split(':');
  if (!isSequenceNumber(sequenceNumber)) return undefined;
  return { sequenceNumber, eventIds: ids ? ids.split(',').filter(Boolean) : [] };
}

/**
 * Records not relayed yet: after the position, at its sequence number but not among its ids, or (moto only)
 * before it but never relayed by this reader. moto numbers a change before appending it, so concurrent writes
 * can append a change AFTER one with a higher number; a reader that had already passed that number would skip
 * it for good. `relayed` (the event ids this reader published) tells such a late change from a re-served one.
 * On AWS sequence numbers only grow within a shard, so the last case never arises there.
 */
export function unrelayed(
  records: _Record[],
  position: RelayPosition | undefined,
  relayed?: Pick<RecentIds, 'has'>,
): _Record[] {
  if (!position) return records;
  const done = new Set(position.eventIds);
  return records.filter((record) => {
    const seq = record.dynamodb?.SequenceNumber;
    if (!seq) return true;
    const order = compareSequenceNumbers(seq, position.sequenceNumber);
    if (order > 0) return true;
    const id = record.eventID ?? '';
    if (order === 0) return !done.has(id);
    return relayed !== undefined && id !== '' && !relayed.has(id);
  });
}

/** Whether `committed` already includes everything up to `position` (same number: every one of its ids). */
export function covers(committed: RelayPosition | undefined, position: RelayPosition): boolean {
  if (!committed) return false;
  const order = compareSequenceNumbers(committed.sequenceNumber, position.sequenceNumber);
  if (order !== 0) return order > 0;
  const done = new Set(committed.eventIds);
  return position.eventIds.every((id) => done.has(id));
}

/** Where a relayed record stands in its shard: its sequence number, and its event id when it has one. */
export type RecordMark = Pick<CdcEvent, 'sequenceNumber' | 'eventId'>;

/** The mark of a stream record (published or dead-lettered); none without a sequence number. */
export function recordMark(record: _Record): RecordMark | undefined {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (!sequenceNumber) return undefined;
  return { sequenceNumber, ...(record.eventID ? { eventId: record.eventID } : {}) };
}

/** The position after relaying `events` (or records marked so) from `previous`. */
export function advance(previous: RelayPosition | undefined, events: RecordMark[]): RelayPosition {
  let position = previous;
  for (const event of events) {
    const id = event.eventId ? [event.eventId] : [];
    if (!position || compareSequenceNumbers(event.sequenceNumber, position.sequenceNumber) > 0) {
      position = { sequenceNumber: event.sequenceNumber, eventIds: id };
    } else if (event.sequenceNumber === position.sequenceNumber) {
      position = { sequenceNumber: position.sequenceNumber, eventIds: [...position.eventIds, ...id] };
    }
  }
  return position!;
}
