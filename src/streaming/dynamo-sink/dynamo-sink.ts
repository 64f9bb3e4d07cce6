/**
 * The DynamoDB sink: a consumer group on `orders.events` that keeps the current state of each order in
 * the `orders` table.
 *
 * Per fetched batch, chunk by chunk: decode and validate every message; dead-letter the bad ones with
 * their reason and original bytes; collapse the valid events to the highest seq per order; apply those
 * with bounded-concurrency conditional PutItems (see order-writer.ts); only then resolve and commit the
 * chunk's last offset, in one Kafka transaction with the chunk's dead letters when it has any (dlq.ts
 * createSourceCommitter). A crash at any point replays uncommitted chunks, and replays are harmless because
 * every write is conditional on the stored version and a letter is visible only once its offset is committed.
 *
 * @example
 *   const sink = createDynamoSink({ config, kafka, dynamodb, logger, registry });
 *   await sink.start();
 *   // ... SIGTERM:
 *   await sink.stop(); // finishes the chunk in hand, commits it, leaves the group
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Config } from '../../config';
import type { Logger } from '../../observability/logger';
import { createSourceCommitter, deadLetterOf, type DeadLetter, type SourceCommitter } from '../dlq';
import { awaitHeartbeating } from '../heartbeat';
import type { StreamingComponent } from '../process-context';
import { mapWithConcurrency } from '../../support/concurrency';
import { decodeOrderEvent, type DecodedEvent } from './decode';
import { InvalidOrderEventError } from './errors';
import { createDynamoSinkMetrics, type DynamoSinkStats } from './metrics';
import { createOrderWriter, type OrderWriter } from './order-writer';
import { planWrites } from './write-plan';

export interface DynamoSinkOptions {
  config: Config;
  kafka: Kafka;
  dynamodb: DynamoDBClient;
  logger: Logger;
  registry?: Registry;
  /** Default: `<KAFKA_CLIENT_ID>-dynamo-sink`, so each deployment (and each test) has its own group. */
  groupId?: string;
  /** Concurrent writes per partition batch; default config.sink.concurrency. */
  concurrency?: number;
  /** Partitions processed at once; default config.sink.partitionsConcurrently. */
  partitionsConcurrently?: number;
  /** Messages applied and committed as one unit; smaller = less replay after a crash. */
  chunkSize?: number;
  /** A dead member's partitions move after this long; default config.kafka.sessionTimeoutMs. */
  sessionTimeoutMs?: number;
  /** kafkajs gave up (a crash it will not restart from): the process should exit non-zero. */
  onFatal?: (error: Error) => void;
}

export interface DynamoSink extends StreamingComponent {
  readonly groupId: string;
  stats(): DynamoSinkStats;
}

export function dynamoSinkGroupId(config: Config): string {
  return `${config.kafka.clientId}-dynamo-sink`;
}

const DEFAULT_CHUNK_SIZE = 500;

