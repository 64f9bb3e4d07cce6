/**
 * CDC relay benchmark: changes/s the relay moves from the orders table's stream to `orders.cdc`, beside a raw loop on
 * the same stream and endpoint doing only the unavoidable part: GetRecords → the same messages in the same
 * transactional produce (one transaction per page, the relay's producer settings), with no leases, checkpoints,
 * Kafka-side position or de-duplication. Both start from TRIM_HORIZON with a fresh producer and are timed from
 * their start to the last change committed in Kafka. Alternated, 3 repetitions each, medians; each drain's CPU per
 * change is measured too (this process, and the local broker and moto, cpu-meter.ts).
 *
 *   npx tsx bench/cdc-relay-bench.ts          # alone (needs the local stack running)
 *   BENCH_SCALE=0.2 npx tsx bench/cdc-relay-bench.ts   # 4,000 changes
 */
import { randomBytes } from 'node:crypto';
import { BatchWriteItemCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Partitioners, type Kafka } from 'kafkajs';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../src/aws/clients';
import { loadConfig, withOverrides, type Config } from '../src/config';
import type { OrderState } from '../src/domain/order-event';
import { createKafka } from '../src/kafka/client';
import { createLogger } from '../src/observability/logger';
import { ensureCheckpointTable, ensureOrdersTable, ordersStreamArn } from '../src/resources/dynamodb-tables';
import { ensureTopics, pipelineTopics } from '../src/resources/kafka-topics';
import { mapWithConcurrency } from '../src/support/concurrency';
import { waitFor } from '../src/support/timing';
import { toCdcMessage } from '../src/streaming/cdc-relay/cdc-publisher';
import { createCdcRelay, listStreamShards } from '../src/streaming/cdc-relay/cdc-relay';
import { toCdcEvent } from '../src/streaming/cdc-relay/stream-records';
import { deletePipelineTopics } from '../test/support/cleanup';
import { createCpuMeter, OWN_PROCESS, type CpuMeter } from './cpu-meter';
import { benchScale, median, runStandalone, type BenchRow } from './types';

const REPETITIONS = 3;
/** The relay's page size and produce chunk (shard-reader.ts, cdc-publisher.ts). */
const PAGE_LIMIT = 1000;
const SEND_CHUNK = 250;
const logger = createLogger('cdc-relay-bench', { logLevel: 'error' });

function benchConfig(id: string, run: string): Config {
  return withOverrides(loadConfig(), {
    topics: {
      events: `${id}-${run}.events`,
      eventsDlq: `${id}-${run}.events.dlq`,
      cdc: `${id}-${run}.cdc`,
      cdcDlq: `${id}-${run}.cdc.dlq`,
    },
    // One table (and stream) for every run; a checkpoint table per run, so each relay starts at TRIM_HORIZON.
    dynamodb: { ordersTable: `${id}-orders`, checkpointTable: `${id}-${run}-checkpoints` },
    kafka: { clientId: `${id}-${run}` },
    cdcRelay: { pollIntervalMs: 100, workerId: '' },
    logLevel: 'error',
  });
}

