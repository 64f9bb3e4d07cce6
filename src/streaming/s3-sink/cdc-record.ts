/**
 * Decodes and validates one message of the `orders.cdc` topic into a CdcEvent.
 *
 * Every way a message can be unusable maps to one named error with a short reason code, so the S3 sink can
 * send it to the dead-letter topic with that reason instead of crashing or stalling on it.
 */
import { z } from 'zod';
import type { CdcEvent } from '../../domain/lake-schema';

export type InvalidCdcReason = 'empty-value' | 'malformed-json' | 'schema-invalid' | 'missing-image' | 'column-invalid';

export class InvalidCdcRecordError extends Error {
  override readonly name = 'InvalidCdcRecordError';
  /** Bad input does not get better on retry: it goes to the dead-letter topic. */
  readonly retriable = false;
  constructor(
    readonly reason: InvalidCdcReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

const image = z.record(z.string(), z.unknown()).nullable();

/** The relay's CdcEvent envelope; the images are checked column by column when the row is built. */
export const cdcEventSchema = z.object({
  op: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  orderId: z.string().min(1),
  sequenceNumber: z.string().regex(/^\d{1,40}$/, 'expected a decimal sequence number'),
  changeTime: z.iso.datetime({ offset: true }),
  shardId: z.string().min(1),
  eventId: z.string().min(1).optional(),
  newImage: image,
  oldImage: image,
});

/**
 * @example
 *   const event = decodeCdcRecord(message.value); // throws InvalidCdcRecordError on bad input
 */
export function decodeCdcRecord(value: Buffer | null): CdcEvent {
  if (!value || value.length === 0) throw new InvalidCdcRecordError('empty-value', 'message has no value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new InvalidCdcRecordError('malformed-json', (error as Error).message);
  }
  const parsed = cdcEventSchema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidCdcRecordError('schema-invalid', detail);
  }
  const event = parsed.data;
  // The lake row takes the order's columns from the new image, or the old one for a REMOVE.
  if (event.op === 'REMOVE' ? !event.oldImage : !event.newImage) {
    throw new InvalidCdcRecordError('missing-image', `${event.op} without ${event.op === 'REMOVE' ? 'oldImage' : 'newImage'}`);
  }
  return event;
}

/**
 * The identity of a change, for dropping relay re-publishes: the stream record's eventID when the relay sent
 * it, else shard + sequence number (unique on AWS; moto can give two changes one sequence number, which is
 * why the relay sends eventId).
 */
export function changeId(event: CdcEvent): string {
  return event.eventId ?? `${event.shardId}/${event.sequenceNumber}`;
}
