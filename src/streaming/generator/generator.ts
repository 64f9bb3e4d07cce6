/**
 * The order event generator: plays order lifecycles onto `orders.events`, keyed by orderId, at a target
 * rate (events/s) or flat out, for a duration, a count of valid events or a number of orders, with
 * optional duplicates, out-of-order events and malformed messages.
 *
 * Sends in batches with an idempotent producer and acks from all in-sync replicas; only acknowledged
 * batches count. The report carries exact counts and the expected final state of every order, which is
 * what the sink tests assert against.
 *
 * @example
 *   const generator = createGenerator({ config, kafka, logger, registry, count: 2_000, duplicates: 0.05 });
 *   const report = await generator.run();
 *   report.validEvents; // 2000
 */
import { randomBytes } from 'node:crypto';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { Counter, Histogram, Registry } from 'prom-client';
import type { Config } from '../../config';
import type { OrderState, OrderStatus } from '../../domain/order-event';
import type { Logger } from '../../observability/logger';
import { sleep } from '../../support/timing';
import type { StreamingComponent } from '../process-context';
import { StreamingError } from '../errors';
import { EventPlanner, ExpectedStates, type MalformedKind, type PlannedMessage } from './event-planner';
import type { ScenarioMix } from './order-scenarios';

export interface GeneratorOptions {
  config: Config;
  kafka: Kafka;
  logger: Logger;
  registry?: Registry;
  /** Target events/s (all messages); undefined or 0 = flat out. */
  rate?: number;
  /** Stop after this long (then send what is held back). */
  durationMs?: number;
  /** Stop after this many distinct valid events. */
  count?: number;
  /** Stop after this many orders completed their lifecycle. */
  orders?: number;
  concurrentOrders?: number;
  duplicates?: number;
  outOfOrder?: number;
  malformed?: number;
  /** Share of orders emitted as schema version 2; default config.generator.schemaV2Share. */
  schemaV2Share?: number;
  mix?: ScenarioMix;
  batchSize?: number;
  seed?: number;
  runId?: string;
  /** Topic override (the benchmark); default config.topics.events. */
  topic?: string;
  /**
   * Shifts the events' clock (eventTime, orderCreatedAt) by this much from the wall clock, e.g. to put a run
   * across an hour boundary without waiting for one (the freshness benchmark). Default 0.
   */
  clockOffsetMs?: number;
  /**
   * Fold every valid event into the expected final state of its order, for the report (default true). A
   * continuous run turns it off: it would hold every order it ever played in memory, and nothing checks them.
   */
  keepExpectedStates?: boolean;
}

export interface GeneratorReport {
  runId: string;
  topic: string;
  /** Messages the broker acknowledged, of every kind. */
  messagesSent: number;
  /** Distinct valid events (each reached the topic at least once). */
  validEvents: number;
  duplicates: number;
  outOfOrder: number;
  malformed: Record<MalformedKind, number>;
  orders: number;
  ordersByStatus: Partial<Record<OrderStatus, number>>;
  batches: number;
  elapsedMs: number;
  /** Acknowledged messages per second over the run. */
  achievedRate: number;
  /** The final state each order must reach in the `orders` table. */
  expectedStates: Map<string, OrderState>;
}

export interface Generator extends StreamingComponent {
  /** Runs to completion (or until stop()) and resolves with the report. */
  run(): Promise<GeneratorReport>;
  /** The report of the run started by start(). */
  readonly done: Promise<GeneratorReport>;
}

export class GeneratorError extends StreamingError {
  override readonly name = 'GeneratorError';
  constructor(
    message: string,
    readonly retriable: boolean,
    cause?: unknown,
  ) {
    super(message, cause);
  }
}

export class GeneratorOptionsError extends StreamingError {
  override readonly name = 'GeneratorOptionsError';
  readonly retriable = false;
}

const DEFAULT_BATCH_SIZE = 500;

