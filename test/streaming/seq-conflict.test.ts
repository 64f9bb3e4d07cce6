/**
 * Two events of one order with one seq, through Kafka and the DynamoDB sink into moto: an identical copy is a
 * no-op, a different one is a conflict that goes to the dead-letter topic with both payloads and a reason,
 * and the first one is what the table holds.
 */
import { createLogger } from '../../src/observability/logger';
import type { OrderEvent } from '../../src/domain/order-event';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { createDynamoSink, type DynamoSink } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { freshConfig } from '../support/fresh-config';
import { provision, readTopic, scanTable, waitFor, type StreamingEnv } from './helpers';

const event = (orderId: string, seq: number, amount: number, eventId: string): OrderEvent => ({
  schemaVersion: 1,
  eventId,
  eventType: 'ORDER_CREATED',
  orderId,
  customerId: 'customer-1',
  seq,
  eventTime: '2024-05-01T10:00:00.000Z',
  orderCreatedAt: '2024-05-01T10:00:00.000Z',
  amount,
  currency: 'EUR',
  region: 'eu-west',
  itemCount: 1,
});

describe('same-seq events in the DynamoDB sink', () => {
  let env: StreamingEnv;
  let sink: DynamoSink | undefined;

  beforeAll(async () => {
    env = await provision(freshConfig('seq-conflict', { topics: { partitions: 1 } }));
  }, 60_000);

  afterAll(async () => {
    await sink?.stop();
    await env?.cleanup();
  });

  it('dead-letters a different event with the same seq, with both payloads, and keeps the first', async () => {
    const { config, kafka, aws } = env;
    const first = JSON.stringify(event('order-1', 1, 10, 'e-1'));
    const conflicting = JSON.stringify(event('order-1', 1, 99, 'e-1b'));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: config.topics.events,
      acks: -1,
      messages: [
        { key: 'order-1', value: first },
        { key: 'order-1', value: first }, // sent twice: a no-op
        { key: 'order-1', value: conflicting },
        { key: 'order-2', value: JSON.stringify(event('order-2', 1, 5, 'e-2')) },
      ],
    });
    await producer.disconnect();

    sink = createDynamoSink({ config, kafka, dynamodb: aws.dynamodb, logger: createLogger('test', config) });
    await sink.start();
    await waitFor('the four messages accounted for', async () => sink!.stats().recordsIn === 4);

    const letters = await readTopic(kafka, config.topics.eventsDlq, { expected: 1 });
    expect(letters).toHaveLength(1);
    expect(letters[0].value?.toString()).toBe(conflicting);
    expect(letters[0].headers[DLQ_HEADERS.conflictingValue]).toBe(first);
    expect(letters[0].headers[DLQ_HEADERS.sourceOffset]).toBe('2');
    expect(letters[0].headers[DLQ_HEADERS.reason]).toBe(
      'seq-conflict: order order-1 seq 1 differs from the event at offset 0, which is kept',
    );
    const items = await waitFor('both orders in the table', async () => {
      const scanned = await scanTable(aws.dynamodb, config.dynamodb.ordersTable);
      return scanned.size === 2 ? scanned : undefined;
    });
    expect(items.get('order-1')).toMatchObject({ amount: 10, lastEventId: 'e-1', version: 1 });
    expect(sink.stats().deadLettered).toBe(1);
  }, 90_000);
});
