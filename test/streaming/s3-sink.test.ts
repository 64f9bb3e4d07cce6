/**
 * The S3 sink against the real local stack: Kafka (fresh topics per test) and moto S3 (fresh bucket).
 * Every test produces CdcEvents straight to the CDC topic and checks what ends up in the lake.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Kafka } from 'kafkajs';
import { createS3Client } from '../../src/aws/clients';
import { withOverrides, type Config, type DeepPartial } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { createLogger } from '../../src/observability/logger';
import { ensureTopics, pipelineTopics } from '../../src/resources/kafka-topics';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { toLakeRow } from '../../src/lake-format/lake-row';
import { readLakeRecords, type LakeObjectSummary } from '../../src/lake-format/lake-reader';
import { hourlyPartitionPath } from '../../src/lake-format/cdc-layout';
import {
  createS3Sink,
  s3SinkGroupId,
  type S3Sink,
  type S3SinkOptions,
} from '../../src/streaming/s3-sink/s3-sink';
import { createS3Storage, StorageError, type LakeStorage } from '../../src/lake-format/storage';
import { deleteConsumerGroups, deletePipelineTopics, emptyBucket } from '../support/cleanup';
import { freshConfig } from '../support/fresh-config';
import {
  cdcMessage,
  expectedRecord,
  makeCdcEvents,
  produceMessages,
  waitForCommittedToEnd,
  waitForLakeRows,
} from './s3-sink-support';
import { waitFor } from '../../src/support/timing';

interface Harness {
  config: Config;
  kafka: Kafka;
  s3: S3Client;
  groupId: string;
  startSink(extra?: Partial<S3SinkOptions>): Promise<S3Sink>;
}

const sinks: S3Sink[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function harness(label: string, overrides: DeepPartial<Config> = {}): Promise<Harness> {
  const defaults = freshConfig(label, {
    kafka: { sessionTimeoutMs: 6000 },
    s3Sink: { flushRecords: 400, rotateMs: 2000, rotateRecordMs: 15 * 60_000 },
  });
  const config = withOverrides(defaults, overrides);
  const kafka = createKafka(config, 'test');
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  const s3 = createS3Client(config);
  await ensureBucket(s3, config);
  cleanups.push(async () => {
    await emptyBucket(s3, config.lake.bucket, { deleteBucket: true });
    s3.destroy();
    await deletePipelineTopics(kafka, config);
    await deleteConsumerGroups(kafka, config);
  });
  const logger = createLogger('s3-sink-test', config);
  return {
    config,
    kafka,
    s3,
    groupId: s3SinkGroupId(config),
    async startSink(extra = {}) {
      const sink = createS3Sink({ config, logger, ...extra });
      sinks.push(sink);
      await sink.start();
      return sink;
    },
  };
}

async function stopSink(sink: S3Sink) {
  sinks.splice(sinks.indexOf(sink), 1);
  await sink.stop();
}

afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.stop().catch(() => undefined);
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});

/** The harness's S3 storage with `before` run ahead of every PUT (to fail or delay it). */
function storageBeforePut(h: Harness, before: (key: string) => Promise<void>): LakeStorage {
  const real = createS3Storage({
    s3: h.s3,
    bucket: h.config.lake.bucket,
    logger: createLogger('test', h.config),
  });
  return {
    ...real,
    put: async (key, body, contentType, metadata) => {
      await before(key);
      await real.put(key, body, contentType, metadata);
    },
  };
}

function expectExactlyOnce(rows: Record<string, unknown>[], count: number) {
  expect(rows).toHaveLength(count);
  expect(new Set(rows.map((r) => r.sequence_number)).size).toBe(count);
}

