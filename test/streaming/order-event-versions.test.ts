/**
 * Order-event schema versions, pure logic: v1 and v2 both decode, a version this code does not know is refused
 * with its own reason, and the generator's v1/v2 mix follows its share without changing the seeded v1 stream.
 */
import { orderStateFromEvent, type OrderEvent } from '../../src/domain/order-event';
import { decodeOrderEvent } from '../../src/streaming/dynamo-sink/decode';
import { InvalidOrderEventError } from '../../src/streaming/dynamo-sink/errors';
import { EventPlanner } from '../../src/streaming/generator/event-planner';

const v1: OrderEvent = {
  schemaVersion: 1,
  eventId: 'evt-o-1-1',
  eventType: 'ORDER_CREATED',
  orderId: 'o-1',
  customerId: 'cust-00001',
  seq: 1,
  eventTime: '2026-01-01T10:00:00.000Z',
  orderCreatedAt: '2026-01-01T10:00:00.000Z',
  amount: 12.5,
  currency: 'EUR',
  region: 'eu-west',
  itemCount: 2,
};
const v2 = {
  ...v1,
  schemaVersion: 2,
  channel: 'web',
  discountCode: 'WELCOME10',
  shippingAddress: { country: 'DE', postcode: '10115' },
} as const;

/** The event without its version and v2 fields. */
const withoutV2 = (event: object) =>
  Object.fromEntries(
    Object.entries(event).filter(
      ([name]) => !['schemaVersion', 'channel', 'discountCode', 'shippingAddress'].includes(name),
    ),
  );

const decode = (event: unknown) => decodeOrderEvent(Buffer.from('o-1'), Buffer.from(JSON.stringify(event)));

function rejection(event: unknown): InvalidOrderEventError {
  try {
    decode(event);
  } catch (error) {
    if (error instanceof InvalidOrderEventError) return error;
    throw error;
  }
  throw new Error('the event was accepted');
}

describe('order event schema versions', () => {
  it('decodes version 1 without the v2 fields and version 2 with them into the order state', () => {
    expect(decode(v1).state).toEqual(orderStateFromEvent(v1));
    expect(decode(v1).state).not.toHaveProperty('channel');
    expect(decode(v2).state).toMatchObject({
      orderId: 'o-1',
      channel: 'web',
      discountCode: 'WELCOME10',
      shippingAddress: { country: 'DE', postcode: '10115' },
    });
  });

  it('takes a version 2 event without any of its optional fields', () => {
    expect(decode({ ...withoutV2(v2), schemaVersion: 2 }).state).toEqual(orderStateFromEvent({ ...v1 }));
  });

  it('refuses an unknown or missing version with unsupported-schema-version, naming the versions it reads', () => {
    expect(rejection({ ...v2, schemaVersion: 3 }).message).toBe(
      'unsupported-schema-version: schemaVersion 3 is not supported (supported: 1, 2)',
    );
    expect(rejection({ ...v1, schemaVersion: '2' }).message).toBe(
      'unsupported-schema-version: schemaVersion "2" is not supported (supported: 1, 2)',
    );
    expect(rejection(withoutV2(v1)).message).toBe(
      'unsupported-schema-version: schemaVersion is missing (supported: 1, 2)',
    );
    expect(rejection({ ...v2, schemaVersion: 3 }).reason).toBe('unsupported-schema-version');
  });

  it('refuses a version 1 event carrying a v2 field, and a v2 address that is not one, as schema-invalid', () => {
    expect(rejection({ ...v1, channel: 'web' }).message).toMatch(/^schema-invalid: .*channel/);
    expect(rejection({ ...v2, shippingAddress: { country: 'Germany', postcode: '10115' } }).message).toBe(
      'schema-invalid: shippingAddress.country: expected an ISO 3166-1 alpha-2 country code',
    );
    expect(rejection({ ...v2, shippingAddress: { country: 'DE' } }).message).toMatch(
      /^schema-invalid: shippingAddress\.postcode: /,
    );
  });
});

describe('generator v1/v2 mix', () => {
  function plan(schemaV2Share: number): OrderEvent[] {
    const now = () => new Date('2026-01-01T10:00:00.000Z');
    const planner = new EventPlanner({ runId: 'mix', seed: 42, maxOrders: 400, schemaV2Share, now });
    const events: OrderEvent[] = [];
    while (!planner.exhausted) {
      for (const message of planner.nextBatch(100, Number.MAX_SAFE_INTEGER)) events.push(message.event!);
    }
    return events;
  }
  const versionsByOrder = (events: OrderEvent[]) =>
    new Map(events.map((event) => [event.orderId, event.schemaVersion]));

  it('emits only version 1 at share 0, only version 2 at share 1, and both at 0.5, one version per order', () => {
    expect(new Set(plan(0).map((e) => e.schemaVersion))).toEqual(new Set([1]));
    expect(new Set(plan(1).map((e) => e.schemaVersion))).toEqual(new Set([2]));
    const mixed = plan(0.5);
    const perOrder = [...versionsByOrder(mixed).values()];
    const v2Orders = perOrder.filter((version) => version === 2).length;
    expect(v2Orders).toBeGreaterThan(150);
    expect(v2Orders).toBeLessThan(250);
    for (const event of mixed) expect(event.schemaVersion).toBe(versionsByOrder(mixed).get(event.orderId));
    // Every event the mix produces is one the sink accepts.
    for (const event of mixed)
      expect(decode({ ...event, orderId: 'o-1' }).event.schemaVersion).toBe(event.schemaVersion);
  });

  it('gives a seed the same orders and v1 attributes whatever the share', () => {
    expect(plan(0.5).map(withoutV2)).toEqual(plan(0).map(withoutV2));
  });
});
