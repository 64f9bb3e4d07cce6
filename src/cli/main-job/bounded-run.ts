/**
 * The end of `npm start -- --duration N`: drain, crawl, report, then check that every stage agrees:
 * events → DynamoDB state → DynamoDB changes → CDC records → S3 records → Athena count, and that the lake's
 * current state equals DynamoDB field by field (the reconcile workflow).
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Client } from '@temporalio/client';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../../aws/clients';
import type { Config } from '../../config';
import type { OrderState } from '../../domain/order-event';
import { ordersStreamArn } from '../../resources/dynamodb-tables';
import { dynamoSinkGroupId } from '../../streaming/dynamo-sink/dynamo-sink';
import type { GeneratorReport } from '../../streaming/generator/generator';
import { createLakeReader, lakeChangeId } from '../../lake-format/lake-reader';
import { cdcPartitionFolder } from '../../resources/cdc-catalog';
import type { ReportSummary } from '../../contract/types';
import * as workflows from '../../workflows';
import { groupLag, waitForDrain } from './drain';
import { startTopicCounter, type TopicCounter } from './topic-counter';
import { changeCount, createStreamWindowReader } from './stream-count';
import { compactRunHours } from './run-compaction';
import { reconcileRun } from './run-reconcile';
import { plainAwareTable } from '../shared/output';

export interface BoundedRunDeps {
  config: Config;
  aws: AwsClients;
  kafka: Kafka;
  client: Client;
  report: GeneratorReport;
  say: (line: string) => void;
  onProgress?: () => Promise<void>;
}

interface Check {
  stage: string;
  expected: number | string;
  actual: number | string;
  ok: boolean;
}

const DRAIN_TIMEOUT_MS = 10 * 60_000;

/** Fields of an order item that must equal the generator's expected final state. */
const STATE_FIELDS: (keyof OrderState)[] = [
  'status',
  'version',
  'amount',
  'currency',
  'region',
  'itemCount',
  'customerId',
];

