/**
 * Shared helpers of the streaming tests: provisioning and cleanup of a fresh config's resources, reading
 * topics and tables back, polling, and running a pipeline process as a child (so it can be killed with -9).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import {
  DeleteTableCommand,
  DescribeTableCommand,
  paginateScan,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Admin, IHeaders, Kafka } from 'kafkajs';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { configToEnv, type Config } from '../../src/config';
import { createKafka } from '../../src/kafka/client';
import { signalGroup } from '../../src/local/os-processes';
import { typeScriptEntry } from '../../src/local/paths';
import {
  ensureCheckpointTable,
  ensureOrdersTable,
  ordersStreamArn,
} from '../../src/resources/dynamodb-tables';
import { ensureTopics, pipelineTopics } from '../../src/resources/kafka-topics';
import { createLeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { deleteConsumerGroups, deletePipelineTopics, emptyBucket } from '../support/cleanup';

export const ROOT = join(__dirname, '..', '..');

import { sleep, waitFor, within } from '../../src/support/timing';

export { sleep, waitFor, within };

export interface StreamingEnv {
  config: Config;
  kafka: Kafka;
  aws: AwsClients;
  cleanup(): Promise<void>;
}

/** Creates the topics (and the tables and bucket asked for) of a fresh config; cleanup() deletes them. */
export async function provision(
  config: Config,
  what: { tables?: boolean; checkpoints?: boolean; bucket?: boolean } = {},
): Promise<StreamingEnv> {
  const kafka = createKafka(config, 'test');
  const aws = createAwsClients(config);
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  if (what.tables ?? true) await ensureOrdersTable(aws.dynamodb, config);
  if (what.checkpoints) await ensureCheckpointTable(aws.dynamodb, config);
  if (what.bucket) await ensureBucket(aws.s3, config);
  return {
    config,
    kafka,
    aws,
    async cleanup() {
      await deletePipelineTopics(kafka, config);
      await deleteConsumerGroups(kafka, config);
      for (const table of [config.dynamodb.ordersTable, config.dynamodb.checkpointTable]) {
        await aws.dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      }
      if (what.bucket)
        await emptyBucket(aws.s3, config.lake.bucket, { deleteBucket: true }).catch(() => undefined);
      destroyAwsClients(aws);
    },
  };
}

/**
 * The table's item count. Live on moto (DescribeTable counts the items); on AWS it lags by hours, so
 * only use it to know when a full scan is worth doing. Far cheaper than scanning while moto is busy.
 */
export async function itemCount(dynamodb: DynamoDBClient, table: string): Promise<number> {
  return (await dynamodb.send(new DescribeTableCommand({ TableName: table }))).Table?.ItemCount ?? 0;
}

/**
 * Waits until the orders table holds exactly `expected` (by orderId), scanning only once the count matches.
 * Returns the scanned items.
 */
export async function waitForOrders(
  dynamodb: DynamoDBClient,
  table: string,
  expected: Map<string, { orderId: string; version: number }>,
  timeoutMs = 120_000,
): Promise<Record<string, Record<string, unknown>>> {
  return waitFor(
    'the exact final state of every order',
    async () => {
      if ((await itemCount(dynamodb, table)) !== expected.size) return undefined;
      const scanned = Object.fromEntries(await scanTable(dynamodb, table));
      const done =
        Object.keys(scanned).length === expected.size &&
        [...expected.values()].every((s) => scanned[s.orderId]?.version === s.version);
      return done ? scanned : undefined;
    },
    { timeoutMs, intervalMs: 1_500 },
  );
}

/** Every item of a table, unmarshalled, by partition key. */
export async function scanTable(
  dynamodb: DynamoDBClient,
  table: string,
  key = 'orderId',
): Promise<Map<string, Record<string, unknown>>> {
  const items = new Map<string, Record<string, unknown>>();
  for await (const page of paginateScan({ client: dynamodb }, { TableName: table, ConsistentRead: true })) {
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw as Record<string, AttributeValue>);
      items.set(String(item[key]), item);
    }
  }
  return items;
}

export interface ReadMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.map(String).join(',') : String(value);
  }
  return out;
}

