/**
 * Helpers of the lake endpoint tests: an endpoint started in-process (or as its own node process, to bound its
 * heap or watch its memory) on a free port with its own data dir,
 * a config pointing Glue/Athena at it (S3 stays moto), a fresh bucket per test file, Parquet/JSON fixtures,
 * and polling helpers for crawls and queries. Everything goes through the AWS SDK clients.
 */
import { emptyBucket } from '../support/cleanup';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  CreateCrawlerCommand,
  type Crawler,
  GetCrawlerCommand,
  type GlueClient,
  StartCrawlerCommand,
} from '@aws-sdk/client-glue';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { type AwsClients, createAwsClients, createS3Client, destroyAwsClients } from '../../src/aws/clients';
import { type Config, configToEnv, loadConfig, withOverrides } from '../../src/config';
import { type LakeServer, startLakeServer } from '../../src/lake-endpoint/server';
import { freePort } from '../../src/support/net';
import { sleep, waitFor } from '../../src/support/timing';

const ROOT = join(__dirname, '..', '..');

export const suffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;

export { emptyBucket };

export interface LakeHarness {
  config: Config;
  aws: AwsClients;
  lake: LakeServer;
  dataDir: string;
  bucket: string;
  /** The S3 client the endpoint reads moto with: a test can hold its requests (middleware) to pin a crawl. */
  lakeS3: S3Client;
  /** Stops the endpoint (keeping its data dir) and starts it again on a new port; clients follow. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The endpoint as its own process (`node [nodeArgs] --import tsx src/lake-endpoint/main.ts`). */
export interface LakeProcess extends LakeServer {
  child: ChildProcess;
  /** The last of what it printed. */
  output(): string;
}

export async function spawnLakeProcess(
  config: Config,
  dataDir: string,
  { nodeArgs = [], args = [] }: { nodeArgs?: string[]; args?: string[] } = {},
): Promise<LakeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      join(ROOT, 'src/lake-endpoint/main.ts'),
      ...['--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...args],
    ],
    { cwd: ROOT, env: { ...process.env, ...configToEnv(config) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-50_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'the lake endpoint process to answer /health',
    async () => {
      if (child.exitCode !== null) throw new Error(`lake endpoint exited ${child.exitCode}: ${output}`);
      return (await fetch(`${url}/health`)).ok;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return {
    port,
    url,
    child,
    output: () => output,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface HarnessOptions {
  /** Run the endpoint as its own process with these node and endpoint arguments instead of in-process. */
  lakeProcess?: { nodeArgs?: string[]; args?: string[] };
  /** Cap of the in-process endpoint's object cache. */
  objectCacheBytes?: number;
}

export async function startHarness(options: HarnessOptions = {}): Promise<LakeHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lake-test-'));
  const base = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const bucket = `lake-test-${suffix()}`;
  // The endpoint reads moto through the pipeline's S3 client, its state under <dataDir>/lake as in the stack.
  const lakeS3 = createS3Client(base);
  const startLake = (): Promise<LakeServer> =>
    options.lakeProcess
      ? spawnLakeProcess(base, join(dataDir, 'lake'), options.lakeProcess)
      : startLakeServer({
          port: 0,
          dataDir: join(dataDir, 'lake'),
          s3: lakeS3,
          logLevel: base.logLevel,
          objectCacheBytes: options.objectCacheBytes,
        });
  const harness: LakeHarness = {
    dataDir,
    bucket,
    lakeS3,
    lake: await startLake(),
    config: base,
    aws: undefined as unknown as AwsClients, // set by point() below
    async restart() {
      await harness.lake.close();
      destroyAwsClients(harness.aws);
      harness.lake = await startLake();
      point();
    },
    async close() {
      await emptyBucket(harness.aws.s3, bucket).catch(() => undefined);
      await harness.aws.s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
      destroyAwsClients(harness.aws);
      await harness.lake.close();
      lakeS3.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const point = () => {
    harness.config = withOverrides(base, {
      aws: { endpoints: { glue: harness.lake.url, athena: harness.lake.url } },
    });
    harness.aws = createAwsClients(harness.config);
  };
  point();
  await harness.aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return harness;
}

export interface OrderRow {
  order_id: string;
  region: string;
  amount: number;
  quantity: bigint;
  created_at: Date;
  /** Only written when the fixture asks for the extra column. */
  channel?: string;
}

export function orderRows(count: number, prefix: string, withChannel = false): OrderRow[] {
  const regions = ['eu', 'us', 'apac'];
  return Array.from({ length: count }, (_, i) => ({
    order_id: `${prefix}-${i}`,
    region: regions[i % regions.length],
    amount: Math.round(i * 137.5) / 100,
    quantity: BigInt((i % 7) + 1),
    created_at: new Date(Date.UTC(2024, 0, 1, 0, 0, i % 60)),
    ...(withChannel ? { channel: i % 2 ? 'web' : 'store' } : {}),
  }));
}

export function parquetOf(rows: OrderRow[]): Uint8Array {
  const columnData = [
    { name: 'order_id', data: rows.map((r) => r.order_id), type: 'STRING' as const },
    { name: 'region', data: rows.map((r) => r.region), type: 'STRING' as const },
    { name: 'amount', data: rows.map((r) => r.amount), type: 'DOUBLE' as const },
    { name: 'quantity', data: BigInt64Array.from(rows.map((r) => r.quantity)), type: 'INT64' as const },
    { name: 'created_at', data: rows.map((r) => r.created_at), type: 'TIMESTAMP' as const },
  ];
  if (rows.some((r) => r.channel !== undefined))
    columnData.push({ name: 'channel', data: rows.map((r) => r.channel ?? ''), type: 'STRING' as const });
  return new Uint8Array(parquetWriteBuffer({ columnData }));
}

export function jsonLinesOf(rows: OrderRow[], gzip = false): Uint8Array {
  const text = rows
    .map((r) =>
      JSON.stringify({
        orderId: r.order_id,
        region: r.region,
        amount: r.amount + 0.25,
        quantity: Number(r.quantity),
        createdAt: r.created_at.toISOString(),
        ...(r.channel !== undefined ? { channel: r.channel } : {}),
      }),
    )
    .join('\n');
  const bytes = Buffer.from(`${text}\n`);
  return gzip ? new Uint8Array(gzipSync(bytes)) : new Uint8Array(bytes);
}

export async function put(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: typeof body === 'string' ? Buffer.from(body) : body,
    }),
  );
}

/** Polls until the crawler is READY again; returns it (with LastCrawl). */
export async function waitForCrawler(glue: GlueClient, name: string, timeoutMs = 60_000): Promise<Crawler> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Crawler: crawler } = await glue.send(new GetCrawlerCommand({ Name: name }));
    if (crawler?.State === 'READY') return crawler;
    if (Date.now() > deadline)
      throw new Error(`crawler ${name} still ${crawler?.State} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export async function crawl(glue: GlueClient, name: string): Promise<Crawler> {
  await glue.send(new StartCrawlerCommand({ Name: name }));
  return waitForCrawler(glue, name);
}

/** Creates a crawler of `s3://<bucket>/<prefix>/` into `database` and crawls it once; fails unless it succeeded. */
export async function crawlPrefix(h: LakeHarness, database: string, prefix: string): Promise<void> {
  const name = `${prefix}-${suffix()}`;
  await h.aws.glue.send(
    new CreateCrawlerCommand({
      Name: name,
      Role: 'role',
      DatabaseName: database,
      Targets: { S3Targets: [{ Path: `s3://${h.bucket}/${prefix}/` }] },
    }),
  );
  const crawled = await crawl(h.aws.glue, name);
  if (crawled.LastCrawl?.Status !== 'SUCCEEDED')
    throw new Error(`crawl failed: ${crawled.LastCrawl?.ErrorMessage}`);
}

export async function waitForQuery(
  athena: AthenaClient,
  id: string,
  timeoutMs = 60_000,
): Promise<QueryExecution> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { QueryExecution: q } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = q?.Status?.State;
    if (q && (state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED')) return q;
    if (Date.now() > deadline) throw new Error(`query ${id} still ${state} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

export async function runQuery(h: LakeHarness, sql: string, database: string): Promise<QueryExecution> {
  const { QueryExecutionId } = await h.aws.athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: { Database: database },
      ResultConfiguration: { OutputLocation: `s3://${h.bucket}/athena-results/` },
    }),
  );
  return waitForQuery(h.aws.athena, QueryExecutionId ?? '');
}

/** All result rows (header row included for SELECT), paging with NextToken. */
export async function allRows(
  athena: AthenaClient,
  id: string,
  maxResults = 1000,
): Promise<{ rows: (string | undefined)[][]; pages: number }> {
  const rows: (string | undefined)[][] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: maxResults }),
    );
    pages++;
    for (const row of page.ResultSet?.Rows ?? []) rows.push((row.Data ?? []).map((d) => d.VarCharValue));
    token = page.NextToken;
  } while (token);
  return { rows, pages };
}

/** Runs a query that must succeed and returns its data rows (header dropped). */
export async function select(
  h: LakeHarness,
  sql: string,
  database: string,
): Promise<(string | undefined)[][]> {
  const q = await runQuery(h, sql, database);
  if (q.Status?.State !== 'SUCCEEDED')
    throw new Error(`query failed: ${q.Status?.StateChangeReason}\n${sql}`);
  const { rows } = await allRows(h.aws.athena, q.QueryExecutionId ?? '');
  return rows.slice(1);
}
