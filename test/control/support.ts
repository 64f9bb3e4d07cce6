/**
 * Helpers of the control-plane tests: an in-process control-plane worker on a fresh task queue, the worker as
 * a child process (to kill -9), seeding the orders table, reading S3 back, and the local lake endpoint
 * (the configured Glue endpoint when it answers, else one started in-process on a free port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DeleteWorkGroupCommand } from '@aws-sdk/client-athena';
import { DeleteCrawlerCommand, DeleteDatabaseCommand, paginateListCrawlers } from '@aws-sdk/client-glue';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAwsClients, createS3Client, destroyAwsClients, type AwsClients } from '../../src/aws/clients';
import { configToEnv, loadConfig, withOverrides, type Config } from '../../src/config';
import { EVENT_INTO, ORDER_STATUSES, REGIONS, type OrderState } from '../../src/domain/order-event';
import { createKafka } from '../../src/kafka/client';
import { ensureOrdersTable } from '../../src/resources/dynamodb-tables';
import { pipelineTopics } from '../../src/resources/kafka-topics';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { scheduleIds } from '../../src/resources/schedules';
import { connectClient, connectWorkerConnection } from '../../src/temporal/connection';
import {
  createControlPlaneWorker,
  type ControlPlaneWorker,
  type ControlPlaneWorkerOptions,
} from '../../src/workers/control-plane-worker';
import { freshConfig } from '../support/fresh-config';

export const ROOT = join(__dirname, '..', '..');
import { sleep, waitFor } from '../../src/support/timing';

export { sleep, waitFor };

let runtimeInstalled = false;
/** Worker state changes (INFO) and expected failures (WARN) would drown the test output. */
export function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed by another file in this process: keep it.
  }
}

/** A fresh config for a control-plane test: unique names, and local report copies in a temporary directory. */
export function controlConfig(label: string, lakeUrl?: string): Config {
  const config = freshConfig(label, { dataDir: mkdtempSync(join(tmpdir(), `${label}-`)) });
  return lakeUrl ? withOverrides(config, { aws: { endpoints: { glue: lakeUrl, athena: lakeUrl } } }) : config;
}

export interface ControlPlaneHarness {
  config: Config;
  aws: AwsClients;
  client: Client;
  worker: ControlPlaneWorker;
  /** Resolves when the worker stopped. */
  running: Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/** A control-plane worker running in this process on the config's (fresh) task queue. */
export async function startHarness(
  config: Config,
  workerOptions: Pick<ControlPlaneWorkerOptions, 'maxConcurrentActivityTaskExecutions'> = {},
): Promise<ControlPlaneHarness> {
  quietTemporalRuntime();
  const aws = createAwsClients(config);
  const temporal = await connectClient(config);
  const { client } = temporal;
  const native = await connectWorkerConnection(config);
  const worker = await createControlPlaneWorker({
    config,
    connection: native,
    client,
    aws,
    ...workerOptions,
  });
  const running = worker.worker.run();
  let stopped = false;
  const stopWorker = async () => {
    if (stopped) return;
    stopped = true;
    worker.worker.shutdown();
    await running.catch(() => undefined);
    await worker.close();
    await native.close();
  };
  return {
    config,
    aws,
    client,
    worker,
    running,
    stopWorker,
    async close() {
      await stopWorker();
      await temporal.close();
      destroyAwsClients(aws);
    },
  };
}

/** The control-plane worker as a child process (one node process: `node --import tsx`, so kill -9 kills it). */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  ready: Promise<void>;
  kill9(): Promise<void>;
  terminate(): Promise<number | null>;
}

