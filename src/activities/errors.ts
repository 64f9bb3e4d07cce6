/**
 * Translation of AWS SDK (and Kafka) errors at the activity boundary into named Temporal failures.
 *
 * Activities never leak a raw SDK exception: each becomes an ApplicationFailure whose `type` says what went wrong
 * and whose `nonRetryable` flag says whether another attempt can help. Missing resources and invalid requests are
 * not retried (the user has to act: run provisioning, fix the SQL); throttling, server errors and network trouble
 * are retried with the activity's policy.
 *
 * @example
 *   return withAwsErrors('glue.StartCrawler', () => glue.send(new StartCrawlerCommand({ Name })));
 */
import { ApplicationFailure } from '@temporalio/common';

interface Rule {
  type: string;
  nonRetryable: boolean;
}

/** SDK exception name → failure. Names are the service's error codes, stable across SDK versions. */
const RULES: Record<string, Rule> = {
  // Missing things: provisioning has not run, or a name is wrong.
  ResourceNotFoundException: { type: 'ResourceNotFound', nonRetryable: true },
  EntityNotFoundException: { type: 'ResourceNotFound', nonRetryable: true },
  NoSuchBucket: { type: 'BucketNotFound', nonRetryable: true },
  NotFound: { type: 'ResourceNotFound', nonRetryable: true },
  MetadataException: { type: 'CatalogError', nonRetryable: true },
  // The request itself is wrong: retrying sends the same wrong request.
  InvalidRequestException: { type: 'InvalidRequest', nonRetryable: true },
  InvalidInputException: { type: 'InvalidRequest', nonRetryable: true },
  ValidationException: { type: 'InvalidRequest', nonRetryable: true },
  AccessDeniedException: { type: 'AccessDenied', nonRetryable: true },
  AccessDenied: { type: 'AccessDenied', nonRetryable: true },
  UnrecognizedClientException: { type: 'AccessDenied', nonRetryable: true },
  InvalidAccessKeyId: { type: 'AccessDenied', nonRetryable: true },
  // Transient: back off and try again.
  ThrottlingException: { type: 'Throttled', nonRetryable: false },
  TooManyRequestsException: { type: 'Throttled', nonRetryable: false },
  ProvisionedThroughputExceededException: { type: 'Throttled', nonRetryable: false },
  RequestLimitExceeded: { type: 'Throttled', nonRetryable: false },
  SlowDown: { type: 'Throttled', nonRetryable: false },
  OperationTimeoutException: { type: 'ServiceUnavailable', nonRetryable: false },
  InternalServerException: { type: 'ServiceUnavailable', nonRetryable: false },
  InternalServerError: { type: 'ServiceUnavailable', nonRetryable: false },
  InternalError: { type: 'ServiceUnavailable', nonRetryable: false },
  ServiceUnavailable: { type: 'ServiceUnavailable', nonRetryable: false },
  ServiceUnavailableException: { type: 'ServiceUnavailable', nonRetryable: false },
  ConcurrentModificationException: { type: 'ConcurrentModification', nonRetryable: false },
  CrawlerRunningException: { type: 'CrawlerRunning', nonRetryable: false },
  ResourceInUseException: { type: 'ResourceBusy', nonRetryable: false },
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/** The failure an error becomes; ApplicationFailures (already named) pass through unchanged. */
export function toActivityFailure(operation: string, error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const code = (err as { code?: string }).code;
  const rule: Rule | undefined =
    RULES[err.name] ??
    (code && NETWORK_CODES.has(code) ? { type: 'ServiceUnreachable', nonRetryable: false } : undefined) ??
    (err.name === 'TimeoutError' ? { type: 'ServiceUnreachable', nonRetryable: false } : undefined);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // Unknown errors: 4xx are the caller's fault (not retried), everything else is assumed transient.
  const fallback: Rule =
    status !== undefined && status >= 400 && status < 500 && status !== 429
      ? { type: 'AwsClientError', nonRetryable: true }
      : { type: 'AwsError', nonRetryable: false };
  const { type, nonRetryable } = rule ?? fallback;
  return ApplicationFailure.create({
    type,
    nonRetryable,
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
export function permanentFailure(type: string, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: details === undefined ? [] : [details],
  });
}
