/**
 * report: runs the report SQL files through Athena for one report time and writes each as CSV + HTML to S3.
 *
 * The report time is the schedule's action time when a schedule started the run (TemporalScheduledStartTime, so a
 * schedule backfill over past hours reports each of those hours), else the `reportTime` argument, else the run's
 * start; always truncated to the minute. Object keys derive from it, so a retry or a re-run overwrites.
 *
 * Start: `temporal workflow start --task-queue orders-control-plane --type report --input '{}'`
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReportActivities } from '../activities/report-activities';
import { reportArgsSchema } from '../contract/args';
import { tagRun, workerDefaults } from './defaults';
import { SCHEDULED_START_TIME } from '../contract/definitions';
import type { ReportSummary } from '../contract/types';
import { invalidArgument, parseWorkflowArgs } from './validation';
import { FailureType } from '../contract/failure-types';

const athena = proxyActivities<ReportActivities>({
  // One Athena query plus two small S3 writes; the activity gives up on the query itself after 30 minutes.
  startToCloseTimeout: '35 minutes',
  // Heartbeats every ≤2 s while waiting: a dead worker is noticed within 30 s and the retry resumes the query.
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [
      FailureType.QueryFailed,
      FailureType.QueryCancelled,
      FailureType.QueryTimeout,
      FailureType.UnknownReport,
      FailureType.ReportTemplateError,
      FailureType.ReportTooLarge,
      FailureType.InvalidRequest,
      FailureType.AccessDenied,
    ],
  },
});

const DEFAULT_WINDOW_HOURS = 24;

function toMinute(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 60_000) * 60_000);
}

export async function report(input?: unknown): Promise<ReportSummary> {
  const args = parseWorkflowArgs('report', reportArgsSchema, input);
  const defaults = await workerDefaults();
  const names = args.reports ?? defaults.reports;
  names.forEach((name, i) => {
    if (!defaults.reports.includes(name)) {
      throw invalidArgument(
        'report',
        `reports[${i}]`,
        `unknown report "${name}" (available: ${defaults.reports.join(', ')})`,
      );
    }
  });

  const scheduled = workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  const source: ReportSummary['reportTimeSource'] = args.reportTime
    ? 'argument'
    : scheduled
      ? 'schedule'
      : 'start-time';
  const reportTime = toMinute(
    args.reportTime ? new Date(args.reportTime) : (scheduled ?? workflowInfo().startTime),
  );
  const windowStart = new Date(reportTime.getTime() - (args.windowHours ?? DEFAULT_WINDOW_HOURS) * 3_600_000);
  const database = args.database ?? defaults.database;
  tagRun('report', database, defaults);

  const reports = await Promise.all(
    names.map((name) =>
      athena.runReport({
        name,
        reportTime: reportTime.toISOString(),
        windowStart: windowStart.toISOString(),
        windowEnd: reportTime.toISOString(),
        database,
      }),
    ),
  );
  return {
    reportTime: reportTime.toISOString(),
    windowStart: windowStart.toISOString(),
    windowEnd: reportTime.toISOString(),
    reportTimeSource: source,
    database,
    bucket: defaults.bucket,
    reports,
    bytesScanned: reports.reduce((sum, r) => sum + r.bytesScanned, 0),
  };
}
