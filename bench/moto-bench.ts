/**
 * The stack's moto (src/local/services/moto_server.py) beside moto's own server, in one run: the CPU seconds each
 * process spends per request for the requests the pipeline makes most (DynamoDB PutItem on a table with a stream,
 * the DynamoDB sink's conditional PutItem of an order, a Scan page, DynamoDB Streams GetRecords, S3 PutObject).
 * Locally every DynamoDB write, stream read and lake object goes
 * through this one single-threaded Python process, so its cost per request bounds the rate the whole stack keeps.
 *
 * Both servers are started here on free ports, each with a fresh state, and get the same requests, in alternating
 * rounds (the median of the rounds is reported).
 *
 *   npx tsx bench/moto-bench.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig, withOverrides } from '../src/config';
import type { OrderState } from '../src/domain/order-event';
import { ensureOrdersTable } from '../src/resources/dynamodb-tables';
import { createOrderWriter } from '../src/streaming/dynamo-sink/order-writer';
import { stackPaths } from '../src/local/paths';
import { httpOk } from '../src/local/probes';
import { mapWithConcurrency } from '../src/support/concurrency';
import { readProcStat } from '../src/support/process-liveness';
import { freePort } from '../src/support/net';
import { waitFor } from '../src/support/timing';
import { benchScale, type BenchRow, median, runStandalone } from './types';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';
const ROUNDS = 3;
const CONCURRENCY = 10;
const SINK_TABLE = 'sink_orders';

/** An order at `version`, as the DynamoDB sink writes it. */
function orderState(orderId: string, version: number): OrderState {
  const at = new Date(Date.UTC(2026, 11, 7, 12, 0, version)).toISOString();
  return {
    orderId,
    customerId: 'cust-01234',
    status: version === 1 ? 'CREATED' : 'PAID',
    version,
    amount: 125.4,
    currency: 'EUR',
    region: 'eu-west',
    itemCount: 3,
    createdAt: at,
    updatedAt: at,
    lastEventId: `evt-${orderId}-${version}`,
    lastEventType: version === 1 ? 'ORDER_CREATED' : 'PAYMENT_CAPTURED',
  };
}

interface MotoUnderTest {
  name: string;
  process: ChildProcess;
  endpoint: string;
  dynamo: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  s3: S3Client;
  objectDir: string;
}

/** User plus system CPU seconds of a process (Linux, like the stack). */
const cpuSeconds = (pid: number): number => readProcStat(pid)?.cpuSeconds ?? Number.NaN;

async function startMoto(name: string, script: string[]): Promise<MotoUnderTest> {
  const port = await freePort();
  const objectDir = mkdtempSync(join(tmpdir(), 'moto-bench-'));
  const python = join(stackPaths(loadConfig()).venvDir, 'bin', 'python');
  const child = spawn(python, [...script, '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, MOTO_S3_OBJECT_DIR: objectDir, MALLOC_ARENA_MAX: '2' },
    stdio: 'ignore',
  });
  await waitFor(name, async () => httpOk('127.0.0.1', port, '/moto-api/'), { timeoutMs: 60_000 });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    name,
    process: child,
    endpoint,
    objectDir,
    dynamo: new DynamoDBClient({ endpoint, region, credentials }),
    streams: new DynamoDBStreamsClient({ endpoint, region, credentials }),
    s3: new S3Client({ endpoint, region, credentials, forcePathStyle: true }),
  };
}

