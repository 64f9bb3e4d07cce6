/**
 * The dead-letter publisher against the real broker. Whatever the source message was, its letter must get
 * through, or the partition it came from stalls: null header values (which kafkajs decodes but cannot encode),
 * and source messages near the broker's 1 MiB limit, which the dlq-* headers would push over it.
 */
import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, type IHeaders, type Producer } from 'kafkajs';
import { createLogger } from '../../src/observability/logger';
import { DLQ_MAX_MESSAGE_BYTES, ensureTopics } from '../../src/resources/kafka-topics';
import { createDeadLetterPublisher, DLQ_HEADERS, type DeadLetter } from '../../src/streaming/dlq';
import { freshConfig } from '../support/fresh-config';
import { provision, readTopic, type StreamingEnv } from './helpers';

describe('dead-letter publisher', () => {
  let env: StreamingEnv;
  let producer: Producer;

  beforeAll(async () => {
    env = await provision(freshConfig('dlq'), { tables: false });
    producer = env.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await env.cleanup();
  });

  it('gets letters through for null header values and for source messages near the 1 MiB limit', async () => {
    const { config, kafka } = env;
    const dlq = createDeadLetterPublisher({
      producer,
      topic: config.topics.eventsDlq,
      logger: createLogger('dlq-test', config),
    });
    // Just under the broker's default message.max.bytes (1 MiB + 12 bytes): the source topic took them.
    const values = [0, 1, 2].map(() => randomBytes(1024 * 1024 - 100));
    // As kafkajs decodes headers whose value is null (the protocol allows it; Java producers send them).
    const decodedHeaders = { trace: null, kept: 'yes', repeated: ['a', null] } as unknown as IHeaders;
    const letters: DeadLetter[] = values.map((value, i) => ({
      reason: `oversized: ${value.length} bytes`,
      original: {
        topic: config.topics.events,
        partition: 0,
        offset: String(i),
        key: `order-${i}`,
        value,
        headers: i === 0 ? decodedHeaders : undefined,
      },
    }));
    await dlq.publishAll(letters);

    const read = await readTopic(kafka, config.topics.eventsDlq, { expected: 3 });
    expect(read).toHaveLength(3);
    read.sort(
      (a, b) => Number(a.headers[DLQ_HEADERS.sourceOffset]) - Number(b.headers[DLQ_HEADERS.sourceOffset]),
    );
    read.forEach((message, i) => {
      expect(message.key).toBe(`order-${i}`);
      expect(message.value?.equals(values[i])).toBe(true);
      expect(message.headers[DLQ_HEADERS.reason]).toBe(`oversized: ${values[i].length} bytes`);
    });
    expect(read[0].headers).toMatchObject({
      trace: '',
      kept: 'yes',
      repeated: 'a,',
      [DLQ_HEADERS.nullHeaders]: 'trace,repeated',
    });
    expect(read[1].headers[DLQ_HEADERS.nullHeaders]).toBeUndefined();
  }, 60_000);

  it('gives a dead-letter topic found at the default message size the larger one', async () => {
    const { config, kafka } = env;
    const topic = `${config.topics.eventsDlq}.made-elsewhere`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
      const spec = {
        topic,
        numPartitions: 1,
        retentionMs: 3_600_000,
        maxMessageBytes: DLQ_MAX_MESSAGE_BYTES,
      };
      const [outcome] = await ensureTopics(kafka.admin(), [spec]);
      expect(outcome).toMatchObject({ name: topic, action: 'updated' });
      expect(outcome.detail).toContain(`max.message.bytes`);
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic,
            configNames: ['max.message.bytes', 'retention.ms'],
          },
        ],
      });
      const values = Object.fromEntries(
        described.resources[0].configEntries.map((e) => [e.configName, e.configValue]),
      );
      expect(values).toEqual({
        'max.message.bytes': String(DLQ_MAX_MESSAGE_BYTES),
        'retention.ms': '3600000',
      });
      // A second run finds it as wanted.
      expect((await ensureTopics(kafka.admin(), [spec]))[0].action).toBe('exists');
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 60_000);
});
