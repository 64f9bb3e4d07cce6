/**
 * One answer to "what went wrong, and can another attempt help?" for errors out of the AWS SDK, shared by the
 * activities (which turn it into an ApplicationFailure) and the streaming processes (which retry or stop).
 *
 * Missing resources and wrong requests are not retriable: the user has to act (run provisioning, fix the SQL).
 * Throttling, server errors and network trouble are. Errors the table does not name fall back to the SDK's own
 * hints, then to the HTTP status: a 4xx is the request's fault, anything else (5xx, 429, no response) is
 * assumed transient.
 *
 * @example
 *   const { type, retriable } = classifyAwsError(error); // e.g. { type: 'Throttled', retriable: true }
 */
import { NotFound, S3ServiceException } from '@aws-sdk/client-s3';
import { FailureType } from '../contract/failure-types';

export interface AwsErrorClass {
  type: FailureType;
  retriable: boolean;
}

const permanent = (type: FailureType): AwsErrorClass => ({ type, retriable: false });
const transient = (type: FailureType): AwsErrorClass => ({ type, retriable: true });

/** SDK exception name → class. Names are the services' error codes, stable across SDK versions. */
const BY_NAME: Record<string, AwsErrorClass> = {
  // Missing things: provisioning has not run, or a name is wrong.
  ResourceNotFoundException: permanent(FailureType.ResourceNotFound),
  EntityNotFoundException: permanent(FailureType.ResourceNotFound),
  NoSuchBucket: permanent(FailureType.BucketNotFound),
  NotFound: permanent(FailureType.ResourceNotFound),
  MetadataException: permanent(FailureType.CatalogError),
  // The request itself is wrong: retrying sends the same wrong request.
  InvalidRequestException: permanent(FailureType.InvalidRequest),
  InvalidInputException: permanent(FailureType.InvalidRequest),
  ValidationException: permanent(FailureType.InvalidRequest),
  AccessDeniedException: permanent(FailureType.AccessDenied),
  AccessDenied: permanent(FailureType.AccessDenied),
  UnrecognizedClientException: permanent(FailureType.AccessDenied),
  InvalidAccessKeyId: permanent(FailureType.AccessDenied),
  // Transient: back off and try again.
  ThrottlingException: transient(FailureType.Throttled),
  TooManyRequestsException: transient(FailureType.Throttled),
  ProvisionedThroughputExceededException: transient(FailureType.Throttled),
  RequestLimitExceeded: transient(FailureType.Throttled),
  // DynamoDB: too many control-plane operations at once (the SDK's own retry counts it as throttling).
  LimitExceededException: transient(FailureType.Throttled),
  SlowDown: transient(FailureType.Throttled),
  OperationTimeoutException: transient(FailureType.ServiceUnavailable),
  InternalServerException: transient(FailureType.ServiceUnavailable),
  InternalServerError: transient(FailureType.ServiceUnavailable),
  InternalError: transient(FailureType.ServiceUnavailable),
  ServiceUnavailable: transient(FailureType.ServiceUnavailable),
  ServiceUnavailableException: transient(FailureType.ServiceUnavailable),
  ConcurrentModificationException: transient(FailureType.ConcurrentModification),
  // DynamoDB: the item is part of a transaction in progress.
  TransactionConflictException: transient(FailureType.ConcurrentModification),
  CrawlerRunningException: transient(FailureType.CrawlerRunning),
  ResourceInUseException: transient(FailureType.ResourceBusy),
};

/** Socket and DNS failures (as `code`), and the SDK's request timeout (as `name`): no response came back. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'TimeoutError',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  /** Set by the SDK on exceptions its service model marks retryable; `throttling` when it is throttling. */
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

export function classifyAwsError(error: unknown): AwsErrorClass {
  const { name, code, $retryable, $metadata } = (error ?? {}) as SdkErrorShape;
  if (name !== undefined && Object.hasOwn(BY_NAME, name)) return BY_NAME[name];
  if ((code && NETWORK.has(code)) || (name && NETWORK.has(name)))
    return transient(FailureType.ServiceUnreachable);
  if ($retryable) return transient($retryable.throttling ? FailureType.Throttled : FailureType.AwsError);
  const status = $metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 429
    ? permanent(FailureType.AwsClientError)
    : transient(FailureType.AwsError);
}

/** Whether an S3 HEAD (of an object or a bucket) found nothing: HEAD answers carry no body, so only the 404 says it. */
export function isS3NotFound(error: unknown): boolean {
  return (
    error instanceof NotFound ||
    (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)
  );
}
