/**
 * Result and progress shapes of the control-plane workflows and activities, shared with the CLI and tests.
 * Types only (plus the workflow type names), so it is safe in the workflow sandbox and in the client.
 */
import type { EnsureOutcome } from './outcome';

/** Workflow type names: what `temporal workflow start --type <name>` takes. */
export const WORKFLOW_TYPES = [
  'provision',
  'crawl',
  'report',
  'query',
  'backfill',
  'compact',
  'reconcile',
] as const;
export type WorkflowKind = (typeof WORKFLOW_TYPES)[number];

/** What the workflows read from the worker's configuration when an argument is left out. */
export interface ControlPlaneDefaults {
  crawler: string;
  database: string;
  cdcTable: string;
  workgroup: string;
  bucket: string;
  ordersTable: string;
  snapshotPrefix: string;
  reportsPrefix: string;
  taskQueue: string;
  /** Names of the available report SQL files (`reports/<name>.sql`). */
  reports: string[];
  crawlIntervalMinutes: number;
  reportIntervalMinutes: number;
  /** The reconcile workflow's freshness bound when its argument is left out (RECONCILE_FRESHNESS_SECONDS). */
  reconcileFreshnessSeconds: number;
  /** Whether the namespace has the pipeline search attributes (runs then tag themselves with them). */
  searchAttributes: boolean;
}

export interface ProvisionResult {
  outcomes: EnsureOutcome[];
  created: number;
  updated: number;
  exists: number;
  /** False when the run found everything in place (a second run is a no-op). */
  changed: boolean;
}

export type CrawlerState = 'READY' | 'RUNNING' | 'STOPPING';

export interface LastCrawlInfo {
  status: 'SUCCEEDED' | 'CANCELLED' | 'FAILED';
  errorMessage?: string;
  /** ISO-8601. With messagePrefix, identifies the crawl: a new crawl has a new start time and prefix. */
  startTime?: string;
  /** AWS's per-crawl id (the prefix of its log messages). */
  messagePrefix?: string;
  logGroup?: string;
  logStream?: string;
}

export interface CrawlerStatus {
  crawler: string;
  state: CrawlerState;
  lastCrawl?: LastCrawlInfo;
}

export interface CrawlerMetricsInfo {
  tablesCreated: number;
  tablesUpdated: number;
  tablesDeleted: number;
  lastRuntimeSeconds: number;
  medianRuntimeSeconds: number;
}

export interface CrawlResult {
  crawler: string;
  status: LastCrawlInfo['status'];
  startTime?: string;
  /** True when a crawl was already running and this run waited for it instead of starting one. */
  joinedRunningCrawl: boolean;
  /** State checks made (each after a durable timer). */
  polls: number;
  metrics: CrawlerMetricsInfo;
}

export interface QueryColumn {
  name: string;
  type: string;
}

export interface AthenaRunInfo {
  queryExecutionId: string;
  /** `s3://…/<id>.csv`: the complete result. */
  outputLocation?: string;
  bytesScanned: number;
  /** Engine execution time reported by Athena. */
  engineTimeMs: number;
  /** Submission to completion, including queueing. */
  totalTimeMs: number;
}

export interface QueryResult extends AthenaRunInfo {
  database: string;
  statementType?: string;
  columns: QueryColumn[];
  /** Values as Athena returns them (strings), null for SQL NULL. */
  rows: (string | null)[][];
  rowCount: number;
  /** True when more rows exist than were returned (see outputLocation for all of them). */
  truncated: boolean;
}

export interface ReportOutput extends AthenaRunInfo {
  name: string;
  title: string;
  rows: number;
  /** s3 key of the CSV; the HTML page is beside it. */
  csvKey: string;
  htmlKey: string;
  /** Local copy of the HTML page (local mode). */
  localHtmlPath?: string;
}

export interface ReportSummary {
  reportTime: string;
  windowStart: string;
  windowEnd: string;
  /** Where reportTime came from: the argument, the schedule's action time or the run's start. */
  reportTimeSource: 'argument' | 'schedule' | 'start-time';
  database: string;
  bucket: string;
  reports: ReportOutput[];
  bytesScanned: number;
}

/** A DynamoDB key as the low-level API returns it (LastEvaluatedKey); JSON-serialisable. */
export type DynamoKey = Record<string, Record<string, unknown>>;

