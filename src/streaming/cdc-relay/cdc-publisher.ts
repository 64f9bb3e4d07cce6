/**
 * Publishes the changes of ONE shard to `orders.cdc`, exactly once, with a transactional producer whose
 * transactional id belongs to the shard.
 *
 * Why a transaction per GetRecords page, and the checkpoint inside it:
 * - The page's records and the page's last sequence number (stored as the metadata of a transactional
 *   offset commit for a checkpoint-only consumer group) commit atomically. After any crash the new reader
 *   knows exactly what reached Kafka, even if the DynamoDB checkpoint (written after the commit) is one
 *   page behind. Without this, a crash between Kafka's ack and the checkpoint write would re-publish the
 *   page, and the S3 sink (keyed by Kafka offset) would store those changes twice.
 * - A new owner of the shard initialises a producer with the same transactional id, which fences the old
 *   one: a relay that lost its lease but has not noticed yet can no longer publish, and its open
 *   transaction is aborted (read-committed consumers never see it).
 * - A publisher that initialises again after a failed publish learns what Kafka holds (the checkpoint
 *   committed last, by whichever holder) and publishes only the changes past it until its next commit: a
 *   page read before another holder published part of it (page sizes differ between reads) goes out only
 *   for its new part, never twice.
 * A stream record that cannot be converted (e.g. a number beyond 2^53 in its image) goes to the CDC dead-letter
 * topic in the same transaction, as the record the stream served, with the reason, stream, shard and sequence
 * number: the checkpoint moves past it exactly when its letter is visible, so the shard never stalls on it.
 * Consumers of `orders.cdc` must read committed (kafkajs' default) and must not assume contiguous offsets
 * (transaction markers take offsets).
 */
import { createHash } from 'node:crypto';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { Partitioners, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
import { ORDERS_KEY } from '../../domain/table-keys';
import type { CdcEvent } from '../../lake-format/lake-schema';
import { kafkaErrorOfType } from '../../kafka/errors';
import type { Logger } from '../../observability/logger';
import { DLQ_HEADERS, rejectionHeaders } from '../dlq';
import { CdcPublishError, LeaseLostError } from './errors';
import {
  compareSequenceNumbers,
  covers,
  formatPosition,
  parsePosition,
  recordMark,
  type RecordMark,
  type RelayPosition,
} from './stream-records';

/** Headers that identify a change without parsing the value (its identity is shard + sequence number). */
export const CDC_HEADERS = {
  shardId: 'cdc-shard-id',
  sequenceNumber: 'cdc-sequence-number',
  op: 'cdc-op',
} as const;

/** Messages per produce request inside one transaction: keeps each partition batch far below 1 MB. */
const SEND_CHUNK = 250;

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);

const isFenced = (error: unknown): boolean => kafkaErrorOfType(error, FENCED) !== undefined;

export function shardTransactionalId(clientId: string, leaseKey: string): string {
  return `${clientId}-cdc-relay-${createHash('sha256').update(leaseKey).digest('hex').slice(0, 20)}`;
}

/** A stream record the relay cannot turn into a CdcEvent, and why: it becomes a dead letter. */
export interface StreamRecordLetter {
  record: _Record;
  reason: string;
  streamArn: string;
  shardId: string;
}

export interface ShardPublisher {
  /** Fences any previous producer of the shard and returns the position last committed to Kafka. */
  init(): Promise<RelayPosition | undefined>;
  /**
   * Publishes the events, and the letters to the dead-letter topic, and records `position` (where the page ends)
   * in the same transaction.
   */
  publish(events: CdcEvent[], position: RelayPosition, letters?: StreamRecordLetter[]): Promise<void>;
  close(): Promise<void>;
}

export interface ShardPublisherOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  /** Where unconvertible stream records go (config.topics.cdcDlq). */
  dlqTopic: string;
  clientId: string;
  leaseKey: string;
  logger: Logger;
}

/** Whether Kafka already holds this change: at or before the committed position (sequence numbers grow per shard). */
function isCommitted(committed: RelayPosition | undefined, event: RecordMark): boolean {
  if (!committed) return false;
  const order = compareSequenceNumbers(event.sequenceNumber, committed.sequenceNumber);
  return (
    order < 0 || (order === 0 && event.eventId !== undefined && committed.eventIds.includes(event.eventId))
  );
}

export function toCdcMessage(event: CdcEvent): Message {
  return {
    // Keyed by order: all changes of an order (and any replay of one) land in the same partition, in order.
    key: event.orderId,
    value: JSON.stringify(event),
    headers: {
      [CDC_HEADERS.shardId]: event.shardId,
      [CDC_HEADERS.sequenceNumber]: event.sequenceNumber,
      [CDC_HEADERS.op]: event.op,
    },
  };
}

/**
 * The letter of an unconvertible stream record: the record as the stream served it (typed attribute values, as
 * JSON), keyed by its order when its key is readable, with the reason, stream, shard and sequence number.
 */
