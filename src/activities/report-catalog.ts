/**
 * The report catalog: every `reports/<name>.sql` file in the repository is a report. Its leading comment lines
 * carry metadata (`-- title:`, `-- description:`, `-- chart: bar x=<col> y=<col> [series=<col>]`) and the SQL uses
 * `{{placeholders}}` filled from validated values only (database and table names pass a strict pattern, times are
 * formatted here), so no user text reaches the SQL.
 *
 * @example
 *   const report = loadReport(REPORTS_DIR, 'status_funnel');
 *   const sql = renderReportSql(report, reportSqlParams({ database: 'orders_lake', ... }));
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ActivityError } from './errors';

/** `reports/` at the repository root (src/activities -> ../../reports). */
export const REPORTS_DIR = resolve(__dirname, '../../reports');

export interface ChartSpec {
  type: 'bar';
  x: string;
  y: string;
  series?: string;
}

export interface ReportDefinition {
  name: string;
  title: string;
  description: string;
  chart?: ChartSpec;
  /** The SQL template with `{{placeholders}}`. */
  template: string;
}

export class ReportNotFoundError extends ActivityError {
  override readonly name = 'ReportNotFoundError';
  readonly retriable = false;
}

export class ReportTemplateError extends ActivityError {
  override readonly name = 'ReportTemplateError';
  readonly retriable = false;
}

/** Report names, sorted: the `.sql` files of the directory. */
export function listReports(dir: string = REPORTS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^[a-z0-9_]+\.sql$/.test(f))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort();
}

export function parseChartSpec(text: string): ChartSpec | undefined {
  const [type, ...pairs] = text.trim().split(/\s+/);
  if (type !== 'bar') return undefined;
  const fields = Object.fromEntries(pairs.map((p) => p.split('=') as [string, string]));
  if (!fields.x || !fields.y) return undefined;
  return { type: 'bar', x: fields.x, y: fields.y, ...(fields.series ? { series: fields.series } : {}) };
}

export function parseReport(name: string, text: string): ReportDefinition {
  const meta: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^--\s*(title|description|chart):\s*(.+)$/.exec(line.trim());
    if (match) meta[match[1]] = match[2].trim();
  }
  return {
    name,
    title: meta.title ?? name,
    description: meta.description ?? '',
    chart: meta.chart ? parseChartSpec(meta.chart) : undefined,
    template: text,
  };
}

export function loadReport(dir: string, name: string): ReportDefinition {
  if (!/^[a-z0-9_]+$/.test(name)) throw new ReportNotFoundError(`report name "${name}" is not a file name`);
  let text: string;
  try {
    text = readFileSync(join(dir, `${name}.sql`), 'utf8');
  } catch {
    throw new ReportNotFoundError(
      `report "${name}" not found in ${dir} (available: ${listReports(dir).join(', ')})`,
    );
  }
  return parseReport(name, text);
}

export interface ReportSqlParams {
  database: string;
  cdc_table: string;
  /** The `orders_current` view: the current state of each order, which reports read instead of the change log. */
  current_view: string;
  /** 'YYYY-MM-DD HH:MM:SS' (UTC), for TIMESTAMP literals. */
  window_start: string;
  window_end: string;
  /** 'YYYY-MM-DD' partition values bounding the window, for partition pruning on `dt`. */
  dt_start: string;
  dt_end: string;
}

const sqlTimestamp = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

export function reportSqlParams(input: {
  database: string;
  cdcTable: string;
  currentView: string;
  windowStart: Date;
  windowEnd: Date;
}): ReportSqlParams {
  return {
    database: input.database,
    cdc_table: input.cdcTable,
    current_view: input.currentView,
    window_start: sqlTimestamp(input.windowStart),
    window_end: sqlTimestamp(input.windowEnd),
    dt_start: input.windowStart.toISOString().slice(0, 10),
    // The window end is exclusive: a window ending at midnight does not touch the next day's partition.
    dt_end: new Date(input.windowEnd.getTime() - 1).toISOString().slice(0, 10),
  };
}

const SAFE_VALUE = /^[A-Za-z0-9_.:\- ]*$/;

/** Fills the placeholders; an unknown placeholder or an unsafe value is an error, never silently left in. */
export function renderReportSql(report: ReportDefinition, params: ReportSqlParams): string {
  const values = params as unknown as Record<string, string>;
  return report.template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined)
      throw new ReportTemplateError(`report ${report.name}: unknown placeholder {{${key}}}`);
    if (!SAFE_VALUE.test(value))
      throw new ReportTemplateError(`report ${report.name}: unsafe value for {{${key}}}`);
    return value;
  });
}
