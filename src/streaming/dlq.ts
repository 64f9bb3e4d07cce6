/**
 * The shared dead-letter publisher of the streaming consumers (DynamoDB sink, S3 sink).
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
 * @example
 *   const dlq = createDeadLetterPublisher({ producer, topic: config.topics.eventsDlq, logger });
 *   await dlq.publish({ reason: 'schema-invalid: seq: expected number', original: { topic, partition, offset, key, value, headers } });
 */
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
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

/** Builds the Kafka message of a dead letter: original key and bytes, original headers plus the dlq-* headers. */
export function deadLetterMessage(letter: DeadLetter, failedAt: Date): Message {
  const { original } = letter;
  const { headers, nullNames } = sendableHeaders(original.headers);
  return {
    key: original.key,
    value: original.value,
    headers: {
      ...headers,
      [DLQ_HEADERS.reason]: letter.reason.slice(0, MAX_REASON_LENGTH),
      [DLQ_HEADERS.sourceTopic]: original.topic,
      [DLQ_HEADERS.sourcePartition]: String(original.partition),
      [DLQ_HEADERS.sourceOffset]: original.offset,
      [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
      ...(nullNames.length > 0 ? { [DLQ_HEADERS.nullHeaders]: nullNames.join(',') } : {}),
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

export function createDeadLetterPublisher(options: DeadLetterPublisherOptions): DeadLetterPublisher {
  const { producer, topic, logger } = options;
  const now = options.now ?? (() => new Date());
  const log = logger.child({ component: 'dlq', dlqTopic: topic });

  const publishAll = async (letters: DeadLetter[]): Promise<void> => {
    if (letters.length === 0) return;
    const failedAt = now();
    try {
      // One request after the other: a retry of the batch after a failure resends at most what was sent already.
      for (const messages of requests(letters.map((letter) => deadLetterMessage(letter, failedAt)))) {
        await producer.send({ topic, acks: -1, messages });
      }
    } catch (error) {
      throw new DeadLetterPublishError(
        `could not publish ${letters.length} dead letter(s) to ${topic}: ${(error as Error).message}`,
        error,
      );
    }
    for (const { reason, original } of letters) {
      log.warn(
        { topic: original.topic, partition: original.partition, offset: original.offset, reason },
        'message sent to the dead-letter topic',
      );
    }
  };

  return {
    publish: (letter) => publishAll([letter]),
    publishAll,
  };
}
