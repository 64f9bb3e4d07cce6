/**
 * The control-plane worker's resident memory across reconciliations of a large table, with glibc's malloc as it
 * comes and with the settings the stack gives the worker, side by side in one run.
 *
 * The 2-hour soaks at 150 events/s found the worker keeping tens of MB after each hourly reconciliation, native
 * memory rather than the JavaScript heap: freed buffers left in glibc's per-thread arenas and below a heap top
 * that cannot shrink. Each variant here is a worker process (`src/workers/control-plane-worker.ts`, as the stack
 * runs it) started with its own environment, that runs a small reconciliation to warm up and then the same large
 * one twice; its RSS is sampled throughout, and once quiet after each run (a minute) the worker's own metrics say
 * how much of it is V8's heap and external memory. Reported per variant: the native memory (RSS less those) the
 * two runs left behind; the RSS, its peak and the native memory after each run in the note.
 *
 *   npx tsx bench/worker-memory-bench.ts                 # 100,000 orders
 *   npx tsx bench/worker-memory-bench.ts --items 200000 --rounds 2
 *   npm run bench -- --only worker-memory
 */
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { createAwsClients, destroyAwsClients } from '../src/aws/clients';
import { CDC_TABLE_FOLDER, withOverrides, type Config } from '../src/config';
import { encodeParquet } from '../src/lake-format/formats/parquet';
import type { LakeRow } from '../src/lake-format/lake-row';
import { WORKER_MALLOC_ENV } from '../src/local/pipeline-processes';
import { ensureWorkgroup } from '../src/resources/athena';
import { ensureCdcTable, registerCdcPartitions } from '../src/resources/cdc-catalog';
import { ensureGlueDatabase } from '../src/resources/glue';
import { ensureOrdersCurrentView } from '../src/resources/orders-current-view';
import { freePort } from '../src/support/net';
import { connectClient } from '../src/temporal/connection';
import * as workflows from '../src/workflows';
import {
  cleanupAws,
  createTableAndBucket,
  orderItem,
  seedOrders,
  spawnWorker,
} from '../test/control/support';
import { freshConfig } from '../test/support/fresh-config';
import { benchScale, median, type BenchRow } from './types';

export interface WorkerMemoryBenchOptions {
  /** Orders in the table and the lake (default 100,000 × BENCH_SCALE). */
  items?: number;
  /** Variants are run in this many alternating rounds (default 1). */
  rounds?: number;
  log?: (line: string) => void;
}

interface Variant {
  name: string;
  env: Record<string, string>;
}

const VARIANTS: Variant[] = [
  { name: "glibc's defaults", env: {} },
  { name: 'MALLOC_ARENA_MAX=2', env: { MALLOC_ARENA_MAX: '2' } },
  {
    name: `the stack's (${Object.entries(WORKER_MALLOC_ENV)
      .map(([name, value]) => `${name}=${value}`)
      .join(', ')})`,
    env: WORKER_MALLOC_ENV,
  },
];

/** Orders per lake object (one hour partition each). */
const ORDERS_PER_OBJECT = 10_000;
const WARM_UP_ORDERS = 2_000;
const SETTLE_MS = 60_000;
const SAMPLE_MS = 250;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** The lake row of order i: the item's latest image, as the S3 sink writes it. */
function lakeRow(i: number): LakeRow {
  const item = orderItem(i);
  return {
    order_id: item.orderId,
    customer_id: item.customerId,
    status: item.status,
    version: BigInt(item.version),
    amount: item.amount,
    currency: item.currency,
    region: item.region,
    item_count: BigInt(item.itemCount),
    created_at: new Date(item.createdAt),
    updated_at: new Date(item.updatedAt),
    last_event_type: item.lastEventType,
    last_event_id: item.lastEventId,
    op: item.version === 1 ? 'INSERT' : 'MODIFY',
    change_time: new Date(item.updatedAt),
    sequence_number: String(1_000_000_000 + i),
  };
}

