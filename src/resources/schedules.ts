/**
 * Idempotently ensures the control plane's Temporal Schedules: the crawl (every CRAWL_INTERVAL_MINUTES, overlap
 * SKIP), the compaction and the reconciliation (hourly at 20 and 40 past, overlap SKIP) and the report (every
 * REPORT_INTERVAL_MINUTES, overlap BUFFER_ALL so hours missed during an outage are reported in order once the
 * server is back). Schedule ids derive from the task queue, so one control plane owns
 * one set and a second provisioning run finds them instead of duplicating them.
 *
 * An existing schedule whose spec, action or policies differ is updated in place; its paused/unpaused state is
 * left alone (an operator's pause survives re-provisioning).
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleOptionsStartWorkflowAction,
  type Workflow,
} from '@temporalio/client';
import { CDC_TABLE_FOLDER, type Config } from '../config';
import {
  pipelineMemo,
  pipelineSearchAttributes,
  PIPELINE_KIND,
  PIPELINE_TARGET,
} from '../contract/definitions';
import type { EnsureOutcome } from '../contract/outcome';

export type ControlScheduleName = 'crawl' | 'report' | 'compact' | 'reconcile';

export function scheduleIds(config: Config): Record<ControlScheduleName, string> {
  return {
    crawl: `${config.temporal.taskQueue}-crawl`,
    report: `${config.temporal.taskQueue}-report`,
    compact: `${config.temporal.taskQueue}-compact`,
    reconcile: `${config.temporal.taskQueue}-reconcile`,
  };
}

/** Compaction runs hourly: each run compacts the hours closed since the last one. */
const COMPACT_INTERVAL_MINUTES = 60;
/**
 * At 20 past: past the compaction's 15-minute grace, so the hour that just ended is compacted by this run (at :00
 * it waited for the next one, two hours after its end), and away from the report and the crawl at :00.
 */
const COMPACT_OFFSET_MINUTES = 20;
/** Reconciliation runs hourly: a full scan of the table and of the view, so not more often. */
const RECONCILE_INTERVAL_MINUTES = 60;
/** At 40 past: its scan of the table does not compete with the report, crawl and compaction at :00 and :20. */
const RECONCILE_OFFSET_MINUTES = 40;

export interface ControlScheduleOptions {
  crawlIntervalMinutes?: number;
  reportIntervalMinutes?: number;
  /** Whether the namespace has the pipeline search attributes (see hasPipelineSearchAttributes). */
  searchAttributes: boolean;
}

type StartAction = ScheduleOptionsStartWorkflowAction<Workflow>;

/** The schedules as they should be. */
export function controlSchedules(
  config: Config,
  options: ControlScheduleOptions,
): ScheduleOptions<StartAction>[] {
  const ids = scheduleIds(config);
  const taskQueue = config.temporal.taskQueue;
  const crawlMinutes = options.crawlIntervalMinutes ?? config.schedules.crawlIntervalMinutes;
  const reportMinutes = options.reportIntervalMinutes ?? config.schedules.reportIntervalMinutes;
  const action = (kind: ControlScheduleName, target: string): StartAction => ({
    type: 'startWorkflow',
    workflowType: kind,
    taskQueue,
    // `{}`: every argument from the worker's configuration at run time, so a config change needs no re-provisioning.
    args: [{}],
    // The server appends the action time: crawl-orders-cdc-crawler-2024-05-01T14:15:00Z.
    workflowId: `${kind}-${target}`,
    memo: pipelineMemo(kind, target),
    ...(options.searchAttributes ? { typedSearchAttributes: pipelineSearchAttributes(kind, target) } : {}),
  });
  return [
    {
      scheduleId: ids.crawl,
      spec: { intervals: [{ every: `${crawlMinutes}m` }] },
      action: action('crawl', config.glue.crawler),
      policies: {
        // A crawl still running when the next is due makes the next one redundant.
        overlap: ScheduleOverlapPolicy.SKIP,
        // After an outage one crawl is enough: the next interval covers the rest.
        catchupWindow: `${crawlMinutes}m`,
        pauseOnFailure: false,
      },
      memo: pipelineMemo('crawl', config.glue.crawler),
    },
    {
      scheduleId: ids.report,
      spec: { intervals: [{ every: `${reportMinutes}m` }] },
      action: action('report', config.glue.database),
      policies: {
        // Each action reports its own time window: run all of them, one after the other.
        overlap: ScheduleOverlapPolicy.BUFFER_ALL,
        catchupWindow: '1 day',
        pauseOnFailure: false,
      },
      memo: pipelineMemo('report', config.glue.database),
    },
    {
      scheduleId: ids.compact,
      spec: { intervals: [{ every: `${COMPACT_INTERVAL_MINUTES}m`, offset: `${COMPACT_OFFSET_MINUTES}m` }] },
      action: action('compact', `${config.glue.database}.${CDC_TABLE_FOLDER}`),
      policies: {
        // A compaction still running makes the next one redundant: the hours it skipped wait an hour.
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: `${COMPACT_INTERVAL_MINUTES}m`,
        pauseOnFailure: false,
      },
      memo: pipelineMemo('compact', `${config.glue.database}.${CDC_TABLE_FOLDER}`),
    },
    {
      scheduleId: ids.reconcile,
      spec: {
        intervals: [{ every: `${RECONCILE_INTERVAL_MINUTES}m`, offset: `${RECONCILE_OFFSET_MINUTES}m` }],
      },
      action: action('reconcile', config.dynamodb.ordersTable),
      policies: {
        // A reconciliation still running makes the next one redundant: it would compare the same state.
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: `${RECONCILE_INTERVAL_MINUTES}m`,
        pauseOnFailure: false,
      },
      memo: pipelineMemo('reconcile', config.dynamodb.ordersTable),
    },
  ];
}

