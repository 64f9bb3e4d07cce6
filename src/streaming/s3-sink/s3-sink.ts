/**
 * The S3 sink task: `orders.cdc` → the data lake. The lifecycle and offsets live here; the work is split
 * like Confluent's S3 sink: partitioner.ts (record → path), formats/ (Parquet, JSON lines), storage.ts (the
 * only S3 code) and one topic-partition-writer.ts per assigned partition (buffer + rotation).
 *
 * - Consumer group with eachBatch and autoCommit off: offsets are committed only by a writer, after its
 *   objects are in S3 (with the segment intent first, see segment-cuts.ts).
 * - The consumer's thread only decodes and validates each record (cdc-record.ts, change-line.ts): Parquet is
 *   encoded by DuckDB on its own thread, and cut segments upload in the background while records keep coming.
 * - Invalid messages go to the dead-letter topic with their reason before the segment holding them can
 *   be committed; the valid ones behind them carry on.
 * - Memory: when the bytes buffered over all partitions (open segments and sealed ones not yet uploaded)
 *   exceed S3_SINK_MAX_BUFFER_BYTES, fetching pauses and the largest writers are flushed early until the
 *   buffer is at half the cap; then it resumes.
 * - Rebalance: every writer is closed and its uncommitted buffer dropped (kafkajs restarts every assigned
 *   partition at its committed offset after a rebalance anyway); the new owner replays from there.
 * - Idle partitions: a timer flushes segments open for S3_SINK_ROTATE_MS even when no record arrives.
 * - Stop: stop taking batches, flush and commit what is buffered, disconnect.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createS3Client } from '../../aws/clients';
import type { Config } from '../../config';
import { createKafka } from '../../kafka/client';
import { kafkaErrorOfType } from '../../kafka/errors';
import type { Logger } from '../../observability/logger';
import { createDeadLetterPublisher, type DeadLetter, type DeadLetterPublisher } from '../dlq';
import type { StreamingComponent } from '../process-context';
import { changeId, decodeCdcRecord, InvalidCdcRecordError } from '../../lake-format/cdc-record';
import { changeLine } from '../../lake-format/change-line';
import { createLakeFormat } from '../../lake-format/formats';
import { createS3SinkMetrics, type S3SinkStats } from './metrics';
import { cdcTableRoot, createHourlyPartitioner } from '../../lake-format/cdc-layout';
import { parseSegmentIntent } from './segment-cuts';
import { createS3Storage, type LakeStorage } from '../../lake-format/storage';
import {
  createTopicPartitionWriter,
  PartitionRevokedError,
  type SinkRecord,
  type TopicPartitionWriter,
} from './topic-partition-writer';

export interface S3SinkOptions {
  config: Config;
  logger: Logger;
  registry?: Registry;
  /** Defaults to createKafka(config, 's3-sink'). */
  kafka?: Kafka;
  /** Defaults to createS3Client(config) (destroyed on stop). */
  s3?: S3Client;
  /** Defaults to S3 storage on config.lake.bucket; tests wrap it to inject failures. */
  storage?: LakeStorage;
  /** Defaults to s3SinkGroupId(config). */
  groupId?: string;
  /** Partitions whose batches are processed at once (decode of one overlaps the upload of another). */
  partitionsConsumedConcurrently?: number;
  /** Recent change ids remembered per partition to drop relay re-publishes. */
  dedupCapacity?: number;
  /** How often the idle-flush timer looks at the writers. */
  flushCheckIntervalMs?: number;
  /** kafkajs gave up (a crash it will not restart from): the process should exit non-zero. */
  onFatal?: (error: Error) => void;
}

export interface S3Sink extends StreamingComponent {
  stats(): S3SinkStats;
  /** Partitions currently assigned to this instance. */
  assignment(): number[];
}

/** The consumer group of the S3 sink: derived from the client id so a fresh test config gets a fresh group. */
export function s3SinkGroupId(config: Pick<Config, 'kafka'>): string {
  return `${config.kafka.clientId}-s3-sink`;
}

