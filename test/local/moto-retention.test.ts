/**
 * The stack's moto (src/local/services/moto_server.py, a real moto server) applies the retention AWS applies:
 * DynamoDB stream records older than the window are trimmed (TrimmedDataAccessException behind them, sequence
 * numbers still growing) and S3 lifecycle Expiration rules delete objects. Run with a 2-second window and a
 * 2-second lifecycle "day" so the test sees both happen. A table tagged with STREAM_CLOCK_OFFSET_TAG gets its stream
 * records stamped that far off the wall clock (the freshness benchmark's way across an hour boundary).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  TagResourceCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config';
import { stackPaths } from '../../src/local/paths';
import { MOTO_KB_PER_ITEM, STREAM_CLOCK_OFFSET_TAG } from '../../src/local/services/moto';
import type { OrderState } from '../../src/domain/order-event';
import { marshall } from '@aws-sdk/util-dynamodb';
import { httpOk } from '../../src/local/probes';
import { freePort } from '../../src/support/net';
import { waitFor } from '../../src/support/timing';
import { changeCount, createStreamWindowReader } from '../../src/cli/main-job/stream-count';
import { readProcMemoryMb, readProcStat } from '../../src/support/process-liveness';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
let moto: ChildProcess;
let endpoint: string;
/** Everything moto wrote to stdout and stderr (the stack sends both to moto.log). */
let motoOutput = '';
const objectDir = join(mkdtempSync(join(tmpdir(), 'moto-retention-')), 's3-objects');

/** moto's resident memory (Linux, like the stack). */
const motoRssMb = () => readProcMemoryMb(moto.pid!, 'VmRSS')!;

beforeAll(async () => {
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = spawn(
    join(stackPaths(loadConfig()).venvDir, 'bin', 'python'),
    [join(__dirname, '../../src/local/services/moto_server.py'), '-H', '127.0.0.1', '-p', String(port)],
    {
      env: {
        ...process.env,
        MOTO_STREAM_RETENTION_SECONDS: '2',
        MOTO_LIFECYCLE_DAY_SECONDS: '2',
        MOTO_SWEEP_INTERVAL_SECONDS: '1',
        MOTO_STREAM_CLOCK_OFFSET_TAG: STREAM_CLOCK_OFFSET_TAG,
        MOTO_S3_OBJECT_DIR: objectDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  for (const stream of [moto.stdout!, moto.stderr!])
    stream.on('data', (chunk: Buffer) => (motoOutput += chunk));
  await waitFor('moto', async () => httpOk('127.0.0.1', port, '/moto-api/'), { timeoutMs: 60_000 });
});

afterAll(() => {
  moto.kill('SIGTERM');
  rmSync(join(objectDir, '..'), { recursive: true, force: true });
});

/** A table keyed by `id` with (by default) a stream of new and old images, as the orders table has. */
const streamedTable = (TableName: string, stream = true) =>
  new CreateTableCommand({
    TableName,
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
    ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
  });

/** moto's CPU time so far (user + system), in seconds. */
const motoCpuSeconds = () => readProcStat(moto.pid!)!.cpuSeconds;

it('trims stream records older than the retention window, as DynamoDB Streams do', async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials });
  const created = await dynamodb.send(streamedTable('retention'));
  const StreamArn = created.TableDescription!.LatestStreamArn!;
  const shardId = (await streams.send(new DescribeStreamCommand({ StreamArn }))).StreamDescription!.Shards![0]
    .ShardId!;
  const read = async () => {
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    return (await streams.send(new GetRecordsCommand({ ShardIterator }))).Records ?? [];
  };
  await dynamodb.send(new PutItemCommand({ TableName: 'retention', Item: { id: { S: 'old' } } }));
  const [old] = await read();

  await waitFor('the old record to be trimmed', async () => (await read()).length === 0, {
    timeoutMs: 20_000,
  });
  await dynamodb.send(new PutItemCommand({ TableName: 'retention', Item: { id: { S: 'new' } } }));
  const [fresh] = await read();

  expect(fresh.dynamodb?.Keys).toEqual({ id: { S: 'new' } });
  expect(BigInt(fresh.dynamodb!.SequenceNumber!)).toBe(BigInt(old.dynamodb!.SequenceNumber!) + 1n);
  await expect(
    streams.send(
      new GetShardIteratorCommand({
        StreamArn,
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: old.dynamodb!.SequenceNumber!,
      }),
    ),
  ).rejects.toBeInstanceOf(TrimmedDataAccessException);
  dynamodb.destroy();
  streams.destroy();
});

