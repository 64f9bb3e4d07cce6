/**
 * The soak's check of the CDC topic against the DynamoDB stream's retention window (pure logic): changes trimmed
 * from the stream are outside the check, every change in the window must be published exactly once, and a CDC
 * record inside the window that the stream never had is reported.
 */
import { windowCoverage } from '../../src/cli/soak/store-check';

const window = new Map([
  ['shard-a', new Set(['100', '101', '102'])],
  ['shard-b', new Set(['900'])],
]);
const record = (shardId: string, sequenceNumber: string) => ({ shardId, sequenceNumber });

it('leaves out records older than the window and records of shards no longer in the stream', () => {
  const records = [
    record('shard-a', '7'), // trimmed from the stream: older than its window
    record('shard-a', '99'),
    record('shard-gone', '5'),
    ...['100', '101', '102'].map((s) => record('shard-a', s)),
    record('shard-b', '900'),
  ];
  expect(windowCoverage(window, records)).toEqual({ changes: 4, published: 4, foreign: 0 });
});

it('counts a change published twice twice, and one never published not at all', () => {
  const records = [record('shard-a', '100'), record('shard-a', '100'), record('shard-a', '102')];
  expect(windowCoverage(window, records)).toEqual({ changes: 4, published: 3, foreign: 0 });
});

it('reports a record inside the window that the stream does not hold', () => {
  const records = [record('shard-a', '101'), record('shard-a', '150'), record('shard-b', '901')];
  expect(windowCoverage(window, records)).toEqual({ changes: 4, published: 1, foreign: 2 });
});

it('compares sequence numbers as numbers, not as text', () => {
  const wide = new Map([['shard-a', new Set(['99', '100'])]]);
  expect(windowCoverage(wide, [record('shard-a', '98'), record('shard-a', '100')])).toEqual({
    changes: 2,
    published: 1,
    foreign: 0,
  });
});