/**
 * Reads a topic from the beginning with a throwaway group until `expected` messages arrived (or, without
 * `expected`, until nothing new arrived for `idleMs`), and then on to the topic's end offsets as they stand at
 * that moment, so a copy beyond the expected count is returned too. Read-committed, like the pipeline's
 * consumers. Whoever produces to the topic must be done (its durable end state reached) for the result to be
 * final: see waitForRelayCheckpoint and waitForGroupCommitted.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  {
    expected,
    idleMs = 3_000,
    timeoutMs = 60_000,
  }: { expected?: number; idleMs?: number; timeoutMs?: number } = {},
): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({
    groupId: `${topic}-reader-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    maxWaitTimeInMs: 200,
  });
  const messages: ReadMessage[] = [];
  // Where the reader stands in each partition: past the last offset of each fetched batch, transaction
  // markers included (they are never handed to eachMessage, but a batch reports them).
  const position = new Map<number, number>();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic) position.set(payload.partition, Number(payload.lastOffset) + 1);
  });
  let lastArrival = Date.now();
  const admin = kafka.admin();
  await Promise.all([consumer.connect(), admin.connect()]);
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value,
          headers: headerText(message.headers),
        });
        lastArrival = Date.now();
      },
    });
    const started = Date.now();
    for (;;) {
      if (expected !== undefined && messages.length >= expected) break;
      if (expected === undefined && Date.now() - lastArrival > idleMs && Date.now() - started > idleMs) break;
      if (Date.now() - started > timeoutMs) {
        if (expected !== undefined)
          throw new Error(`read ${messages.length} of ${expected} messages from ${topic} in ${timeoutMs} ms`);
        break;
      }
      await sleep(100);
    }
    const ends = await admin.fetchTopicOffsets(topic);
    const atEnd = () =>
      ends.every((end) => Number(end.high) <= Math.max(Number(end.low), position.get(end.partition) ?? 0));
    while (!atEnd()) {
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `read ${messages.length} messages of ${topic} but not up to its end offsets in ${timeoutMs} ms`,
        );
      await sleep(100);
    }
  } finally {
    await Promise.all([consumer.disconnect(), admin.disconnect()]);
  }
  return messages;
}

/** Per partition, the offset after the last record of `messages`: where a consumer that processed all commits. */
export function recordEnds(messages: ReadMessage[]): Map<number, number> {
  const ends = new Map<number, number>();
  for (const { partition, offset } of messages)
    ends.set(partition, Math.max(ends.get(partition) ?? 0, Number(offset) + 1));
  return ends;
}

/** The group's committed offset per partition of `topic` (partitions it never committed are left out). */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(
    committed.partitions.filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]),
  );
}

/** The topic's end offset (high watermark) per partition. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
}

/** Offsets below `ends` the group has not committed, summed over partitions. */
export function uncommitted(ends: Map<number, number>, committed: Map<number, number>): number {
  let behind = 0;
  for (const [partition, end] of ends) behind += Math.max(0, end - (committed.get(partition) ?? 0));
  return behind;
}

/**
 * Waits until the group has committed every partition up to `ends` (recordEnds of the topic's records): its
 * effects are durable, so nothing it did can still change and nothing is left for it to replay.
 */
export async function waitForGroupCommitted(
  kafka: Kafka,
  groupId: string,
  topic: string,
  ends: Map<number, number>,
  timeoutMs: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      `group ${groupId} to commit ${topic} up to ${JSON.stringify(Object.fromEntries(ends))}`,
      async () => uncommitted(ends, await committedOffsets(admin, groupId, topic)) === 0,
      { timeoutMs, intervalMs: 500 },
    );
  } finally {
    await admin.disconnect();
  }
}

/** The highest sequence number of `records` (moto's are numeric strings of equal length). */
function lastSequenceNumber(records: _Record[]): bigint {
  return records.reduce((max, r) => {
    const seq = BigInt(r.dynamodb!.SequenceNumber!);
    return seq > max ? seq : max;
  }, 0n);
}

/**
 * Waits until the relay's lease-table checkpoint covers every one of `records` (the orders stream, read with
 * readStream). The relay publishes before it checkpoints and resumes after its checkpoint, so from then on it
 * will publish none of them again: the CDC topic is final for them.
 */