describe('S3 sink', () => {
  it('writes every change once as typed Parquet under its dt/hour partition, and a replay overwrites the same keys', async () => {
    const h = await harness('s3sink-parquet', {
      s3Sink: { flushRecords: 400, rotateMs: 2000, rotateRecordMs: 30 * 60_000 },
    });
    // 2,400 changes spread over three hours of change time, on all three partitions.
    const events = makeCdcEvents(2400, { spacingMs: 4500, orders: 300 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));
    const sink = await h.startSink();

    // Offsets are committed only after their objects are in S3: committed to the end means all is written.
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    await stopSink(sink);
    const rows = await readLakeRecords(h.s3, h.config);
    expectExactlyOnce(rows, events.length);
    expect(sink.stats()).toMatchObject({ recordsIn: events.length, rowsOut: events.length, deadLetters: 0 });

    // Content: every row is exactly the mapping of its change, in the partition of its change time.
    const bySequence = new Map(rows.map((r) => [r.sequence_number, r]));
    for (const event of events) {
      const row = bySequence.get(event.sequenceNumber)!;
      const { dt, hour, object_key, ...columns } = row;
      expect(columns).toEqual(expectedRecord(toLakeRow(event)));
      expect(`dt=${dt}/hour=${hour}`).toBe(hourlyPartitionPath(new Date(event.changeTime)));
      expect(object_key).toContain(`/dt=${dt}/hour=${hour}/${h.config.topics.cdc}+`);
      expect(object_key).toMatch(/\+\d{10}\.parquet$/);
    }
    expect(new Set(rows.map((r) => `${r.dt}/${r.hour}`))).toEqual(
      new Set(['2024-05-01/09', '2024-05-01/10', '2024-05-01/11', '2024-05-01/12']),
    );

    // DuckDB reads the same lake with Hive partitioning and typed columns.
    const dir = mkdtempSync(join(tmpdir(), 's3-sink-lake-'));
    try {
      const storage = createS3Storage({
        s3: h.s3,
        bucket: h.config.lake.bucket,
        logger: createLogger('test', h.config),
      });
      for (const { key } of await storage.list(`${h.config.lake.prefix}/`)) {
        const file = join(dir, key);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, await storage.get(key));
      }
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      const [summary] = (
        await connection.runAndReadAll(
          `SELECT count(*) AS n, count(DISTINCT sequence_number) AS changes, count(DISTINCT hour) AS hours,
                  typeof(any_value(change_time)) AS change_type, typeof(any_value(version)) AS version_type
           FROM read_parquet('${dir}/**/*.parquet', hive_partitioning = true)`,
        )
      ).getRowObjects();
      connection.closeSync();
      expect({
        ...summary,
        n: Number(summary.n),
        changes: Number(summary.changes),
        hours: Number(summary.hours),
      }).toEqual({
        n: events.length,
        changes: events.length,
        hours: 4,
        change_type: 'TIMESTAMP',
        version_type: 'BIGINT',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Replay: reset the group to the beginning and run again: same keys, same rows, nothing duplicated.
    const before: LakeObjectSummary[] = [];
    await readLakeRecords(h.s3, h.config, { objects: before });
    const admin = h.kafka.admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: h.groupId, topic: h.config.topics.cdc, earliest: true });
    await admin.disconnect();
    const replay = await h.startSink();
    await waitFor('the replay to read everything', async () =>
      replay.stats().recordsIn >= events.length ? true : undefined,
    );
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    await stopSink(replay);
    const after: LakeObjectSummary[] = [];
    expectExactlyOnce(await readLakeRecords(h.s3, h.config, { objects: after }), events.length);
    const keys = (list: LakeObjectSummary[]) => list.map((o) => `${o.key} ${o.size} ${o.rows}`).sort();
    expect(keys(after)).toEqual(keys(before));
    expect(replay.stats().objectsWritten).toBe(before.length);
  });

  it('replays the cut of a segment whose objects were written but not committed, even with other rotation settings', async () => {
    const h = await harness('s3sink-intent', {
      topics: { partitions: 1 },
      s3Sink: { flushRecords: 300, rotateMs: 60_000, rotateRecordMs: 0 },
    });
    // One change a minute from 09:40: a segment of 300 spans six hour partitions (six objects).
    const events = makeCdcEvents(1000, { spacingMs: 60_000, orders: 100 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));

    // The "crash": after the 8th PUT (two objects into the second segment) every write fails, so that segment's
    // objects are partly in S3, its intent is committed, and its final commit never happens.
    let puts = 0;
    const crashing = storageBeforePut(h, async (key) => {
      if (++puts > 8) throw new StorageError(`injected crash before ${key}`);
    });
    const first = await h.startSink({ storage: crashing });
    await waitFor('the injected crash', async () => (puts > 9 ? true : undefined));
    await stopSink(first);
    const partial = await readLakeRecords(h.s3, h.config);
    expect(partial.length).toBe(300 + 20 + 60); // segment 1, then 14:40-14:59 and the 15:00 hour of segment 2

    // The restart rotates every 170 records: it must still end its first segment where the crashed run did.
    const restartConfig = { ...h.config, s3Sink: { ...h.config.s3Sink, flushRecords: 170, rotateMs: 1000 } };
    const restarted = createS3Sink({ config: restartConfig, logger: createLogger('test', h.config) });
    sinks.push(restarted);
    await restarted.start();
    const rows = await waitForLakeRows(h.s3, h.config, events.length);
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    await stopSink(restarted);
    expectExactlyOnce(await readLakeRecords(h.s3, h.config), events.length);
    expect(rows.length).toBe(events.length);
    expect(restarted.stats().flushes['replay-boundary']).toBe(1);
  });

  it('rides out an S3 outage: failed uploads are retried, and every change is written once', async () => {
    const h = await harness('s3sink-outage', { s3Sink: { flushRecords: 100, rotateMs: 500 } });
    const events = makeCdcEvents(1200, { spacingMs: 1000, orders: 150 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));
    // PUTs 3 to 12 fail: segments are sealed and queued meanwhile, and each partition's queue stops at its failure.
    let puts = 0;
    const failed: string[] = [];
    const flaky = storageBeforePut(h, async (key) => {
      puts++;
      if (puts >= 3 && puts <= 12) {
        failed.push(key);
        throw new StorageError(`injected outage before ${key}`);
      }
    });
    const fatal: Error[] = [];
    const sink = await h.startSink({ storage: flaky, onFatal: (error: Error) => fatal.push(error) });
    const rows = await waitForLakeRows(h.s3, h.config, events.length);
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    await stopSink(sink);
    expect(failed).toHaveLength(10);
    expect(fatal).toEqual([]);
    expect(rows.length).toBe(events.length);
    expectExactlyOnce(await readLakeRecords(h.s3, h.config), events.length);
    expect(sink.stats().rowsOut).toBe(events.length);
  });

  it('flushes an idle partition on the wall-clock timer, with no further records arriving', async () => {
    const h = await harness('s3sink-idle', {
      s3Sink: { flushRecords: 100_000, rotateMs: 1000, rotateRecordMs: 0 },
    });
    const sink = await h.startSink();
    const events = makeCdcEvents(10);
    const started = Date.now();
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));
    const rows = await waitForLakeRows(h.s3, h.config, events.length, 20_000);
    expectExactlyOnce(rows, events.length);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sink.stats().flushes['wall-clock']).toBeGreaterThanOrEqual(1);
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc, 10_000);
  });

  it('sends invalid messages to the dead-letter topic with their reason, and the valid ones behind them arrive', async () => {
    const h = await harness('s3sink-dlq', { s3Sink: { rotateMs: 500 } });
    const [a, b, c, d] = makeCdcEvents(4);
    const bad = [
      { value: '{"op":"INSERT","orderId":', reason: 'malformed-json' },
      { value: JSON.stringify({ ...b, op: 'UPSERT' }), reason: 'schema-invalid' },
      {
        value: JSON.stringify({ ...c, newImage: { ...c.newImage, amount: 'a lot' } }),
        reason: 'column-invalid',
      },
      { value: JSON.stringify({ ...c, newImage: null }), reason: 'missing-image' },
    ];
    // All on partition 0, interleaved, so the valid changes sit behind bad ones.
    const messages = [
      cdcMessage(a),
      bad[0],
      cdcMessage(b),
      bad[1],
      bad[2],
      cdcMessage(c),
      bad[3],
      cdcMessage(d),
    ].map((m) => ({
      key: 'same-key',
      value: m.value,
      partition: 0,
    }));
    await produceMessages(h.kafka, h.config.topics.cdc, messages);
    const sink = await h.startSink();
    const rows = await waitForLakeRows(h.s3, h.config, 4, 20_000);
    expect(rows.map((r) => r.sequence_number).sort()).toEqual(
      [a, b, c, d].map((e) => e.sequenceNumber).sort(),
    );
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc, 10_000);
    expect(sink.stats().deadLetters).toBe(4);

    const consumer = h.kafka.consumer({ groupId: `${h.groupId}-dlq-reader` });
    const letters: { value: string; reason: string; offset: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [h.config.topics.cdcDlq], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push({
          value: message.value?.toString() ?? '',
          reason: message.headers?.[DLQ_HEADERS.reason]?.toString() ?? '',
          offset: message.headers?.[DLQ_HEADERS.sourceOffset]?.toString() ?? '',
        });
      },
    });
    await waitFor('4 dead letters', async () => (letters.length >= 4 ? true : undefined), {
      timeoutMs: 20_000,
    });
    await consumer.disconnect();
    expect(letters.map((l) => l.value)).toEqual(bad.map((x) => x.value));
    expect(letters.map((l) => l.reason.split(':')[0])).toEqual(bad.map((x) => x.reason));
    expect(letters.map((l) => l.offset)).toEqual(['1', '3', '4', '6']);
    expect(letters[2].reason).toContain('amount');
  });

  it('pauses fetching when the buffer cap is reached, stays near the cap, and still writes everything once', async () => {
    const cap = 1024 * 1024;
    const h = await harness('s3sink-memory', {
      s3Sink: {
        flushRecords: 1_000_000,
        flushBytes: 64 * 1024 * 1024,
        rotateMs: 60_000,
        rotateRecordMs: 0,
        maxBufferBytes: cap,
      },
    });
    const events = makeCdcEvents(6000, { spacingMs: 100 });
    const messages = events.map(cdcMessage);
    const total = messages.reduce(
      (sum, m) => sum + Buffer.byteLength(String(m.value)) + Buffer.byteLength(String(m.key)),
      0,
    );
    expect(total).toBeGreaterThan(3 * cap);
    await produceMessages(h.kafka, h.config.topics.cdc, messages, 300);
    const sink = await h.startSink();
    await waitFor(
      'every record read',
      async () => (sink.stats().recordsIn >= events.length ? true : undefined),
      { timeoutMs: 60_000 },
    );
    const stats = sink.stats();
    // Nothing rotates by count, size or time here: only the memory cap made these flushes.
    expect(Object.keys(stats.flushes)).toEqual(['memory']);
    expect(stats.flushes.memory).toBeGreaterThanOrEqual(2);
    expect(stats.fetchPauses).toBeGreaterThanOrEqual(2);
    // The cap is checked every 250 records, in up to three partitions at once.
    expect(stats.maxBufferedBytes).toBeLessThanOrEqual(cap + 3 * 250 * 1024);
    const written = (await readLakeRecords(h.s3, h.config)).length;
    expect(written).toBeGreaterThanOrEqual(events.length - Math.ceil(cap / 600));
    await stopSink(sink); // the stop flushes the rest
    expect(sink.stats().flushes.stop).toBeGreaterThanOrEqual(1);
    expectExactlyOnce(await readLakeRecords(h.s3, h.config), events.length);
  });

  it('writes gzipped JSON lines when configured', async () => {
    const h = await harness('s3sink-jsonl', {
      lake: { format: 'jsonl' },
      s3Sink: { jsonlGzip: true, flushRecords: 50, rotateRecordMs: 0 },
    });
    const events = makeCdcEvents(200, { spacingMs: 30_000 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));
    await h.startSink();
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    const rows = await readLakeRecords(h.s3, h.config);
    expectExactlyOnce(rows, events.length);
    expect(rows.every((r) => r.object_key.endsWith('.jsonl.gz'))).toBe(true);
    const bySequence = new Map(rows.map((r) => [r.sequence_number, r]));
    for (const event of events) {
      const { dt: _dt, hour: _hour, object_key: _key, ...columns } = bySequence.get(event.sequenceNumber)!;
      expect(columns).toEqual(expectedRecord(toLakeRow(event)));
    }
  });

  it('drops a change the relay re-published (same eventId), but keeps distinct changes that share a sequence number', async () => {
    const h = await harness('s3sink-dedup', { topics: { partitions: 1 }, s3Sink: { rotateMs: 500 } });
    const events = makeCdcEvents(50);
    // moto can give two different changes one sequence number: their eventIds differ, both are real changes.
    const twin = {
      ...makeCdcEvents(1, { orders: 1, sequenceBase: 777n })[0],
      sequenceNumber: events[5].sequenceNumber,
      eventId: 'twin',
    };
    const messages = [...events, twin, ...events.slice(20, 30)].map(cdcMessage); // the relay re-sent 10 after a restart
    await produceMessages(h.kafka, h.config.topics.cdc, messages);
    const sink = await h.startSink();
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc, 30_000);
    const rows = await readLakeRecords(h.s3, h.config);
    expect(rows).toHaveLength(events.length + 1);
    expect(new Set(rows.map((r) => `${r.sequence_number}/${r.order_id}/${r.version}`)).size).toBe(
      events.length + 1,
    );
    expect(sink.stats().duplicatesSkipped).toBe(10);
  });

  it('rejoins after a PUT outlasting its session got it evicted (its commit is refused), and writes every change once', async () => {
    const h = await harness('s3sink-rejoin', {
      topics: { partitions: 1 },
      s3Sink: { flushRecords: 200, rotateMs: 60_000 },
    });
    const events = makeCdcEvents(1000, { spacingMs: 2000 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.map(cdcMessage));

    // The first PUT takes longer than the session timeout (6 s): the group evicts the member meanwhile, so
    // the commit right after that PUT is refused (UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION).
    let slowPuts = 0;
    const slow = storageBeforePut(h, async () => {
      if (slowPuts++ === 0) await new Promise((resolve) => setTimeout(resolve, 9_000));
    });
    const fatal: Error[] = [];
    const sink = await h.startSink({ storage: slow, onFatal: (error) => fatal.push(error) });

    const rows = await waitForLakeRows(h.s3, h.config, events.length, 120_000);
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc, 120_000);
    expect(fatal).toEqual([]);
    expect(slowPuts).toBeGreaterThan(1);
    expect(sink.assignment()).toEqual([0]);
    expectExactlyOnce(await readLakeRecords(h.s3, h.config), events.length);
    expect(rows.length).toBe(events.length);
  }, 240_000);

  it('shares the partitions between two instances, and one takes over when the other stops', async () => {
    const h = await harness('s3sink-scale', { topics: { partitions: 4 } });
    const a = await h.startSink();
    const b = await h.startSink();
    await waitFor(
      'both instances to own partitions',
      async () =>
        a.assignment().length > 0 &&
        b.assignment().length > 0 &&
        a.assignment().length + b.assignment().length === 4
          ? true
          : undefined,
      { timeoutMs: 60_000 },
    );
    expect([...a.assignment(), ...b.assignment()].sort()).toEqual([0, 1, 2, 3]);

    const events = makeCdcEvents(2000, { spacingMs: 2000 });
    await produceMessages(h.kafka, h.config.topics.cdc, events.slice(0, 1000).map(cdcMessage));
    await waitForLakeRows(h.s3, h.config, 1000);
    expect(a.stats().rowsOut).toBeGreaterThan(0);
    expect(b.stats().rowsOut).toBeGreaterThan(0);

    await stopSink(a);
    await produceMessages(h.kafka, h.config.topics.cdc, events.slice(1000).map(cdcMessage));
    await waitFor('b to own every partition', async () => (b.assignment().length === 4 ? true : undefined), {
      timeoutMs: 60_000,
    });
    const rows = await waitForLakeRows(h.s3, h.config, events.length);
    await waitForCommittedToEnd(h.kafka, h.groupId, h.config.topics.cdc);
    expectExactlyOnce(await readLakeRecords(h.s3, h.config), events.length);
    expect(rows.length).toBe(events.length);
  }, 240_000);
});
