/** Kafka: produce and consume through a consumer group with kafkajs, on a fresh topic of the real broker. */
import { Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import { createKafka } from '../../src/kafka/client';
import { ensureTopics } from '../../src/resources/kafka-topics';
import { freshConfig } from '../support/fresh-config';

describe('Kafka broker', () => {
  const config = freshConfig('kafka-fnd');
  const topic = config.topics.events;
  const groupId = `${config.kafka.clientId}-group`;
  const kafka = createKafka(config, 'foundation-test');
  let admin: Admin;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(kafka.admin(), [{ topic, numPartitions: 3, retentionMs: 3_600_000 }]);
  });

  afterEach(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers every produced message to a consumer group and commits its offsets', async () => {
    const sent = Array.from({ length: 30 }, (_, i) => ({
      key: `order-${i % 7}`,
      value: JSON.stringify({ seq: i }),
    }));
    producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: sent });

    const received: { key: string; value: string; partition: number }[] = [];
    consumer = kafka.consumer({ groupId, sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const allReceived = new Promise<void>((resolve) => {
      void consumer!.run({
        eachMessage: async ({ message, partition }) => {
          received.push({ key: String(message.key), value: String(message.value), partition });
          if (received.length === sent.length) resolve();
        },
      });
    });
    await withTimeout(allReceived, 60_000, () => `received ${received.length} of ${sent.length} messages`);

    expect(received.map((m) => m.value).sort()).toEqual(sent.map((m) => m.value).sort());
    // Keys are partitioned deterministically: every message of one key lands on one partition.
    const partitionsByKey = new Map<string, Set<number>>();
    for (const m of received)
      partitionsByKey.set(m.key, (partitionsByKey.get(m.key) ?? new Set()).add(m.partition));
    for (const partitions of partitionsByKey.values()) expect(partitions.size).toBe(1);

    // The group's committed offsets cover everything it consumed (kafkajs commits on disconnect at the latest).
    await consumer.disconnect();
    consumer = undefined;
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(sent.length);
  });
});

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
