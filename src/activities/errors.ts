/**
 * Translation of AWS SDK (and Kafka) errors at the activity boundary into named Temporal failures.
 *
 * Activities never leak a raw SDK exception: each becomes an ApplicationFailure whose `type` says what went wrong
 * and whose `nonRetryable` flag says whether another attempt can help, both as classifyAwsError (src/aws/errors.ts)
 * decides; retriable failures are retried with the activity's policy.
 *
 * @example
 *   return withAwsErrors('glue.StartCrawler', () => glue.send(new StartCrawlerCommand({ Name })));
 */
import { ApplicationFailure } from '@temporalio/common';
import { classifyAwsError } from '../aws/errors';
import type { FailureType } from '../contract/failure-types';
import { RetriableError } from '../support/errors';

/** Base of the activities' own named errors (raised before any failure is built, e.g. by the report catalog). */
export abstract class ActivityError extends RetriableError {}

/** The failure an error becomes; ApplicationFailures (already named) pass through unchanged. */
export function toActivityFailure(operation: string, error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const { type, retriable } = classifyAwsError(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return ApplicationFailure.create({
    type,
    nonRetryable: !retriable,
    message: `${operation}: ${err.name}: ${err.message}`,
    cause: err,
    details: [{ operation, errorName: err.name, httpStatus: status }],
  });
}

/** Runs `fn` and rethrows any failure translated (see toActivityFailure). */
export async function withAwsErrors<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toActivityFailure(operation, error);
  }
}

/** A named, non-retryable failure for an outcome that another attempt cannot change. */
export function permanentFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}
