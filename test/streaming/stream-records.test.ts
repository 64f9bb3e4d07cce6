/** Pure logic of the relay: stream record → CdcEvent, sequence-number order, and the relayed position. */
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import {
  advance,
  compareSequenceNumbers,
  covers,
  formatPosition,
  parsePosition,
  toCdcEvent,
  unrelayed,
} from '../../src/streaming/cdc-relay/stream-records';
import { startingPosition } from '../../src/streaming/cdc-relay/shard-reader';
import { StreamRecordError } from '../../src/streaming/cdc-relay/errors';
import { RecentIds } from '../../src/streaming/recent-ids';

const record = (
  seq: string,
  eventID: string,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'MODIFY',
): _Record => ({
  eventID,
  eventName,
  dynamodb: {
    SequenceNumber: seq,
    ApproximateCreationDateTime: new Date('2026-01-02T03:04:05Z'),
    Keys: { orderId: { S: 'o-1' } },
    ...(eventName !== 'REMOVE'
      ? {
          NewImage: {
            orderId: { S: 'o-1' },
            version: { N: '2' },
            amount: { N: '12.5' },
            tags: { L: [{ S: 'x' }] },
          },
        }
      : {}),
    ...(eventName !== 'INSERT' ? { OldImage: { orderId: { S: 'o-1' }, version: { N: '1' } } } : {}),
  },
});

describe('stream records', () => {
  it('turns a record into a CdcEvent with plain-JSON images', () => {
    expect(toCdcEvent(record('200', 'e1'), 'shard-1')).toEqual({
      op: 'MODIFY',
      orderId: 'o-1',
      sequenceNumber: '200',
      changeTime: '2026-01-02T03:04:05.000Z',
      shardId: 'shard-1',
      eventId: 'e1',
      newImage: { orderId: 'o-1', version: 2, amount: 12.5, tags: ['x'] },
      oldImage: { orderId: 'o-1', version: 1 },
    });
    expect(toCdcEvent(record('201', 'e2', 'REMOVE'), 's').newImage).toBeNull();
    expect(toCdcEvent(record('202', 'e3', 'INSERT'), 's').oldImage).toBeNull();
    expect(() => toCdcEvent({ ...record('1', 'x'), eventName: 'UNKNOWN' as never }, 's')).toThrow(
      StreamRecordError,
    );
  });

  it('compares 40-digit sequence numbers as integers', () => {
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(compareSequenceNumbers('1100000000017454423064', '1100000000017454423063')).toBe(1);
    expect(
      compareSequenceNumbers(
        '49600000000000000000000000000000000000001',
        '49600000000000000000000000000000000000001',
      ),
    ).toBe(0);
  });

  it('skips what was relayed, even when a sequence number repeats (moto)', () => {
    const a = record('100', 'a');
    const b = record('100', 'b'); // same number, different change
    const c = record('102', 'c');
    const afterA = advance(undefined, [toCdcEvent(a, 's')]);
    expect(unrelayed([b, c], afterA)).toEqual([b, c]);
    const afterB = advance(afterA, [toCdcEvent(b, 's')]);
    expect(afterB).toEqual({ sequenceNumber: '100', eventIds: ['a', 'b'] });
    expect(unrelayed([b, c], afterB)).toEqual([c]);
    expect(parsePosition(formatPosition(afterB))).toEqual(afterB);
    expect(parsePosition('123')).toEqual({ sequenceNumber: '123', eventIds: [] });
    expect(parsePosition('garbage')).toBeUndefined();
  });

  it('relays a change moto appended late with a lower number, once, and never a re-served one', () => {
    // moto numbers a change before appending it: 101 can be listed before 100 when two writes race.
    const relayed = new RecentIds(2);
    const early = record('101', 'early');
    const late = record('100', 'late');
    const position = advance(undefined, [toCdcEvent(early, 's')]);
    relayed.add('early');
    expect(unrelayed([late], position, relayed)).toEqual([late]);
    relayed.add('late');
    expect(unrelayed([early, late], position, relayed)).toEqual([]);
    // Without this reader's history (a restart), a change before the position counts as relayed.
    expect(unrelayed([late], position)).toEqual([]);
    // The history is bounded: the oldest id goes first.
    relayed.add('third');
    expect(relayed.has('early')).toBe(false);
    expect(relayed.has('late') && relayed.has('third')).toBe(true);
  });

  it('knows when a committed position already includes a page (all of its ids at a repeated number)', () => {
    const page = { sequenceNumber: '100', eventIds: ['a', 'b'] };
    expect(covers(undefined, page)).toBe(false);
    expect(covers({ sequenceNumber: '101', eventIds: [] }, page)).toBe(true);
    expect(covers({ sequenceNumber: '100', eventIds: ['a', 'b', 'c'] }, page)).toBe(true);
    expect(covers({ sequenceNumber: '100', eventIds: ['a'] }, page)).toBe(false);
    expect(covers({ sequenceNumber: '99', eventIds: ['a', 'b'] }, page)).toBe(false);
  });

  it('resumes from the later of the lease-table and Kafka checkpoints', () => {
    expect(startingPosition('TRIM_HORIZON', undefined)).toBeUndefined();
    expect(startingPosition('50', undefined)).toEqual({ sequenceNumber: '50', eventIds: [] });
    expect(startingPosition('50', { sequenceNumber: '60', eventIds: ['x'] })).toEqual({
      sequenceNumber: '60',
      eventIds: ['x'],
    });
    expect(startingPosition('70', { sequenceNumber: '60', eventIds: [] })).toEqual({
      sequenceNumber: '70',
      eventIds: [],
    });
  });
});
