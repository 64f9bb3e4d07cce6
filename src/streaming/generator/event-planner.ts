/**
 * Decides the messages of each generator batch: valid lifecycle events interleaved over many open orders,
 * plus the requested share of duplicates, out-of-order pairs and malformed messages. Pure (no Kafka), so
 * the benchmark and the tests can use it directly and the expected outcome of a run is exact.
 *
 * Counting rules (what the tests assert against):
 * - `validEvents` counts distinct valid events; each reaches the topic once, plus once more per duplicate.
 * - an out-of-order event is a valid event sent one or more batches after its successor (seq + 1).
 * - malformed messages never change an order's expected state.
 */
import { orderStateFromEvent, type OrderEvent, type OrderState } from '../../domain/order-event';
import {
  createRandom,
  DEFAULT_MIX,
  emitNext,
  pick,
  planOrder,
  planV2Fields,
  remainingEvents,
  type PlannedOrder,
  type Random,
  type ScenarioMix,
} from './order-scenarios';

export type MalformedKind = 'malformed-json' | 'schema-invalid' | 'oversized';
export const MALFORMED_KINDS: readonly MalformedKind[] = ['malformed-json', 'schema-invalid', 'oversized'];

export type PlannedKind = 'valid' | 'duplicate' | MalformedKind;

export interface PlannedMessage {
  kind: PlannedKind;
  key: string;
  value: Buffer;
  /** The event, for valid events and duplicates. */
  event?: OrderEvent;
  /** True for a valid event sent after its successor. */
  outOfOrder?: boolean;
}

/** DynamoDB's item limit is 400 KB; the oversized message is comfortably above it and below Kafka's 1 MB. */
export const OVERSIZED_NOTE_BYTES = 410 * 1024;

export interface EventPlannerOptions {
  seed?: number;
  /** Prefix of order ids, unique per run so runs never share orders. */
  runId: string;
  /** Orders open at once: events of an order are spread over roughly this many other events. */
  concurrentOrders?: number;
  /** Stop creating orders after this many; the run ends when all of them completed. */
  maxOrders?: number;
  /** Probability that a valid event is sent again in a later batch. */
  duplicates?: number;
  /** Probability that an event is held back and sent after its successor. */
  outOfOrder?: number;
  /** Probability of a malformed message per valid event (kinds rotate: JSON, schema, oversized). */
  malformed?: number;
  /** Share of orders whose events are schema version 2 (the rest are version 1). */
  schemaV2Share?: number;
  mix?: ScenarioMix;
  now?: () => Date;
}

export interface PlannerCounts {
  validEvents: number;
  duplicates: number;
  outOfOrder: number;
  malformed: Record<MalformedKind, number>;
  ordersCreated: number;
}

export class EventPlanner {
  private readonly random: Random;
  /**
   * Version 2 choices draw from their own stream, so a seed gives the same orders, events and v1 attributes
   * whatever the v2 share is.
   */
  private readonly v2Random: Random;
  private readonly open: PlannedOrder[] = [];
  /** Events held back for one batch (out-of-order) and copies to send again (duplicates). */
  private deferred: PlannedMessage[] = [];
  private ordersCreated = 0;
  private malformedTurn = 0;
  /** Valid events decided so far (including deferred ones not yet handed out). */
  planned = 0;
  private readonly opts: Required<Omit<EventPlannerOptions, 'maxOrders' | 'seed'>> & { maxOrders?: number };

  constructor(options: EventPlannerOptions) {
    const seed = options.seed ?? Date.now();
    this.random = createRandom(seed);
    this.v2Random = createRandom(seed ^ 0x5bd1e995);
    this.opts = {
      runId: options.runId,
      concurrentOrders: options.concurrentOrders ?? 200,
      maxOrders: options.maxOrders,
      duplicates: options.duplicates ?? 0,
      outOfOrder: options.outOfOrder ?? 0,
      malformed: options.malformed ?? 0,
      schemaV2Share: options.schemaV2Share ?? 0,
      mix: options.mix ?? DEFAULT_MIX,
      now: options.now ?? (() => new Date()),
    };
  }

  /** No order is open or can be opened and nothing is held back (only with maxOrders). */
  get exhausted(): boolean {
    return this.open.length === 0 && this.deferred.length === 0 && this.cannotOpenMore();
  }

  get pendingDeferred(): number {
    return this.deferred.length;
  }

  private cannotOpenMore(): boolean {
    return this.opts.maxOrders !== undefined && this.ordersCreated >= this.opts.maxOrders;
  }

  private openOrder(now: Date): PlannedOrder | undefined {
    if (this.cannotOpenMore()) return undefined;
    this.ordersCreated += 1;
    const order = planOrder(this.random, `ord-${this.opts.runId}-${this.ordersCreated}`, now, this.opts.mix);
    if (this.v2Random() < this.opts.schemaV2Share) order.v2 = planV2Fields(this.v2Random);
    this.open.push(order);
    return order;
  }

  private chooseOrder(now: Date): PlannedOrder | undefined {
    while (this.open.length < this.opts.concurrentOrders && !this.cannotOpenMore()) this.openOrder(now);
    if (this.open.length === 0) return undefined;
    return this.open[Math.floor(this.random() * this.open.length)];
  }

