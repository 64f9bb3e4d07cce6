/**
 * The shared dead-letter publisher of the streaming consumers (DynamoDB sink, S3 sink). The CDC relay's letters
 * (stream records it cannot convert) are built in cdc-relay/cdc-publisher.ts with the same reason headers.
 *
 * A dead letter carries the ORIGINAL bytes of the message as its value (so it can be inspected or
 * replayed byte for byte), the original key (so it stays in key order with its siblings), and headers
 * saying why it was rejected and where it came from. Publishing waits for the broker's acknowledgement
 * from all in-sync replicas: a consumer commits the source offset only after the dead letter is durable.
 *
 * Whatever the source message was, its letter must get through, or its partition stalls:
 * - A header with a null value (the protocol allows it, and kafkajs decodes it) is sent as an empty value and
 *   named in `dlq-null-headers`: kafkajs cannot encode a null header value.
 * - Letters go out in requests of at most MAX_REQUEST_BYTES (one alone if it is larger), and the dead-letter
 *   topics take larger messages than the source topics (resources/kafka-topics.ts DLQ_MAX_MESSAGE_BYTES), so a
 *   source message near the broker's limit still fits once the dlq-* headers are added.
 *
 * When a letter goes out (createSourceCommitter): in one Kafka transaction with the offset commit that moves its
 * consumer past the source message, so a letter is visible (to read_committed readers) exactly when its source
 * offset is committed. A consumer that crashes or loses its partition before that commit publishes nothing (the
 * transaction is aborted or never begun) and the replay publishes the letter once; after the commit nothing
 * replays it. One transactional id per source topic-partition: the partition's next owner fences a previous one
 * that has not noticed it lost the partition, and aborts its open transaction. What is left is Kafka's own
 * limit: a zombie that commits before the new owner's first transaction can have its letters replayed once.
 *
 * @example
 *   const dlq = createDeadLetterPublisher({ producer, topic: config.topics.eventsDlq, logger });
 *   await dlq.publish({ reason: 'schema-invalid: seq: expected number', original: { topic, partition, offset, key, value, headers } });
 */
import {
  Partitioners,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type Message,
  type Producer,
} from 'kafkajs';
import type { Logger } from '../observability/logger';
import { StreamingError } from './errors';

export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  failedAt: 'dlq-failed-at',
  /** Comma-separated names of the original headers whose value was null (sent as empty). */
  nullHeaders: 'dlq-null-headers',
  /** The bytes of the message this one conflicts with (a different event with the same order and seq). */
  conflictingValue: 'dlq-conflicting-value',
  /** A letter of the CDC relay: the DynamoDB stream, shard and sequence number of the record it could not convert. */
  sourceStream: 'dlq-source-stream',
  sourceShard: 'dlq-source-shard',
  sourceSequenceNumber: 'dlq-source-sequence-number',
} as const;

/** Kafka message header values are bytes; a reason longer than this is truncated (a header is not a log). */
const MAX_REASON_LENGTH = 2_000;

/** Bytes of letters per produce request: below the broker's default 1 MiB, whatever the topic allows. */
const MAX_REQUEST_BYTES = 900 * 1024;

const EMPTY = Buffer.alloc(0);

export interface DeadLetterOriginal {
  topic: string;
  partition: number;
  /** The source offset as kafkajs gives it (a decimal string). */
  offset: string;
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: IHeaders;
}

export interface DeadLetter {
  /** Why the message was rejected, e.g. `malformed-json: Unexpected token` or `item-too-large: 412345 bytes`. */
  reason: string;
  original: DeadLetterOriginal;
  /** The other message of a conflict: the letter then carries both payloads. */
  conflictingValue?: Buffer | null;
}

/** The letter of a consumed message that was rejected for `reason`: its source position, key, bytes and headers. */
export function deadLetterOf(
  topic: string,
  partition: number,
  message: KafkaMessage,
  reason: string,
): DeadLetter {
  const { offset, key, value, headers } = message;
  return { reason, original: { topic, partition, offset, key, value, headers } };
}

export interface DeadLetterPublisher {
  publish(letter: DeadLetter): Promise<void>;
  /** Publishes several letters, acknowledged, in as few requests as their size allows (one per batch, usually). */
  publishAll(letters: DeadLetter[]): Promise<void>;
}

export class DeadLetterPublishError extends StreamingError {
  override readonly name = 'DeadLetterPublishError';
  /** Kafka being unavailable is transient: the consumer retries the batch rather than skipping the letter. */
  readonly retriable = true;
}

export interface DeadLetterPublisherOptions {
  /** The producer letters go out on, connected before the first publish; the caller owns its lifecycle. */
  producer: Producer;
  topic: string;
  logger: Logger;
  /** Clock for `dlq-failed-at` (tests). */
  now?: () => Date;
}

/** The original headers as kafkajs can send them: null values (single or repeated headers) become empty. */
function sendableHeaders(headers: IHeaders | undefined): { headers: IHeaders; nullNames: string[] } {
  const sendable: IHeaders = {};
  const nullNames: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => v === null || v === undefined)) nullNames.push(name);
    const cleaned = values.map((v) => v ?? EMPTY);
    sendable[name] = Array.isArray(value) ? cleaned : cleaned[0];
  }
  return { headers: sendable, nullNames };
}

