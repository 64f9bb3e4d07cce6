/**
 * The topic-partition writer's upload queue, as pure logic: storage and commits are in-memory recorders (the
 * S3 and Kafka paths are covered against moto and Kafka in s3-sink.test.ts). What is checked here is ordering
 * and waiting: commits in offset order with each intent before its PUTs, back-pressure that keeps heartbeating,
 * and a closed writer that stops taking records.
 */
import { Registry } from 'prom-client';
import { createLogger } from '../../src/observability/logger';
import { changeLine } from '../../src/lake-format/change-line';
import { decodeCdcRecord } from '../../src/lake-format/cdc-record';
import { createJsonLinesFormat } from '../../src/lake-format/formats/jsonl';
import { createS3SinkMetrics } from '../../src/streaming/s3-sink/metrics';
import { createHourlyPartitioner } from '../../src/lake-format/cdc-layout';
import type { LakeStorage } from '../../src/lake-format/storage';
import type { SinkRecord } from '../../src/streaming/s3-sink/open-segment';
import { PartitionRevokedError } from '../../src/streaming/s3-sink/partition-offsets';
import { createTopicPartitionWriter } from '../../src/streaming/s3-sink/topic-partition-writer';
import { waitFor } from './helpers';
import { makeCdcEvents } from './s3-sink-support';

const logger = createLogger('s3-sink-writer-test', { logLevel: 'warn' });

function records(count: number): SinkRecord[] {
  return makeCdcEvents(count, { spacingMs: 1000 }).map((event, offset) => {
    const value = Buffer.from(JSON.stringify(event));
    return {
      offset,
      line: changeLine(value, decodeCdcRecord(value)),
      changeMs: Date.parse(event.changeTime),
      changeId: event.eventId,
      bytes: value.length,
    };
  });
}

/**
 * Storage whose PUTs are recorded in order, with the commits, in one log. While `hold()` is in force every PUT
 * waits for `release()`: the test decides when an upload ends, so it can observe the writer waiting.
 */
function recorder() {
  const log: string[] = [];
  const puts = { started: 0, inFlight: 0 };
  let gate: Promise<void> = Promise.resolve();
  let open = () => undefined as void;
  const storage: LakeStorage = {
    bucket: 'memory',
    put: async (key) => {
      puts.started++;
      puts.inFlight++;
      try {
        await gate;
        log.push(`put ${key.split('+').pop()}`);
      } finally {
        puts.inFlight--;
      }
    },
    putFile: () => Promise.reject(new Error('the writer uploads bodies, not files')),
    download: () => Promise.reject(new Error('the writer never reads objects')),
    head: async () => undefined,
    get: async () => new Uint8Array(),
    list: async () => [],
  };
  const commit = async (offset: number, metadata: string | null) => {
    log.push(metadata ? `intent ${offset} ${metadata}` : `commit ${offset}`);
  };
  const hold = () => {
    gate = new Promise((resolve) => (open = resolve));
  };
  return { log, storage, commit, puts, hold, release: () => open() };
}

function writer() {
  const { log, storage, commit, puts, hold, release } = recorder();
  const format = createJsonLinesFormat({ gzip: false });
  const partitionWriter = createTopicPartitionWriter({
    topic: 'orders.cdc',
    partition: 0,
    tableRoot: 'lake/orders_cdc/',
    format,
    storage,
    partitioner: createHourlyPartitioner(),
    limits: { flushRecords: 10, flushBytes: 1 << 30, rotateMs: 60_000, rotateRecordMs: 0 },
    commit,
    dedupCapacity: 100,
    metrics: createS3SinkMetrics(new Registry()),
    logger,
  });
  return { log, partitionWriter, puts, hold, release };
}

/** Tracks whether a promise has settled, without waiting for it. */
function track(promise: Promise<unknown>) {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

describe('S3 sink writer: the upload queue', () => {
  it('uploads sealed segments in offset order: each intent, then its PUT, then its commit', async () => {
    const { log, partitionWriter } = writer();
    await partitionWriter.write(records(35));
    await partitionWriter.flush('stop');
    const intent = (start: number, end: number) =>
      `intent ${start} s3-sink:v1:{"start":${start},"end":${end}}`;
    expect(log).toEqual([
      intent(0, 9),
      'put 0000000000.jsonl',
      'commit 10',
      intent(10, 19),
      'put 0000000010.jsonl',
      'commit 20',
      intent(20, 29),
      'put 0000000020.jsonl',
      'commit 30',
      intent(30, 34),
      'put 0000000030.jsonl',
      'commit 35',
    ]);
  });

  it('keeps heartbeating through a long wait for room in the queue, not only when the wait ends', async () => {
    const { log, partitionWriter, hold, release } = writer();
    hold();
    let heartbeats = 0;
    // Three segments: the third is one too many and waits for the first upload, which is held.
    const writing = partitionWriter.write(records(30), async () => {
      heartbeats++;
    });
    const write = track(writing);
    await waitFor('two heartbeats during the wait', async () => heartbeats >= 2 || write.settled, {
      intervalMs: 50,
    });
    expect(write.settled).toBe(false);
    expect(log.filter((entry) => entry.startsWith('put'))).toEqual([]);
    release();
    await writing;
    await partitionWriter.flush('stop');
    expect(log.filter((entry) => entry.startsWith('commit'))).toEqual([
      'commit 10',
      'commit 20',
      'commit 30',
    ]);
  });

  it('stops taking records once closed, even while it waits for room', async () => {
    const { log, partitionWriter, puts, hold, release } = writer();
    hold();
    let heartbeats = 0;
    const writing = partitionWriter.write(records(60), async () => {
      heartbeats++;
    });
    const write = track(writing);
    // A heartbeat is sent only from the wait for room: the write is waiting when it comes.
    await waitFor('the write to wait for room', async () => heartbeats >= 1 || write.settled, {
      intervalMs: 20,
    });
    expect(write.settled).toBe(false);
    partitionWriter.close();
    await expect(writing).rejects.toThrow(PartitionRevokedError);
    // The upload held at the close now ends; its writer must not commit it.
    release();
    await waitFor('the held upload to end', async () => puts.inFlight === 0, { intervalMs: 20 });
    await new Promise((resolve) => setImmediate(resolve)); // what follows the PUT in the same run has run too
    expect(puts.started).toBe(1);
    expect(log.filter((entry) => entry.startsWith('commit'))).toEqual([]);
    expect(partitionWriter.bufferedBytes()).toBe(0);
  });
});
