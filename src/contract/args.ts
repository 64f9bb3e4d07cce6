/**
 * The argument schemas of the control-plane workflows: one definition shared by the workflows (which validate
 * their input before doing anything), the CLI (which validates before starting a run) and the tests.
 *
 * Every field is optional except `query.sql`: an empty object `{}` takes every default from the worker's
 * configuration (see `resolveDefaults`). Unknown fields are rejected so a typo fails at once instead of being
 * silently ignored. This file imports only zod, so it loads inside the workflow sandbox.
 *
 * @example
 *   const result = crawlArgsSchema.safeParse({ pollIntervalSeconds: 0 });
 *   if (!result.success) console.error(describeArgsError(result.error)); // pollIntervalSeconds: Too small: ...
 */
import { z } from 'zod';

/** Glue/Athena database, crawler and table names: letters, digits, `_`, `-`, `.` (no quoting games in SQL). */
export const resourceName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.-]+$/, 'must contain only letters, digits, "_", "-" and "."');

/** A report is a SQL file `reports/<name>.sql`. */
export const reportName = z
  .string()
  .regex(/^[a-z0-9_]{1,64}$/, 'must be a report file name without ".sql" (lower case, digits, "_")');

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 timestamp, e.g. 2024-05-01T14:00:00Z',
});

export const provisionArgsSchema = z.strictObject({
  /** Create/update the crawl and report Temporal Schedules (default true). */
  schedules: z.boolean().optional(),
  /** Interval of the crawl schedule (default: CRAWL_INTERVAL_MINUTES of the worker). */
  crawlIntervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .optional(),
  /** Interval of the report schedule (default: REPORT_INTERVAL_MINUTES of the worker). */
  reportIntervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
});
export type ProvisionArgs = z.infer<typeof provisionArgsSchema>;

export const crawlArgsSchema = z.strictObject({
  /** Crawler to run (default: GLUE_CRAWLER of the worker). */
  crawler: resourceName.optional(),
  /** Durable-timer interval between state checks (default 15 s). */
  pollIntervalSeconds: z.number().int().min(1).max(3600).optional(),
  /** Give up (non-retryable CrawlTimeout) when the crawl has not finished after this long (default 120 min). */
  timeoutMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .optional(),
});
export type CrawlArgs = z.infer<typeof crawlArgsSchema>;

export const reportArgsSchema = z.strictObject({
  /** Reports to run (default: every `reports/*.sql`). */
  reports: z.array(reportName).min(1).max(50).optional(),
  /**
   * End of the report window and the time in the report's key. Default: the schedule's action time
   * (TemporalScheduledStartTime), else the run's start time; both truncated to the minute.
   */
  reportTime: isoTime.optional(),
  /** Length of the window ending at reportTime (default 24 h). */
  windowHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 366)
    .optional(),
  /** Glue database (default: GLUE_DATABASE of the worker). */
  database: resourceName.optional(),
});
export type ReportArgs = z.infer<typeof reportArgsSchema>;

/** Athena's limit on a query string (StartQueryExecution's QueryString), in UTF-8 bytes. */
export const MAX_SQL_BYTES = 262_144;
export const MAX_QUERY_ROWS = 10_000;

/** UTF-8 length without Buffer or TextEncoder, which the workflow sandbox may lack (a lone surrogate is U+FFFD, 3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

export const queryArgsSchema = z.strictObject({
  /** One read-only statement: SELECT, WITH … SELECT, SHOW, DESCRIBE or EXPLAIN. */
  sql: z
    .string({
      // Only for a missing or non-string value: the length checks below carry their own messages.
      error: (issue) =>
        issue.code !== 'invalid_type'
          ? undefined
          : issue.input === undefined
            ? 'is required (one read-only SQL statement)'
            : 'must be a string',
    })
    .trim()
    .min(1, 'is required (one read-only SQL statement)')
    .superRefine((sql, ctx) => {
      const bytes = utf8ByteLength(sql);
      if (bytes > MAX_SQL_BYTES)
        ctx.addIssue({
          code: 'custom',
          message: `is ${bytes.toLocaleString('en-US')} bytes (UTF-8), over Athena's QueryString limit of ${MAX_SQL_BYTES.toLocaleString('en-US')} bytes`,
        });
    }),
  /** Database the query runs in (default: GLUE_DATABASE of the worker). */
  database: resourceName.optional(),
  /** Rows returned in the result (default 1000); the full result stays in S3. */
  maxRows: z.number().int().min(1).max(MAX_QUERY_ROWS).optional(),
  /** Stop the query (non-retryable QueryTimeout) after this long (default 600 s). */
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .optional(),
});
export type QueryArgs = z.infer<typeof queryArgsSchema>;