/** `env`: more of the worker's environment (e.g. NODE_OPTIONS to bound its heap). */
export function spawnWorker(config: Config, env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/workers/control-plane-worker.ts')],
    {
      cwd: ROOT,
      env: { ...process.env, ...configToEnv(config), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
      if (output.includes('control-plane worker started')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`worker exited with ${code} before it started:\n${output.slice(-3000)}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    child,
    output: () => output,
    ready,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run pipeline -- <args>` as a user runs it: a child process configured through the environment. */
export function runCli(config: Config, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/pipeline.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...configToEnv(config), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Deterministic order items: o-000000 … */
export function orderItem(i: number, base = Date.UTC(2024, 4, 1, 10)): OrderState {
  const status = ORDER_STATUSES[i % ORDER_STATUSES.length];
  const created = new Date(base + (i % 240) * 60_000);
  return {
    orderId: `o-${String(i).padStart(6, '0')}`,
    customerId: `c-${i % 97}`,
    status,
    version: 1 + (i % 5),
    amount: Math.round(((i * 37) % 10_000) + 99) / 100,
    currency: 'USD',
    region: REGIONS[i % REGIONS.length],
    itemCount: 1 + (i % 7),
    createdAt: created.toISOString(),
    updatedAt: new Date(created.getTime() + (i % 50) * 60_000).toISOString(),
    lastEventId: `e-${i}`,
    lastEventType: EVENT_INTO[status],
  };
}

/** Writes `count` deterministic items with BatchWriteItem (8 requests in flight, unprocessed items retried). */
export async function seedOrders(
  dynamodb: DynamoDBClient,
  table: string,
  count: number,
  from = 0,
): Promise<void> {
  const batches: OrderState[][] = [];
  for (let i = from; i < from + count; i += 25) {
    batches.push(Array.from({ length: Math.min(25, from + count - i) }, (_, j) => orderItem(i + j)));
  }
  let next = 0;
  const writer = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      let requests = batch.map((item) => ({ PutRequest: { Item: marshall(item) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        const response = await dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: requests } }),
        );
        requests = (response.UnprocessedItems?.[table] ?? []) as typeof requests;
        if (requests.length > 0) await sleep(50 * 2 ** Math.min(attempt, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

export async function createTableAndBucket(aws: AwsClients, config: Config): Promise<void> {
  await ensureOrdersTable(aws.dynamodb, config);
  await ensureBucket(aws.s3, config);
}

export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  body: Buffer;
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** Every object under a prefix, with content, sorted by key. */
export async function readObjects(s3: S3Client, bucket: string, prefix: string): Promise<StoredObject[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) keys.push(o.Key!);
  }
  keys.sort();
  const out: StoredObject[] = [];
  for (const key of keys) {
    const body = await getObject(s3, bucket, key);
    out.push({ key, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), body });
  }
  return out;
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) keys.push(o.Key!);
  }
  return keys.sort();
}

/** Deletes what a test created in moto and the lake endpoint (best effort): tables, bucket, catalog, workgroup. */
export async function cleanupAws(aws: AwsClients, config: Config): Promise<void> {
  // Every crawler of the test: the config's and those named after it (`<crawler>-slow`).
  try {
    for await (const page of paginateListCrawlers({ client: aws.glue }, {}))
      for (const name of page.CrawlerNames ?? [])
        if (name.startsWith(config.glue.crawler))
          await aws.glue.send(new DeleteCrawlerCommand({ Name: name })).catch(() => undefined);
  } catch {
    // no Glue endpoint answers
  }
  await aws.glue.send(new DeleteDatabaseCommand({ Name: config.glue.database })).catch(() => undefined);
  await aws.athena
    .send(new DeleteWorkGroupCommand({ WorkGroup: config.athena.workgroup, RecursiveDeleteOption: true }))
    .catch(() => undefined);
  await aws.dynamodb
    .send(new DeleteTableCommand({ TableName: config.dynamodb.ordersTable }))
    .catch(() => undefined);
  await aws.dynamodb
    .send(new DeleteTableCommand({ TableName: config.dynamodb.checkpointTable }))
    .catch(() => undefined);
  try {
    for await (const page of paginateListObjectsV2({ client: aws.s3 }, { Bucket: config.lake.bucket })) {
      const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (objects.length > 0) {
        await aws.s3.send(
          new DeleteObjectsCommand({ Bucket: config.lake.bucket, Delete: { Objects: objects } }),
        );
      }
    }
    await aws.s3.send(new DeleteBucketCommand({ Bucket: config.lake.bucket }));
  } catch {
    // the bucket was never created
  }
}

/** Terminates every workflow still running on a task queue (a test's leftovers, also after a failure). */
export async function terminateRunning(client: Client, taskQueue: string): Promise<void> {
  const query = `TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`;
  for await (const run of client.workflow.list({ query }))
    await client.workflow
      .getHandle(run.workflowId, run.runId)
      .terminate('test cleanup')
      .catch(() => undefined);
}

/**
 * Deletes what the provision workflow created for `config` (best effort): the schedules, the workflows still
 * running on its task queue, the pipeline topics, and everything `cleanupAws` deletes.
 */
export async function cleanupProvisioned(client: Client, aws: AwsClients, config: Config): Promise<void> {
  for (const id of Object.values(scheduleIds(config)))
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  await terminateRunning(client, config.temporal.taskQueue);
  const admin = createKafka(config, 'cleanup').admin();
  await admin.connect();
  await admin.deleteTopics({ topics: pipelineTopics(config).map((t) => t.topic) }).catch(() => undefined);
  await admin.disconnect();
  await cleanupAws(aws, config);
}

/** The configured Glue endpoint (the stack's lake endpoint) if it answers, else undefined (start one in-process). */
export async function runningLakeUrl(): Promise<string | undefined> {
  const url = loadConfig().aws.endpoints.glue;
  if (!url) return undefined;
  try {
    const response = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(1000) });
    return response.ok ? url : undefined;
  } catch {
    return undefined;
  }
}

export interface LakeEndpoint {
  url: string;
  close(): Promise<void>;
}

/**
 * The Glue + Athena endpoint for a test file: the configured one when it answers, else one started
 * in-process on a free port (its state under `dataDir`, a temporary directory).
 */
export async function startLake(dataDir = mkdtempSync(join(tmpdir(), 'ctl-lake-'))): Promise<LakeEndpoint> {
  const running = await runningLakeUrl();
  if (running) return { url: running, close: async () => undefined };
  // Loaded lazily: only files that need the lake pay for DuckDB.
  const { startLakeServer } = await import('../../src/lake-endpoint/server');
  const s3 = createS3Client(freshConfig('ctl-lake'));
  const server = await startLakeServer({ port: 0, dataDir: join(dataDir, 'lake'), s3, logLevel: 'warn' });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      s3.destroy();
    },
  };
}
