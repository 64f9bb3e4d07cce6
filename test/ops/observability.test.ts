/**
 * The Grafana dashboard (deploy/grafana) and the alert rules (the PrometheusRule in deploy/kubernetes/base)
 * may reference only metrics that exist: those the code registers with prom-client, prom-client's default process
 * metrics, the Temporal SDK's documented worker metrics, and Prometheus's own `up`. A renamed metric fails here
 * instead of silently emptying a panel or an alert.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';

const root = join(__dirname, '..', '..');

/**
 * Core SDK metrics (TypeScript, Python, .NET), as listed at https://docs.temporal.io/references/sdk-metrics,
 * exported with the `temporal_` prefix; counters without a `_total` suffix (the SDK's Prometheus default).
 */
const TEMPORAL_SDK_METRICS = [
  'workflow_completed',
  'workflow_failed',
  'workflow_canceled',
  'workflow_continue_as_new',
  'workflow_endtoend_latency',
  'workflow_task_execution_failed',
  'workflow_task_execution_latency',
  'workflow_task_schedule_to_start_latency',
  'activity_execution_failed',
  'activity_execution_latency',
  'activity_schedule_to_start_latency',
  'worker_task_slots_available',
  'sticky_cache_size',
].map((name) => `temporal_${name}`);

const PROMETHEUS_BUILT_INS = ['up'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const withSeriesSuffixes = (name: string, type: string) =>
  type === 'histogram' || type === 'summary'
    ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]
    : [name];

/** Every metric the pipeline's processes register (src/lake-endpoint is not scraped). */
function metricsInCode(): Set<string> {
  const names = new Set<string>();
  const pattern =
    /new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\s*\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g;
  for (const file of sourceFiles(join(root, 'src'))) {
    if (file.includes(join('src', 'lake-endpoint'))) continue;
    for (const [, type, name] of readFileSync(file, 'utf8').matchAll(pattern))
      for (const series of withSeriesSuffixes(name, type.toLowerCase())) names.add(series);
  }
  return names;
}

async function defaultProcessMetrics(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = await registry.getMetricsAsJSON();
  return new Set(metrics.flatMap((metric) => withSeriesSuffixes(metric.name, String(metric.type))));
}

const NOT_METRICS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names of a PromQL expression: identifiers that are not functions, keywords or label names. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter(
      (match) =>
        !bare
          .slice(match.index + match[0].length)
          .trimStart()
          .startsWith('('),
    )
    .map((match) => match[0])
    .filter((name) => !NOT_METRICS.has(name.toLowerCase()));
}

interface Panel {
  title?: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(join(root, 'deploy', 'grafana', 'orders-pipeline.json'), 'utf8'),
) as {
  panels: Panel[];
};
const dashboardQueries = (panels: Panel[]): { where: string; expr: string }[] =>
  panels.flatMap((panel) => [
    ...(panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
    ...dashboardQueries(panel.panels ?? []),
  ]);

interface AlertRule {
  alert: string;
  expr: string;
}
const rules = parseAllDocuments(
  readFileSync(join(root, 'deploy', 'kubernetes', 'base', 'monitoring.yaml'), 'utf8'),
)
  .map((doc) => doc.toJS() as { kind: string; spec: { groups: { rules: AlertRule[] }[] } })
  .filter((doc) => doc.kind === 'PrometheusRule')
  .flatMap((doc) => doc.spec.groups.flatMap((group) => group.rules));

describe('dashboard and alerts reference only exported metrics', () => {
  let known: Set<string>;
  beforeAll(async () => {
    known = new Set([
      ...metricsInCode(),
      ...(await defaultProcessMetrics()),
      ...TEMPORAL_SDK_METRICS,
      ...PROMETHEUS_BUILT_INS,
    ]);
  });

  it('reads metric names out of PromQL (the check itself works)', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le) (rate(s3_sink_flush_seconds_bucket{component="s3-sink"}[$__rate_interval])))',
      ),
    ).toEqual(['s3_sink_flush_seconds_bucket']);
    expect(metricNames('sum(a_total) > 5 and delta(sum(b)[15m:1m]) > 0')).toEqual(['a_total', 'b']);
    expect(known.has('dynamo_sink_consumer_lag')).toBe(true);
    expect(known.has('process_start_time_seconds')).toBe(true);
    expect(known.has('cdc_relay_batch_seconds_bucket')).toBe(true);
  });

  it('the dashboard', () => {
    const queries = dashboardQueries(dashboard.panels);
    expect(queries.length).toBeGreaterThan(10);
    const unknown = queries.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !known.has(name))
        .map((name) => `${name} (${where})`),
    );
    expect(unknown).toEqual([]);
  });

  it('the alert rules', () => {
    const unknown = rules.flatMap((rule) =>
      metricNames(rule.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${name} (${rule.alert})`),
    );
    expect(unknown).toEqual([]);
  });

  it('alert on what must not go unnoticed', () => {
    const watching = (metric: string) =>
      rules.filter((rule) => metricNames(rule.expr).includes(metric)).map((rule) => rule.alert);
    // Lag growing, dead letters, relay iterator age, crawl/report failures, no objects written, restarts.
    for (const metric of [
      'dynamo_sink_consumer_lag',
      's3_sink_consumer_lag',
      'dynamo_sink_dlq_total',
      's3_sink_dlq_total',
      'cdc_relay_iterator_age_ms',
      'temporal_workflow_failed',
      's3_sink_objects_written_total',
      'process_start_time_seconds',
    ])
      expect({ metric, alerts: watching(metric).length > 0 }).toEqual({ metric, alerts: true });
    const failures = rules.find((rule) => metricNames(rule.expr).includes('temporal_workflow_failed'))!;
    expect(failures.expr).toContain('workflow_type=~"crawl|report"');
  });
});
