/**
 * The generator's report is exact: what it says it sent is what the topic holds (read back from the real
 * Kafka), including duplicates, out-of-order events and malformed messages, and its expected final states
 * are the fold of the valid events it sent. Plus pacing by rate and duration, stop(), the order-count stop, and
 * the CLI. How closely the generator holds a rate is measured in bench/streaming-bench.ts, not asserted here.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderStateFromEvent, type OrderEvent, type OrderState } from '../../src/domain/order-event';
import { createLogger } from '../../src/observability/logger';
import { decodeOrderEvent } from '../../src/streaming/dynamo-sink/decode';
import { InvalidOrderEventError } from '../../src/streaming/dynamo-sink/errors';
import { EventPlanner } from '../../src/streaming/generator/event-planner';
import { createGenerator, GeneratorOptionsError } from '../../src/streaming/generator/generator';
import { freshConfig } from '../support/fresh-config';
import { endOffsets, plain, provision, readTopic, spawnProcess, waitFor, type StreamingEnv } from './helpers';

const logger = createLogger('test-generator', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });

describe('event planner (pure)', () => {
  it('is deterministic for a seed and honours the count exactly', () => {
    const plan = (seed: number) => {
      const planner = new EventPlanner({
        runId: 'r',
        seed,
        duplicates: 0.1,
        outOfOrder: 0.2,
        malformed: 0.05,
        now: () => new Date(0),
      });
      const out = [];
      while (planner.planned < 1_000) out.push(...planner.nextBatch(100, 1_000));
      out.push(...planner.drain());
      return out;
    };
    const a = plan(5);
    expect(a.map((m) => m.value.toString())).toEqual(plan(5).map((m) => m.value.toString()));
    expect(a.filter((m) => m.kind === 'valid')).toHaveLength(1_000);
    expect(new Set(a.filter((m) => m.kind === 'valid').map((m) => m.event!.eventId)).size).toBe(1_000);
  });

  it('plays whole lifecycles when limited to a number of orders', () => {
    const planner = new EventPlanner({ runId: 'r', seed: 1, maxOrders: 30, concurrentOrders: 10 });
    const events = [];
    while (!planner.exhausted) events.push(...planner.nextBatch(50));
    const last = new Map<string, OrderEvent>();
    for (const m of events) last.set(m.event!.orderId, m.event!);
    expect(last.size).toBe(30);
    for (const event of last.values()) expect(['DELIVERED', 'CANCELLED']).toContain(event.eventType);
  });
});

describe('generator against Kafka', () => {
  let env: StreamingEnv | undefined;
  afterEach(async () => {
    await env?.cleanup();
    env = undefined;
  });

  it('keeps no order states when told not to (a continuous run), and still counts its orders', async () => {
    env = await provision(freshConfig('gen-no-states'), { tables: false });
    const { config, kafka } = env;
    const run = (keepExpectedStates: boolean) =>
      createGenerator({ config, kafka, logger, count: 300, seed: 4, keepExpectedStates }).run();
    const kept = await run(true);
    const unkept = await run(false);
    expect(kept.expectedStates.size).toBe(kept.orders);
    expect(unkept.expectedStates.size).toBe(0);
    expect(unkept.validEvents).toBe(300);
    expect(unkept.orders).toBeGreaterThanOrEqual(kept.orders);
  });

  it('reports exactly what reached the topic, and the expected final state of every order', async () => {
    env = await provision(freshConfig('gen-counts'), { tables: false });
    const { config, kafka } = env;
    const report = await createGenerator({
      config,
      kafka,
      logger,
      count: 1_500,
      concurrentOrders: 150,
      duplicates: 0.1,
      outOfOrder: 0.15,
      malformed: 0.03,
      seed: 3,
      batchSize: 200,
    }).run();
    const messages = await readTopic(kafka, config.topics.events, { expected: report.messagesSent });
    expect(messages).toHaveLength(report.messagesSent);

    const seen = new Map<string, number>();
    const malformed: Record<string, number> = {};
    const states = new Map<string, OrderState>();
    const position = new Map<string, number>(); // partition/offset order per event id
    const keyMismatches: string[] = [];
    for (const message of messages) {
      let event: OrderEvent;
      try {
        event = decodeOrderEvent(message.key ? Buffer.from(message.key) : null, message.value).event;
      } catch (error) {
        if (!(error instanceof InvalidOrderEventError)) throw error;
        malformed[error.reason] = (malformed[error.reason] ?? 0) + 1;
        continue;
      }
      seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
      if (!position.has(event.eventId)) position.set(event.eventId, Number(message.offset));
      const current = states.get(event.orderId);
      if (!current || event.seq > current.version) states.set(event.orderId, orderStateFromEvent(event));
      if (message.key !== event.orderId) keyMismatches.push(event.eventId);
    }
    expect(keyMismatches).toEqual([]);
    expect(seen.size).toBe(report.validEvents);
    expect([...seen.values()].reduce((sum, n) => sum + n - 1, 0)).toBe(report.duplicates);
    expect(malformed).toEqual({
      'malformed-json': report.malformed['malformed-json'],
      'schema-invalid': report.malformed['schema-invalid'],
      oversized: report.malformed.oversized,
    });
    expect(plain(Object.fromEntries(states))).toEqual(plain(Object.fromEntries(report.expectedStates)));
    // Out-of-order: events whose successor (same order, same partition) sits at an earlier offset.
    let reversed = 0;
    for (const [eventId, offset] of position) {
      const match = /^evt-(.+)-(\d+)$/.exec(eventId)!;
      const next = position.get(`evt-${match[1]}-${Number(match[2]) + 1}`);
      if (next !== undefined && next < offset) reversed += 1;
    }
    expect(reversed).toBe(report.outOfOrder);
    expect(report.outOfOrder).toBeGreaterThan(0);
  });

  it('paces a run by rate until its duration is over, and the topic holds exactly what it reported', async () => {
    env = await provision(freshConfig('gen-rate'), { tables: false });
    const rate = 400;
    const report = await createGenerator({
      config: env.config,
      kafka: env.kafka,
      logger,
      rate,
      durationMs: 3_000,
      seed: 1,
    }).run();
    // It stops at its duration, not before; and it never runs ahead of its schedule (a batch goes out only when
    // it is due; the last one may be on the wire as the clock runs out), however slow the machine is.
    expect(report.elapsedMs).toBeGreaterThanOrEqual(3_000);
    const batch = Math.ceil(rate / 20);
    expect(report.messagesSent).toBeGreaterThan(0);
    expect(report.messagesSent).toBeLessThanOrEqual((rate * report.elapsedMs) / 1000 + batch);
    const messages = await readTopic(env.kafka, env.config.topics.events, { expected: report.messagesSent });
    expect(messages).toHaveLength(report.messagesSent);
    const ids = messages.map(
      (m) => decodeOrderEvent(m.key ? Buffer.from(m.key) : null, m.value).event.eventId,
    );
    expect(new Set(ids).size).toBe(report.validEvents);
    expect(report.validEvents).toBe(report.messagesSent);
  });

  it('stops early on stop() and still reports exactly what was acknowledged', async () => {
    const { config, kafka } = (env = await provision(freshConfig('gen-stop'), { tables: false }));
    const generator = createGenerator({
      config: config,
      kafka: kafka,
      logger,
      rate: 500,
      durationMs: 60_000,
      outOfOrder: 0.2,
      seed: 2,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await generator.start();
      await waitFor('the first events on the topic', async () =>
        [...(await endOffsets(admin, config.topics.events)).values()].some((end) => end > 0),
      );
    } finally {
      await admin.disconnect();
    }
    await generator.stop();
    const report = await generator.done;
    // Stopped long before its 60 s at 500/s.
    expect(report.messagesSent).toBeGreaterThan(0);
    expect(report.messagesSent).toBeLessThan(500 * 60);
    expect(await readTopic(kafka, config.topics.events, { expected: report.messagesSent })).toHaveLength(
      report.messagesSent,
    );
  });

  it('stamps its events on a clock shifted by clockOffsetMs', async () => {
    env = await provision(freshConfig('gen-clock'), { tables: false });
    const { config, kafka } = env;
    const clockOffsetMs = 3 * 3_600_000;
    const before = Date.now();
    const report = await createGenerator({ config, kafka, logger, count: 50, clockOffsetMs, seed: 5 }).run();
    const after = Date.now();
    const messages = await readTopic(kafka, config.topics.events, { expected: report.messagesSent });
    const times = messages.map((message) => {
      const { event } = decodeOrderEvent(message.key ? Buffer.from(message.key) : null, message.value);
      return Date.parse(event.eventTime);
    });
    expect(times).toHaveLength(50);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(before + clockOffsetMs);
    expect(Math.max(...times)).toBeLessThanOrEqual(after + clockOffsetMs);
  });

  it('refuses options without a stop condition or with a bad probability', () => {
    const base = { config: freshConfig('gen-opts'), kafka: undefined as never, logger };
    expect(() => createGenerator(base)).toThrow(GeneratorOptionsError);
    expect(() => createGenerator({ ...base, count: 1, duplicates: 2 })).toThrow(/duplicates/);
    expect(() => createGenerator({ ...base, count: 1, clockOffsetMs: 0.5 })).toThrow(/clockOffsetMs/);
  });

  it('runs as a process: prints its report and writes the expected states', async () => {
    env = await provision(freshConfig('gen-cli'), { tables: false });
    const out = join(tmpdir(), `expected-${process.pid}-${Date.now()}.jsonl`);
    try {
      const child = spawnProcess('generator', 'src/streaming/generator/main.ts', env.config, {
        args: ['--count', '300', '--duplicates', '0.1', '--seed', '4', '--expected-out', out],
      });
      expect(await child.exited).toBe(0);
      const summary = JSON.parse(
        child
          .output()
          .split('\n')
          .find((line) => line.startsWith('{"runId"'))!,
      );
      expect(summary.validEvents).toBe(300);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(summary.expectedOrders);
      expect(JSON.parse(lines[0]).version).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(out, { force: true });
    }
  });
});