/** The headers every letter carries, whatever its source: why it was rejected (truncated), and when. */
export function rejectionHeaders(reason: string, failedAt: Date): IHeaders {
  return {
    [DLQ_HEADERS.reason]: reason.slice(0, MAX_REASON_LENGTH),
    [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
  };
}

/** Builds the Kafka message of a dead letter: original key and bytes, original headers plus the dlq-* headers. */
export function deadLetterMessage(letter: DeadLetter, failedAt: Date): Message {
  const { original } = letter;
  const { headers, nullNames } = sendableHeaders(original.headers);
  return {
    key: original.key,
    value: original.value,
    headers: {
      ...headers,
      ...rejectionHeaders(letter.reason, failedAt),
      [DLQ_HEADERS.sourceTopic]: original.topic,
      [DLQ_HEADERS.sourcePartition]: String(original.partition),
      [DLQ_HEADERS.sourceOffset]: original.offset,
      ...(nullNames.length > 0 ? { [DLQ_HEADERS.nullHeaders]: nullNames.join(',') } : {}),
      ...(letter.conflictingValue ? { [DLQ_HEADERS.conflictingValue]: letter.conflictingValue } : {}),
    },
  };
}

/** About the bytes a message takes in a request: key, value and headers. */
function messageBytes(message: Message): number {
  const size = (value: Buffer | string | null | undefined) => (value ? Buffer.byteLength(value) : 0);
  let bytes = size(message.key) + size(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) bytes += Buffer.byteLength(name) + size(v);
  }
  return bytes;
}

/** Consecutive groups of at most MAX_REQUEST_BYTES (a larger message alone), in order. */
function requests(messages: Message[]): Message[][] {
  const groups: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The produce requests of `letters`, in order, each at most MAX_REQUEST_BYTES (one larger letter alone). */
function letterRequests(letters: DeadLetter[], failedAt: Date): Message[][] {
  return requests(letters.map((letter) => deadLetterMessage(letter, failedAt)));
}

const logLetters = (log: Logger, letters: DeadLetter[]) => {
  for (const { reason, original } of letters) {
    log.warn(
      { topic: original.topic, partition: original.partition, offset: original.offset, reason },
      'message sent to the dead-letter topic',
    );
  }
};

export interface SourceCommit {
  partition: number;
  /** The next offset to consume (one past the last message the letters belong to). */
  offset: number;
  metadata?: string | null;
  letters: DeadLetter[];
}

/** Commits source offsets of one consumer group together with the dead letters that belong to them. */
export interface SourceCommitter {
  /** Publishes the letters and commits the offset in one transaction; nothing of it is visible if it fails. */
  commit(commit: SourceCommit): Promise<void>;
  close(): Promise<void>;
}

export interface SourceCommitterOptions {
  kafka: Kafka;
  groupId: string;
  /** The topic the group consumes (the letters' source). */
  sourceTopic: string;
  /** The dead-letter topic. */
  topic: string;
  logger: Logger;
  now?: () => Date;
}

/**
 * @example
 *   const committer = createSourceCommitter({ kafka, groupId, sourceTopic: topic, topic: config.topics.eventsDlq, logger });
 *   await committer.commit({ partition, offset: Number(last) + 1, letters });
 */
export function createSourceCommitter(options: SourceCommitterOptions): SourceCommitter {
  const { kafka, groupId, sourceTopic, topic } = options;
  const now = options.now ?? (() => new Date());
  const log = options.logger.child({ component: 'dlq', dlqTopic: topic, groupId });
  const producers = new Map<number, Promise<Producer>>();

  const producerFor = (partition: number): Promise<Producer> => {
    let producer = producers.get(partition);
    if (!producer) {
      const created = kafka.producer({
        transactionalId: `${groupId}-dlq-${sourceTopic}-${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      producer = created.connect().then(() => created);
      producers.set(partition, producer);
    }
    return producer;
  };

  const discard = async (partition: number) => {
    const producer = producers.get(partition);
    producers.delete(partition);
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  };

  return {
    async commit({ partition, offset, metadata = null, letters }) {
      try {
        const producer = await producerFor(partition);
        const transaction = await producer.transaction();
        try {
          for (const messages of letterRequests(letters, now()))
            await transaction.send({ topic, acks: -1, messages });
          await transaction.sendOffsets({
            consumerGroupId: groupId,
            topics: [
              {
                topic: sourceTopic,
                partitions: [
                  { partition, offset: String(offset), metadata } as { partition: number; offset: string },
                ],
              },
            ],
          });
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      } catch (error) {
        // A fresh producer next time: it initialises the transactional id again (and learns of any fencing).
        await discard(partition);
        throw new DeadLetterPublishError(
          `could not publish ${letters.length} dead letter(s) to ${topic} with the commit of ${sourceTopic}[${partition}] at ${offset}: ${(error as Error).message}`,
          error,
        );
      }
      logLetters(log, letters);
    },
    async close() {
      await Promise.all([...producers.keys()].map(discard));
    },
  };
}

export function createDeadLetterPublisher(options: DeadLetterPublisherOptions): DeadLetterPublisher {
  const { producer, topic, logger } = options;
  const now = options.now ?? (() => new Date());
  const log = logger.child({ component: 'dlq', dlqTopic: topic });

  const publishAll = async (letters: DeadLetter[]): Promise<void> => {
    if (letters.length === 0) return;
    const failedAt = now();
    try {
      // One request after the other: a retry of the batch after a failure resends at most what was sent already.
      for (const messages of letterRequests(letters, failedAt)) {
        await producer.send({ topic, acks: -1, messages });
      }
    } catch (error) {
      throw new DeadLetterPublishError(
        `could not publish ${letters.length} dead letter(s) to ${topic}: ${(error as Error).message}`,
        error,
      );
    }
    logLetters(log, letters);
  };

  return {
    publish: (letter) => publishAll([letter]),
    publishAll,
  };
}
