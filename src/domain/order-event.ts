/**
 * The order lifecycle event: one versioned schema shared by the generator (producer) and the sinks.
 * Keyed by orderId on the `orders.events` topic; `seq` orders the events of one order.
 */
import { z } from 'zod';

/**
 * The versions this code reads and writes. Version 2 only adds optional fields, so every reader of version 1 data
 * (DynamoDB items, CDC images, lake rows) sees a v2 event's extra fields as absent. A version not listed here is
 * refused with its own reason rather than guessed at (see unsupportedSchemaVersion).
 */
export const ORDER_EVENT_SCHEMA_VERSIONS = [1, 2] as const;
export type OrderEventSchemaVersion = (typeof ORDER_EVENT_SCHEMA_VERSIONS)[number];
export const LATEST_ORDER_EVENT_SCHEMA_VERSION: OrderEventSchemaVersion = 2;

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

const orderEventV1Fields = {
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
};

/** Where a v2 order ships to: an ISO 3166-1 alpha-2 country and the postcode as written there. */
export const shippingAddressSchema = z.strictObject({
  country: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code'),
  postcode: z.string().min(1).max(16),
});
export type ShippingAddress = z.infer<typeof shippingAddressSchema>;

/** Fields version 2 adds, all optional: a v2 event without them is as valid as a v1 event. */
const orderEventV2Fields = {
  /** Where the order was placed (web, app, marketplace, ...). */
  channel: z.string().min(1).max(64).optional(),
  discountCode: z.string().min(1).max(64).optional(),
  shippingAddress: shippingAddressSchema.optional(),
};

export const orderEventV1Schema = z.strictObject({ schemaVersion: z.literal(1), ...orderEventV1Fields });
export const orderEventV2Schema = z.strictObject({
  schemaVersion: z.literal(2),
  ...orderEventV1Fields,
  ...orderEventV2Fields,
});

/** Strict per version: a v1 event carrying a v2 field is refused (its producer mislabelled it). */
export const orderEventSchema = z.discriminatedUnion('schemaVersion', [
  orderEventV1Schema,
  orderEventV2Schema,
]);

export type OrderEvent = z.infer<typeof orderEventSchema>;

/**
 * Why a decoded message's schemaVersion is not one this code reads, or undefined when it is. Checked before the
 * schema, so a producer ahead of its consumers gets that reason instead of a list of unrelated field errors.
 *
 * @example
 *   unsupportedSchemaVersion({ schemaVersion: 3 }); // 'schemaVersion 3 is not supported (supported: 1, 2)'
 */
export function unsupportedSchemaVersion(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const version = (json as { schemaVersion?: unknown }).schemaVersion;
  if ((ORDER_EVENT_SCHEMA_VERSIONS as readonly unknown[]).includes(version)) return undefined;
  const supported = ORDER_EVENT_SCHEMA_VERSIONS.join(', ');
  return version === undefined
    ? `schemaVersion is missing (supported: ${supported})`
    : `schemaVersion ${JSON.stringify(version)} is not supported (supported: ${supported})`;
}

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
  /** Version 2 fields: absent on orders whose events are version 1. */
  channel?: string;
  discountCode?: string;
  shippingAddress?: ShippingAddress;
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
    ...(event.schemaVersion === 2
      ? {
          ...(event.channel !== undefined ? { channel: event.channel } : {}),
          ...(event.discountCode !== undefined ? { discountCode: event.discountCode } : {}),
          ...(event.shippingAddress !== undefined ? { shippingAddress: { ...event.shippingAddress } } : {}),
        }
      : {}),
  };
}
