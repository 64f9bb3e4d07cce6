/**
 * The `type` of every ApplicationFailure the activities and workflows raise: what a workflow's
 * `nonRetryableErrorTypes` lists and a caller's error handling match on, so each name is spelled once.
 *
 * Pure and free of Node built-ins: workflows import it inside the sandbox.
 */
export const FailureType = {
  // The caller's input: a workflow argument or a statement that is not read-only.
  InvalidArgument: 'InvalidArgument',
  ReadOnlyViolation: 'ReadOnlyViolation',

  // AWS SDK errors, classified by src/aws/errors.ts.
  ResourceNotFound: 'ResourceNotFound',
  BucketNotFound: 'BucketNotFound',
  CatalogError: 'CatalogError',
  InvalidRequest: 'InvalidRequest',
  AccessDenied: 'AccessDenied',
  Throttled: 'Throttled',
  ServiceUnavailable: 'ServiceUnavailable',
  ServiceUnreachable: 'ServiceUnreachable',
  ConcurrentModification: 'ConcurrentModification',
  CrawlerRunning: 'CrawlerRunning',
  ResourceBusy: 'ResourceBusy',
  /** An unknown AWS error with a 4xx status: the request is at fault. */
  AwsClientError: 'AwsClientError',
  /** Any other unknown error: assumed transient. */
  AwsError: 'AwsError',

  // Outcomes the activities name themselves.
  TableNotFound: 'TableNotFound',
  CrawlerNotFound: 'CrawlerNotFound',
  InvalidItem: 'InvalidItem',
  ResourceConflict: 'ResourceConflict',
  KafkaError: 'KafkaError',
  AthenaProtocolError: 'AthenaProtocolError',
  QueryFailed: 'QueryFailed',
  QueryCancelled: 'QueryCancelled',
  QueryTimeout: 'QueryTimeout',
  UnknownReport: 'UnknownReport',
  ReportTemplateError: 'ReportTemplateError',
  ReportTooLarge: 'ReportTooLarge',

  /** A compacted hour's partition moved elsewhere while its compaction ran. */
  CompactionConflict: 'CompactionConflict',

  // Outcomes of the crawl workflow's own wait.
  CrawlFailed: 'CrawlFailed',
  CrawlCancelled: 'CrawlCancelled',
  CrawlTimeout: 'CrawlTimeout',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