/** JSON with object keys sorted: memo and args come back from the server as maps in no particular order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

function minutesMs(duration: string): number {
  const match = /^(\d+)m$/.exec(duration);
  if (match) return Number(match[1]) * 60_000;
  if (duration === '1 day') return 86_400_000;
  throw new Error(`unexpected duration ${duration}`);
}

/** What differs between a schedule and its options, in words (empty: nothing). */
export function scheduleDrift(current: ScheduleDescription, wanted: ScheduleOptions<StartAction>): string[] {
  const drift: string[] = [];
  const wantedInterval = wanted.spec.intervals?.[0];
  const everyMs = minutesMs(String(wantedInterval?.every));
  const offsetMs = wantedInterval?.offset === undefined ? 0 : minutesMs(String(wantedInterval.offset));
  const intervals = current.spec.intervals ?? [];
  const shown = (every: number, offset: number) =>
    `${every / 60_000}m${offset ? `+${offset / 60_000}m` : ''}`;
  if (intervals.length !== 1 || intervals[0].every !== everyMs || (intervals[0].offset ?? 0) !== offsetMs) {
    drift.push(
      `interval ${intervals.map((i) => shown(i.every, i.offset ?? 0)).join(',') || '(none)'} -> ${shown(everyMs, offsetMs)}`,
    );
  }
  if ((current.spec.calendars ?? []).length > 0) {
    drift.push('calendars removed');
  }
  const action = current.action;
  const want = wanted.action;
  if (action.workflowType !== want.workflowType)
    drift.push(`workflow type ${action.workflowType} -> ${String(want.workflowType)}`);
  if (action.taskQueue !== want.taskQueue) drift.push(`task queue ${action.taskQueue} -> ${want.taskQueue}`);
  if (action.workflowId !== want.workflowId)
    drift.push(`workflow id ${action.workflowId} -> ${want.workflowId}`);
  if (canonical(action.args ?? []) !== canonical(want.args ?? [])) drift.push('arguments');
  if (canonical(action.memo ?? {}) !== canonical(want.memo ?? {})) drift.push('memo');
  const wantedAttrs = want.typedSearchAttributes !== undefined;
  const attrs = action.typedSearchAttributes;
  const read = (key: typeof PIPELINE_KIND) =>
    attrs === undefined
      ? undefined
      : Array.isArray(attrs)
        ? attrs.find((p) => p.key.name === key.name)?.value
        : attrs.get(key);
  const kind = read(PIPELINE_KIND);
  const target = read(PIPELINE_TARGET);
  const memo = want.memo as Record<string, string>;
  if (
    wantedAttrs ? kind !== memo.pipelineWorkflowKind || target !== memo.pipelineRunTarget : kind !== undefined
  ) {
    drift.push('search attributes');
  }
  const policies = wanted.policies ?? {};
  if (current.policies.overlap !== policies.overlap)
    drift.push(`overlap ${current.policies.overlap} -> ${policies.overlap}`);
  if (current.policies.catchupWindow !== minutesMs(String(policies.catchupWindow)))
    drift.push('catchup window');
  if (current.policies.pauseOnFailure !== Boolean(policies.pauseOnFailure)) drift.push('pause on failure');
  return drift;
}

/** Creates the schedule, or updates it when it drifted. Never creates a second one with the same id. */
export async function ensureSchedule(
  client: Client,
  wanted: ScheduleOptions<StartAction>,
): Promise<EnsureOutcome> {
  const handle = client.schedule.getHandle(wanted.scheduleId);
  let current: ScheduleDescription | undefined;
  try {
    current = await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
  if (!current) {
    try {
      await client.schedule.create(wanted);
      return { kind: 'temporal-schedule', name: wanted.scheduleId, action: 'created' };
    } catch (error) {
      // A concurrent provisioning run created it first: compare with that one.
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      current = await handle.describe();
    }
  }
  const drift = scheduleDrift(current, wanted);
  if (drift.length === 0) return { kind: 'temporal-schedule', name: wanted.scheduleId, action: 'exists' };
  await handle.update((previous) => ({
    ...previous,
    spec: wanted.spec,
    action: wanted.action,
    policies: wanted.policies ?? previous.policies,
  }));
  return { kind: 'temporal-schedule', name: wanted.scheduleId, action: 'updated', detail: drift.join(', ') };
}

/**
 * @example
 *   await ensureControlSchedules(client, config, { searchAttributes: true });
 */
export async function ensureControlSchedules(
  client: Client,
  config: Config,
  options: ControlScheduleOptions,
): Promise<EnsureOutcome[]> {
  const outcomes: EnsureOutcome[] = [];
  for (const wanted of controlSchedules(config, options)) outcomes.push(await ensureSchedule(client, wanted));
  return outcomes;
}

/**
 * Runs a schedule's action now under the schedule's own overlap policy: a report triggered while another runs is
 * buffered behind it, a crawl triggered while another runs is skipped. (The SDK's `trigger()` without a policy
 * asks for ALLOW_ALL, which would start it beside the running one.)
 *
 * @example
 *   await triggerSchedule(client, scheduleIds(config).report);
 */
export async function triggerSchedule(client: Client, scheduleId: string): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId);
  const { policies } = await handle.describe();
  await handle.trigger(policies.overlap);
}