/** 128 MiB: the object size Athena and Glue read best (AWS's guidance for Parquet on S3). */
export const DEFAULT_COMPACT_TARGET_BYTES = 128 * 1024 * 1024;

/** The size of the lake's Parquet objects, compacted or backfilled: at most S3's 5 GiB of a single PUT. */
const objectTargetBytes = z
  .number()
  .int()
  .min(1)
  .max(5 * 1024 ** 3);

/** The backfill's defaults: the workflow applies them, the throttle check below reasons with them. */
export const BACKFILL_DEFAULTS = {
  segments: 4,
  pageSize: 1000,
  /**
   * Only for a throttled run: its activities must finish within their timeout, which an object of target size
   * read at a low rate would not. Unthrottled, parts are bounded by `targetBytes` alone.
   */
  pagesPerPart: 10,
  partsPerActivity: 5,
  heartbeatTimeoutSeconds: 60,
} as const;

/** startToCloseTimeout of one exportSegment activity: a chain link that never returns is retried after this. */
export const BACKFILL_ACTIVITY_TIMEOUT_SECONDS = 2 * 3600;

/**
 * The longest a throttled activity may take by design: half its timeout, so the reads themselves (at
 * whatever speed the table gives) still fit. A slower throttle would make every attempt time out.
 */
const MAX_THROTTLED_ACTIVITY_SECONDS = BACKFILL_ACTIVITY_TIMEOUT_SECONDS / 2;

export const backfillArgsSchema = z
  .strictObject({
    /** Name of the snapshot folder (default: the run's start time, e.g. 20240501T140000Z). Re-using one overwrites it. */
    snapshotId: z
      .string()
      .regex(/^[A-Za-z0-9_.=-]{1,100}$/, 'must be 1-100 letters, digits, "_", "-", ".", "="')
      .optional(),
    /** DynamoDB table to export (default: ORDERS_TABLE of the worker). */
    table: resourceName.optional(),
    /** Parallel Scan segments, each one activity at a time (default 4). */
    segments: z.number().int().min(1).max(256).optional(),
    /** Scan page size (Limit). Part boundaries are defined in pages, so this fixes the object layout (default 1000). */
    pageSize: z.number().int().min(1).max(10_000).optional(),
    /** At most this many Scan pages per Parquet object (default: no limit, or 10 when throttled). */
    pagesPerPart: z.number().int().min(1).max(10_000).optional(),
    /**
     * Parquet objects as large as fit this size (default 128 MiB, as compaction), each of whole Scan pages: a page
     * larger than the target makes an object of its own.
     */
    targetBytes: objectTargetBytes.optional(),
    /** Parts one activity writes before it returns to the workflow, which records progress (default 5). */
    partsPerActivity: z.number().int().min(1).max(100_000).optional(),
    /** Read throttle over all segments, to spare the table's read capacity (default: unthrottled). */
    maxItemsPerSecond: z.number().positive().max(1_000_000).optional(),
    /** A segment activity not heard from for this long is retried, resuming from its last heartbeat (default 60 s). */
    heartbeatTimeoutSeconds: z.number().int().min(2).max(3600).optional(),
    /** Continue-as-new once the history has this many events (default 10,000, Temporal's warning threshold). */
    historyEventLimit: z.number().int().min(50).max(50_000).optional(),
    /** Run the crawl workflow as a child when the snapshot is complete (default false). */
    crawl: z.boolean().optional(),
  })
  .superRefine((args, ctx) => {
    if (args.maxItemsPerSecond === undefined) return;
    const segments = args.segments ?? BACKFILL_DEFAULTS.segments;
    const itemsPerActivity =
      (args.partsPerActivity ?? BACKFILL_DEFAULTS.partsPerActivity) *
      (args.pagesPerPart ?? BACKFILL_DEFAULTS.pagesPerPart) *
      (args.pageSize ?? BACKFILL_DEFAULTS.pageSize);
    const seconds = itemsPerActivity / (args.maxItemsPerSecond / segments);
    if (seconds <= MAX_THROTTLED_ACTIVITY_SECONDS) return;
    const minimum = Math.ceil(((itemsPerActivity * segments) / MAX_THROTTLED_ACTIVITY_SECONDS) * 1000) / 1000;
    ctx.addIssue({
      code: 'custom',
      path: ['maxItemsPerSecond'],
      message:
        `too low: at ${args.maxItemsPerSecond} items/s over ${segments} segments one segment activity ` +
        `(partsPerActivity × pagesPerPart × pageSize = ${itemsPerActivity} items) would take ` +
        `${Math.round(seconds)} s, more than the ${MAX_THROTTLED_ACTIVITY_SECONDS} s allowed; ` +
        `use at least ${minimum} or fewer items per activity`,
    });
  });