it("reads a stream's window on when the stream trims past the reader while it reads (the soak's and bounded run's count)", async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials });
  const created = await dynamodb.send(streamedTable('read-at-the-edge'));
  const StreamArn = created.TableDescription!.LatestStreamArn!;
  // A slow reader: its second GetRecords waits past the 2-second retention, so its iterator points at changes
  // the stream has trimmed by then; 10 changes are written meanwhile.
  let getRecords = 0;
  streams.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetRecordsCommand' && getRecords++ === 1) {
        await new Promise((resolve) => setTimeout(resolve, 3500));
        for (let i = 0; i < 10; i++)
          await dynamodb.send(
            new PutItemCommand({ TableName: 'read-at-the-edge', Item: { id: { S: `late-${i}` } } }),
          );
      }
      return next(args);
    },
    { step: 'initialize', name: 'slowGetRecords' },
  );
  // 1,100 changes, written at once: more than a page, all younger than the retention when the read starts.
  await Promise.all(
    Array.from({ length: 44 }, (_, batch) =>
      dynamodb.send(
        new BatchWriteItemCommand({
          RequestItems: {
            'read-at-the-edge': Array.from({ length: 25 }, (_, i) => ({
              PutRequest: { Item: { id: { S: `item-${batch}-${i}` } } },
            })),
          },
        }),
      ),
    ),
  );
  const reader = createStreamWindowReader(streams, StreamArn);
  const window = await reader.read();
  // No TrimmedDataAccessException; the window is what the stream holds, without a hole: the 10 late changes, not
  // the 1,000 of the first page with the trimmed ones missing after them.
  expect(changeCount(window)).toBe(10);
  expect(getRecords).toBeGreaterThanOrEqual(3);
  dynamodb.destroy();
  streams.destroy();
}, 60_000);

it('applies S3 lifecycle expiration under the rule prefix only', async () => {
  const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  const Bucket = 'retention-lifecycle';
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket,
      LifecycleConfiguration: {
        Rules: [
          { ID: 'results', Filter: { Prefix: 'results/' }, Status: 'Enabled', Expiration: { Days: 1 } },
        ],
      },
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket, Key: 'results/q1.csv', Body: 'a' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'lake/part-0.parquet', Body: 'b' }));
  const keys = async () =>
    ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((o) => o.Key);

  await waitFor('the expired result to go', async () => !(await keys()).includes('results/q1.csv'), {
    timeoutMs: 20_000,
  });
  expect(await keys()).toEqual(['lake/part-0.parquet']);
  s3.destroy();
});

it('stamps the stream records of a table tagged with a clock offset that far off the wall clock, others not', async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const streams = new DynamoDBStreamsClient({ endpoint, region: 'us-east-1', credentials });
  const offsetMs = 2 * 3_600_000;
  const firstRecord = async (table: string, tagged: boolean) => {
    const created = await dynamodb.send(streamedTable(table));
    if (tagged)
      await dynamodb.send(
        new TagResourceCommand({
          ResourceArn: created.TableDescription!.TableArn!,
          Tags: [{ Key: STREAM_CLOCK_OFFSET_TAG, Value: String(offsetMs) }],
        }),
      );
    const StreamArn = created.TableDescription!.LatestStreamArn!;
    const shard = (await streams.send(new DescribeStreamCommand({ StreamArn }))).StreamDescription!
      .Shards![0];
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'a' } } }));
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const [record] = (await streams.send(new GetRecordsCommand({ ShardIterator }))).Records ?? [];
    return record.dynamodb!.ApproximateCreationDateTime!.getTime();
  };
  const before = Date.now();
  const shifted = await firstRecord('clock-offset', true);
  const plain = await firstRecord('clock-plain', false);
  const after = Date.now();
  // moto stamps whole seconds or finer: a second of slack either side.
  expect(shifted).toBeGreaterThanOrEqual(before + offsetMs - 1000);
  expect(shifted).toBeLessThanOrEqual(after + offsetMs + 1000);
  expect(plain).toBeGreaterThanOrEqual(before - 1000);
  expect(plain).toBeLessThanOrEqual(after + 1000);
  dynamodb.destroy();
  streams.destroy();
});