const DEFAULT_DEDUP_CAPACITY = 20_000;

/** Broker errors that mean "rejoin the group", which kafkajs handles itself when it sees them unwrapped. */
const MEMBERSHIP_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
]);

/** Records decoded and buffered between two checks of the buffer cap. */
const BATCH_CHUNK = 250;

interface Decoded {
  record: SinkRecord;
  letter?: DeadLetter;
}

/**
 * @example
 *   const sink = createS3Sink({ config, logger, registry });
 *   await sink.start();
 *   // ... SIGTERM
 *   await sink.stop();
 */
export function createS3Sink(options: S3SinkOptions): S3Sink {
  const { config, logger } = options;
  const topic = config.topics.cdc;
  const groupId = options.groupId ?? s3SinkGroupId(config);
  const log = logger.child({ component: 's3-sink', topic, groupId });
  const metrics = createS3SinkMetrics(options.registry ?? new Registry());
  const kafka = options.kafka ?? createKafka(config, 's3-sink');
  const ownS3 = options.s3 === undefined;
  const s3 = options.s3 ?? createS3Client(config);
  const storage = options.storage ?? createS3Storage({ s3, bucket: config.lake.bucket, logger });
  const format = createLakeFormat(config, {
    onFallback: (error, rows) =>
      log.warn({ error: error.message, rows }, 'DuckDB refused an object: encoded in JavaScript instead'),
  });
  const partitioner = createHourlyPartitioner();
  const tableRoot = cdcTableRoot(config);
  const cap = config.s3Sink.maxBufferBytes;
  const flushCheckMs =
    options.flushCheckIntervalMs ?? Math.max(50, Math.min(1000, Math.floor(config.s3Sink.rotateMs / 4)));

  // Fetches sized to the cap, so what kafkajs holds fetched but not yet processed stays a fraction of it.
  const maxBytesPerPartition = Math.max(64 * 1024, Math.min(1024 * 1024, Math.floor(cap / 8)));
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(config.kafka.sessionTimeoutMs / 10)),
    rebalanceTimeout: Math.max(config.kafka.sessionTimeoutMs, 30_000),
    maxBytesPerPartition,
    maxBytes: Math.max(maxBytesPerPartition, Math.min(10 * 1024 * 1024, Math.floor(cap / 4))),
    // A short long-poll: an idle fetch returns soon, so a stop or a rebalance never waits long for it.
    maxWaitTimeInMs: 1000,
    allowAutoTopicCreation: false,
  });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  const admin: Admin = kafka.admin();
  let dlq: DeadLetterPublisher | undefined;

  const writers = new Map<number, TopicPartitionWriter>();
  let assigned: number[] = [];
  // Bumped on every rebalance: writers and commits of an older epoch are fenced.
  let epoch = 0;
  let committedOffsets:
    { epoch: number; offsets: Promise<Map<number, { offset: number; metadata: string | null }>> } | undefined;
  let stopping = false;
  let activeBatches = 0;
  let timer: NodeJS.Timeout | undefined;
  let relieving: Promise<void> | undefined;

  const dropWriters = (why: string) => {
    epoch++;
    committedOffsets = undefined;
    if (writers.size > 0)
      log.info({ why, partitions: [...writers.keys()] }, 'writers closed; uncommitted buffers dropped');
    for (const writer of writers.values()) writer.close();
    writers.clear();
    updateBuffered();
  };

  const totalBuffered = () => {
    let total = 0;
    for (const writer of writers.values()) total += writer.bufferedBytes();
    return total;
  };
  const updateBuffered = () => metrics.bufferedBytes(totalBuffered());

  const fetchCommitted = (forEpoch: number) => {
    if (committedOffsets?.epoch !== forEpoch) {
      const offsets = admin.fetchOffsets({ groupId, topics: [topic] }).then((topics) => {
        const byPartition = new Map<number, { offset: number; metadata: string | null }>();
        for (const p of topics.find((t) => t.topic === topic)?.partitions ?? []) {
          byPartition.set(p.partition, { offset: Number(p.offset), metadata: p.metadata });
        }
        return byPartition;
      });
      // A failed fetch is not cached: the next batch asks again.
      offsets.catch(() => {
        if (committedOffsets?.offsets === offsets) committedOffsets = undefined;
      });
      committedOffsets = { epoch: forEpoch, offsets };
    }
    return committedOffsets.offsets;
  };

  const writerFor = async (partition: number): Promise<TopicPartitionWriter> => {
    const existing = writers.get(partition);
    if (existing && !existing.closed) return existing;
    const myEpoch = epoch;
    const committed = (await fetchCommitted(myEpoch)).get(partition);
    if (epoch !== myEpoch)
      throw new PartitionRevokedError(`${topic}[${partition}]: rebalanced while starting its writer`);
    const pendingIntent = committed ? parseSegmentIntent(committed.metadata, committed.offset) : undefined;
    const writer = createTopicPartitionWriter({
      topic,
      partition,
      tableRoot,
      format,
      storage,
      partitioner,
      limits: config.s3Sink,
      pendingIntent,
      dedupCapacity: options.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY,
      metrics,
      logger,
      commit: async (offset, metadata) => {
        if (epoch !== myEpoch)
          throw new PartitionRevokedError(`${topic}[${partition}] was revoked before its commit`);
        try {
          await consumer.commitOffsets([{ topic, partition, offset: String(offset), metadata }]);
        } catch (error) {
          // The group is rebalancing or has dropped this member: kafkajs wraps that refusal in a non-retriable
          // error that would crash the consumer for good. Rethrown as the broker's own error, it makes kafkajs
          // rejoin instead; the new owner of the partition replays the uncommitted segment.
          throw kafkaErrorOfType(error, MEMBERSHIP_ERRORS) ?? error;
        }
        // A rebalance while the commit was in flight: the new owner replays; this writer must not go on.
        if (epoch !== myEpoch)
          throw new PartitionRevokedError(`${topic}[${partition}] was revoked during its commit`);
      },
    });
    writers.set(partition, writer);
    return writer;
  };

  const decode = (partition: number, message: KafkaMessage): Decoded => {
    const offset = Number(message.offset);
    const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
    try {
      const event = decodeCdcRecord(message.value);
      const line = changeLine(message.value!, event);
      return {
        record: { offset, line, changeMs: Date.parse(event.changeTime), changeId: changeId(event), bytes },
      };
    } catch (error) {
      if (!(error instanceof InvalidCdcRecordError)) throw error;
      return {
        record: { offset, bytes: 0 },
        letter: {
          reason: error.message,
          original: {
            topic,
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers,
          },
        },
      };
    }
  };

  /** Over the cap: pause fetching, cut the largest segments until half the cap is left, resume. */
  const relieveMemory = async (heartbeat: () => Promise<void>) => {
    if (totalBuffered() <= cap) return;
    if (relieving) return relieving;
    relieving = (async () => {
      consumer.pause([{ topic }]);
      metrics.fetchPaused(true);
      log.info({ bufferedBytes: totalBuffered(), cap }, 'buffer cap reached: fetching paused');
      try {
        const candidates = [...writers.values()].sort((a, b) => b.bufferedBytes() - a.bufferedBytes());
        for (const writer of candidates) {
          if (totalBuffered() <= cap / 2) break;
          await writer.flush('memory', heartbeat);
          updateBuffered();
        }
      } finally {
        if (!stopping) consumer.resume([{ topic }]);
        metrics.fetchPaused(false);
        relieving = undefined;
      }
    })();
    return relieving;
  };

  const eachBatch = async ({ batch, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    if (stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
    activeBatches++;
    try {
      const { partition } = batch;
      const writer = await writerFor(partition);
      // In chunks, so the buffer cap is checked every few hundred records however large the fetched batch is.
      for (let i = 0; i < batch.messages.length; i += BATCH_CHUNK) {
        if (stopping || writer.closed) return;
        const chunk = batch.messages.slice(i, i + BATCH_CHUNK);
        metrics.recordsIn(chunk.length);
        const decoded = chunk.map((message) => decode(partition, message));
        const letters = decoded.flatMap((d) => (d.letter ? [d.letter] : []));
        // Dead letters are acknowledged before the segment that holds their offsets can be committed.
        if (letters.length > 0 && dlq) {
          await dlq.publishAll(letters);
          for (const letter of letters) metrics.deadLetter(letter.reason.split(':')[0]);
        }
        await writer.write(
          decoded.map((d) => d.record),
          heartbeat,
        );
        updateBuffered();
        await relieveMemory(heartbeat);
        await heartbeat();
        // A turn of the event loop between chunks: a fetch's batches would otherwise be processed in one go
        // (all microtasks), holding back the I/O of the uploads behind them.
        await yieldToEventLoop();
      }
      metrics.lag(partition, Math.max(0, Number(batch.highWatermark) - (Number(batch.lastOffset()) + 1)));
    } catch (error) {
      // Losing the partition mid-batch is normal during a rebalance: its new owner replays.
      if (error instanceof PartitionRevokedError) {
        log.info({ partition: batch.partition, reason: error.message }, 'batch abandoned: partition revoked');
        return;
      }
      throw error;
    } finally {
      activeBatches--;
    }
  };

  const tick = () => {
    if (stopping) return;
    for (const writer of writers.values()) {
      if (writer.closed || writer.isBusy()) continue;
      writer
        .flushIfDue()
        .then(() => updateBuffered())
        .catch((error: Error) => {
          if (error instanceof PartitionRevokedError) return;
          log.warn(
            { partition: writer.partition, error: error.message },
            'idle flush failed; retried on the next tick',
          );
        });
    }
  };

  const waitForBatches = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (activeBatches > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  };

  return {
    stats: () => metrics.snapshot(),
    assignment: () => [...assigned],

    async start() {
      await admin.connect();
      await producer.connect();
      dlq = createDeadLetterPublisher({ producer, topic: config.topics.cdcDlq, logger });
      consumer.on(consumer.events.REBALANCING, () => dropWriters('rebalancing'));
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        dropWriters('group joined');
        assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
        log.info({ partitions: assigned, memberId: event.payload.memberId }, 'partitions assigned');
      });
      consumer.on(consumer.events.CRASH, (event) => {
        const { error, restart } = event.payload;
        log.error({ error: error.message, restart }, 'consumer crashed');
        dropWriters('consumer crashed');
        if (!restart) options.onFatal?.(error);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently:
          options.partitionsConsumedConcurrently ?? Math.min(config.topics.partitions, 6),
        eachBatch,
      });
      timer = setInterval(tick, flushCheckMs);
      timer.unref();
      log.info(
        { bucket: config.lake.bucket, tableRoot, format: format.extension, limits: config.s3Sink },
        's3 sink started',
      );
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      if (timer) clearInterval(timer);
      try {
        consumer.pause([{ topic }]);
      } catch {
        // not running yet: nothing to pause
      }
      await waitForBatches(30_000);
      // Flush while the consumer still runs: kafkajs drops commits once it has stopped.
      for (const writer of writers.values()) {
        try {
          await writer.flush('stop');
        } catch (error) {
          log.warn(
            { partition: writer.partition, error: (error as Error).message },
            'flush on stop failed; the next owner replays',
          );
        }
      }
      updateBuffered();
      for (const writer of writers.values()) writer.close();
      writers.clear();
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
      format.close();
      if (ownS3) s3.destroy();
      log.info(metrics.snapshot(), 's3 sink stopped');
    },
  };
}
