/**
 * Benchmark of the backfill workflow (DynamoDB → Parquet snapshot in S3) against the same endpoints:
 * - items/s of the backfill workflow (in-process worker, dev server) vs. a raw parallel Scan + Parquet + PutObject
 *   loop with the same segments, page size and part size (the baseline: what the export costs without Temporal);
 * - the overhead of resuming after a kill: the same backfill with its worker killed (-9) at ~40 % and a new worker
 *   taking over, wall time vs. the uninterrupted run (most of it is the heartbeat timeout that detects the death);
 * - the seeding rate (BatchWriteItem) for reference.
 *
 * Locally DynamoDB is moto, whose Scan costs grow with the table (every page walks the items) and whose throughput is
 * a few hundred to a few thousand items/s on 2 cores: 1M items would take hours to seed and scan. The default is
 * therefore 1M items against AWS (PIPELINE_MODE=aws) and 20,000 against moto; pass `--items` to choose.
 *
 *   npx tsx bench/backfill-bench.ts                          # 20,000 items locally
 *   npx tsx bench/backfill-bench.ts --items 50000 --segments 4
 *   BENCH_SCALE=0.25 npm run bench -- --only backfill
 */
import {
  BatchWriteItemCommand,
  DeleteTableCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  paginateListObjectsV2,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command } from 'commander';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../src/aws/clients';
import { loadConfig, withOverrides, type Config } from '../src/config';
import type { OrderState } from '../src/domain/order-event';
import { snapshotFolder, snapshotPartKey } from '../src/lake-format/snapshot-layout';
import { encodeSnapshotParquet } from '../src/lake-format/snapshot-parquet';
import { ensureOrdersTable } from '../src/resources/dynamodb-tables';
import { ensureBucket } from '../src/resources/s3-bucket';
import { controlPlaneWorkflowBundle, createControlPlaneWorker } from '../src/workers/control-plane-worker';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import * as workflows from '../src/workflows';
import { spawnWorker } from '../test/control/support';
import { benchScale, type BenchRow } from './types';

export interface BackfillBenchOptions {
  /** Items in the table (default 1,000,000 on AWS, 20,000 on moto; × BENCH_SCALE). */
  items?: number;
  segments?: number;
  pageSize?: number;
  pagesPerPart?: number;
  /** Heartbeat timeout of the killed run: how fast the death is noticed (default 10 s). */
  heartbeatTimeoutSeconds?: number;
  /** Skip the kill/resume measurement. */
  skipResume?: boolean;
  config?: Config;
  log?: (line: string) => void;
}

