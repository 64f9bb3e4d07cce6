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
import { sleep } from './helpers';
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

/** Storage whose PUTs take `putMs` and are recorded in order, with the commits, in one log. */
function recorder(putMs: number) {
  const log: string[] = [];
  const storage: LakeStorage = {
    bucket: 'memory',
    put: async (key) => {
      await sleep(putMs);
      log.push(`put ${key.split('+').pop()}`);
    },
    head: async () => undefined,
    get: async () => new Uint8Array(),
    list: async () => [],
  };
  const commit = async (offset: number, metadata: string | null) => {
    log.push(metadata ? `intent ${offset} ${metadata}` : `commit ${offset}`);
  };
  return { log, storage, commit };
}

function writer(putMs: number) {
  const { log, storage, commit } = recorder(putMs);
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
  return { log, partitionWriter };
}

describe('S3 sink writer: the upload queue', () => {
  it('uploads sealed segments in offset order: each intent, then its PUT, then its commit', async () => {
    const { log, partitionWriter } = writer(5);
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
    const { log, partitionWriter } = writer(1600);
    let heartbeats = 0;
    const started = Date.now();
    // Three segments: the third is one too many and waits for the first upload (1.6 s), heartbeating every 0.5 s.
    await partitionWriter.write(records(30), async () => {
      heartbeats++;
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(heartbeats).toBeGreaterThanOrEqual(2);
    await partitionWriter.flush('stop');
    expect(log.filter((entry) => entry.startsWith('commit'))).toEqual([
      'commit 10',
      'commit 20',
      'commit 30',
    ]);
  });

  it('stops taking records once closed, even while it waits for room', async () => {
    const { log, partitionWriter } = writer(300);
    const writing = partitionWriter.write(records(60));
    await sleep(100);
    partitionWriter.close();
    await expect(writing).rejects.toThrow(PartitionRevokedError);
    await sleep(400);
    // Nothing was committed past what was uploaded before the close, and nothing after it.
    const commits = log.filter((entry) => entry.startsWith('commit'));
    expect(commits.length).toBeLessThanOrEqual(1);
    expect(partitionWriter.bufferedBytes()).toBe(0);
  });
});
