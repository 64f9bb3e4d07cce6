/**
 * Turns one `orders.events` message into a validated OrderEvent, or says precisely why it cannot be one.
 * Checks run cheapest first: size, JSON, schema version, schema, key, then the size of the DynamoDB item it would become.
 */
import {
  orderEventSchema,
  orderStateFromEvent,
  unsupportedSchemaVersion,
  type OrderEvent,
  type OrderState,
} from '../../domain/order-event';
import { InvalidOrderEventError } from './errors';

/** DynamoDB's maximum item size (names + values, UTF-8). */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * The size DynamoDB bills an item at: attribute names plus values, strings in UTF-8, numbers at most
 * 21 bytes. An upper bound is enough here: it only has to catch items DynamoDB would reject.
 */
export function estimateItemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    bytes += Buffer.byteLength(name);
    if (typeof value === 'string') bytes += Buffer.byteLength(value);
    else if (typeof value === 'number') bytes += 21;
    else if (typeof value === 'boolean' || value === null) bytes += 1;
    else bytes += Buffer.byteLength(JSON.stringify(value));
  }
  return bytes;
}

export interface DecodedEvent {
  event: OrderEvent;
  state: OrderState;
}

/**
 * @example
 *   const { event, state } = decodeOrderEvent(message.key, message.value); // throws InvalidOrderEventError
 */
export function decodeOrderEvent(key: Buffer | null, value: Buffer | null): DecodedEvent {
  if (!value || value.length === 0) throw new InvalidOrderEventError('empty-value', 'message has no value');
  // A message this large cannot become an item under the limit: refuse before parsing it.
  if (value.length > MAX_ITEM_BYTES) {
    throw new InvalidOrderEventError(
      'oversized',
      `message of ${value.length} bytes exceeds the ${MAX_ITEM_BYTES}-byte DynamoDB item limit`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new InvalidOrderEventError('malformed-json', (error as Error).message, error);
  }
  const versionProblem = unsupportedSchemaVersion(json);
  if (versionProblem !== undefined)
    throw new InvalidOrderEventError('unsupported-schema-version', versionProblem);
  const parsed = orderEventSchema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidOrderEventError('schema-invalid', detail, parsed.error);
  }
  const event = parsed.data;
  // The key decides the partition and so the order of an order's events; a different key is a producer bug.
  const keyText = key?.toString('utf8');
  if (keyText !== undefined && keyText !== event.orderId) {
    throw new InvalidOrderEventError(
      'key-mismatch',
      `message key "${keyText}" differs from orderId "${event.orderId}"`,
    );
  }
  const state = orderStateFromEvent(event);
  const itemBytes = estimateItemBytes(state as unknown as Record<string, unknown>);
  if (itemBytes > MAX_ITEM_BYTES) {
    throw new InvalidOrderEventError(
      'item-too-large',
      `item of about ${itemBytes} bytes exceeds ${MAX_ITEM_BYTES}`,
    );
  }
  return { event, state };
}