export function createDynamoSink(options: DynamoSinkOptions): DynamoSink {
  const { config, kafka, dynamodb } = options;
  const groupId = options.groupId ?? dynamoSinkGroupId(config);
  const topic = config.topics.events;
  const concurrency = options.concurrency ?? config.sink.concurrency;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const sessionTimeout = options.sessionTimeoutMs ?? config.kafka.sessionTimeoutMs;
  const heartbeatInterval = Math.max(500, Math.floor(sessionTimeout / 10));
  const log = options.logger.child({ component: 'dynamo-sink', topic, groupId });
  const metrics = createDynamoSinkMetrics(options.registry ?? new Registry());
  const writer: OrderWriter = createOrderWriter({
    dynamodb,
    table: config.dynamodb.ordersTable,
    onRetry: (error, attempt) => {
      metrics.retry();
      log.warn({ attempt, err: error }, 'write failed, retrying');
    },
  });

  let consumer: Consumer | undefined;
  let withLetters: SourceCommitter | undefined;

  const letter = (partition: number, message: KafkaMessage, error: InvalidOrderEventError): DeadLetter =>
    deadLetterOf(topic, partition, message, error.message);

  /**
   * Applies one chunk; resolves when every write is durable, with the chunk's dead letters (published by the commit).
   * kafkajs heartbeats only when asked: a slow chunk must keep the membership alive as it goes, or the
   * group evicts this member and its commit is refused.
   */
  const applyChunk = async (
    partition: number,
    messages: KafkaMessage[],
    heartbeat: () => Promise<void>,
  ): Promise<{ rejected: DeadLetter[]; reasons: string[] }> => {
    const valid: DecodedEvent[] = [];
    const sourceOf = new Map<DecodedEvent, KafkaMessage>();
    const rejected: DeadLetter[] = [];
    const reasons: string[] = [];
    for (const message of messages) {
      try {
        const decoded = decodeOrderEvent(message.key, message.value);
        valid.push(decoded);
        sourceOf.set(decoded, message);
      } catch (error) {
        if (!(error instanceof InvalidOrderEventError)) throw error;
        rejected.push(letter(partition, message, error));
        reasons.push(error.reason);
      }
    }
    const { writes, duplicatesInChunk, conflicts } = planWrites(valid);
    for (const { rejected: conflicting, kept } of conflicts) {
      const message = sourceOf.get(conflicting)!;
      const keptMessage = sourceOf.get(kept)!;
      const { orderId, seq } = conflicting.event;
      const error = new InvalidOrderEventError(
        'seq-conflict',
        `order ${orderId} seq ${seq} differs from the event at offset ${keptMessage.offset}, which is kept`,
      );
      rejected.push({ ...letter(partition, message, error), conflictingValue: keptMessage.value });
      reasons.push(error.reason);
    }
    let superseded = duplicatesInChunk;
    await mapWithConcurrency(writes, concurrency, async ({ candidates }) => {
      for (const [index, candidate] of candidates.entries()) {
        try {
          const outcome = await writer.write(candidate.state);
          if (outcome === 'applied') metrics.applied();
          else metrics.stale();
          superseded += candidates.length - index - 1;
          await heartbeat();
          return;
        } catch (error) {
          // DynamoDB refused this item itself: dead-letter it and fall back to the order's next event.
          if (!(error instanceof InvalidOrderEventError)) throw error;
          rejected.push(letter(partition, sourceOf.get(candidate)!, error));
          reasons.push(error.reason);
        }
      }
    });
    metrics.superseded(superseded);
    return { rejected, reasons };
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    const { partition, messages } = batch;
    for (let start = 0; start < messages.length; start += chunkSize) {
      // Stopping or rebalanced away: leave the rest uncommitted; its next owner replays it.
      if (!isRunning() || isStale()) return;
      const chunk = messages.slice(start, start + chunkSize);
      const endTimer = metrics.chunkTimer();
      metrics.recordsIn(chunk.length);
      // Heartbeats while the chunk's writes retry (throttling), not only between them. A failed heartbeat (a
      // rebalance) is kept: the chunk then fails once its writes settle, so nothing of it (letters included) is
      // committed; its new owner replays it.
      let rebalanced: unknown;
      const chunkHeartbeat = async () => {
        if (rebalanced) throw rebalanced;
        await heartbeat().catch((error: unknown) => {
          rebalanced ??= error;
          throw error;
        });
      };
      const { rejected, reasons } = await awaitHeartbeating(
        applyChunk(partition, chunk, chunkHeartbeat),
        () => chunkHeartbeat().catch(() => undefined),
        heartbeatInterval,
      );
      if (rebalanced) throw rebalanced;
      const last = chunk[chunk.length - 1].offset;
      const next = String(Number(last) + 1);
      if (rejected.length > 0) {
        await chunkHeartbeat(); // still a member: else the partition's new owner replays the chunk
        await withLetters!.commit({ partition, offset: Number(next), letters: rejected });
        for (const reason of reasons) metrics.deadLettered(reason);
      } else {
        await consumer!.commitOffsets([{ topic, partition, offset: next }]);
      }
      resolveOffset(last);
      endTimer();
      metrics.lag(topic, partition, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
      await heartbeat();
    }
  };

  return {
    groupId,
    stats: () => ({ ...metrics.stats }),
    async start() {
      withLetters = createSourceCommitter({
        kafka,
        groupId,
        sourceTopic: topic,
        topic: config.topics.eventsDlq,
        logger: log,
      });
      consumer = kafka.consumer({
        groupId,
        sessionTimeout,
        rebalanceTimeout: Math.max(sessionTimeout * 2, 20_000),
        heartbeatInterval,
        maxWaitTimeInMs: 250,
        allowAutoTopicCreation: false,
      });
      consumer.on(consumer.events.CRASH, (event) => {
        const { error, restart } = event.payload;
        log.error({ err: error, restart }, 'consumer crashed');
        if (!restart) options.onFatal?.(error);
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatchAutoResolve: false,
        // Every commit is this sink's own, after its chunk is durable: with its letters in one transaction, else
        // plainly. Mixed with kafkajs's auto-commit, the transactional commits sometimes left a partition's
        // committed offset at 0 for good, though every chunk was applied (test/streaming/metrics-endpoint.test.ts).
        autoCommit: false,
        partitionsConsumedConcurrently: options.partitionsConcurrently ?? config.sink.partitionsConcurrently,
        eachBatch,
      });
      log.info({ concurrency, chunkSize }, 'consuming');
    },
    async stop() {
      // disconnect() waits for the batch in hand; eachBatch returns after its current chunk is committed.
      await consumer?.disconnect();
      await withLetters?.close();
      consumer = undefined;
      withLetters = undefined;
      log.info({ ...metrics.stats }, 'stopped');
    },
  };
}