it('holds no memory for item versions and stream records past the retention window', async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const TableName = 'retention-memory';
  await dynamodb.send(streamedTable(TableName));
  // 100 orders rewritten 200 times each: 20,000 writes and stream records with a few hundred bytes of
  // attributes, like the pipeline's. moto kept every one of them (~8 KB each, 150 MB here) until the stack
  // stopped tracking model instances; the table itself holds only the last 100 versions.
  const writeRound = (round: number) =>
    Promise.all(
      Array.from({ length: 4 }, (_, batch) =>
        dynamodb.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [TableName]: Array.from({ length: 25 }, (_, i) => ({
                PutRequest: {
                  Item: {
                    id: { S: `order-${batch * 25 + i}` },
                    status: { S: 'SHIPPED' },
                    seq: { N: String(round) },
                    note: { S: 'x'.repeat(300) },
                  },
                },
              })),
            },
          }),
        ),
      ),
    );
  await writeRound(0);
  const before = motoRssMb();
  for (let round = 1; round <= 200; round++) await writeRound(round);
  // Past the 2-second window every stream record is trimmed: what is left is the 100 items.
  await waitFor('moto to trim the stream', async () => motoRssMb() - before < 40, { timeoutMs: 20_000 });
  expect(motoRssMb() - before).toBeLessThan(40);
  dynamodb.destroy();
});

it("holds an orders item of the pipeline's full shape in at most MOTO_KB_PER_ITEM of memory", async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const TableName = 'retention-item-size';
  await dynamodb.send(
    new CreateTableCommand({
      TableName,
      KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  // Every attribute the DynamoDB sink writes (a version-2 order, the largest), at the generator's value sizes.
  const item = (n: number): OrderState => ({
    orderId: `ord-${String(n).padStart(8, '0')}-${'f'.repeat(27)}`,
    customerId: `cust-${String(n % 5000).padStart(6, '0')}`,
    status: 'SHIPPED',
    version: 4,
    amount: 1234.56,
    currency: 'EUR',
    region: 'eu-west-1',
    itemCount: 3,
    createdAt: '2026-12-07T08:00:00.000Z',
    updatedAt: '2026-12-07T08:00:05.123Z',
    lastEventId: `evt-${n}-${'e'.repeat(30)}`,
    lastEventType: 'SHIPPED',
    channel: 'web',
    discountCode: 'WINTER10',
    shippingAddress: { country: 'DE', postcode: '10115' },
  });
  const ITEMS = 20_000;
  const writeBatch = (first: number) =>
    dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TableName]: Array.from({ length: 25 }, (_, i) => ({
            PutRequest: { Item: marshall(item(first + i), { removeUndefinedValues: true }) },
          })),
        },
      }),
    );
  await writeBatch(0);
  const before = motoRssMb();
  for (let first = 25; first < ITEMS + 25; first += 100)
    await Promise.all([0, 25, 50, 75].map((d) => writeBatch(first + d)));
  // Past the 2-second window the stream's records are trimmed: what is left is the table's items.
  const settled = async () => {
    const readings = [motoRssMb()];
    await new Promise((resolve) => setTimeout(resolve, 3000));
    readings.push(motoRssMb());
    return readings[1] - readings[0] < 1 ? readings[1] : false;
  };
  const after = await waitFor('moto to trim the stream', settled, { timeoutMs: 30_000 });
  const kbPerItem = ((after - before) * 1024) / ITEMS;
  console.log(`moto: ${kbPerItem.toFixed(2)} KB per order item (${ITEMS} items)`);
  expect(kbPerItem).toBeLessThanOrEqual(MOTO_KB_PER_ITEM);
  dynamodb.destroy();
});

it('writes no line per request to its log (a stack running for days would fill the disk with them)', async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  await dynamodb.send(streamedTable('quiet-log'));
  const before = motoOutput.length;
  for (let i = 0; i < 20; i++)
    await dynamodb.send(new PutItemCommand({ TableName: 'quiet-log', Item: marshall({ id: `item-${i}` }) }));
  await dynamodb.send(new ScanCommand({ TableName: 'quiet-log' }));
  expect(motoOutput.slice(before)).toBe('');
  dynamodb.destroy();
});