export async function runBoundedChecks(deps: BoundedRunDeps): Promise<boolean> {
  const { config, aws, kafka, client, report, say } = deps;
  const admin = kafka.admin();
  await admin.connect();
  const counters: Record<'events' | 'dlq' | 'cdc', TopicCounter> = {
    events: await startTopicCounter(kafka, config.topics.events),
    dlq: await startTopicCounter(kafka, config.topics.eventsDlq),
    cdc: await startTopicCounter(kafka, config.topics.cdc),
  };
  try {
    const progress = (line: string) => say(`  … ${line}`);
    say('Draining: waiting for the DynamoDB sink, the relay and the S3 sink to catch up...');
    await waitForDrain(
      'DynamoDB sink',
      async () => {
        const lag = await groupLag(admin, dynamoSinkGroupId(config), config.topics.events);
        return { done: lag === 0, detail: `${lag} events not yet applied` };
      },
      { timeoutMs: DRAIN_TIMEOUT_MS, onProgress: progress },
    );
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    // Each poll reads on from where the last one ended, not the whole stream again.
    const stream = createStreamWindowReader(aws.dynamodbStreams, streamArn);
    let changes = 0;
    await waitForDrain(
      'CDC relay',
      async () => {
        changes = changeCount(await stream.read());
        const published = counters.cdc.count();
        return {
          done: published >= changes && changes > 0,
          detail: `${published} of ${changes} changes published`,
        };
      },
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 2000, onProgress: progress },
    );
    const lakeReader = createLakeReader(aws.s3, config, {
      currentFolder: (partitionPath) => cdcPartitionFolder(aws.glue, config, partitionPath),
    });
    let lakeCount = 0;
    await waitForDrain(
      'S3 sink',
      async () => {
        lakeCount = await lakeReader.count();
        const cdc = counters.cdc.count();
        return { done: lakeCount >= cdc, detail: `${lakeCount} of ${cdc} change records in S3` };
      },
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 3000, onProgress: progress },
    );
    const malformedSent = Object.values(report.malformed).reduce((a, b) => a + b, 0);
    await waitForDrain(
      'topic counters',
      async () => {
        const events = counters.events.count();
        const dlq = counters.dlq.count();
        return {
          done: events >= report.messagesSent && dlq >= malformedSent,
          detail: `${events} of ${report.messagesSent} events and ${dlq} of ${malformedSent} dead letters read back`,
        };
      },
      // Short: the sink has committed, so everything is in the topics; a shortfall is a finding, not a wait.
      { timeoutMs: 30_000, onProgress: progress },
    ).catch((error: Error) => say(`  ${error.message}`));
    await deps.onProgress?.();

    const workflowOptions = (kind: string) => ({
      taskQueue: config.temporal.taskQueue,
      workflowId: `${kind}-${config.glue.crawler}-${Date.now()}`,
    });
    say(`Crawling (crawl workflow, crawler ${config.glue.crawler})...`);
    const crawl = await client.workflow.execute(workflows.crawl, {
      ...workflowOptions('crawl'),
      args: [{ crawler: config.glue.crawler, pollIntervalSeconds: 2 }],
    });
    say(
      `  ${crawl.status}: ${crawl.metrics.tablesCreated} table(s) created, ${crawl.metrics.tablesUpdated} updated`,
    );

    say('Reporting (report workflow)...');
    // A report's window ends at a whole minute, exclusive: the next minute includes every change of this run.
    const summary = await client.workflow.execute(workflows.report, {
      ...workflowOptions('report'),
      args: [{ database: config.glue.database, reportTime: new Date(Date.now() + 60_000).toISOString() }],
    });
    await printReport(deps, summary);

    const athena = await client.workflow.execute(workflows.query, {
      ...workflowOptions('query'),
      args: [
        {
          sql: 'SELECT count(*) AS changes, count(DISTINCT order_id) AS orders FROM orders_cdc',
          database: config.glue.database,
        },
      ],
    });
    const [athenaChanges, athenaOrders] = (athena.rows[0] ?? []).map((v) => Number(v));

    const items = new Map<string, Record<string, unknown>>();
    for await (const page of paginateScan(
      { client: aws.dynamodb },
      { TableName: config.dynamodb.ordersTable },
    )) {
      for (const item of page.Items ?? []) {
        const order = unmarshall(item);
        items.set(String(order.orderId), order);
      }
    }
    let mismatched = 0;
    for (const [orderId, expected] of report.expectedStates) {
      const actual = items.get(orderId);
      if (!actual || STATE_FIELDS.some((field) => actual[field] !== expected[field])) mismatched++;
    }
    const cdcRecords = counters.cdc.count();
    const changesInLake = new Set<string>();
    const hourPaths = new Set<string>();
    const lakeRecords = await lakeReader.scan((r) => {
      changesInLake.add(lakeChangeId(r));
      hourPaths.add(`dt=${r.dt}/hour=${r.hour}`);
    });
    const distinctLake = changesInLake.size;
    const dlq = counters.dlq.count();

    const checks: Check[] = [
      {
        stage: 'events on the topic = messages the generator sent',
        expected: report.messagesSent,
        actual: counters.events.count(),
        ok: false,
      },
      { stage: 'dead letters = malformed messages sent', expected: malformedSent, actual: dlq, ok: false },
      {
        stage: 'DynamoDB orders = orders generated',
        expected: report.expectedStates.size,
        actual: items.size,
        ok: false,
      },
      {
        stage: 'DynamoDB orders at their final state (mismatches)',
        expected: 0,
        actual: mismatched,
        ok: false,
      },
      { stage: 'CDC records = DynamoDB stream changes', expected: changes, actual: cdcRecords, ok: false },
      { stage: 'S3 records = CDC records', expected: cdcRecords, actual: lakeRecords, ok: false },
      { stage: 'S3 records without duplicates', expected: lakeRecords, actual: distinctLake, ok: false },
      { stage: 'Athena count(*) = S3 records', expected: lakeRecords, actual: athenaChanges, ok: false },
      {
        stage: 'Athena count(DISTINCT order_id) = DynamoDB orders',
        expected: items.size,
        actual: athenaOrders,
        ok: false,
      },
    ].map((c) => ({ ...c, ok: c.expected === c.actual }));
    checks.push(...(await compactRunHours({ config, client, say }, { records: lakeRecords, hourPaths })));
    checks.push(await reconcileRun({ config, client, say }));

    const table = plainAwareTable(['check', 'expected', 'actual', '']);
    for (const c of checks)
      table.push([c.stage, String(c.expected), String(c.actual), c.ok ? 'ok' : 'MISMATCH']);
    say(table.toString());
    const ok = checks.every((c) => c.ok);
    say(ok ? 'All counts agree.' : 'Counts DO NOT agree: see the MISMATCH rows above.');
    return ok;
  } finally {
    await Promise.all(Object.values(counters).map((c) => c.stop()));
    await admin.disconnect();
  }
}

async function printReport(deps: BoundedRunDeps, summary: ReportSummary): Promise<void> {
  const { aws, say } = deps;
  for (const output of summary.reports) {
    say(`  ${output.title}: ${output.rows} rows → s3://${summary.bucket}/${output.csvKey}`);
    if (output.localHtmlPath) say(`    chart: ${output.localHtmlPath}`);
  }
  const first = summary.reports[0];
  if (!first) return;
  const body = await aws.s3.send(new GetObjectCommand({ Bucket: summary.bucket, Key: first.csvKey }));
  const csv = (await body.Body?.transformToString()) ?? '';
  const [header, ...rows] = parseCsv(csv) as string[][];
  const table = plainAwareTable(header ?? []);
  for (const row of rows.slice(0, 15)) table.push(row);
  say(`\n${first.title}${rows.length > 15 ? ` (first 15 of ${rows.length} rows)` : ''}:`);
  say(table.toString());
}
