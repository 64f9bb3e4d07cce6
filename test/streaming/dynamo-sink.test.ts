/**
 * The DynamoDB sink against the real local Kafka and DynamoDB (moto): exact final state, order safety
 * under duplicates and out-of-order events, and bad input to the dead-letter topic with its reason while
 * the valid events behind it still arrive.
 */
import { createDynamoSink, type DynamoSink } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { decodeOrderEvent } from '../../src/streaming/dynamo-sink/decode';
import { DLQ_HEADERS } from '../../src/streaming/dlq';
import { createGenerator, type GeneratorReport } from '../../src/streaming/generator/generator';
import { createLogger } from '../../src/observability/logger';
import { freshConfig } from '../support/fresh-config';
import { plain, provision, readTopic, sleep, waitForOrders, waitFor, type StreamingEnv } from './helpers';

const logger = createLogger('test-dynamo-sink', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });

/** The table holds exactly the expected final state of every order (no more items, no other values). */
async function expectExactState(env: StreamingEnv, report: GeneratorReport): Promise<void> {
  const expected = plain(Object.fromEntries(report.expectedStates));
  const items = await waitForOrders(
    env.aws.dynamodb,
    env.config.dynamodb.ordersTable,
    report.expectedStates,
    90_000,
  );
  expect(items).toEqual(expected);
}

describe('DynamoDB sink', () => {
  let env: StreamingEnv;
  let sink: DynamoSink | undefined;

  afterEach(async () => {
    await sink?.stop();
    sink = undefined;
    await env?.cleanup();
  });

  it('leaves every order at its highest seq despite duplicates and out-of-order events', async () => {
    env = await provision(freshConfig('sink-order'));
    const { config, kafka, aws } = env;
    const report = await createGenerator({
      config,
      kafka,
      logger,
      count: 2_000,
      concurrentOrders: 200,
      duplicates: 0.1,
      outOfOrder: 0.2,
      seed: 7,
      batchSize: 250,
    }).run();
    expect(report.validEvents).toBe(2_000);
    expect(report.duplicates).toBeGreaterThan(100);
    expect(report.outOfOrder).toBeGreaterThan(100);

    // Small chunks so that out-of-order events and duplicates often land in a later chunk than their
    // successor: those must be refused by the version condition, not just collapsed away.
    sink = createDynamoSink({ config, kafka, dynamodb: aws.dynamodb, logger, chunkSize: 50 });
    await sink.start();
    await expectExactState(env, report);

    // Every message ends up exactly once as applied, stale, or superseded within its chunk.
    const stats = await waitFor('all messages accounted for', async () => {
      const s = sink!.stats();
      return s.recordsIn === report.messagesSent &&
        s.applied + s.staleSkips + s.superseded === report.messagesSent
        ? s
        : undefined;
    });
    expect(stats.deadLettered).toBe(0);
    expect(stats.staleSkips).toBeGreaterThan(0);
    expect(stats.applied).toBeGreaterThanOrEqual(report.orders);
  });

  it('keeps its group membership while writes are slower than the session timeout (no eviction, no replay)', async () => {
    env = await provision(freshConfig('sink-slow'));
    const { config, kafka } = env;
    const report = await createGenerator({
      config,
      kafka,
      logger,
      count: 30,
      concurrentOrders: 30,
      seed: 3,
    }).run();
    expect(report.duplicates + report.outOfOrder).toBe(0);
    // Every PutItem of the first chunk waits 8 s, past the 6 s session timeout (the broker's minimum), as writes
    // being throttled and retried would: only heartbeats sent during the wait keep the member in the group.
    const slow = env.aws.dynamodb;
    const delayedUntil = Date.now() + 60_000;
    slow.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && Date.now() < delayedUntil) await sleep(8_000);
        return next(args);
      },
      { step: 'initialize', name: 'slowPutItem' },
    );
    sink = createDynamoSink({ config, kafka, dynamodb: slow, logger, sessionTimeoutMs: 6_000 });
    await sink.start();
    await expectExactState(env, report);
    const stats = await waitFor(
      'every message accounted for',
      async () => {
        const s = sink!.stats();
        return s.applied + s.staleSkips + s.superseded >= report.messagesSent ? s : undefined;
      },
      { timeoutMs: 60_000 },
    );
    // Evicted, the member would have lost its commit and replayed the chunk: the replay shows as stale skips.
    expect(stats.staleSkips).toBe(0);
    expect(stats.recordsIn).toBe(report.messagesSent);
  }, 120_000);

  it('dead-letters malformed JSON, schema-invalid and oversized messages with reason and original bytes', async () => {
    env = await provision(freshConfig('sink-dlq'));
    const { config, kafka, aws } = env;
    const report = await createGenerator({
      config,
      kafka,
      logger,
      count: 1_200,
      concurrentOrders: 100,
      malformed: 0.04,
      seed: 11,
    }).run();
    const badTotal =
      report.malformed['malformed-json'] + report.malformed['schema-invalid'] + report.malformed.oversized;
    expect(report.malformed['malformed-json']).toBeGreaterThan(0);
    expect(report.malformed['schema-invalid']).toBeGreaterThan(0);
    expect(report.malformed.oversized).toBeGreaterThan(0);

    sink = createDynamoSink({ config, kafka, dynamodb: aws.dynamodb, logger });
    await sink.start();
    // The valid events behind the bad ones (same keys, same partitions) still arrive.
    await expectExactState(env, report);

    const letters = await readTopic(kafka, config.topics.eventsDlq, { expected: badTotal });
    expect(letters).toHaveLength(badTotal);
    const source = await readTopic(kafka, config.topics.events, { expected: report.messagesSent });
    const byOffset = new Map(source.map((m) => [`${m.partition}/${m.offset}`, m]));
    const reasons: Record<string, number> = {};
    for (const letter of letters) {
      const reason = letter.headers[DLQ_HEADERS.reason];
      const kind = reason.split(':')[0];
      reasons[kind] = (reasons[kind] ?? 0) + 1;
      expect(letter.headers[DLQ_HEADERS.sourceTopic]).toBe(config.topics.events);
      expect(Number.isNaN(Date.parse(letter.headers[DLQ_HEADERS.failedAt]))).toBe(false);
      const original = byOffset.get(
        `${letter.headers[DLQ_HEADERS.sourcePartition]}/${letter.headers[DLQ_HEADERS.sourceOffset]}`,
      );
      expect(original).toBeDefined();
      // Byte for byte the original message, under its original key.
      expect(letter.value?.equals(original!.value!)).toBe(true);
      expect(letter.key).toBe(original!.key);
      // And the reason is the one decoding gives for those bytes.
      expect(() =>
        decodeOrderEvent(original!.key ? Buffer.from(original!.key) : null, original!.value),
      ).toThrow(reason);
    }
    expect(reasons).toEqual({
      'malformed-json': report.malformed['malformed-json'],
      'schema-invalid': report.malformed['schema-invalid'],
      oversized: report.malformed.oversized,
    });
    expect(sink.stats().deadLettered).toBe(badTotal);
  });
});