/** Writes `count` orders, 25 to a BatchWriteItem: `count` INSERT records on the table's stream. */
async function seedOrders(aws: AwsClients, table: string, count: number): Promise<void> {
  const now = new Date().toISOString();
  const batches = Array.from({ length: Math.ceil(count / 25) }, (_, b) => b);
  await mapWithConcurrency(batches, 4, async (b) => {
    const items = Array.from({ length: Math.min(25, count - b * 25) }, (_, i): OrderState => {
      const n = b * 25 + i;
      return {
        orderId: `ord-bench-${n}`,
        customerId: `cust-${n % 97}`,
        status: 'PAID',
        version: 2,
        amount: Math.round(n * 13.37) / 100,
        currency: 'EUR',
        region: 'eu-west',
        itemCount: 1 + (n % 5),
        createdAt: now,
        updatedAt: now,
        lastEventId: `evt-${n}`,
        lastEventType: 'PAYMENT_CAPTURED',
      };
    });
    let pending = items.map((item) => ({ PutRequest: { Item: marshall(item) } }));
    while (pending.length > 0) {
      const result = await aws.dynamodb.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
      );
      pending = (result.UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  });
}

async function prepareRun(config: Config, aws: AwsClients): Promise<Kafka> {
  const kafka = createKafka(config, 'bench');
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  await ensureCheckpointTable(aws.dynamodb, config);
  return kafka;
}

async function cleanupRun(kafka: Kafka, config: Config, aws: AwsClients): Promise<void> {
  await deletePipelineTopics(kafka, config);
  await aws.dynamodb
    .send(new DeleteTableCommand({ TableName: config.dynamodb.checkpointTable }))
    .catch(() => undefined);
}

/** The relay, in process, from start until it has published (committed) every change. */
async function relayDrain(config: Config, aws: AwsClients, kafka: Kafka, changes: number): Promise<number> {
  const relay = createCdcRelay({
    config,
    kafka,
    dynamodb: aws.dynamodb,
    dynamodbStreams: aws.dynamodbStreams,
    logger,
  });
  const started = process.hrtime.bigint();
  await relay.start();
  try {
    await waitFor(
      'the relay to publish every change',
      async () => relay.stats().published >= changes || undefined,
      {
        timeoutMs: 600_000,
        intervalMs: 5,
      },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (relay.stats().published !== changes)
      throw new Error(`the relay published ${relay.stats().published} changes, expected ${changes}`);
    return changes / seconds;
  } finally {
    await relay.stop();
  }
}

/** The baseline: every shard from TRIM_HORIZON, each page converted and produced in one transaction. */
async function rawDrain(config: Config, aws: AwsClients, kafka: Kafka, changes: number): Promise<number> {
  const started = process.hrtime.bigint();
  const producer = kafka.producer({
    transactionalId: `${config.kafka.clientId}-raw-relay`,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  let published = 0;
  try {
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    for (const { shardId } of await listStreamShards(aws.dynamodbStreams, streamArn)) {
      let iterator = (
        await aws.dynamodbStreams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator && published < changes) {
        const page = await aws.dynamodbStreams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: PAGE_LIMIT }),
        );
        const messages = (page.Records ?? []).map((record) => toCdcMessage(toCdcEvent(record, shardId)));
        if (messages.length > 0) {
          const transaction = await producer.transaction();
          for (let start = 0; start < messages.length; start += SEND_CHUNK) {
            await transaction.send({
              topic: config.topics.cdc,
              acks: -1,
              messages: messages.slice(start, start + SEND_CHUNK),
            });
          }
          await transaction.commit();
          published += messages.length;
        }
        // An open shard's iterator never ends: an empty page at its head means its records are all read.
        iterator = messages.length > 0 ? page.NextShardIterator : undefined;
      }
    }
  } finally {
    await producer.disconnect();
  }
  if (published !== changes)
    throw new Error(`the raw loop published ${published} changes, expected ${changes}`);
  return changes / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function metered(
  meter: CpuMeter,
  changes: number,
  drain: () => Promise<number>,
): Promise<{ rate: number; cpu: Map<string, number> }> {
  const before = await meter.snapshot();
  const rate = await drain();
  return { rate, cpu: meter.perRecordMicros(before, await meter.snapshot(), changes) };
}

function describeCpu(runs: Map<string, number>[]): { own: number; text: string } {
  const parties = [...runs[0].keys()];
  const medians = new Map(parties.map((party) => [party, median(runs.map((run) => run.get(party)!))]));
  const parts = parties.filter((p) => p !== 'total').map((p) => `${p} ${medians.get(p)!.toFixed(1)}`);
  return {
    own: medians.get(OWN_PROCESS)!,
    text: `${medians.get('total')!.toFixed(1)} µs (${parts.join(', ')})`,
  };
}

export async function runCdcRelayBench(): Promise<BenchRow[]> {
  // Enough changes that the drain, not the start, is timed: since moto's GetRecords takes 7 ms instead of 80,
  // 5,000 changes drained in about a second, and the relay's start (its first lease round, the transactional
  // producer's init, the Kafka-side position) was half of it (ratio 0.56 at 5,000; 0.85 at 20,000, same load).
  const changes = Math.max(500, Math.round(20_000 * benchScale()));
  const id = `bench-relay-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const base = benchConfig(id, 'seed');
  const aws = createAwsClients(base);
  const relay: number[] = [];
  const raw: number[] = [];
  const cpu = { relay: [] as Map<string, number>[], raw: [] as Map<string, number>[] };
  try {
    await ensureOrdersTable(aws.dynamodb, base);
    await seedOrders(aws, base.dynamodb.ordersTable, changes);
    const meter = await createCpuMeter(base);
    try {
      for (let rep = 1; rep <= REPETITIONS; rep++) {
        for (const [kind, drain] of [
          ['raw', rawDrain],
          ['relay', relayDrain],
        ] as const) {
          const config = benchConfig(id, `${kind}${rep}`);
          const kafka = await prepareRun(config, aws);
          try {
            const run = await metered(meter, changes, () => drain(config, aws, kafka, changes));
            (kind === 'raw' ? raw : relay).push(run.rate);
            cpu[kind].push(run.cpu);
          } finally {
            await cleanupRun(kafka, config, aws);
          }
        }
        console.error(
          `  rep ${rep}: relay ${Math.round(relay[rep - 1])}, raw loop ${Math.round(raw[rep - 1])} changes/s`,
        );
      }
    } finally {
      meter.close();
    }
  } finally {
    await aws.dynamodb
      .send(new DeleteTableCommand({ TableName: base.dynamodb.ordersTable }))
      .catch(() => undefined);
    destroyAwsClients(aws);
  }
  const value = median(relay);
  const baseline = median(raw);
  const runs = (rates: number[]) => rates.map((r) => Math.round(r)).join(', ');
  const relayCpu = describeCpu(cpu.relay);
  const rawCpu = describeCpu(cpu.raw);
  return [
    {
      name: `CDC relay changes/s (${changes.toLocaleString('en-US')} INSERTs on the stream, from TRIM_HORIZON, one transaction per page)`,
      value,
      unit: 'changes/s',
      baseline,
      baselineName: 'raw loop: GetRecords → the same transactional produce, same stream and endpoint',
      ratio: value / baseline,
      target: '>= 0.8',
      note: `median of ${REPETITIONS}; relay runs ${runs(relay)}; raw runs ${runs(raw)}`,
    },
    {
      name: 'CPU per change: CDC relay, its own process (in process: every thread)',
      value: relayCpu.own,
      unit: 'µs CPU/change',
      baseline: rawCpu.own,
      baselineName: 'raw loop, its own process',
      ratio: relayCpu.own / rawCpu.own,
      note: `with the local services: relay ${relayCpu.text}; raw loop ${rawCpu.text}; medians of ${REPETITIONS}`,
    },
  ];
}

if (require.main === module) runStandalone(runCdcRelayBench);
