/**
 * Counts the records of a topic by reading it. Offsets cannot be used for that: the relay publishes in Kafka
 * transactions, and each commit marker takes an offset of its own, so watermarks overcount and a consumer group's
 * committed offset can stay behind the high watermark forever. A read_committed consumer sees exactly the records.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface TopicCounter {
  /** Distinct records read so far. */
  count(): number;
  stop(): Promise<void>;
}

/** @param onRecord sees each distinct record once, e.g. to collect what identifies it. */
export async function startTopicCounter(
  kafka: Kafka,
  topic: string,
  onRecord?: (message: KafkaMessage) => void,
): Promise<TopicCounter> {
  const consumer = kafka.consumer({
    groupId: `count-${topic}-${randomBytes(4).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  const seen = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const position = `${partition}:${message.offset}`;
      if (seen.has(position)) return;
      seen.add(position);
      onRecord?.(message);
    },
  });
  return { count: () => seen.size, stop: () => consumer.disconnect() };
}