export type BackfillArgs = z.infer<typeof backfillArgsSchema>;

/** An hour of change time in UTC, as the lake partitions it (`dt=2024-05-01/hour=09` is `2024-05-01T09`). */
export const lakeHour = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}$/,
    'must be an hour in UTC like 2024-05-01T09 (the dt and hour partition)',
  );

export const compactArgsSchema = z.strictObject({
  /** Only these hours (default: every closed hour with more than one object). */
  hours: z
    .array(lakeHour)
    .min(1)
    .max(24 * 366)
    .optional(),
  /** An hour is closed this long after it ends: later changes of it are rare (default 15 min). */
  graceMinutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .optional(),
  /** Size of the compacted objects (default 128 MiB). */
  targetBytes: objectTargetBytes.optional(),
  /** How long replaced objects stay after the switch, for queries that started before it (default 300 s). */
  readerGraceSeconds: z.number().int().min(0).max(86_400).optional(),
  /** Decide which hours are closed as of this time (default: the run's start), e.g. for a drained bounded run. */
  asOf: isoTime.optional(),
});
export type CompactArgs = z.infer<typeof compactArgsSchema>;

/** One hour's compaction, run by `compact` as a child workflow whose id locks the hour. */
export const compactHourArgsSchema = z.strictObject({
  partitionPath: z.string().regex(/^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}$/, 'must be dt=YYYY-MM-DD/hour=HH'),
  targetBytes: z.number().int().min(1),
  readerGraceSeconds: z.number().int().min(0),
});
export type CompactHourArgs = z.infer<typeof compactHourArgsSchema>;

/** The reconcile workflow's defaults (src/workflows/reconcile-workflow.ts). */
export const RECONCILE_DEFAULTS = {
  segments: 4,
  pageSize: 1000,
  runSize: 10_000,
  sampleSize: 20,
} as const;

export const reconcileArgsSchema = z.strictObject({
  /** DynamoDB table to compare (default: ORDERS_TABLE of the worker). */
  table: resourceName.optional(),
  /** Glue database holding the orders_current view (default: GLUE_DATABASE of the worker). */
  database: resourceName.optional(),
  /** Parallel Scan segments, each one heartbeating activity (default 4). */
  segments: z.number().int().min(1).max(256).optional(),
  /** Scan page size (Limit) (default 1000). */
  pageSize: z.number().int().min(1).max(10_000).optional(),
  /**
   * Items one segment sorts in memory and writes as one sorted run (default 10,000: the default four segments hold
   * 40,000 rows at most; 50,000 took the worker from 400 MB to 1.3 GB on a 120,000-item table).
   */
  runSize: z.number().int().min(1).max(1_000_000).optional(),
  /**
   * Read throttle over all segments, to spare the table's read capacity and the writers sharing it (default:
   * unthrottled). Each segment reads `maxItemsPerSecond / segments` items a second, waiting between pages.
   */
  maxItemsPerSecond: z.number().positive().max(1_000_000).optional(),
  /**
   * A change older than this must be in the lake; differences are looked up again once it passed (default:
   * RECONCILE_FRESHNESS_SECONDS of the worker).
   */
  freshnessSeconds: z.number().int().min(0).max(86_400).optional(),
  /** Ids of each kind of drift in the result (default 20). */
  sampleSize: z.number().int().min(0).max(1000).optional(),
});
export type ReconcileArgs = z.infer<typeof reconcileArgsSchema>;

export interface ArgIssue {
  /** Dotted path of the offending field, e.g. `reports[1]`; `(arguments)` for the object itself. */
  field: string;
  message: string;
}

/** Flattens zod issues into `{ field, message }` pairs naming each offending field. */
export function argIssues(error: z.ZodError): ArgIssue[] {
  const issues: ArgIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.reduce<string>(
      (acc, part) =>
        typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part),
      '',
    );
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        issues.push({ field: base ? `${base}.${key}` : key, message: 'unknown field' });
    } else {
      issues.push({ field: base || '(arguments)', message: issue.message });
    }
  }
  return issues;
}

/** One line naming every offending field: `maxRows: Too big: expected number to be <=10000; foo: unknown field`. */
export function describeArgsError(error: z.ZodError): string {
  return argIssues(error)
    .map((i) => `${i.field}: ${i.message}`)
    .join('; ');
}

/** `temporal workflow start` without --input passes nothing, and `--input null` passes null: both mean `{}`. */
export function normalizeArgsInput(input: unknown): unknown {
  return input === undefined || input === null ? {} : input;
}
