/** Report catalog, SQL rendering, object keys and the HTML page with its inline SVG chart (pure logic). */
import {
  listReports,
  loadReport,
  parseReport,
  renderReportSql,
  reportSqlParams,
  REPORTS_DIR,
} from '../../src/activities/report-catalog';
import { chartData, niceStep, renderReportHtml } from '../../src/activities/report-html';
import { reportObjectKeys, reportStamp } from '../../src/activities/report-activities';
import { checkReadOnlySql } from '../../src/contract/read-only-sql';

const params = reportSqlParams({
  database: 'orders_lake',
  cdcTable: 'orders_cdc',
  currentView: 'orders_current',
  windowStart: new Date('2024-04-30T14:00:00Z'),
  windowEnd: new Date('2024-05-01T00:00:00Z'),
});

describe('report catalog', () => {
  it('lists the report SQL files of the repository, each with a title and a chart', () => {
    expect(listReports()).toEqual(['created_to_delivered', 'orders_revenue_by_hour_region', 'status_funnel']);
    for (const name of listReports()) {
      const report = loadReport(REPORTS_DIR, name);
      expect(report.title).not.toBe(name);
      expect(report.chart).toBeDefined();
      // Every report renders to one read-only statement with no placeholder left.
      const sql = renderReportSql(report, params);
      expect(sql).not.toContain('{{');
      expect(checkReadOnlySql(sql).kind).toBe('select');
      // The current state comes from the orders_current view, not from a latest-state subquery of each report.
      expect(sql).toMatch(/FROM orders_current\b/);
      expect(sql).not.toMatch(/row_number|orders_cdc/i);
    }
  });

  it('bounds the partitions by the window (exclusive end)', () => {
    expect(params).toMatchObject({
      window_start: '2024-04-30 14:00:00',
      window_end: '2024-05-01 00:00:00',
      dt_start: '2024-04-30',
      dt_end: '2024-04-30',
    });
  });

  it('refuses unknown placeholders and unsafe values', () => {
    const report = parseReport('x', 'SELECT {{nope}}');
    expect(() => renderReportSql(report, params)).toThrow(/unknown placeholder \{\{nope\}\}/);
    const injected = parseReport('y', 'SELECT * FROM {{cdc_table}}');
    expect(() => renderReportSql(injected, { ...params, cdc_table: "t; DROP TABLE x --'" })).toThrow(
      /unsafe value/,
    );
  });

  it('names objects after the report time, so a re-run overwrites', () => {
    expect(reportStamp('2024-05-01T14:00:00.000Z')).toBe('20240501T1400Z');
    expect(reportObjectKeys('reports', 'status_funnel', '2024-05-01T14:00:00Z')).toEqual({
      csvKey: 'reports/status_funnel/dt=2024-05-01/status_funnel_20240501T1400Z.csv',
      htmlKey: 'reports/status_funnel/dt=2024-05-01/status_funnel_20240501T1400Z.html',
      relativeBase: 'status_funnel/dt=2024-05-01/status_funnel_20240501T1400Z',
    });
  });
});

describe('report HTML', () => {
  const columns = [
    { name: 'hour', type: 'timestamp' },
    { name: 'region', type: 'varchar' },
    { name: 'revenue', type: 'double' },
  ];
  const rows = [
    ['2024-05-01 10:00:00', 'eu-west', '10.5'],
    ['2024-05-01 10:00:00', 'us-east', '4'],
    ['2024-05-01 11:00:00', 'us-east', '7'],
  ];
  const spec = { type: 'bar' as const, x: 'hour', y: 'revenue', series: 'region' };

  it('pivots rows into categories × series', () => {
    expect(chartData(spec, columns, rows)).toEqual({
      categories: ['2024-05-01 10:00:00', '2024-05-01 11:00:00'],
      series: ['eu-west', 'us-east'],
      values: [
        [10.5, 4],
        [0, 7],
      ],
    });
    expect(niceStep(14.5)).toBe(5);
    expect(niceStep(1234)).toBe(500);
  });

  it('is one self-contained page: inline SVG, escaped text, no scripts, deterministic', () => {
    const page = {
      report: { name: 'r', title: 'Revenue <by> hour', description: 'a & b', chart: spec },
      columns,
      rows: [...rows, ['2024-05-01 12:00:00', '<script>alert(1)</script>', '1']],
      reportTime: '2024-05-01T14:00:00.000Z',
      windowStart: '2024-04-30T14:00:00.000Z',
      windowEnd: '2024-05-01T14:00:00.000Z',
    };
    const html = renderReportHtml(page);
    expect(html).toContain('<svg');
    expect(html.match(/<rect [^>]*fill=/g)!.length).toBeGreaterThanOrEqual(4);
    expect(html).toContain('Revenue &lt;by&gt; hour');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(renderReportHtml(page)).toBe(html);
  });

  it('says so when the window has no data', () => {
    const html = renderReportHtml({
      report: { name: 'r', title: 't', description: '', chart: spec },
      columns,
      rows: [],
      reportTime: 'x',
      windowStart: 'x',
      windowEnd: 'x',
    });
    expect(html).toContain('no data in this window');
  });
});
