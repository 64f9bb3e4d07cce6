/**
 * Renders a report as one self-contained HTML page: a bar chart (inline SVG, stacked by series when the report
 * has one) above the table. No scripts, no external fonts or styles, so the page opens from S3, a mail or a disk.
 * The output depends only on its input (no wall-clock time), so re-running a report rewrites identical bytes.
 *
 * @example
 *   const html = renderReportHtml({ report, columns, rows, reportTime, windowStart, windowEnd });
 */
import type { QueryColumn } from '../contract/types';
import type { ChartSpec, ReportDefinition } from './report-catalog';

export interface ReportPage {
  report: Pick<ReportDefinition, 'name' | 'title' | 'description' | 'chart'>;
  columns: QueryColumn[];
  rows: (string | null)[][];
  reportTime: string;
  windowStart: string;
  windowEnd: string;
  queryExecutionId?: string;
  bytesScanned?: number;
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Round tick step (1, 2, 5 × 10^n) giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const nice = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10;
  return nice * magnitude;
}

function formatNumber(value: number): string {
  if (Math.abs(value) >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(2)}`;
}

/** Shortens timestamps like `2024-05-01 13:00:00.000` to `05-01 13:00` on the axis. */
function axisLabel(value: string): string {
  const ts = /^\d{4}-(\d{2}-\d{2})[ T](\d{2}:\d{2})/.exec(value);
  if (ts) return `${ts[1]} ${ts[2]}`;
  return value.length > 14 ? `${value.slice(0, 13)}…` : value;
}

export interface ChartData {
  categories: string[];
  series: string[];
  /** values[category][series] */
  values: number[][];
}

/** Pivots rows into categories × series using the chart spec's column names. */
export function chartData(
  spec: ChartSpec,
  columns: QueryColumn[],
  rows: (string | null)[][],
): ChartData | undefined {
  const index = (name: string) => columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
  const xi = index(spec.x);
  const yi = index(spec.y);
  const si = spec.series ? index(spec.series) : -1;
  if (xi < 0 || yi < 0 || (spec.series && si < 0)) return undefined;
  const categories: string[] = [];
  const series: string[] = [];
  const cells = new Map<string, number>();
  for (const row of rows) {
    const x = row[xi] ?? '(null)';
    const s = si >= 0 ? (row[si] ?? '(null)') : spec.y;
    const y = Number(row[yi] ?? 0);
    if (!categories.includes(x)) categories.push(x);
    if (!series.includes(s)) series.push(s);
    const key = `${x}\u0000${s}`;
    cells.set(key, (cells.get(key) ?? 0) + (Number.isFinite(y) ? y : 0));
  }
  series.sort();
  return {
    categories,
    series,
    values: categories.map((x) => series.map((s) => cells.get(`${x}\u0000${s}`) ?? 0)),
  };
}

/** A stacked bar chart as an SVG element (string). */
export function renderBarChartSvg(data: ChartData, spec: ChartSpec): string {
  const width = 960;
  const height = 380;
  const margin = { top: 20, right: 20 + (data.series.length > 1 ? 130 : 0), bottom: 80, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const totals = data.values.map((v) => v.reduce((a, b) => a + Math.max(0, b), 0));
  const step = niceStep(Math.max(0, ...totals));
  const top = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
  const y = (v: number) => margin.top + plotH - (v / top) * plotH;
  const band = plotW / Math.max(1, data.categories.length);
  const barW = Math.max(1, band * 0.75);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(`${spec.y} by ${spec.x}`)}" font-family="system-ui, sans-serif" font-size="11">`,
  );
  for (let tick = 0; tick <= top + step / 2; tick += step) {
    const ty = y(tick).toFixed(1);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`,
    );
    parts.push(
      `<text x="${margin.left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" fill="#555">${formatNumber(tick)}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(data.categories.length / 24));
  data.categories.forEach((category, ci) => {
    const x = margin.left + ci * band + (band - barW) / 2;
    let acc = 0;
    data.series.forEach((series, si) => {
      const value = Math.max(0, data.values[ci][si]);
      if (value === 0) return;
      const y0 = y(acc);
      const y1 = y(acc + value);
      acc += value;
      const label = `${category}${data.series.length > 1 ? ` / ${series}` : ''}: ${value}`;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(0.5, y0 - y1).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${escapeHtml(label)}</title></rect>`,
      );
    });
    if (ci % labelEvery === 0) {
      const lx = (x + barW / 2).toFixed(1);
      const ly = margin.top + plotH + 12;
      parts.push(
        `<text x="${lx}" y="${ly}" text-anchor="end" transform="rotate(-40 ${lx} ${ly})" fill="#333">${escapeHtml(axisLabel(category))}</text>`,
      );
    }
  });
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#333"/>`,
  );
  parts.push(
    `<text x="14" y="${margin.top + plotH / 2}" transform="rotate(-90 14 ${margin.top + plotH / 2})" text-anchor="middle" fill="#333">${escapeHtml(spec.y)}</text>`,
  );
  if (data.series.length > 1) {
    data.series.forEach((series, si) => {
      const ly = margin.top + 10 + si * 18;
      const lx = width - margin.right + 20;
      parts.push(
        `<rect x="${lx}" y="${ly - 8}" width="12" height="12" fill="${PALETTE[si % PALETTE.length]}"/>`,
      );
      parts.push(
        `<text x="${lx + 18}" y="${ly}" dominant-baseline="middle" fill="#333">${escapeHtml(series)}</text>`,
      );
    });
  }
  if (data.categories.length === 0) {
    parts.push(
      `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" fill="#888">no data in this window</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export function renderReportHtml(page: ReportPage): string {
  const { report, columns, rows } = page;
  const data = report.chart ? chartData(report.chart, columns, rows) : undefined;
  const chart = report.chart && data ? renderBarChartSvg(data, report.chart) : '';
  const numeric = columns.map((c) => /int|double|float|decimal|real|bigint/i.test(c.type));
  const head = columns.map((c) => `<th>${escapeHtml(c.name)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((v, i) => `<td${numeric[i] ? ' class="n"' : ''}>${v === null ? '<i>null</i>' : escapeHtml(v)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const meta = [
    `Report time ${escapeHtml(page.reportTime)}`,
    `window ${escapeHtml(page.windowStart)} – ${escapeHtml(page.windowEnd)}`,
    `${rows.length} row${rows.length === 1 ? '' : 's'}`,
    page.bytesScanned !== undefined ? `${page.bytesScanned} bytes scanned` : '',
    page.queryExecutionId ? `Athena query ${escapeHtml(page.queryExecutionId)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)} — ${escapeHtml(page.reportTime)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; padding: 0 12px; }
h1 { font-size: 1.4em; margin-bottom: 4px; }
p.meta { color: #666; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin-top: 16px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f5f5f5; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>${escapeHtml(report.title)}</h1>
<p class="meta">${meta}</p>
${report.description ? `<p>${escapeHtml(report.description)}</p>` : ''}
${chart}
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table>
</body>
</html>
`;
}