async function prepare(moto: MotoUnderTest): Promise<string> {
  await moto.dynamo.send(
    new CreateTableCommand({
      TableName: 'orders',
      KeySchema: [{ AttributeName: 'order_id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'order_id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  // The pipeline's own orders table (key, stream), for the DynamoDB sink's conditional writes.
  await ensureOrdersTable(
    moto.dynamo,
    withOverrides(loadConfig(), { dynamodb: { ordersTable: SINK_TABLE } }),
  );
  await moto.s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  const table = await moto.dynamo.send(new DescribeTableCommand({ TableName: 'orders' }));
  return table.Table!.LatestStreamArn!;
}

/** CPU ms of the server per request for `count` requests made by `request`, CONCURRENCY at a time. */
async function measure(moto: MotoUnderTest, count: number, request: (i: number) => Promise<unknown>) {
  const before = cpuSeconds(moto.process.pid!);
  await mapWithConcurrency(
    Array.from({ length: count }, (_, i) => i),
    CONCURRENCY,
    request,
  );
  return ((cpuSeconds(moto.process.pid!) - before) * 1000) / count;
}

export async function runMotoBench(): Promise<BenchRow[]> {
  const count = Math.max(200, Math.round(3000 * benchScale()));
  // Orders the sink's writes go to, each written at versions 1 to 4.
  const sinkOrders = Math.max(1, Math.round(count / 4));
  const servers = [
    await startMoto("the stack's moto", [join(__dirname, '../src/local/services/moto_server.py')]),
    await startMoto("moto's own server", ['-m', 'moto.server']),
  ];
  const samples = new Map<
    string,
    { put: number[]; sinkPut: number[]; scan: number[]; getRecords: number[]; putObject: number[] }
  >();
  try {
    const streamArns = await Promise.all(servers.map(prepare));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, moto] of servers.entries()) {
        const mine = samples.get(moto.name) ?? {
          put: [],
          sinkPut: [],
          scan: [],
          getRecords: [],
          putObject: [],
        };
        samples.set(moto.name, mine);
        mine.put.push(
          await measure(moto, count, (i) =>
            moto.dynamo.send(
              new PutItemCommand({
                TableName: 'orders',
                Item: {
                  order_id: { S: `order-${round}-${i}` },
                  status: { S: 'PLACED' },
                  total: { N: '125.40' },
                  seq: { N: String(i) },
                },
              }),
            ),
          ),
        );
        // The DynamoDB sink's own writes (its order writer): each order written at versions 1 to 4, conditionally.
        const writer = createOrderWriter({ dynamodb: moto.dynamo, table: SINK_TABLE });
        mine.sinkPut.push(
          await measure(moto, sinkOrders * 4, (i) =>
            writer.write(orderState(`order-${round}-${i % sinkOrders}`, Math.floor(i / sinkOrders) + 1)),
          ),
        );
        // A page of 100 items from the table's start: the reconciliation and backfill read the table in pages.
        mine.scan.push(
          await measure(moto, Math.max(20, Math.round(count / 30)), () =>
            moto.dynamo.send(new ScanCommand({ TableName: 'orders', Limit: 100 })),
          ),
        );
        // One shard; GetRecords of 100 records from its start, as a relay catching up reads them.
        const stream = await moto.streams.send(new DescribeStreamCommand({ StreamArn: streamArns[index] }));
        const shardId = stream.StreamDescription!.Shards![0].ShardId!;
        const reads = Math.max(20, Math.round(count / 30));
        mine.getRecords.push(
          await measure(moto, reads, async () => {
            const { ShardIterator } = await moto.streams.send(
              new GetShardIteratorCommand({
                StreamArn: streamArns[index],
                ShardId: shardId,
                ShardIteratorType: 'TRIM_HORIZON',
              }),
            );
            return moto.streams.send(new GetRecordsCommand({ ShardIterator, Limit: 100 }));
          }),
        );
        const body = Buffer.alloc(64 * 1024, 7);
        mine.putObject.push(
          await measure(moto, Math.max(50, Math.round(count / 10)), (i) =>
            moto.s3.send(
              new PutObjectCommand({ Bucket: 'lake', Key: `round-${round}/object-${i}`, Body: body }),
            ),
          ),
        );
      }
    }
  } finally {
    for (const moto of servers) {
      moto.process.kill('SIGTERM');
      rmSync(moto.objectDir, { recursive: true, force: true });
    }
  }
  const [ours, stock] = servers.map((s) => samples.get(s.name)!);
  const row = (name: string, value: number[], baseline: number[], note: string): BenchRow => ({
    name: `${name}, CPU ms per request (smaller is better; ratio = moto's own / the stack's)`,
    value: median(value),
    unit: 'ms',
    baseline: median(baseline),
    baselineName: "moto's own server",
    ratio: median(baseline) / median(value),
    note: `median of ${ROUNDS} rounds; ${note}`,
  });
  return [
    row('DynamoDB PutItem (table with a stream)', ours.put, stock.put, `${count} items per round`),
    row(
      "DynamoDB conditional PutItem of an order (the DynamoDB sink's writer)",
      ours.sinkPut,
      stock.sinkPut,
      `${sinkOrders * 4} writes per round: each order at versions 1 to 4`,
    ),
    row('DynamoDB Scan page of 100 items', ours.scan, stock.scan, 'from the table start'),
    row(
      'DynamoDB Streams GetShardIterator + GetRecords of 100',
      ours.getRecords,
      stock.getRecords,
      'one shard',
    ),
    row('S3 PutObject of 64 KiB', ours.putObject, stock.putObject, 'object bodies in files vs in memory'),
  ];
}

if (require.main === module) runStandalone(runMotoBench);
