/**
 * Errors of the local lake endpoint, in the shape the AWS SDK turns into its named exceptions.
 *
 * A handler throws a `LakeApiError`; the protocol layer answers `{"__type": type, "message": ...}` with the
 * HTTP status, so `@aws-sdk/client-glue` raises e.g. `EntityNotFoundException` and `client-athena`
 * `InvalidRequestException`, exactly as against AWS.
 */
export class LakeApiError extends Error {
  override readonly name = 'LakeApiError';

  constructor(
    /** The AWS error code (`__type`), e.g. `EntityNotFoundException`. */
    readonly awsType: string,
    message: string,
    readonly httpStatus = 400,
    /** Extra members of the error shape (Athena's `AthenaErrorCode`, …). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Builds the service's "bad input" error: Glue says InvalidInputException, Athena InvalidRequestException. */
export type InputErrorFactory = (message: string) => LakeApiError;

export const glueErrors = {
  entityNotFound: (message: string) => new LakeApiError('EntityNotFoundException', message),
  alreadyExists: (message: string) => new LakeApiError('AlreadyExistsException', message),
  invalidInput: (message: string) => new LakeApiError('InvalidInputException', message),
  crawlerRunning: (message: string) => new LakeApiError('CrawlerRunningException', message),
  crawlerNotRunning: (message: string) => new LakeApiError('CrawlerNotRunningException', message),
  crawlerStopping: (message: string) => new LakeApiError('CrawlerStoppingException', message),
  noSchedule: (message: string) => new LakeApiError('NoScheduleException', message),
  schedulerRunning: (message: string) => new LakeApiError('SchedulerRunningException', message),
  schedulerNotRunning: (message: string) => new LakeApiError('SchedulerNotRunningException', message),
  internal: (message: string) => new LakeApiError('InternalServiceException', message, 500),
};

export const athenaErrors = {
  invalidRequest: (message: string, athenaErrorCode = 'INVALID_INPUT') =>
    new LakeApiError('InvalidRequestException', message, 400, { AthenaErrorCode: athenaErrorCode }),
  resourceNotFound: (message: string) => new LakeApiError('ResourceNotFoundException', message),
  internal: (message: string) => new LakeApiError('InternalServerException', message, 500),
};

export const protocolErrors = {
  unknownOperation: (operation: string) =>
    new LakeApiError(
      'UnknownOperationException',
      `operation ${operation} is not supported by the local endpoint`,
    ),
  serialization: (message: string) => new LakeApiError('SerializationException', message),
};

/** A crawl that cannot go on (missing database, unreadable target): its run ends FAILED with this message. */
export class CrawlError extends Error {
  override readonly name = 'CrawlError';
}

/** The message of anything thrown, for logs and AWS error shapes. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
