/**
 * The shared dead-letter publisher of the streaming consumers (DynamoDB sink, S3 sink).
 *
 * A dead letter carries the ORIGINAL bytes of the message as its value (so it can be inspected or
 * replayed byte for byte), the original key (so it stays in key order with its siblings), and headers
 * saying why it was rejected and where it came from. Publishing waits for the broker's acknowledgement
 * from all in-sync replicas: a consumer commits the source offset only after the dead letter is durable.
 *
 * @example
 *   const dlq = createDeadLetterPublisher({ producer, topic: config.topics.eventsDlq, logger });
 *   await dlq.publish({ reason: 'schema-invalid: seq: expected number', original: { topic, partition, offset, key, value, headers } });
 */
import type { IHeaders, Message, Producer } from 'kafkajs';
import type { Logger } from '../observability/logger';
import { StreamingError } from './errors';

export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  sourceTopic: 'dlq-source-topic',
  sourcePartition: 'dlq-source-partition',
  sourceOffset: 'dlq-source-offset',
  failedAt: 'dlq-failed-at',
} as const;

/** Kafka message header values are bytes; a reason longer than this is truncated (a header is not a log). */
const MAX_REASON_LENGTH = 2_000;

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

export interface DeadLetterPublisher {
  publish(letter: DeadLetter): Promise<void>;
  /** Publishes several letters in one acknowledged request (one per batch of the consumer). */
  publishAll(letters: DeadLetter[]): Promise<void>;
}

export class DeadLetterPublishError extends StreamingError {
  override readonly name = 'DeadLetterPublishError';
  /** Kafka being unavailable is transient: the consumer retries the batch rather than skipping the letter. */
  readonly retriable = true;
}

export interface DeadLetterPublisherOptions {
  /** A connected producer; the caller owns its lifecycle. */
  producer: Producer;
  topic: string;
  logger: Logger;
  /** Clock for `dlq-failed-at` (tests). */
  now?: () => Date;
}

/** Builds the Kafka message of a dead letter: original key and bytes, original headers plus the dlq-* headers. */
export function deadLetterMessage(letter: DeadLetter, failedAt: Date): Message {
  const { original } = letter;
  return {
    key: original.key,
    value: original.value,
    headers: {
      ...(original.headers ?? {}),
      [DLQ_HEADERS.reason]: letter.reason.slice(0, MAX_REASON_LENGTH),
      [DLQ_HEADERS.sourceTopic]: original.topic,
      [DLQ_HEADERS.sourcePartition]: String(original.partition),
      [DLQ_HEADERS.sourceOffset]: original.offset,
      [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
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
      await producer.send({ topic, acks: -1, messages: letters.map((letter) => deadLetterMessage(letter, failedAt)) });
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