  private closeIfDone(order: PlannedOrder): void {
    if (remainingEvents(order) > 0) return;
    const index = this.open.indexOf(order);
    // Swap-remove: order in the pool does not matter and this keeps selection O(1).
    this.open[index] = this.open[this.open.length - 1];
    this.open.pop();
  }

  private valid(event: OrderEvent, outOfOrder = false): PlannedMessage {
    return {
      kind: 'valid',
      key: event.orderId,
      value: Buffer.from(JSON.stringify(event)),
      event,
      ...(outOfOrder ? { outOfOrder } : {}),
    };
  }

  private malformedMessage(now: Date, noOversized: boolean): PlannedMessage {
    const turn = MALFORMED_KINDS[this.malformedTurn++ % MALFORMED_KINDS.length];
    const kind = turn === 'oversized' && noOversized ? 'schema-invalid' : turn;
    // Keyed like a real order so it shares a partition with valid events that must still get through.
    const key = this.open.length > 0 ? pick(this.random, this.open).orderId : `ord-${this.opts.runId}-bad`;
    const base = {
      schemaVersion: 1,
      eventId: `bad-${this.opts.runId}-${this.malformedTurn}`,
      eventType: 'PAYMENT_CAPTURED',
      orderId: key,
      customerId: 'cust-00000',
      seq: 999_999,
      eventTime: now.toISOString(),
      orderCreatedAt: now.toISOString(),
      amount: 10,
      currency: 'USD',
      region: 'us-east',
      itemCount: 1,
    };
    if (kind === 'malformed-json') {
      return { kind, key, value: Buffer.from(JSON.stringify(base).slice(0, 40)) };
    }
    if (kind === 'schema-invalid') {
      const variants = [
        { ...base, eventType: 'REFUNDED' },
        { ...base, seq: 0 },
        { ...base, amount: -5 },
        { ...base, customerId: undefined },
      ];
      return {
        kind,
        key,
        value: Buffer.from(JSON.stringify(variants[this.malformedTurn % variants.length])),
      };
    }
    return {
      kind,
      key,
      value: Buffer.from(JSON.stringify({ ...base, note: 'x'.repeat(OVERSIZED_NOTE_BYTES) })),
    };
  }

  /**
   * The next batch: held-back messages first, then up to `size` new valid events (never more than `budget`),
   * each possibly followed by a malformed message, with duplicates and held-back events queued for later.
   */
  nextBatch(size: number, budget = Number.POSITIVE_INFINITY): PlannedMessage[] {
    const now = this.opts.now();
    const batch = this.deferred;
    this.deferred = [];
    let oversizedInBatch = false;
    let fresh = 0;
    while (fresh < size && this.planned < budget) {
      const order = this.chooseOrder(now);
      if (!order) break;
      const swap =
        this.opts.outOfOrder > 0 &&
        remainingEvents(order) >= 2 &&
        budget - this.planned >= 2 &&
        this.random() < this.opts.outOfOrder;
      if (swap) {
        const earlier = emitNext(order, now, this.random);
        const later = emitNext(order, now, this.random);
        batch.push(this.valid(later));
        this.deferred.push(this.valid(earlier, true));
        this.planned += 2;
        fresh += 1;
      } else {
        batch.push(this.valid(emitNext(order, now, this.random)));
        this.planned += 1;
        fresh += 1;
      }
      this.closeIfDone(order);
      const last = batch[batch.length - 1];
      if (this.opts.duplicates > 0 && this.random() < this.opts.duplicates) {
        this.deferred.push({ ...last, kind: 'duplicate', outOfOrder: undefined });
      }
      if (this.opts.malformed > 0 && this.random() < this.opts.malformed) {
        // Kafka rejects a partition batch over 1 MB: at most one oversized message per batch.
        const bad = this.malformedMessage(now, oversizedInBatch);
        batch.push(bad);
        oversizedInBatch ||= bad.kind === 'oversized';
      }
    }
    return batch;
  }

  /** Everything still held back (the last batch of a run). */
  drain(): PlannedMessage[] {
    const rest = this.deferred;
    this.deferred = [];
    return rest;
  }

  get ordersOpened(): number {
    return this.ordersCreated;
  }
}

/**
 * Folds sent events into the expected final state of each order: the event with the highest seq wins. It keeps
 * each order's winning event and builds the states once, when asked: a state per event cost the flat-out
 * generator about a fifth of its CPU, for states nothing reads until the run's report.
 */
export class ExpectedStates {
  private readonly latest = new Map<string, OrderEvent>();

  apply(event: OrderEvent): void {
    const current = this.latest.get(event.orderId);
    if (!current || event.seq > current.seq) this.latest.set(event.orderId, event);
  }

  get size(): number {
    return this.latest.size;
  }

  /** The expected final state of every order so far (a new map each call). */
  states(): Map<string, OrderState> {
    const states = new Map<string, OrderState>();
    for (const [orderId, event] of this.latest) states.set(orderId, orderStateFromEvent(event));
    return states;
  }
}
