/**
 * The report activity: one report SQL file through Athena for one report time, written as CSV and as an HTML
 * page with a chart under deterministic keys (`<reportsPrefix>/<name>/dt=<day>/<name>_<yyyymmddThhmm>Z.csv|.html`),
 * so a retry or a re-run for the same time overwrites the same objects. In local mode the files are also written
 * under `<dataDir>/reports/` for a browser.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { activityInfo, Context } from '@temporalio/activity';
import type { AthenaClient } from '@aws-sdk/client-athena';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'csv-stringify/sync';
import { CDC_TABLE_FOLDER, ORDERS_CURRENT_VIEW, type Config } from '../config';
import type { Logger } from '../observability/logger';
import type { ReportOutput } from '../contract/types';
import { fetchQueryRows, getQueryExecution, runInfo, startQuery, waitForQuery } from './athena-query';
import { permanentFailure, withAwsErrors } from './errors';
import {
  loadReport,
  renderReportSql,
  reportSqlParams,
  ReportNotFoundError,
  REPORTS_DIR,
  ReportTemplateError,
} from './report-catalog';
import { renderReportHtml } from './report-html';
import { FailureType } from '../contract/failure-types';

export interface RunReportInput {
  name: string;
  /** ISO-8601, minute precision: the key of the report. */
  reportTime: string;
  windowStart: string;
  windowEnd: string;
  database: string;
}

/** Reports are aggregates; a result this large means a broken query, not a report. */
const MAX_REPORT_ROWS = 100_000;
const REPORT_TIMEOUT_MS = 30 * 60_000;

/** `20240501T1400Z` */
export function reportStamp(reportTime: string): string {
  const iso = new Date(reportTime).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/** The deterministic object keys of one report run, relative to the bucket. */
export function reportObjectKeys(reportsPrefix: string, name: string, reportTime: string) {
  const day = new Date(reportTime).toISOString().slice(0, 10);
  const base = `${name}/dt=${day}/${name}_${reportStamp(reportTime)}`;
  return {
    csvKey: `${reportsPrefix}/${base}.csv`,
    htmlKey: `${reportsPrefix}/${base}.html`,
    relativeBase: base,
  };
}

interface ReportHeartbeat {
  queryExecutionId: string;
  startedAt: number;
}

export function createReportActivities(deps: {
  athena: AthenaClient;
  s3: S3Client;
  config: Config;
  logger: Logger;
  reportsDir?: string;
}) {
  const { athena, s3, config, logger } = deps;
  const reportsDir = deps.reportsDir ?? REPORTS_DIR;
  return {
    async runReport(input: RunReportInput): Promise<ReportOutput> {
      const ctx = Context.current();
      const info = activityInfo();
      let report;
      let sql: string;
      try {
        report = loadReport(reportsDir, input.name);
        sql = renderReportSql(
          report,
          reportSqlParams({
            database: input.database,
            cdcTable: CDC_TABLE_FOLDER,
            currentView: ORDERS_CURRENT_VIEW,
            windowStart: new Date(input.windowStart),
            windowEnd: new Date(input.windowEnd),
          }),
        );
      } catch (error) {
        if (error instanceof ReportNotFoundError)
          throw permanentFailure(FailureType.UnknownReport, error.message);
        if (error instanceof ReportTemplateError)
          throw permanentFailure(FailureType.ReportTemplateError, error.message);
        throw error;
      }

      // A retry after a crash continues with the query the previous attempt started (if it did not fail).
      const previous = info.heartbeatDetails as ReportHeartbeat | undefined;
      let details: ReportHeartbeat;
      const resumable =
        previous?.queryExecutionId &&
        ['QUEUED', 'RUNNING', 'SUCCEEDED'].includes(
          (await getQueryExecution(athena, previous.queryExecutionId)).Status?.State ?? '',
        );
      if (previous && resumable) {
        details = previous;
      } else {
        const queryExecutionId = await startQuery(athena, {
          sql,
          database: input.database,
          workgroup: config.athena.workgroup,
          idempotencyKey: `${info.workflowExecution?.runId}/${info.activityId}/${info.attempt}`,
        });
        details = { queryExecutionId, startedAt: Date.now() };
      }
      ctx.heartbeat(details);
      const execution = await waitForQuery(athena, details.queryExecutionId, {
        sleep: (ms) => ctx.sleep(ms),
        heartbeat: () => ctx.heartbeat(details),
        timeoutMs: REPORT_TIMEOUT_MS,
        startedAt: details.startedAt,
      });
      const fetched = await fetchQueryRows(athena, details.queryExecutionId, {
        maxRows: MAX_REPORT_ROWS,
        maxBytes: Number.MAX_SAFE_INTEGER,
        heartbeat: () => ctx.heartbeat(details),
      });
      if (fetched.truncated) {
        throw permanentFailure(
          FailureType.ReportTooLarge,
          `report ${input.name} returned more than ${MAX_REPORT_ROWS} rows`,
        );
      }
      const run = runInfo(execution);
      const keys = reportObjectKeys(config.lake.reportsPrefix, input.name, input.reportTime);
      const csv = stringify([
        fetched.columns.map((c) => c.name),
        ...fetched.rows.map((r) => r.map((v) => v ?? '')),
      ]);
      const html = renderReportHtml({
        report,
        columns: fetched.columns,
        rows: fetched.rows,
        reportTime: input.reportTime,
        windowStart: input.windowStart,
        windowEnd: input.windowEnd,
        queryExecutionId: run.queryExecutionId,
        bytesScanned: run.bytesScanned,
      });
      const metadata = { 'report-time': input.reportTime, 'athena-query-id': run.queryExecutionId };
      await withAwsErrors('s3.PutObject', () =>
        s3.send(
          new PutObjectCommand({
            Bucket: config.lake.bucket,
            Key: keys.csvKey,
            Body: csv,
            ContentType: 'text/csv; charset=utf-8',
            Metadata: metadata,
          }),
        ),
      );
      await withAwsErrors('s3.PutObject', () =>
        s3.send(
          new PutObjectCommand({
            Bucket: config.lake.bucket,
            Key: keys.htmlKey,
            Body: html,
            ContentType: 'text/html; charset=utf-8',
            Metadata: metadata,
          }),
        ),
      );
      let localHtmlPath: string | undefined;
      if (config.mode === 'local') {
        localHtmlPath = resolve(config.dataDir, 'reports', `${keys.relativeBase}.html`);
        await mkdir(dirname(localHtmlPath), { recursive: true });
        await writeFile(localHtmlPath, html);
        await writeFile(
          join(dirname(localHtmlPath), `${input.name}_${reportStamp(input.reportTime)}.csv`),
          csv,
        );
      }
      logger.info(
        {
          report: input.name,
          reportTime: input.reportTime,
          rows: fetched.rows.length,
          key: keys.csvKey,
          queryExecutionId: run.queryExecutionId,
        },
        'report written',
      );
      return {
        ...run,
        name: input.name,
        title: report.title,
        rows: fetched.rows.length,
        csvKey: keys.csvKey,
        htmlKey: keys.htmlKey,
        ...(localHtmlPath ? { localHtmlPath } : {}),
      };
    },
  };
}

export type ReportActivities = ReturnType<typeof createReportActivities>;