/** A table of `items` orders and the same orders in the lake (one object per ORDERS_PER_OBJECT), with the view. */
async function seedTableAndLake(config: Config, items: number, log: (line: string) => void): Promise<void> {
  const aws = createAwsClients(config);
  try {
    await createTableAndBucket(aws, config);
    await ensureGlueDatabase(aws.glue, config);
    await ensureCdcTable(aws.glue, config);
    await ensureWorkgroup(aws.athena, config);
    await ensureOrdersCurrentView(aws.athena, aws.glue, config);
    const started = Date.now();
    await seedOrders(aws.dynamodb, config.dynamodb.ordersTable, items);
    log(
      `  ${items} items in ${config.dynamodb.ordersTable} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    const partitions = [];
    for (let first = 0, part = 0; first < items; first += ORDERS_PER_OBJECT, part++) {
      const rows = Array.from({ length: Math.min(ORDERS_PER_OBJECT, items - first) }, (_, j) =>
        lakeRow(first + j),
      );
      // Partitions are where the objects are, whatever the rows' own times: the view reads them all.
      const partitionPath = `dt=2024-05-01/hour=${String(part % 24).padStart(2, '0')}`;
      const folder = `${config.lake.prefix}/${CDC_TABLE_FOLDER}/${partitionPath}/`;
      await aws.s3.send(
        new PutObjectCommand({
          Bucket: config.lake.bucket,
          Key: `${folder}bench+0+${String(part).padStart(10, '0')}.parquet`,
          Body: encodeParquet(rows),
        }),
      );
      partitions.push({ partitionPath, location: `s3://${config.lake.bucket}/${folder}` });
    }
    const unique = [...new Map(partitions.map((p) => [p.partitionPath, p])).values()];
    await registerCdcPartitions(aws.glue, config, unique);
  } finally {
    destroyAwsClients(aws);
  }
}

interface Settled {
  rss: number;
  heap: number;
}

interface VariantResult {
  warm: Settled;
  peak: number;
  after: Settled[];
}

/** Native memory: RSS less V8's heap and external memory (what glibc's malloc holds, and the native threads). */
const native = (s: Settled) => s.rss - s.heap;

/** One worker process with the variant's environment: a warm-up reconciliation, then the large one `runs` times. */
async function measureVariant(
  variant: Variant,
  large: Config,
  small: Config,
  runs: number,
  log: (line: string) => void,
): Promise<VariantResult> {
  const metricsPort = await freePort();
  const worker = spawnWorker(large, { ...variant.env, METRICS_PORT: String(metricsPort) });
  const temporal = await connectClient(large);
  let peak = 0;
  const samples: number[] = [];
  const timer = setInterval(() => {
    const rss = rssMb(worker.child.pid!);
    samples.push(rss);
    peak = Math.max(peak, rss);
  }, SAMPLE_MS);
  /** RSS once quiet, and how much of it is the main thread's JavaScript heap (V8's heap and external memory). */
  const settle = async () => {
    samples.length = 0;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const rss = median(samples.slice(-Math.round(10_000 / SAMPLE_MS)));
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const mb = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1]) / 2 ** 20;
    return { rss, heap: mb('nodejs_heap_size_total_bytes') + mb('nodejs_external_memory_bytes') };
  };
  const reconcile = async (config: Config, expected: number, label: string) => {
    const result = await temporal.client.workflow.execute(workflows.reconcile, {
      taskQueue: large.temporal.taskQueue,
      workflowId: `${large.temporal.taskQueue}-${label}-${Date.now().toString(36)}`,
      args: [{ table: config.dynamodb.ordersTable, database: config.glue.database }],
    });
    if (result.compared !== expected || result.matching !== expected)
      throw new Error(`${label}: compared ${result.compared}, matching ${result.matching} of ${expected}`);
  };
  try {
    await worker.ready;
    await reconcile(small, WARM_UP_ORDERS, 'warm-up');
    const warm = await settle();
    peak = 0;
    const after: Settled[] = [];
    for (let run = 0; run < runs; run++) {
      await reconcile(large, largeItems(large), `run-${run}`);
      after.push(await settle());
    }
    const show = (s: Settled) => `${s.rss.toFixed(0)} (JS ${s.heap.toFixed(0)})`;
    log(
      `  ${variant.name}: warm ${show(warm)} MB, peak ${peak.toFixed(0)}, after ${after.map(show).join(', ')}`,
    );
    return { warm, peak, after };
  } finally {
    clearInterval(timer);
    await worker.terminate();
    await temporal.close();
  }
}