const REGIONS = ['us-east', 'us-west', 'eu-central', 'eu-west', 'ap-south'];
const STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
const EVENTS = ['ORDER_CREATED', 'PAYMENT_CAPTURED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;

function item(i: number): OrderState {
  const created = Date.UTC(2024, 0, 1) + i * 1000;
  return {
    orderId: `o-${String(i).padStart(8, '0')}`,
    customerId: `c-${i % 5000}`,
    status: STATUSES[i % 5],
    version: 1 + (i % 5),
    amount: Math.round(((i * 7919) % 100_000) + 100) / 100,
    currency: 'USD',
    region: REGIONS[i % REGIONS.length],
    itemCount: 1 + (i % 9),
    createdAt: new Date(created).toISOString(),
    updatedAt: new Date(created + 3_600_000).toISOString(),
    lastEventId: `e-${i}`,
    lastEventType: EVENTS[i % 5],
  };
}

async function seed(aws: AwsClients, table: string, count: number): Promise<void> {
  let next = 0;
  const writer = async () => {
    for (;;) {
      const start = next;
      if (start >= count) return;
      next += 25;
      let requests = Array.from({ length: Math.min(25, count - start) }, (_, j) => ({
        PutRequest: { Item: marshall(item(start + j)) },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        const response = await aws.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: requests } }),
        );
        requests = (response.UnprocessedItems?.[table] ?? []) as typeof requests;
        if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

/** The baseline: the same export as the workflow's activities, in a plain loop (no Temporal, no heartbeats). */
async function rawExport(
  aws: AwsClients,
  config: Config,
  prefix: string,
  o: Required<Pick<BackfillBenchOptions, 'segments' | 'pageSize' | 'pagesPerPart'>>,
): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: o.segments }, async (_, segment) => {
      let key: Record<string, AttributeValue> | undefined;
      let part = 0;
      let rows = 0;
      do {
        const items: Record<string, AttributeValue>[] = [];
        for (let page = 0; page < o.pagesPerPart; page++) {
          const response = await aws.dynamodb.send(
            new ScanCommand({
              TableName: config.dynamodb.ordersTable,
              Segment: segment,
              TotalSegments: o.segments,
              Limit: o.pageSize,
              ExclusiveStartKey: key,
            }),
          );
          items.push(...(response.Items ?? []));
          key = response.LastEvaluatedKey;
          if (!key) break;
        }
        if (items.length > 0) {
          await aws.s3.send(
            new PutObjectCommand({
              Bucket: config.lake.bucket,
              Key: snapshotPartKey(prefix, segment, part++),
              Body: encodeSnapshotParquet(items),
            }),
          );
          rows += items.length;
        }
      } while (key);
      return rows;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function countObjects(aws: AwsClients, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  for await (const page of paginateListObjectsV2({ client: aws.s3 }, { Bucket: bucket, Prefix: prefix }))
    n += page.KeyCount ?? 0;
  return n;
}

async function cleanup(aws: AwsClients, config: Config): Promise<void> {
  await aws.dynamodb
    .send(new DeleteTableCommand({ TableName: config.dynamodb.ordersTable }))
    .catch(() => undefined);
  try {
    for await (const page of paginateListObjectsV2({ client: aws.s3 }, { Bucket: config.lake.bucket })) {
      const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (objects.length > 0)
        await aws.s3.send(
          new DeleteObjectsCommand({ Bucket: config.lake.bucket, Delete: { Objects: objects } }),
        );
    }
    await aws.s3.send(new DeleteBucketCommand({ Bucket: config.lake.bucket }));
  } catch {
    // nothing to delete
  }
}

export async function runBackfillBench(options: BackfillBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const id = `bench-backfill-${Date.now().toString(36)}`;
  const base = options.config ?? loadConfig();
  const config = withOverrides(base, {
    dynamodb: { ordersTable: `${id}-orders` },
    lake: { bucket: id },
    temporal: { taskQueue: `${id}-tq` },
    logLevel: 'warn',
  });
  const scale = benchScale();
  const onMoto = config.mode === 'local';
  const items = options.items ?? Math.max(1000, Math.round((onMoto ? 20_000 : 1_000_000) * scale));
  const layout = {
    segments: options.segments ?? 4,
    pageSize: options.pageSize ?? 500,
    pagesPerPart: options.pagesPerPart ?? 4,
  };
  const heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? 10;
  const aws = createAwsClients(config);
  const rows: BenchRow[] = [];
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // installed by an earlier section
  }
  const temporal = await connectClient(config);
  const { client } = temporal;
  try {
    await ensureOrdersTable(aws.dynamodb, config);
    await ensureBucket(aws.s3, config);
    log(`seeding ${items} items into ${config.dynamodb.ordersTable}...`);
    let t = Date.now();
    await seed(aws, config.dynamodb.ordersTable, items);
    const seedSeconds = (Date.now() - t) / 1000;
    rows.push({
      name: 'seeding (BatchWriteItem, 8 in flight) items/s',
      value: items / seedSeconds,
      unit: 'items/s',
      note: `${items} items${onMoto ? ', moto' : ''}`,
    });

    log('raw parallel Scan + Parquet + PutObject loop...');
    t = Date.now();
    const rawRows = await rawExport(aws, config, snapshotFolder(config.lake.snapshotPrefix, 'raw'), layout);
    const rawSeconds = (Date.now() - t) / 1000;
    if (rawRows !== items) throw new Error(`raw export read ${rawRows} of ${items} items`);

    await controlPlaneWorkflowBundle(); // not part of any timing
    const native = await connectWorkerConnection(config);
    const { worker, close } = await createControlPlaneWorker({ config, connection: native, client, aws });
    const running = worker.run();
    const args = { ...layout, partsPerActivity: 5, heartbeatTimeoutSeconds };
    let wfSeconds: number;
    try {
      log('backfill workflow, uninterrupted...');
      t = Date.now();
      const result = await client.workflow.execute(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `${id}-plain`,
        args: [{ ...args, snapshotId: 'plain' }],
      });
      wfSeconds = (Date.now() - t) / 1000;
      if (result.rows !== items) throw new Error(`backfill exported ${result.rows} of ${items} items`);
    } finally {
      worker.shutdown();
      await running;
      await close();
      await native.close();
    }
    rows.push({
      name: `backfill workflow items/s (${layout.segments} segments, page ${layout.pageSize}, ${layout.pagesPerPart} pages/part)`,
      value: items / wfSeconds,
      unit: 'items/s',
      baseline: items / rawSeconds,
      baselineName: 'raw parallel Scan + write loop',
      ratio: rawSeconds / wfSeconds,
      note: `${items} items${onMoto ? ' on moto (Scan-bound)' : ''}`,
    });

    if (!options.skipResume) {
      log('backfill workflow, worker killed at ~40 % and replaced...');
      const worker = spawnWorker(config);
      await worker.ready;
      const expectedParts = Math.ceil(items / (layout.pageSize * layout.pagesPerPart));
      t = Date.now();
      const handle = await client.workflow.start(workflows.backfill, {
        taskQueue: config.temporal.taskQueue,
        workflowId: `${id}-killed`,
        args: [{ ...args, snapshotId: 'killed' }],
      });
      const prefix = `${snapshotFolder(config.lake.snapshotPrefix, 'killed')}/`;
      while ((await countObjects(aws, config.lake.bucket, prefix)) < expectedParts * 0.4)
        await new Promise((r) => setTimeout(r, 200));
      await worker.kill9();
      const killedAt = (Date.now() - t) / 1000;
      const native2 = await connectWorkerConnection(config);
      const second = await createControlPlaneWorker({ config, connection: native2, client, aws });
      const running2 = second.worker.run();
      try {
        const result = await handle.result();
        const resumedSeconds = (Date.now() - t) / 1000;
        if (result.rows !== items)
          throw new Error(`resumed backfill exported ${result.rows} of ${items} items`);
        rows.push({
          name: 'backfill with a worker killed at ~40 % and replaced: wall time',
          value: resumedSeconds,
          unit: 's',
          baseline: wfSeconds,
          baselineName: 'uninterrupted backfill',
          ratio: resumedSeconds / wfSeconds,
          note: `killed after ${killedAt.toFixed(1)} s; heartbeat timeout ${heartbeatTimeoutSeconds} s; ${result.resumes} segment attempts resumed from heartbeats; same ${result.rows} rows`,
        });
        rows.push({
          name: 'resume overhead (smaller is better)',
          value: resumedSeconds - wfSeconds,
          unit: 's',
          note: `includes the heartbeat timeout (${heartbeatTimeoutSeconds} s) before the dead worker's activities are retried`,
        });
      } finally {
        second.worker.shutdown();
        await running2;
        await second.close();
        await native2.close();
      }
    }
    return rows;
  } finally {
    await cleanup(aws, config);
    destroyAwsClients(aws);
    await temporal.close();
  }
}

if (require.main === module) {
  const program = new Command()
    .option('--items <n>', 'items in the table', (v) => Number(v))
    .option('--segments <n>', 'parallel Scan segments', (v) => Number(v))
    .option('--page-size <n>', 'Scan page size', (v) => Number(v))
    .option('--pages-per-part <n>', 'pages per Parquet object', (v) => Number(v))
    .option('--no-resume', 'skip the kill/resume measurement')
    .parse(process.argv);
  const o = program.opts<{
    items?: number;
    segments?: number;
    pageSize?: number;
    pagesPerPart?: number;
    resume: boolean;
  }>();
  runBackfillBench({
    items: o.items,
    segments: o.segments,
    pageSize: o.pageSize,
    pagesPerPart: o.pagesPerPart,
    skipResume: !o.resume,
  })
    .then((rows) => {
      for (const r of rows) {
        console.log(
          `${r.name}: ${r.value.toFixed(1)} ${r.unit}${r.baseline !== undefined ? ` (${r.baselineName}: ${r.baseline.toFixed(1)} ${r.unit}, ratio ${r.ratio?.toFixed(2)})` : ''}${r.note ? ` — ${r.note}` : ''}`,
        );
      }
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