export interface SegmentCursor {
  segment: number;
  /** Index of the next part object to write. */
  nextPart: number;
  /** ExclusiveStartKey of the next part; null at the start of the segment. */
  startKey: DynamoKey | null;
  rows: number;
  bytes: number;
  done: boolean;
  /** Activity attempts that resumed from a heartbeat instead of the cursor the workflow gave them. */
  resumes: number;
}

export interface BackfillProgress {
  snapshotId: string;
  table: string;
  bucket: string;
  /** The snapshot's folder, `<snapshotPrefix>/snapshot_id=<id>` (src/lake-format/snapshot-layout.ts): every object of it is under it. */
  prefix: string;
  /** DescribeTable ItemCount when the backfill started (approximate on AWS). */
  estimatedItems: number;
  rows: number;
  parts: number;
  segments: SegmentCursor[];
  /** Continue-as-new generations so far. */
  runs: number;
  done: boolean;
}

export interface BackfillResult {
  snapshotId: string;
  table: string;
  bucket: string;
  prefix: string;
  manifestKey: string;
  rows: number;
  parts: number;
  bytes: number;
  segments: { segment: number; parts: number; rows: number; bytes: number }[];
  runs: number;
  resumes: number;
  crawl?: CrawlResult;
}

/** What one hour's compaction did. Objects and bytes are those Athena reads for the hour, before and after. */
export interface HourCompaction {
  /** `dt=2024-05-01/hour=09`. */
  hour: string;
  /**
   * compacted: a new version was switched in; unchanged: nothing to fold (one object, or nothing new);
   * locked: another compaction of the hour was running (its workflow id is the lock).
   */
  outcome: 'compacted' | 'unchanged' | 'locked';
  /** The partition's location when done (`s3://…`). */
  location?: string;
  objectsBefore: number;
  objectsAfter: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Late objects copied into the new version after the switch (folded in by the next compaction). */
  lateObjects: number;
  /** Replaced objects deleted after the reader grace. */
  deletedObjects: number;
}

export interface CompactProgress {
  /** The time the closed hours were decided at (ISO-8601). */
  asOf: string;
  hours: string[];
  done: HourCompaction[];
  current?: string;
}

export interface CompactResult {
  asOf: string;
  graceMinutes: number;
  targetBytes: number;
  hours: HourCompaction[];
  objectsBefore: number;
  objectsAfter: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Where the reconcile workflow stands: `temporal workflow query --type progress`. */
export interface ReconcileProgress {
  phase: 'scanning' | 'comparing' | 'waiting' | 'rechecking' | 'done';
  /** When the DynamoDB scan began (ISO-8601): the freshness bound is counted from here. */
  scanStartedAt: string;
  segments: number;
  segmentsDone: number;
  /** Items read from DynamoDB so far (segments finished). */
  items: number;
  /** Set once the compare is done. */
  candidates?: number;
}

/** Counts of one reconciliation, and up to `sampleSize` ids of each kind of drift. */
export interface ReconcileResult {
  table: string;
  view: string;
  scanStartedAt: string;
  freshnessSeconds: number;
  /** Distinct order ids seen on either side. */
  compared: number;
  matching: number;
  /** In DynamoDB, not in the lake. */
  missing: number;
  /** In the lake, not in DynamoDB. */
  extra: number;
  /** On both sides with differing fields. */
  different: number;
  /** Differed, but DynamoDB's version moved on since the scan: a change still on its way, not drift. */
  inFlight: number;
  /** Differences found by the full compare and looked up again after the freshness bound. */
  rechecked: number;
  samples: {
    missing: string[];
    extra: string[];
    different: { orderId: string; fields: string[] }[];
  };
  passed: boolean;
}

/** What rechecking a reconciliation's candidates finds; emptyRecheckResult() when there was nothing to recheck. */
export type RecheckResult = Pick<
  ReconcileResult,
  'matching' | 'missing' | 'extra' | 'different' | 'inFlight' | 'rechecked' | 'samples'
>;

export function emptyRecheckResult(): RecheckResult {
  return {
    matching: 0,
    missing: 0,
    extra: 0,
    different: 0,
    inFlight: 0,
    rechecked: 0,
    samples: { missing: [], extra: [], different: [] },
  };
}
