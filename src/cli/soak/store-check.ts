/**
 * The exact check of the continuous pipeline's stores, whatever ran before (one run, several, restarts): once the
 * streaming processes have drained, every store must agree. Used at the end of a soak and after a restart.
 *
 * - CDC records on the topic = changes in the DynamoDB stream (the relay lost and repeated nothing),
 * - S3 records = CDC records, without duplicates, and Athena count(*) = S3 records,
 * - DynamoDB orders = the orders in the lake, each item at the version of its latest change in the lake.
 */
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../../aws/clients';
import type { Config } from '../../config';
import { readLakeRecords } from '../../lake-format/lake-reader';
import { ordersStreamArn } from '../../resources/dynamodb-tables';
import { dynamoSinkGroupId } from '../../streaming/dynamo-sink/dynamo-sink';
import * as workflows from '../../workflows';
import { groupLag, waitForDrain } from '../main-job/drain';
import { countStreamRecords } from '../main-job/stream-count';
import { startTopicCounter } from '../main-job/topic-counter';
import type { CountCheck } from './verdict';

export interface StoreCheckDeps {
  config: Config;
  aws: AwsClients;
  kafka: Kafka;
  client: Client;
  say: (line: string) => void;
  drainTimeoutMs?: number;
}

export async function checkStores(deps: StoreCheckDeps): Promise<CountCheck[]> {
  const { config, aws, kafka, client, say } = deps;
  const timeoutMs = deps.drainTimeoutMs ?? 15 * 60_000;
  const progress = (line: string) => say(`  … ${line}`);
  const admin = kafka.admin();
  await admin.connect();
  const cdc = await startTopicCounter(kafka, config.topics.cdc);
  try {
    say('Draining: the DynamoDB sink, the relay and the S3 sink catch up...');
    await waitForDrain(
      'DynamoDB sink',
      async () => {
        const lag = await groupLag(admin, dynamoSinkGroupId(config), config.topics.events);
        return { done: lag === 0, detail: `${lag} events not yet applied` };
      },
      { timeoutMs, intervalMs: 2000, onProgress: progress },
    );
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    let changes = 0;
    await waitForDrain(
      'CDC relay',
      async () => {
        changes = await countStreamRecords(aws.dynamodbStreams, streamArn);
        return { done: cdc.count() >= changes, detail: `${cdc.count()} of ${changes} changes published` };
      },
      { timeoutMs, intervalMs: 3000, onProgress: progress },
    );
    let lakeCount = 0;
    await waitForDrain(
      'S3 sink',
      async () => {
        lakeCount = (await readLakeRecords(aws.s3, config)).length;
        return { done: lakeCount >= cdc.count(), detail: `${lakeCount} of ${cdc.count()} records in S3` };
      },
      { timeoutMs, intervalMs: 5000, onProgress: progress },
    );

    say('Crawling, then counting in Athena...');
    const id = (kind: string) => `${kind}-check-${Date.now()}`;
    await client.workflow.execute(workflows.crawl, {
      taskQueue: config.temporal.taskQueue,
      workflowId: id('crawl'),
      args: [{ crawler: config.glue.crawler, pollIntervalSeconds: 2 }],
    });
    const athena = await client.workflow.execute(workflows.query, {
      taskQueue: config.temporal.taskQueue,
      workflowId: id('query'),
      args: [{ sql: 'SELECT count(*) AS changes FROM orders_cdc', database: config.glue.database }],
    });
    const athenaChanges = Number(athena.rows[0]?.[0]);

    const lake = await readLakeRecords(aws.s3, config);
    const latestVersion = new Map<string, bigint>();
    for (const record of lake) {
      const orderId = String(record.order_id);
      const version = BigInt(String(record.version));
      if ((latestVersion.get(orderId) ?? -1n) < version) latestVersion.set(orderId, version);
    }
    let items = 0;
    let mismatched = 0;
    for await (const page of paginateScan(
      { client: aws.dynamodb },
      { TableName: config.dynamodb.ordersTable },
    )) {
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        items++;
        if (latestVersion.get(String(item.orderId)) !== BigInt(String(item.version))) mismatched++;
      }
    }
    const distinct = new Set(lake.map((r) => `${String(r.order_id)}@${String(r.sequence_number)}`)).size;
    const cdcRecords = cdc.count();
    return [
      { stage: 'CDC records = DynamoDB stream changes', expected: changes, actual: cdcRecords },
      { stage: 'S3 records = CDC records', expected: cdcRecords, actual: lake.length },
      { stage: 'S3 records without duplicates', expected: lake.length, actual: distinct },
      { stage: 'Athena count(*) = S3 records', expected: lake.length, actual: athenaChanges },
      { stage: 'DynamoDB orders = orders in the lake', expected: latestVersion.size, actual: items },
      { stage: 'DynamoDB orders not at their latest lake version', expected: 0, actual: mismatched },
    ];
  } finally {
    await cdc.stop();
    await admin.disconnect();
  }
}
