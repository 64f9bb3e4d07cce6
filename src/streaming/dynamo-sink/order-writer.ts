/**
 * The sink's write path: one conditional PutItem per order.
 *
 * Why this path (measured in bench/streaming-bench.ts):
 * - Each event carries the order's complete state (orderStateFromEvent), so a whole-item PutItem is
 *   correct and needs no read; it is one round trip per order.
 * - The condition `attribute_not_exists(orderId) OR version < :seq` makes every write idempotent and
 *   order-safe: a replay or an older event fails the condition and is counted as a stale skip.
 * - BatchWriteItem cannot carry conditions. TransactWriteItems can, but one stale item cancels the whole
 *   transaction and each write costs twice the capacity, which a stream full of duplicates would pay.
 * - The caller collapses a batch to the highest seq per order first, so only one write per order per
 *   batch is sent, and runs the writes with bounded concurrency (SINK_CONCURRENCY).
 * - PutItem rather than UpdateItem: the item is replaced whole, so fields an older event set never linger
 *   (e.g. a note), and (locally) moto's UpdateItem on a new key emits two stream records, PutItem one.
 *
 * Throttling, 5xx and network errors are retried by the SDK (maxAttempts from clientConfig) and then, when
 * classifyAwsError calls them retriable, by a bounded loop here with capped exponential backoff and full jitter.
 */
import {
  ConditionalCheckFailedException,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { OrderState } from '../../domain/order-event';
import { ORDERS_KEY } from '../../domain/table-keys';
import { classifyAwsError } from '../../aws/errors';
import { backoffDelayMs, sleep } from '../../support/timing';
import { InvalidOrderEventError, OrderWriteError } from './errors';

export type WriteOutcome = 'applied' | 'stale';

export interface OrderWriterOptions {
  dynamodb: DynamoDBClient;
  table: string;
  /** Attempts of this loop (each already includes the SDK's own retries). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (error: unknown, attempt: number) => void;
}

export interface OrderWriter {
  /**
   * Throws InvalidOrderEventError when DynamoDB rejects the item itself (its size or values), OrderWriteError
   * otherwise (not retriable when the table's key schema is not the sink's).
   */
  write(state: OrderState): Promise<WriteOutcome>;
}

interface SdkErrorShape {
  name?: string;
  message?: string;
}

/** DynamoDB's ValidationException messages about the table's key schema rather than about the item's values. */
const TABLE_MISMATCH =
  /key element does not match the schema|type mismatch for key|missing the key|required keys/i;

export function createOrderWriter(options: OrderWriterOptions): OrderWriter {
  const { dynamodb, table } = options;
  const maxAttempts = options.maxAttempts ?? 6;
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2_000;

  const putOnce = async (state: OrderState): Promise<WriteOutcome> => {
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: marshall(state, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(#key) OR #version < :seq',
          ExpressionAttributeNames: { '#key': ORDERS_KEY, '#version': 'version' },
          ExpressionAttributeValues: { ':seq': { N: String(state.version) } },
        }),
      );
      return 'applied';
    } catch (error) {
      // The stored version is as new or newer: a duplicate or an out-of-order event. Not an error.
      if (error instanceof ConditionalCheckFailedException) return 'stale';
      const e = error as SdkErrorShape;
      // A rejection of the table's key means the table is not what the sink writes to (e.g. made elsewhere with a
      // Number or composite key): every event would fail alike, so stop rather than dead-letter them all.
      if (e.name === 'ValidationException' && !TABLE_MISMATCH.test(e.message ?? '')) {
        const sizeProblem = /size/i.test(e.message ?? '');
        throw new InvalidOrderEventError(
          sizeProblem ? 'item-too-large' : 'dynamodb-rejected',
          e.message ?? 'ValidationException',
          error,
        );
      }
      throw new OrderWriteError(
        `PutItem of order ${state.orderId} into ${table} failed: ${e.name ?? 'Error'}: ${e.message ?? ''}`,
        classifyAwsError(error).retriable,
        error,
      );
    }
  };

  return {
    async write(state) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await putOnce(state);
        } catch (error) {
          const retriable = error instanceof OrderWriteError && error.retriable;
          if (!retriable || attempt >= maxAttempts) throw error;
          options.onRetry?.(error, attempt);
          await sleep(backoffDelayMs(attempt, { baseMs: baseDelayMs, maxMs: maxDelayMs }));
        }
      }
    },
  };
}
