/**
 * The order lifecycles the generator plays: which events an order goes through, with what attributes.
 * Pure and seeded, so a run can be repeated and its expected outcome computed exactly.
 */
import {
  CURRENCIES,
  ORDER_LIFECYCLES,
  REGIONS,
  type OrderLifecycle,
  type OrderEvent,
  type OrderEventType,
  type ShippingAddress,
} from '../../domain/order-event';

/** A seeded uniform [0, 1) generator (mulberry32): fast, and the same seed gives the same run. */
export type Random = () => number;

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/**
 * Shares of the lifecycles. Most orders complete; some are cancelled before or after payment.
 * (Orders still open when a run stops are in progress, as in a real stream.)
 */
export type ScenarioMix = Record<OrderLifecycle, number>;

export const DEFAULT_MIX: ScenarioMix = {
  complete: 0.85,
  cancelBeforePayment: 0.08,
  cancelAfterPayment: 0.07,
};

/** An order being played: its fixed attributes and how far through its lifecycle it is. */
export interface PlannedOrder {
  orderId: string;
  customerId: string;
  amount: number;
  currency: OrderEvent['currency'];
  region: OrderEvent['region'];
  itemCount: number;
  createdAt: string;
  lifecycle: readonly OrderEventType[];
  /** Index in `lifecycle` of the next event to emit. */
  next: number;
  /** Present when the order's events are schema version 2: the optional fields they carry. */
  v2?: OrderV2Fields;
}

/** The optional fields of a version 2 event; any of them may be absent. */
export interface OrderV2Fields {
  channel?: string;
  discountCode?: string;
  shippingAddress?: ShippingAddress;
}

const CHANNELS = ['web', 'mobile-app', 'marketplace', 'phone'] as const;
const DISCOUNT_CODES = ['WELCOME10', 'SPRING24', 'FREESHIP'] as const;
/** Countries with a postcode of their own shape, so the lake holds realistic, varied strings. */
const POSTCODES: Record<string, (random: Random) => string> = {
  US: (random) => String(10_000 + Math.floor(random() * 89_999)),
  DE: (random) => String(10_000 + Math.floor(random() * 89_999)),
  GB: (random) => `SW${1 + Math.floor(random() * 19)} ${1 + Math.floor(random() * 9)}AA`,
  IN: (random) => String(110_000 + Math.floor(random() * 740_000)),
};

/**
 * A version 2 order's optional fields. Each is left out now and then, as producers do with optional fields, so
 * v2 rows with NULLs exist as well as v1 rows.
 */
export function planV2Fields(random: Random): OrderV2Fields {
  const country = pick(random, Object.keys(POSTCODES));
  return {
    ...(random() < 0.9 ? { channel: pick(random, CHANNELS) } : {}),
    ...(random() < 0.3 ? { discountCode: pick(random, DISCOUNT_CODES) } : {}),
    ...(random() < 0.8 ? { shippingAddress: { country, postcode: POSTCODES[country](random) } } : {}),
  };
}

function chooseLifecycle(random: Random, mix: ScenarioMix): readonly OrderEventType[] {
  const total = mix.complete + mix.cancelBeforePayment + mix.cancelAfterPayment;
  let roll = random() * total;
  for (const name of Object.keys(ORDER_LIFECYCLES) as OrderLifecycle[]) {
    roll -= mix[name];
    if (roll < 0) return ORDER_LIFECYCLES[name];
  }
  return ORDER_LIFECYCLES.complete;
}

export function planOrder(
  random: Random,
  orderId: string,
  now: Date,
  mix: ScenarioMix = DEFAULT_MIX,
): PlannedOrder {
  // Amounts are whole cents so they survive JSON, DynamoDB numbers and Parquet doubles unchanged.
  const cents = 500 + Math.floor(random() * 49_500);
  return {
    orderId,
    customerId: `cust-${Math.floor(random() * 5_000)
      .toString()
      .padStart(5, '0')}`,
    amount: cents / 100,
    currency: pick(random, CURRENCIES),
    region: pick(random, REGIONS),
    itemCount: 1 + Math.floor(random() * 9),
    createdAt: now.toISOString(),
    lifecycle: chooseLifecycle(random, mix),
    next: 0,
  };
}

export function remainingEvents(order: PlannedOrder): number {
  return order.lifecycle.length - order.next;
}

/**
 * The order's next event (seq = position in its lifecycle + 1). The event id is derived from order and seq,
 * so a duplicate is recognisable as the same event.
 */
export function emitNext(order: PlannedOrder, now: Date, random: Random): OrderEvent {
  const eventType = order.lifecycle[order.next];
  order.next += 1;
  const seq = order.next;
  const common = {
    eventId: `evt-${order.orderId}-${seq}`,
    eventType,
    orderId: order.orderId,
    customerId: order.customerId,
    seq,
    eventTime: now.toISOString(),
    orderCreatedAt: order.createdAt,
    amount: order.amount,
    currency: order.currency,
    region: order.region,
    itemCount: order.itemCount,
    ...(eventType === 'CANCELLED' ? { note: random() < 0.5 ? 'customer request' : 'payment review' } : {}),
  };
  return order.v2 ? { schemaVersion: 2, ...common, ...order.v2 } : { schemaVersion: 1, ...common };
}