function createGeneratorMetrics(registry: Registry) {
  return {
    sent: new Counter({
      name: 'generator_messages_sent_total',
      help: 'Messages acknowledged by Kafka, by kind (valid, duplicate, malformed-json, schema-invalid, oversized)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'generator_batch_send_seconds',
      help: 'Time for one batch to be acknowledged',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export function createGenerator(options: GeneratorOptions): Generator {
  const { config, kafka } = options;
  if (options.durationMs === undefined && options.count === undefined && options.orders === undefined) {
    throw new GeneratorOptionsError('the generator needs a stop condition: durationMs, count or orders');
  }
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  if (!Number.isSafeInteger(clockOffsetMs))
    throw new GeneratorOptionsError(`clockOffsetMs is a whole number of milliseconds, got ${clockOffsetMs}`);
  for (const knob of ['duplicates', 'outOfOrder', 'malformed', 'schemaV2Share'] as const) {
    const value = options[knob] ?? 0;
    if (!(value >= 0 && value <= 1))
      throw new GeneratorOptionsError(`${knob} is a probability in [0, 1], got ${value}`);
  }
  const topic = options.topic ?? config.topics.events;
  const runId = options.runId ?? randomBytes(4).toString('hex');
  const log = options.logger.child({ component: 'generator', topic, runId });
  const metrics = createGeneratorMetrics(options.registry ?? new Registry());
  let stopRequested = false;
  let running: Promise<GeneratorReport> | undefined;

  const run = async (): Promise<GeneratorReport> => {
    const planner = new EventPlanner({
      runId,
      seed: options.seed,
      concurrentOrders: options.concurrentOrders ?? (options.orders ? Math.min(options.orders, 200) : 200),
      maxOrders: options.orders,
      duplicates: options.duplicates,
      outOfOrder: options.outOfOrder,
      malformed: options.malformed,
      schemaV2Share: options.schemaV2Share ?? config.generator.schemaV2Share,
      mix: options.mix,
      now: () => new Date(Date.now() + clockOffsetMs),
    });
    const expected = options.keepExpectedStates === false ? undefined : new ExpectedStates();
    const counts = {
      messagesSent: 0,
      validEvents: 0,
      duplicates: 0,
      outOfOrder: 0,
      malformed: { 'malformed-json': 0, 'schema-invalid': 0, oversized: 0 } as Record<MalformedKind, number>,
      batches: 0,
    };
    // The idempotent producer makes the broker drop the copies its own retries would otherwise write,
    // so the only duplicates on the topic are the ones asked for.
    const producer: Producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    // At a set rate, smaller batches (about 20 a second) keep the stream smooth rather than bursty.
    const perBatch = options.rate
      ? Math.max(1, Math.min(batchSize, Math.ceil(options.rate / 20)))
      : batchSize;
    const budget = options.count ?? Number.POSITIVE_INFINITY;
    let started = Date.now();
    let deadline = Number.POSITIVE_INFINITY;

    /** Sends one batch; resolves once the broker acknowledged it (the caller then accounts for it). */
    const send = async (batch: PlannedMessage[]) => {
      if (batch.length === 0) return;
      const messages: Message[] = batch.map((m) => ({ key: m.key, value: m.value }));
      const timer = metrics.sendSeconds.startTimer();
      try {
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
      } catch (error) {
        throw new GeneratorError(
          `batch of ${batch.length} not acknowledged by ${topic}: ${(error as Error).message}`,
          (error as { retriable?: boolean }).retriable ?? true,
          error,
        );
      } finally {
        timer();
      }
    };

    /** Counts an acknowledged batch and folds its events into the expected states. */
    const account = (batch: PlannedMessage[]) => {
      if (batch.length === 0) return;
      counts.batches += 1;
      counts.messagesSent += batch.length;
      const byKind = new Map<string, number>();
      for (const message of batch) {
        byKind.set(message.kind, (byKind.get(message.kind) ?? 0) + 1);
        if (message.kind === 'valid') {
          counts.validEvents += 1;
          if (message.outOfOrder) counts.outOfOrder += 1;
          expected?.apply(message.event!);
        } else if (message.kind === 'duplicate') {
          counts.duplicates += 1;
        } else {
          counts.malformed[message.kind] += 1;
        }
      }
      for (const [kind, n] of byKind) metrics.sent.inc({ kind }, n);
    };

    await producer.connect();
    // The rate and the duration count from the first send, not from connecting.
    started = Date.now();
    if (options.durationMs !== undefined) deadline = started + options.durationMs;
    try {
      log.info(
        {
          rate: options.rate ?? 'max',
          count: options.count,
          durationMs: options.durationMs,
          orders: options.orders,
        },
        'generating',
      );
      const more = () =>
        !stopRequested && Date.now() < deadline && planner.planned < budget && !planner.exhausted;
      let batch = more() ? planner.nextBatch(perBatch, budget) : undefined;
      /** Flat out: the batch acknowledged last, accounted for while the next one is on the wire. */
      let acknowledged: PlannedMessage[] = [];
      while (batch) {
        const inFlight = send(batch);
        inFlight.catch(() => undefined); // awaited below; this only keeps it from being reported as unhandled meanwhile
        let next: PlannedMessage[] | undefined;
        if (!options.rate) {
          // Flat out, the generator's own work is done while this batch is on the wire (once kafkajs has written
          // it): accounting for the previous batch and planning the next, so only sending is between two batches.
          await new Promise((resolve) => setImmediate(resolve));
          account(acknowledged);
          next = more() ? planner.nextBatch(perBatch, budget) : undefined;
          await inFlight;
          acknowledged = batch;
        } else {
          await inFlight;
          account(batch);
          const due = started + (counts.messagesSent / options.rate) * 1000;
          const wait = Math.min(due - Date.now(), deadline - Date.now());
          if (wait > 0) await sleep(wait);
          next = more() ? planner.nextBatch(perBatch, budget) : undefined;
        }
        batch = next;
      }
      account(acknowledged);
      // Held-back events are part of the run: without them an out-of-order pair would be half sent.
      const held = planner.drain();
      await send(held);
      account(held);
    } finally {
      await producer.disconnect();
    }

    const elapsedMs = Date.now() - started;
    const expectedStates = expected?.states() ?? new Map<string, OrderState>();
    const ordersByStatus: Partial<Record<OrderStatus, number>> = {};
    for (const state of expectedStates.values())
      ordersByStatus[state.status] = (ordersByStatus[state.status] ?? 0) + 1;
    const report: GeneratorReport = {
      runId,
      topic,
      ...counts,
      orders: expected?.size ?? planner.ordersOpened,
      ordersByStatus,
      elapsedMs,
      achievedRate: elapsedMs > 0 ? (counts.messagesSent * 1000) / elapsedMs : counts.messagesSent,
      expectedStates,
    };
    log.info(
      {
        messagesSent: report.messagesSent,
        validEvents: report.validEvents,
        duplicates: report.duplicates,
        outOfOrder: report.outOfOrder,
        malformed: report.malformed,
        orders: report.orders,
        achievedRate: Math.round(report.achievedRate),
      },
      'generation finished',
    );
    return report;
  };

  const component: Generator = {
    run: () => {
      running ??= run();
      return running;
    },
    get done() {
      return running ?? Promise.reject(new GeneratorError('the generator was not started', false));
    },
    start: async () => {
      running ??= run();
      // start() returns at once; failures surface through `done`.
      running.catch(() => undefined);
    },
    stop: async () => {
      stopRequested = true;
      await running?.catch(() => undefined);
    },
  };
  return component;
}
