/**
 * Named errors of the DynamoDB sink. `retriable` tells the consumer loop whether to try the batch again
 * (the write is idempotent, so a retry is always safe) or to dead-letter the message (bad input never
 * gets better).
 */
import { StreamingError } from '../errors';

/** Why a message cannot be applied; the prefix of the `dlq-reason` header. */
export type RejectReason =
  | 'empty-value'
  | 'oversized'
  | 'malformed-json'
  | 'unsupported-schema-version'
  | 'schema-invalid'
  | 'key-mismatch'
  | 'item-too-large'
  | 'dynamodb-rejected'
  | 'seq-conflict';

/** A message that can never be applied: it goes to the dead-letter topic with `reason: detail`. */
export class InvalidOrderEventError extends StreamingError {
  override readonly name = 'InvalidOrderEventError';
  readonly retriable = false;
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(`${reason}: ${detail}`, cause);
  }
}

/** A write that failed for a reason outside the message (throttling, 5xx, network, missing table). */
export class OrderWriteError extends StreamingError {
  override readonly name = 'OrderWriteError';
  constructor(
    message: string,
    readonly retriable: boolean,
    cause?: unknown,
  ) {
    super(message, cause);
  }
}