it('keeps S3 object bodies in files under the object dir, deleted with their object', async () => {
  const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  const Bucket = 'retention-bodies';
  await s3.send(new CreateBucketCommand({ Bucket }));
  const body = Buffer.alloc(3 * 1024 * 1024, 7);
  const filesOfSize = (size: number) =>
    readdirSync(objectDir).filter((name) => statSync(join(objectDir, name)).size === size);

  await s3.send(new PutObjectCommand({ Bucket, Key: 'lake/big.bin', Body: body }));
  expect(filesOfSize(body.length)).toHaveLength(1);
  const read = await s3.send(new GetObjectCommand({ Bucket, Key: 'lake/big.bin', Range: 'bytes=5-9' }));
  expect(Buffer.from(await read.Body!.transformToByteArray())).toEqual(body.subarray(5, 10));

  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'lake/big.bin' }));
  expect(filesOfSize(body.length)).toHaveLength(0);
  expect(existsSync(objectDir)).toBe(true);
  s3.destroy();
});

it('pages a Scan from its ExclusiveStartKey: every item once, in key order, at a cost per page that does not grow with the table', async () => {
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const id = (n: number) => `order-${String(n).padStart(7, '0')}`;
  const put = (TableName: string, from: number, to: number) =>
    dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TableName]: Array.from({ length: to - from }, (_, i) => ({
            PutRequest: { Item: { id: { S: id(from + i) }, pad: { S: 'x'.repeat(200) } } },
          })),
        },
      }),
    );
  const fill = async (TableName: string, items: number) => {
    await dynamodb.send(streamedTable(TableName, false));
    for (let start = 0; start < items; start += 100)
      await Promise.all(
        [0, 25, 50, 75].map((o) => put(TableName, start + o, Math.min(items, start + o + 25))),
      );
  };
  const scanPages = async (
    TableName: string,
    pages: number,
    startAt?: string,
    segment?: [number, number],
  ) => {
    const ids: string[] = [];
    let key = startAt === undefined ? undefined : { id: { S: startAt } };
    for (let page = 0; page < pages; page++) {
      const result = await dynamodb.send(
        new ScanCommand({
          TableName,
          Limit: 100,
          ExclusiveStartKey: key,
          ...(segment ? { Segment: segment[0], TotalSegments: segment[1] } : {}),
        }),
      );
      ids.push(...(result.Items ?? []).map((item) => item.id.S!));
      key = result.LastEvaluatedKey as typeof key;
      if (!key) break;
    }
    return ids;
  };
  await fill('scan-small', 1_000);
  await fill('scan-large', 20_000);

  // Ten pages near the end of each table: moto sorted the whole table for every page and walked to the start key.
  const cpuOf = async (TableName: string, items: number) => {
    const before = motoCpuSeconds();
    expect(await scanPages(TableName, 10, id(Math.floor(items * 0.8)))).toHaveLength(
      Math.min(1000, items - Math.floor(items * 0.8) - 1),
    );
    return motoCpuSeconds() - before;
  };
  const small = await cpuOf('scan-small', 1_000);
  const large = await cpuOf('scan-large', 20_000);
  console.log(
    `moto CPU for 10 Scan pages: ${small.toFixed(2)} s (1,000 items), ${large.toFixed(2)} s (20,000 items)`,
  );
  // Measured 0.04 / 0.17 s; before the index 0.04 / 1.01 s.
  expect(large).toBeLessThan(Math.max(0.5, 5 * small));

  // Every item once across segments while items are added and deleted: the index follows every write.
  const added = put('scan-large', 20_000, 20_025);
  const deleted = dynamodb.send(
    new BatchWriteItemCommand({
      RequestItems: {
        'scan-large': Array.from({ length: 25 }, (_, i) => ({
          DeleteRequest: { Key: { id: { S: id(i * 7) } } },
        })),
      },
    }),
  );
  const segments = await Promise.all([0, 1, 2].map((s) => scanPages('scan-large', 1_000, undefined, [s, 3])));
  await Promise.all([added, deleted]);
  const seen = segments.flat();
  expect(new Set(seen).size).toBe(seen.length);
  for (const ids of segments) expect(ids).toEqual([...ids].sort());
  const untouched = Array.from({ length: 20_000 }, (_, n) => id(n)).filter(
    (_, n) => n % 7 !== 0 || n / 7 >= 25,
  );
  const seenIds = new Set(seen);
  expect(untouched.filter((u) => !seenIds.has(u))).toEqual([]);
  expect(await scanPages('scan-large', 1_000)).toHaveLength(20_000);
  dynamodb.destroy();
}, 300_000);