export function streamRecordLetterMessage(letter: StreamRecordLetter, failedAt: Date): Message {
  const { record, reason, streamArn, shardId } = letter;
  return {
    key: record.dynamodb?.Keys?.[ORDERS_KEY]?.S ?? null,
    value: JSON.stringify(record),
    headers: {
      ...rejectionHeaders(reason, failedAt),
      [DLQ_HEADERS.sourceStream]: streamArn,
      [DLQ_HEADERS.sourceShard]: shardId,
      [DLQ_HEADERS.sourceSequenceNumber]: record.dynamodb?.SequenceNumber ?? '',
    },
  };
}

export function createShardPublisher(options: ShardPublisherOptions): ShardPublisher {
  const { kafka, admin, topic, dlqTopic, leaseKey } = options;
  const transactionalId = shardTransactionalId(options.clientId, leaseKey);
  const checkpointGroup = `${transactionalId}-checkpoint`;
  const log = options.logger.child({ transactionalId });
  let producer: Producer | undefined;
  /** Set by an initialisation after a failed publish: changes up to here are in Kafka already. */
  let fence: RelayPosition | undefined;

  const kafkaCheckpoint = async (): Promise<RelayPosition | undefined> => {
    const [offsets] = await admin.fetchOffsets({ groupId: checkpointGroup, topics: [topic] });
    return parsePosition(offsets?.partitions.find((p) => p.partition === 0)?.metadata);
  };

  const reset = async () => {
    const old = producer;
    producer = undefined;
    await old?.disconnect().catch(() => undefined);
  };

  const init = async (): Promise<RelayPosition | undefined> => {
    // One producer at a time: init runs again after failures (retried every few seconds while Kafka's
    // transaction coordinator is down), and each attempt's producer holds connections until disconnected.
    await reset();
    const next = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await next.connect();
      // kafkajs initialises the transactional id lazily: an empty transaction makes it happen now, which
      // fences the previous holder and resolves its open transaction before the checkpoint is read.
      const fencing = await next.transaction();
      await fencing.abort();
      const committed = await kafkaCheckpoint();
      producer = next;
      return committed;
    } catch (error) {
      await next.disconnect().catch(() => undefined);
      throw error;
    }
  };

  return {
    init,
    async publish(page, position, unconvertible = []) {
      const lastSequenceNumber = position.sequenceNumber;
      // A new producer (after a failed publish) first learns what Kafka has: a page whose transaction did
      // commit, with its response lost, or that another holder published meanwhile, must not go out twice.
      if (!producer) fence = await init();
      const events = page.filter((event) => !isCommitted(fence, event));
      const letters = unconvertible.filter((letter) => {
        const mark = recordMark(letter.record);
        return !mark || !isCommitted(fence, mark);
      });
      if ((events.length === 0 && letters.length === 0) || covers(fence, position)) {
        log.warn(
          { lastSequenceNumber },
          'page already in Kafka (an earlier attempt or another holder committed it): not published again',
        );
        return;
      }
      const total = page.length + unconvertible.length;
      const fresh = events.length + letters.length;
      if (fresh < total) {
        log.warn(
          { lastSequenceNumber, alreadyInKafka: total - fresh, published: fresh },
          'part of the page was already in Kafka: publishing only the rest',
        );
      }
      const transaction = await producer!.transaction();
      try {
        const messages = events.map(toCdcMessage);
        for (let start = 0; start < messages.length; start += SEND_CHUNK) {
          await transaction.send({ topic, acks: -1, messages: messages.slice(start, start + SEND_CHUNK) });
        }
        const failedAt = new Date();
        // One request per letter: a letter holds a whole record with both images (up to about 800 KB).
        for (const letter of letters) {
          await transaction.send({
            topic: dlqTopic,
            acks: -1,
            messages: [streamRecordLetterMessage(letter, failedAt)],
          });
        }
        await transaction.sendOffsets({
          consumerGroupId: checkpointGroup,
          topics: [
            {
              topic,
              partitions: [
                { partition: 0, offset: '0', metadata: formatPosition(position) } as {
                  partition: number;
                  offset: string;
                },
              ],
            },
          ],
        });
        await transaction.commit();
        fence = undefined;
        for (const { record, reason, shardId } of letters) {
          log.warn(
            { dlqTopic, shardId, sequenceNumber: record.dynamodb?.SequenceNumber, reason },
            'stream record sent to the dead-letter topic',
          );
        }
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        await reset();
        if (isFenced(error))
          throw new LeaseLostError(
            leaseKey,
            "another relay initialised this shard's producer (fenced)",
            error,
          );
        // The commit may have succeeded with its response lost: the checkpoint in Kafka says for sure.
        try {
          fence = await init();
          if (covers(fence, position)) {
            log.warn({ lastSequenceNumber }, 'publish reported an error but its transaction had committed');
            return;
          }
        } catch (initError) {
          if (isFenced(initError)) throw new LeaseLostError(leaseKey, 'fenced while recovering', initError);
        }
        throw new CdcPublishError(
          `publishing ${events.length} changes and ${letters.length} dead letters of ${leaseKey} failed (transaction aborted): ${(error as Error).message}`,
          true,
          error,
        );
      }
    },
    async close() {
      await reset();
    },
  };
}
