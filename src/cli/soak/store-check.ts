/**
 * The exact check of the continuous pipeline's stores, whatever ran before (one run, several, restarts): once the
 * streaming processes have drained, every store must agree. Used at the end of a soak and after a restart.
 *
 * - CDC records on the topic = changes in the DynamoDB stream (the relay lost and repeated nothing), over the
 *   stream's retention window: changes older than it are trimmed from the stream (LOCAL_STREAM_RETENTION_SECONDS
 *   locally, 24 h on AWS) while the topic keeps them, so the check matches the window's changes one by one by
 *   shard and sequence number, and no CDC record may sit inside the window without its change. What is older is
 *   checked by the next rows: the lake holds every CDC record, and DynamoDB agrees with the lake's latest versions.
 * - S3 records = CDC records, without duplicates, and Athena count(*) = S3 records,
 * - DynamoDB orders = the orders in the lake, each item at the version of its latest change in the lake.
 * - DynamoDB orders = the orders of the valid events on orders.events (every run's, restarts included), each
 *   item at the seq of its order's latest event: nothing a run generated is missing after a restart.
 */
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../../aws/clients';
import type { Config } from '../../config';
import { createLakeReader, lakeChangeId } from '../../lake-format/lake-reader';
import { cdcPartitionFolder } from '../../resources/cdc-catalog';
import { ordersStreamArn } from '../../resources/dynamodb-tables';
import { dynamoSinkGroupId } from '../../streaming/dynamo-sink/dynamo-sink';
import * as workflows from '../../workflows';
import { groupLag, topicMessageCount, waitForDrain } from '../main-job/drain';
import { CDC_HEADERS } from '../../streaming/cdc-relay/cdc-publisher';
import { decodeOrderEvent } from '../../streaming/dynamo-sink/decode';
import { changeCount, createStreamWindowReader, type StreamWindow } from '../main-job/stream-count';
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
  const latestEventSeq = new Map<string, number>();
  const events = await startTopicCounter(kafka, config.topics.events, ({ key, value }) => {
    try {
      const { event } = decodeOrderEvent(key, value);
      if ((latestEventSeq.get(event.orderId) ?? -1) < event.seq) latestEventSeq.set(event.orderId, event.seq);
    } catch {
      // A malformed message is the dead-letter topic's, not an order's.
    }
  });
  const cdcChanges: { shardId: string; sequenceNumber: string }[] = [];
  const cdc = await startTopicCounter(kafka, config.topics.cdc, ({ headers }) =>
    cdcChanges.push({
      shardId: String(headers?.[CDC_HEADERS.shardId]),
      sequenceNumber: String(headers?.[CDC_HEADERS.sequenceNumber]),
    }),
  );
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
    const stream = createStreamWindowReader(aws.dynamodbStreams, streamArn);
    let window: StreamWindow = new Map();
    await waitForDrain(
      'CDC relay',
      async () => {
        window = await stream.read();
        const { changes, published } = windowCoverage(window, cdcChanges);
        return {
          done: published >= changes,
          detail: `${published} of the stream's ${changes} changes published`,
        };
      },
      { timeoutMs, intervalMs: 3000, onProgress: progress },
    );
    // Read as Athena reads: compacted hours from the version their partition points to.
    const lakeReader = createLakeReader(aws.s3, config, {
      currentFolder: (partitionPath) => cdcPartitionFolder(aws.glue, config, partitionPath),
    });
    let lakeCount = 0;
    await waitForDrain(
      'S3 sink',
      async () => {
        lakeCount = await lakeReader.count();
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

    // Row by row, never the whole lake in memory: a long run's lake is millions of rows. A change's hour is
    // that of its change time, so the same change written twice is always twice in one hour: duplicates are
    // counted an hour at a time, and only the orders' latest versions are kept for the whole lake.
    const latestVersion = new Map<string, bigint>();
    let changesOfHour = new Set<string>();
    let distinctChanges = 0;
    const lakeRecords = await lakeReader.scan(
      (record) => {
        const orderId = String(record.order_id);
        const version = BigInt(String(record.version));
        if ((latestVersion.get(orderId) ?? -1n) < version) latestVersion.set(orderId, version);
        changesOfHour.add(lakeChangeId(record));
      },
      () => {
        distinctChanges += changesOfHour.size;
        changesOfHour = new Set();
      },
    );
    await waitForDrain(
      'orders.events read back',
      async () => {
        const total = await topicMessageCount(admin, config.topics.events);
        return { done: events.count() >= total, detail: `${events.count()} of ${total} events read` };
      },
      { timeoutMs, intervalMs: 2000, onProgress: progress },
    );
    let items = 0;
    let mismatched = 0;
    let behindEvents = 0;
    for await (const page of paginateScan(
      { client: aws.dynamodb },
      { TableName: config.dynamodb.ordersTable },
    )) {
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        items++;
        if (latestVersion.get(String(item.orderId)) !== BigInt(String(item.version))) mismatched++;
        if (latestEventSeq.get(String(item.orderId)) !== Number(item.version)) behindEvents++;
      }
    }
    const cdcRecords = cdc.count();
    const coverage = windowCoverage(window, cdcChanges);
    return [
      {
        stage: "CDC records of the stream's window = its changes",
        expected: coverage.changes,
        actual: coverage.published,
      },
      { stage: 'CDC records in the window the stream never had', expected: 0, actual: coverage.foreign },
      { stage: 'S3 records = CDC records', expected: cdcRecords, actual: lakeRecords },
      { stage: 'S3 records without duplicates', expected: lakeRecords, actual: distinctChanges },
      { stage: 'Athena count(*) = S3 records', expected: lakeRecords, actual: athenaChanges },
      { stage: 'DynamoDB orders = orders in the lake', expected: latestVersion.size, actual: items },
      { stage: 'DynamoDB orders not at their latest lake version', expected: 0, actual: mismatched },
      { stage: 'DynamoDB orders = orders in orders.events', expected: latestEventSeq.size, actual: items },
      { stage: 'DynamoDB orders not at their latest event', expected: 0, actual: behindEvents },
    ];
  } finally {
    await events.stop();
    await cdc.stop();
    await admin.disconnect();
  }
}

/**
 * How the CDC records cover the stream's window: `published` counts the records of its changes (a change
 * published twice counts twice), `foreign` the records of a window's shard, at or after its oldest change, that
 * the stream does not hold. Records of older changes, or of shards no longer in the stream, are outside it.
 */
export function windowCoverage(
  window: StreamWindow,
  records: readonly { shardId: string; sequenceNumber: string }[],
): { changes: number; published: number; foreign: number } {
  const oldest = new Map<string, bigint>();
  const changes = changeCount(window);
  for (const [shardId, sequenceNumbers] of window) {
    for (const s of sequenceNumbers) {
      const first = oldest.get(shardId);
      if (first === undefined || BigInt(s) < first) oldest.set(shardId, BigInt(s));
    }
  }
  let published = 0;
  let foreign = 0;
  for (const { shardId, sequenceNumber } of records) {
    const start = oldest.get(shardId);
    if (start === undefined || BigInt(sequenceNumber) < start) continue;
    if (window.get(shardId)!.has(sequenceNumber)) published++;
    else foreign++;
  }
  return { changes, published, foreign };
}
