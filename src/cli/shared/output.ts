/**
 * Human-readable output of the `pipeline` commands: tables (cli-table3), sizes, durations, and failures
 * explained from their cause chain (WorkflowFailedError → ActivityFailure → ApplicationFailure with its type).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TimeoutFailure,
  WorkflowFailedError,
} from '@temporalio/client';
import Table from 'cli-table3';
import type { EnsureOutcome } from '../../contract/outcome';
import type {
  BackfillResult,
  CompactResult,
  ReconcileResult,
  CrawlResult,
  QueryResult,
  ReportSummary,
} from '../../contract/types';

export const say = (line = '') => console.log(line);

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A table with colours only on a terminal: piped output (files, CI logs, tests) stays plain text. */
export function plainAwareTable(head: string[]): Table.Table {
  return new Table({ head, ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }) });
}

export function outcomesTable(outcomes: EnsureOutcome[]): string {
  const t = plainAwareTable(['resource', 'name', 'action', 'detail']);
  for (const o of outcomes) t.push([o.kind, o.name, o.action, o.detail ?? '']);
  return t.toString();
}

/** Long values are cut so a wide result stays readable; the full result is in S3. */
export function resultTable(result: Pick<QueryResult, 'columns' | 'rows'>, maxCell = 60): string {
  const table = plainAwareTable(result.columns.map((c) => c.name));
  for (const row of result.rows) {
    table.push(
      row.map((v) => (v === null ? 'NULL' : v.length > maxCell ? `${v.slice(0, maxCell - 1)}…` : v)),
    );
  }
  return table.toString();
}

export function describeQuery(result: QueryResult): string {
  return [
    `${result.rowCount} row${result.rowCount === 1 ? '' : 's'}${result.truncated ? ' (truncated: see the full result in S3)' : ''}`,
    `${formatBytes(result.bytesScanned)} scanned`,
    `engine ${formatMs(result.engineTimeMs)}, total ${formatMs(result.totalTimeMs)}`,
    `query ${result.queryExecutionId}`,
    result.outputLocation ? `result ${result.outputLocation}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

export function describeCrawl(result: CrawlResult): string {
  const m = result.metrics;
  return [
    `crawler ${result.crawler}: ${result.status}${result.joinedRunningCrawl ? ' (joined a crawl that was already running)' : ''}`,
    `  tables created ${m.tablesCreated}, updated ${m.tablesUpdated}, deleted ${m.tablesDeleted}; last runtime ${m.lastRuntimeSeconds.toFixed(1)} s (median ${m.medianRuntimeSeconds.toFixed(1)} s); ${result.polls} state checks`,
  ].join('\n');
}

export function reportTable(summary: ReportSummary): string {
  const table = plainAwareTable([
    'report',
    'rows',
    'scanned',
    'time',
    `csv / html (s3://${summary.bucket}/…)`,
  ]);
  for (const r of summary.reports) {
    table.push([
      r.name,
      String(r.rows),
      formatBytes(r.bytesScanned),
      formatMs(r.totalTimeMs),
      `${r.csvKey}\n${r.htmlKey}`,
    ]);
  }
  return table.toString();
}

export function describeBackfill(result: BackfillResult): string {
  return [
    `snapshot ${result.snapshotId}: ${result.rows} rows in ${result.parts} parts (${formatBytes(result.bytes)}) under s3://${result.bucket}/${result.prefix}/`,
    `  manifest s3://${result.bucket}/${result.manifestKey}; ${result.runs} continue-as-new, ${result.resumes} resumed segment attempts`,
    result.crawl ? `  crawl: ${result.crawl.status}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

export function describeCompaction(result: CompactResult): string {
  const lines = [
    `compacted as of ${result.asOf}: ${result.hours.length} hour(s), ${result.objectsBefore} → ${result.objectsAfter} objects, ${result.rows} rows, ${formatBytes(result.bytesBefore)} → ${formatBytes(result.bytesAfter)}`,
  ];
  for (const h of result.hours)
    lines.push(
      `  ${h.hour}: ${h.outcome}, ${h.objectsBefore} → ${h.objectsAfter} objects, ${h.rows} rows${h.lateObjects ? `, ${h.lateObjects} late` : ''}${h.deletedObjects ? `, ${h.deletedObjects} deleted` : ''}`,
    );
  return lines.join('\n');
}

/** One line of counts (also the live status's), then the sampled ids of each kind of drift. */
export function describeReconcile(result: ReconcileResult): string {
  const lines = [
    `${result.passed ? 'passed' : 'FAILED'}: ${result.table} vs ${result.view}, ${result.compared} compared, ${result.matching} matching, ${result.missing} missing, ${result.extra} extra, ${result.different} different, ${result.inFlight} in flight`,
  ];
  if (result.samples.missing.length > 0) lines.push(`  missing: ${result.samples.missing.join(', ')}`);
  if (result.samples.extra.length > 0) lines.push(`  extra: ${result.samples.extra.join(', ')}`);
  for (const d of result.samples.different) lines.push(`  different: ${d.orderId} (${d.fields.join(', ')})`);
  return lines.join('\n');
}

/** One line per level of the failure chain, most specific last. */
export function explainFailure(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof WorkflowFailedError) lines.push(`workflow failed: ${current.message}`);
    else if (current instanceof ActivityFailure)
      lines.push(`activity ${current.activityType} failed (retry state ${current.retryState})`);
    else if (current instanceof ChildWorkflowFailure)
      lines.push(`child workflow ${current.execution.workflowId} failed`);
    else if (current instanceof ApplicationFailure)
      lines.push(`${current.type ?? 'Error'}: ${current.message}`);
    else if (current instanceof CancelledFailure) lines.push('cancelled');
    else if (current instanceof TimeoutFailure) lines.push(`timed out (${current.timeoutType})`);
    else if (current instanceof Error) lines.push(current.message);
    else lines.push(String(current));
    current = (current as { cause?: unknown }).cause;
  }
  return lines.join('\n  caused by ');
}
