/**
 * The order lifecycle event: one versioned schema shared by the generator (producer) and the sinks.
 * Keyed by orderId on the `orders.events` topic; `seq` orders the events of one order.
 */
import { z } from 'zod';

export const ORDER_EVENT_SCHEMA_VERSION = 1;

export const ORDER_EVENT_TYPES = [
  'ORDER_CREATED',
  'PAYMENT_CAPTURED',
  'SHIPPED',
  'DELIVERED',
  'CANCELLED',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

export const ORDER_STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The status an order is in after each event type. */
export const STATUS_AFTER: Record<OrderEventType, OrderStatus> = {
  ORDER_CREATED: 'CREATED',
  PAYMENT_CAPTURED: 'PAID',
  SHIPPED: 'SHIPPED',
  DELIVERED: 'DELIVERED',
  CANCELLED: 'CANCELLED',
};

/** The event sequences an order can go through, from creation to its final status. */
export const ORDER_LIFECYCLES = {
  complete: ['ORDER_CREATED', 'PAYMENT_CAPTURED', 'SHIPPED', 'DELIVERED'],
  cancelBeforePayment: ['ORDER_CREATED', 'CANCELLED'],
  cancelAfterPayment: ['ORDER_CREATED', 'PAYMENT_CAPTURED', 'CANCELLED'],
} as const satisfies Record<string, readonly OrderEventType[]>;
export type OrderLifecycle = keyof typeof ORDER_LIFECYCLES;

/** The event that puts an order into each status (STATUS_AFTER read backwards). */
export const EVENT_INTO = Object.fromEntries(
  Object.entries(STATUS_AFTER).map(([event, status]) => [status, event]),
) as Record<OrderStatus, OrderEventType>;

export const CURRENCIES = ['USD', 'EUR', 'GBP'] as const;
export const REGIONS = ['us-east', 'us-west', 'eu-central', 'eu-west', 'ap-south'] as const;

const isoTimestamp = z.iso.datetime({ offset: true });

export const orderEventSchema = z.strictObject({
  schemaVersion: z.literal(ORDER_EVENT_SCHEMA_VERSION),
  eventId: z.string().min(1).max(64),
  eventType: z.enum(ORDER_EVENT_TYPES),
  orderId: z.string().min(1).max(64),
  customerId: z.string().min(1).max(64),
  seq: z.number().int().min(1).max(1_000_000),
  eventTime: isoTimestamp,
  /** When the order was created: carried by every event so state is complete even if ORDER_CREATED is late. */
  orderCreatedAt: isoTimestamp,
  amount: z.number().nonnegative().max(1_000_000_000).multipleOf(0.01),
  currency: z.enum(CURRENCIES),
  region: z.enum(REGIONS),
  itemCount: z.number().int().min(1).max(10_000),
  /** Free-form note; bounded so one event stays well under DynamoDB's 400 KB item limit. */
  note: z.string().max(4_096).optional(),
});

export type OrderEvent = z.infer<typeof orderEventSchema>;

/** The current state of one order: the item in the `orders` table (partition key `orderId`). */
export interface OrderState {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  /** The highest `seq` applied: the sink only applies events with a larger seq. */
  version: number;
  amount: number;
  currency: string;
  region: string;
  itemCount: number;
  createdAt: string;
  updatedAt: string;
  lastEventId: string;
  lastEventType: OrderEventType;
  note?: string;
}

export function orderStateFromEvent(event: OrderEvent): OrderState {
  return {
    orderId: event.orderId,
    customerId: event.customerId,
    status: STATUS_AFTER[event.eventType],
    version: event.seq,
    amount: event.amount,
    currency: event.currency,
    region: event.region,
    itemCount: event.itemCount,
    createdAt: event.orderCreatedAt,
    updatedAt: event.eventTime,
    lastEventId: event.eventId,
    lastEventType: event.eventType,
    ...(event.note !== undefined ? { note: event.note } : {}),
  };
}