const itemsByTable = new Map<string, number>();
const largeItems = (config: Config) => itemsByTable.get(config.dynamodb.ordersTable)!;

export async function runWorkerMemoryBench(options: WorkerMemoryBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const items = options.items ?? Math.max(10_000, Math.round(100_000 * benchScale()));
  const rounds = options.rounds ?? 1;
  const large = withOverrides(freshConfig('bench-wmem'), { logLevel: 'warn' });
  // The warm-up's own table and lake, read by the same worker (the workflow takes table and database).
  const small = freshConfig('bench-wmem-small');
  itemsByTable.set(large.dynamodb.ordersTable, items);
  log(`seeding ${items} orders (DynamoDB and lake) and ${WARM_UP_ORDERS} for the warm-up...`);
  try {
    await seedTableAndLake(large, items, log);
    await seedTableAndLake(small, WARM_UP_ORDERS, log);
    const results = new Map<string, VariantResult[]>();
    for (let round = 0; round < rounds; round++)
      for (const variant of VARIANTS) {
        log(`round ${round + 1}, ${variant.name}: warm-up, then 2 reconciliations of ${items} orders...`);
        const result = await measureVariant(variant, large, small, 2, log);
        results.set(variant.name, [...(results.get(variant.name) ?? []), result]);
      }
    // V8 gives its heap back lazily (the same variant kept 39 MB of RSS in one run and 223 in another), so the
    // figure is the native part, which the malloc settings act on; the RSS is in the note.
    const kept = (r: VariantResult) => native(r.after[r.after.length - 1]) - native(r.warm);
    const baseline = median(results.get(VARIANTS[0].name)!.map(kept));
    const mb = (value: number) => value.toFixed(0);
    return VARIANTS.flatMap((variant) => {
      const runs = results.get(variant.name)!;
      const value = median(runs.map(kept));
      const note = `${items} orders, 2 runs after a warm-up; ${runs
        .map(
          (r) =>
            `RSS ${mb(r.warm.rss)} → ${r.after.map((a) => mb(a.rss)).join(' → ')} MB (peak ${mb(r.peak)}), native ${mb(native(r.warm))} → ${r.after.map((a) => mb(native(a))).join(' → ')}`,
        )
        .join('; ')}`;
      return [
        {
          name: `worker native memory kept by 2 reconciliations, ${variant.name} (smaller is better)`,
          value,
          unit: 'MB',
          ...(variant === VARIANTS[0]
            ? {}
            : { baseline, baselineName: VARIANTS[0].name, ratio: value / baseline }),
          note,
        },
      ];
    });
  } finally {
    for (const config of [large, small]) {
      const aws = createAwsClients(config);
      await cleanupAws(aws, config).catch(() => undefined);
      destroyAwsClients(aws);
    }
  }
}

if (require.main === module) {
  const program = new Command()
    .option('--items <n>', 'orders in the table and the lake', (v) => Number(v))
    .option('--rounds <n>', 'alternating rounds of the variants', (v) => Number(v))
    .parse(process.argv);
  const o = program.opts<{ items?: number; rounds?: number }>();
  runWorkerMemoryBench({ items: o.items, rounds: o.rounds })
    .then((rows) => {
      for (const row of rows) console.log(JSON.stringify(row));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
