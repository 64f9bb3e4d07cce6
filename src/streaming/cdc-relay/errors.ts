/**
 * Named errors of the CDC relay. `retriable` decides between "try again from the last checkpoint" and
 * "give the shard up"; `cause` keeps the SDK or kafkajs error.
 */
import { StreamingError } from '../errors';

/** This instance no longer owns the shard's lease (taken over, handed off, or its producer was fenced). */
export class LeaseLostError extends StreamingError {
  override readonly name = 'LeaseLostError';
  readonly retriable = false;
  constructor(
    readonly leaseKey: string,
    detail: string,
    cause?: unknown,
  ) {
    super(`lease ${leaseKey} lost: ${detail}`, cause);
  }
}

/** Publishing a batch of changes to Kafka failed; its transaction was aborted, so nothing of it is visible. */
export class CdcPublishError extends StreamingError {
  override readonly name = 'CdcPublishError';
  constructor(
    message: string,
    readonly retriable: boolean,
    cause?: unknown,
  ) {
    super(message, cause);
  }
}

/** A stream record the relay cannot turn into a CdcEvent (a key or event name it does not know). */
export class StreamRecordError extends StreamingError {
  override readonly name = 'StreamRecordError';
  readonly retriable = false;
}
