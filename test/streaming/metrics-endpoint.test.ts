/**
 * A real process's Prometheus endpoint: the DynamoDB sink runs as a child from its main.ts with a real
 * METRICS_PORT, N events go through it, and once its work is durable (the table holds every order's final state
 * and its group committed the whole topic) the scraped counters equal the work done, by kind.
 */
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { createLogger } from '../../src/observability/logger';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { createGenerator } from '../../src/streaming/generator/generator';
import { freePort } from '../../src/support/net';
import { freshConfig } from '../support/fresh-config';
import {
  ChildProcesses,
  endOffsets,
  provision,
  waitFor,
  waitForGroupCommitted,
  waitForOrders,
  type StreamingEnv,
} from './helpers';

const logger = createLogger('test-metrics', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });

/** Each sample of a family by the value of one of its labels (the process's own labels are on every sample). */
function samples(families: MetricFamily[], name: string, label?: string): Record<string, number> {
  const family = families.find((f) => f.name === name);
  if (!family)
    throw new Error(`no metric ${name} on the endpoint (has: ${families.map((f) => f.name).join(', ')})`);
  return Object.fromEntries(
    family.metrics.map((m) => [
      label ? (m.labels?.[label] ?? '') : JSON.stringify(m.labels ?? {}),
      Number(m.value),
    ]),
  );
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

describe('metrics endpoint of a running process', () => {
  let env: StreamingEnv | undefined;
  const children = new ChildProcesses(() => env!.config);

  afterAll(async () => {
    await children.killAll();
    await env?.cleanup();
  });

  it('DynamoDB sink: the scraped counters equal the events consumed, written, skipped and dead-lettered', async () => {
    env = await provision(freshConfig('metrics-sink'));
    const { config, kafka, aws } = env;
    const port = await freePort();
    const sink = children.start('dynamo-sink', 'src/streaming/dynamo-sink/main.ts', {
      METRICS_PORT: String(port),
    });
    const url = `http://127.0.0.1:${port}/metrics`;
    const report = await createGenerator({
      config,
      kafka,
      logger,
      count: 500,
      concurrentOrders: 50,
      duplicates: 0.1,
      outOfOrder: 0.1,
      malformed: 0.05,
      seed: 17,
    }).run();

    // Durable: every order in its final state, and the group's commits at the end of the topic.
    await waitForOrders(aws.dynamodb, config.dynamodb.ordersTable, report.expectedStates, 90_000);
    const admin = kafka.admin();
    await admin.connect();
    const ends = await endOffsets(admin, config.topics.events).finally(() => admin.disconnect());
    await waitForGroupCommitted(kafka, dynamoSinkGroupId(config), config.topics.events, ends, 60_000);

    const text = await waitFor(
      `the sink's metrics at ${url}`,
      async () => {
        const response = await fetch(url);
        return response.ok ? response.text() : undefined;
      },
      { timeoutMs: 10_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${sink.output().slice(-2_000)}`);
    });
    const families = parsePrometheusTextFormat(text);

    const malformed = report.malformed;
    const malformedTotal = malformed['malformed-json'] + malformed['schema-invalid'] + malformed.oversized;
    expect(malformedTotal).toBeGreaterThan(0);
    expect(sum(samples(families, 'dynamo_sink_records_in_total'))).toBe(report.messagesSent);
    const kinds = Object.entries(malformed).filter(([, n]) => n > 0);
    expect(samples(families, 'dynamo_sink_dlq_total', 'reason')).toEqual(Object.fromEntries(kinds));
    // Every valid message (duplicates included) was either written or skipped as not newer.
    const applied = sum(samples(families, 'dynamo_sink_applied_total'));
    const skipped = sum(samples(families, 'dynamo_sink_stale_skips_total'));
    expect(applied + skipped).toBe(report.validEvents + report.duplicates);
    expect(applied).toBeGreaterThanOrEqual(report.expectedStates.size);
    // Nothing left behind on any partition after the last chunk.
    expect(Object.values(samples(families, 'dynamo_sink_consumer_lag')).every((lag) => lag === 0)).toBe(true);
  }, 240_000);
});
