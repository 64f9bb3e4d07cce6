/**
 * Decodes and validates one message of the `orders.cdc` topic into a CdcEvent.
 *
 * Every way a message can be unusable maps to one named error with a short reason code, so the S3 sink can
 * send it to the dead-letter topic with that reason instead of crashing or stalling on it.
 */
import type { CdcEvent } from './lake-schema';
import { LakeFormatError } from './errors';

export type InvalidCdcReason =
  'empty-value' | 'malformed-json' | 'schema-invalid' | 'missing-image' | 'column-invalid';

export class InvalidCdcRecordError extends LakeFormatError {
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

const OPS = new Set(['INSERT', 'MODIFY', 'REMOVE']);
const SEQUENCE_NUMBER = /^\d{1,40}$/;
// ISO-8601 with a UTC offset, as the relay writes it (Date#toISOString) or with an explicit offset.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkString(
  json: Record<string, unknown>,
  name: string,
  problems: string[],
  pattern?: RegExp,
  what?: string,
) {
  const value = json[name];
  if (typeof value !== 'string' || value.length === 0) problems.push(`${name}: expected a non-empty string`);
  else if (pattern && !pattern.test(value))
    problems.push(`${name}: expected ${what}, got ${JSON.stringify(value.slice(0, 40))}`);
}

/**
 * The epoch ms of a change time in the form the relay writes, or NaN: checked by one pattern and parsed once per
 * record, here, for validation, the record's hour and record-time rotation alike.
 */
function changeTimeMs(value: unknown): number {
  return typeof value === 'string' && ISO_TIMESTAMP.test(value) ? Date.parse(value) : Number.NaN;
}

/** Why a change time that changeTimeMs refused is wrong (only on that path: the valid ones never come here). */
function changeTimeProblem(value: unknown, problems: string[]) {
  if (typeof value !== 'string' || value.length === 0)
    problems.push('changeTime: expected a non-empty string');
  else if (!ISO_TIMESTAMP.test(value))
    problems.push(
      `changeTime: expected an ISO-8601 timestamp with an offset, got ${JSON.stringify(value.slice(0, 40))}`,
    );
  else problems.push(`changeTime: not a real date: ${value}`);
}

/**
 * Checks the relay's CdcEvent envelope by hand rather than with zod: this runs once per record on the sink's
 * hot path, where a zod parse (which also copies the images) cost more than the JSON parse itself. The images
 * are checked column by column when the row is built (lake-row.ts). No closures are created per call: on this
 * path even that showed in profiles.
 */
function envelopeProblems(json: unknown, changeMs: number): string[] | undefined {
  if (!isObject(json)) return ['(root): expected an object'];
  const problems: string[] = [];
  if (Number.isNaN(changeMs)) changeTimeProblem(json.changeTime, problems);
  if (typeof json.op !== 'string' || !OPS.has(json.op))
    problems.push(`op: expected one of INSERT, MODIFY, REMOVE, got ${JSON.stringify(json.op)}`);
  checkString(json, 'orderId', problems);
  checkString(json, 'sequenceNumber', problems, SEQUENCE_NUMBER, 'a decimal sequence number');
  checkString(json, 'shardId', problems);
  if (json.eventId !== undefined) checkString(json, 'eventId', problems);
  const { newImage, oldImage } = json;
  if (newImage !== null && newImage !== undefined && !isObject(newImage))
    problems.push('newImage: expected an object or null');
  if (oldImage !== null && oldImage !== undefined && !isObject(oldImage))
    problems.push('oldImage: expected an object or null');
  return problems.length > 0 ? problems : undefined;
}

/** A decoded change and its change time in epoch ms (parsed once, while validating). */
export interface DecodedCdcRecord {
  event: CdcEvent;
  changeMs: number;
}

/**
 * @example
 *   const { event, changeMs } = decodeCdcChange(message.value); // throws InvalidCdcRecordError on bad input
 */
export function decodeCdcChange(value: Buffer | null): DecodedCdcRecord {
  if (!value || value.length === 0) throw new InvalidCdcRecordError('empty-value', 'message has no value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new InvalidCdcRecordError('malformed-json', (error as Error).message);
  }
  const changeMs = changeTimeMs(isObject(json) ? json.changeTime : undefined);
  const problems = envelopeProblems(json, changeMs);
  if (problems) throw new InvalidCdcRecordError('schema-invalid', problems.join('; '));
  const event = json as CdcEvent;
  event.newImage ??= null;
  event.oldImage ??= null;
  // The lake row takes the order's columns from the new image, or the old one for a REMOVE.
  if (event.op === 'REMOVE' ? !event.oldImage : !event.newImage) {
    throw new InvalidCdcRecordError(
      'missing-image',
      `${event.op} without ${event.op === 'REMOVE' ? 'oldImage' : 'newImage'}`,
    );
  }
  return { event, changeMs };
}

/**
 * @example
 *   const event = decodeCdcRecord(message.value); // throws InvalidCdcRecordError on bad input
 */
export function decodeCdcRecord(value: Buffer | null): CdcEvent {
  return decodeCdcChange(value).event;
}

/**
 * The identity of a change, for dropping relay re-publishes: the stream record's eventID when the relay sent
 * it, else shard + sequence number (unique on AWS; moto can give two changes one sequence number, which is
 * why the relay sends eventId).
 */
export function changeId(event: CdcEvent): string {
  return event.eventId ?? `${event.shardId}/${event.sequenceNumber}`;
}
