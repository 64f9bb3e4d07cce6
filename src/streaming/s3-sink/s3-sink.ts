/**
 * The S3 sink task: `orders.cdc` → the data lake. Its lifecycle and consumer wiring live here; the work is split
 * like Confluent's S3 sink: batch-handler.ts (decode, dead letters, hand-off), one topic-partition-writer.ts per
 * assigned partition (buffer + rotation, with its anchor-index.ts and segment-uploader.ts), the lake format's
 * cdc-layout.ts (record → path), formats/ (Parquet, JSON lines) and storage.ts (the only S3 code).
 *
 * - Consumer group with eachBatch and autoCommit off: offsets are committed only by a writer, after its
 *   objects are in S3 (with the segment intent first, see segment-cuts.ts), through partition-offsets.ts.
 * - Memory: buffer-cap.ts pauses fetching and flushes the largest writers early while over the cap.
 * - Rebalance: every writer is closed and its uncommitted buffer dropped (kafkajs restarts every assigned
 *   partition at its committed offset after a rebalance anyway); the new owner replays from there.
 * - Idle partitions: a timer flushes segments open for S3_SINK_ROTATE_MS even when no record arrives.
 * - Stop: stop taking batches, flush and commit what is buffered, disconnect.
 */
import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { createGlueClient, createS3Client } from '../../aws/clients';
import type { Config } from '../../config';
import { createKafka } from '../../kafka/client';
import type { Logger } from '../../observability/logger';
import { cdcTableRoot, createHourlyPartitioner } from '../../lake-format/cdc-layout';
import { createLakeFormat } from '../../lake-format/formats';
import { createS3Storage, type LakeStorage } from '../../lake-format/storage';
import { createSourceCommitter } from '../dlq';
import type { StreamingComponent } from '../process-context';
import { createBatchHandler } from './batch-handler';
import { createBufferCap } from './buffer-cap';
import { createS3SinkMetrics, type S3SinkStats } from './metrics';
import { createPartitionOffsets, PartitionRevokedError } from './partition-offsets';
import { createPartitionRegistrar, withPartitionRegistration } from './partition-registrar';
import { parseSegmentIntent } from './segment-cuts';
import { createTopicPartitionWriter, type TopicPartitionWriter } from './topic-partition-writer';

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
  /** Registers the partitions written (partition-registrar.ts). Defaults to createGlueClient(config) (destroyed on stop). */
  glue?: GlueClient;
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
  const ownGlue = options.glue === undefined;
  const glue = options.glue ?? createGlueClient(config);
  const storage = withPartitionRegistration(
    options.storage ?? createS3Storage({ s3, bucket: config.lake.bucket, logger }),
    createPartitionRegistrar({ glue, s3, config, logger }),
  );
  const format = createLakeFormat(config, {
    onFallback: (error, rows) =>
      log.warn({ err: error, rows }, 'DuckDB refused an object: encoded in JavaScript instead'),
  });
  const partitioner = createHourlyPartitioner();
  const tableRoot = cdcTableRoot(config);
  const cap = config.s3Sink.maxBufferBytes;
  // A due segment waits up to one check before it is cut: at most 250 ms of the freshness budget
  // (rotation + 5 s, bench/lake-freshness-bench.ts); a check only compares the open segments' ages.
  const flushCheckMs =
    options.flushCheckIntervalMs ?? Math.max(50, Math.min(250, Math.floor(config.s3Sink.rotateMs / 4)));

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
  const admin: Admin = kafka.admin();
  const withLetters = createSourceCommitter({
    kafka,
    groupId,
    sourceTopic: topic,
    topic: config.topics.cdcDlq,
    logger,
  });

  const writers = new Map<number, TopicPartitionWriter>();
  const offsets = createPartitionOffsets({ consumer, admin, groupId, topic, withLetters });
  let assigned: number[] = [];
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const bufferCap = createBufferCap({
    cap,
    topic,
    consumer,
    writers: () => writers.values(),
    isStopping: () => stopping,
    metrics,
    logger: log,
  });

  const dropWriters = (why: string) => {
    offsets.fence();
    if (writers.size > 0)
      log.info({ why, partitions: [...writers.keys()] }, 'writers closed; uncommitted buffers dropped');
    for (const writer of writers.values()) writer.close();
    writers.clear();
    bufferCap.update();
  };

  const writerFor = async (partition: number): Promise<TopicPartitionWriter> => {
    const existing = writers.get(partition);
    if (existing && !existing.closed) return existing;
    const { committed, commit } = await offsets.claim(partition);
    const writer = createTopicPartitionWriter({
      topic,
      partition,
      tableRoot,
      format,
      storage,
      partitioner,
      limits: config.s3Sink,
      pendingIntent: committed ? parseSegmentIntent(committed.metadata, committed.offset) : undefined,
      dedupCapacity: options.dedupCapacity ?? DEFAULT_DEDUP_CAPACITY,
      metrics,
      logger,
      commit,
    });
    writers.set(partition, writer);
    return writer;
  };

  const batches = createBatchHandler({
    topic,
    writerFor,
    bufferCap,
    isStopping: () => stopping,
    metrics,
    logger: log,
  });

  const tick = () => {
    if (stopping) return;
    for (const writer of writers.values()) {
      if (writer.closed || writer.isBusy()) continue;
      writer
        .flushIfDue()
        .then(() => bufferCap.update())
        .catch((error: Error) => {
          if (error instanceof PartitionRevokedError) return;
          log.warn(
            { partition: writer.partition, err: error },
            'idle flush failed; retried on the next tick',
          );
        });
    }
  };

  return {
    stats: () => metrics.snapshot(),
    assignment: () => [...assigned],

    async start() {
      await admin.connect();
      consumer.on(consumer.events.REBALANCING, () => dropWriters('rebalancing'));
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        dropWriters('group joined');
        assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
        log.info({ partitions: assigned, memberId: event.payload.memberId }, 'partitions assigned');
      });
      consumer.on(consumer.events.CRASH, (event) => {
        const { error, restart } = event.payload;
        log.error({ err: error, restart }, 'consumer crashed');
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
        eachBatch: batches.eachBatch,
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
      await batches.settle(30_000);
      // Flush while the consumer still runs: kafkajs drops commits once it has stopped.
      for (const writer of writers.values()) {
        try {
          await writer.flush('stop');
        } catch (error) {
          log.warn(
            { partition: writer.partition, err: error },
            'flush on stop failed; the next owner replays',
          );
        }
      }
      bufferCap.update();
      for (const writer of writers.values()) writer.close();
      writers.clear();
      await consumer.disconnect();
      await withLetters.close();
      await admin.disconnect();
      format.close();
      if (ownS3) s3.destroy();
      if (ownGlue) glue.destroy();
      log.info(metrics.snapshot(), 's3 sink stopped');
    },
  };
}