export async function waitForRelayCheckpoint(
  aws: AwsClients,
  config: Config,
  records: _Record[],
  timeoutMs: number,
): Promise<void> {
  const streamArn = await ordersStreamArn(aws.dynamodb, config);
  const leases = createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable);
  const last = lastSequenceNumber(records);
  await waitFor(
    `the relay to checkpoint up to sequence number ${last}`,
    async () =>
      (await leases.list(streamArn)).some(
        (lease) => /^\d+$/.test(lease.checkpoint) && BigInt(lease.checkpoint) >= last,
      ),
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * How many of `records` lie beyond `checkpoint` (a lease's checkpoint; TRIM_HORIZON covers none): with the
 * stream as it stood when a relay was killed, the changes it had not committed. Compared by sequence number,
 * which moto assigns in the order changes are added (it may repeat one under concurrent writes, never go back).
 */
export function changesBeyond(records: _Record[], checkpoint: string): number {
  const from = /^\d+$/.test(checkpoint) ? BigInt(checkpoint) : -1n;
  return records.filter((r) => BigInt(r.dynamodb!.SequenceNumber!) > from).length;
}

/**
 * Waits for a change appended to the orders stream after the call (read through a LATEST iterator; one shard
 * locally) and returns it: a process frozen before the call cannot have read it, let alone checkpointed it.
 * `cause` runs once the iterator stands at the stream's end, to make such a change happen.
 */
export async function nextChange(
  aws: AwsClients,
  config: Config,
  timeoutMs: number,
  cause: () => void,
): Promise<_Record> {
  const streamArn = await ordersStreamArn(aws.dynamodb, config);
  const stream = await aws.dynamodbStreams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  let iterator = (
    await aws.dynamodbStreams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: stream.StreamDescription!.Shards!.at(-1)!.ShardId!,
        ShardIteratorType: 'LATEST',
      }),
    )
  ).ShardIterator;
  cause();
  return waitFor(
    'a change appended to the orders stream',
    async () => {
      const page = await aws.dynamodbStreams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }),
      );
      iterator = page.NextShardIterator;
      return page.Records?.[0];
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** Every record of the orders table's stream (one shard locally), read directly: the ground truth of changes. */
export async function readStream(aws: AwsClients, config: Config): Promise<_Record[]> {
  const streamArn = await ordersStreamArn(aws.dynamodb, config);
  const stream = await aws.dynamodbStreams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const records: _Record[] = [];
  for (const shard of stream.StreamDescription?.Shards ?? []) {
    let iterator = (
      await aws.dynamodbStreams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await aws.dynamodbStreams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
      records.push(...(page.Records ?? []));
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  // moto can serve a record twice across a page boundary (after a repeated sequence number): one per eventID.
  const seen = new Set<string>();
  return records.filter((record) => {
    const id = record.eventID ?? '';
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** A child's JSON log lines (its output holds other text too: a stack trace, tsx's messages). */
export function logLines(output: string): Array<{ msg?: string; pid?: number }> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; pid?: number });
}

/** A pipeline process run as a child with tsx, configured only through the environment. */
export interface ChildHandle {
  name: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown hook runs, exactly like a crash. */
  kill9(): Promise<void>;
  /**
   * SIGSTOP to the whole process group: it keeps everything it holds (group membership, leases, sockets) but
   * makes no progress, like a stalled machine, until kill9(). Lets a test make work pile up behind a consumer
   * before killing it, instead of hoping the kill lands while it is behind.
   */
  freeze(): void;
  /** SIGCONT to the whole process group: a frozen process carries on where it stood (no-op once it exited). */
  thaw(): void;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  terminate(timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function spawnProcess(
  name: string,
  entry: string,
  config: Config,
  { env = {}, args = [] }: { env?: Record<string, string>; args?: string[] } = {},
): ChildHandle {
  const launch = typeScriptEntry(entry, args);
  const child = spawn(launch.command, launch.args, {
    cwd: ROOT,
    env: { ...process.env, ...configToEnv(config), METRICS_PORT: '-1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: kill9() and freeze() reach whatever it spawned too.
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    // Keep the tail only: enough to explain a failure.
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    output: () => output,
    exited,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) signalGroup(child.pid!, 'SIGKILL');
      await exited;
    },
    freeze() {
      process.kill(-child.pid!, 'SIGSTOP');
    },
    thaw() {
      // A process killed while frozen has nothing left to thaw (its group is gone once it is reaped).
      if (child.exitCode === null && child.signalCode === null) signalGroup(child.pid!, 'SIGCONT');
    },
    async terminate(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      // One signal only: a second one means "exit now".
      child.kill('SIGTERM');
      const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The pipeline processes one test started, configured by `config()` (the test's fresh config). */
export class ChildProcesses {
  readonly all: ChildHandle[] = [];
  constructor(private readonly config: () => Config) {}

  start(name: string, entry: string, extraEnv: Record<string, string> = {}): ChildHandle {
    const child = spawnProcess(name, entry, this.config(), { env: extraEnv });
    this.all.push(child);
    return child;
  }

  /** kill -9 every one still running (in afterEach); returns them, their output still readable. */
  async killAll(): Promise<ChildHandle[]> {
    const killed = this.all.splice(0);
    await Promise.all(killed.map((c) => c.kill9()));
    return killed;
  }
}

/** Drops fields a comparison should not see (undefined), so expected states compare with scanned items. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
