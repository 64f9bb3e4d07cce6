/**
 * Benchmark of the local Glue + Athena endpoint over CDC-shaped data (the lake columns of the pipeline):
 * - crawl time of N rows of Parquet in M objects under dt=/hour= folders (default 1M rows, 1,000 objects, 48 hours):
 *   the first crawl reads every footer, re-crawls reuse the classification of unchanged objects (same ETag);
 * - query time of a group-by over all rows, cold (objects downloaded into the cache) and warm;
 * - bytes scanned by an hourly query with partition pruning (`WHERE dt = … AND hour = …`) and without it
 *   (the same hour selected through `change_time`, a data column);
 * - Parquet vs JSON lines (gzip, as the S3 sink writes them) for the same rows: bytes scanned, query and crawl time.
 *
 * The endpoint runs in-process on a free port with a temporary data dir; S3 is the local moto.
 *
 *   npx tsx bench/lake-bench.ts                       # 1M rows / 1,000 objects
 *   npx tsx bench/lake-bench.ts --rows 100000 --objects 100 --repeats 3
 *   BENCH_SCALE=0.1 npm run bench -- --only lake       # 10 % of the default scale
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  GetCrawlerCommand,
  type GlueClient,
  StartCrawlerCommand,
} from '@aws-sdk/client-glue';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { createAwsClients, createS3Client, destroyAwsClients } from '../src/aws/clients';
import { type Config, loadConfig, withOverrides } from '../src/config';
import { CDC_LAKE_COLUMNS } from '../src/lake-format/lake-schema';
import { mapWithConcurrency } from '../src/support/concurrency';
import { startLakeServer } from '../src/lake-endpoint/server';
import { emptyBucket } from '../test/support/cleanup';
import { benchScale, median, type BenchRow } from './types';
import { sleep } from '../src/support/timing';

export interface LakeBenchOptions {
  /** Rows in the lake (default 1,000,000 × BENCH_SCALE). */
  rows?: number;
  /** Parquet objects (and as many JSON-lines objects) the rows are spread over (default 1,000 × BENCH_SCALE). */
  objects?: number;
  /** Hourly partitions the objects are spread over (default 48: two days). */
  hours?: number;
  /** Repetitions of each timed step; medians are reported (default 3). */
  repeats?: number;
  /** Base configuration (default loadConfig()); only S3 is used from it. */
  config?: Config;
  log?: (line: string) => void;
}

const MB = 1024 * 1024;
const REGIONS = ['eu-west', 'us-east', 'us-west', 'ap-south', 'sa-east'];
const STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'];
const OPS = ['INSERT', 'MODIFY', 'REMOVE'];
const START = Date.UTC(2024, 0, 1);

interface Partition {
  dt: string;
  hour: string;
  start: number;
}

export function partitions(hours: number): Partition[] {
  return Array.from({ length: hours }, (_, i) => {
    const start = START + i * 3_600_000;
    const iso = new Date(start).toISOString();
    return { dt: iso.slice(0, 10), hour: iso.slice(11, 13), start };
  });
}

/** Deterministic CDC rows of one object: every lake column, change_time inside the object's hour. */
export function columnsFor(
  objectIndex: number,
  rows: number,
  partition: Partition,
): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = Object.fromEntries(CDC_LAKE_COLUMNS.map((c) => [c.name, []]));
  for (let i = 0; i < rows; i++) {
    const n = objectIndex * rows + i;
    const changeTime = partition.start + Math.floor((i * 3_599_000) / Math.max(1, rows - 1));
    const values: Record<string, unknown> = {
      order_id: `order-${(n % 250_000).toString().padStart(7, '0')}`,
      customer_id: `customer-${(n * 7919) % 50_000}`,
      status: STATUSES[n % STATUSES.length],
      version: BigInt((n % 9) + 1),
      amount: Math.round(((n * 7.31) % 997) * 100) / 100,
      currency: n % 3 ? 'EUR' : 'USD',
      region: REGIONS[n % REGIONS.length],
      item_count: BigInt((n % 12) + 1),
      created_at: new Date(changeTime - 86_400_000),
      updated_at: new Date(changeTime),
      last_event_type: 'OrderUpdated',
      last_event_id: `event-${n}`,
      op: OPS[n % OPS.length],
      change_time: new Date(changeTime),
      sequence_number: String(100_000_000_000 + n),
    };
    for (const c of CDC_LAKE_COLUMNS) out[c.name].push(values[c.name]);
  }
  return out;
}

export function parquetObject(columns: Record<string, unknown[]>): Uint8Array {
  const typeOf = { string: 'STRING', bigint: 'INT64', double: 'DOUBLE', timestamp: 'TIMESTAMP' } as const;
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: CDC_LAKE_COLUMNS.map((c) => ({
        name: c.name,
        data:
          c.type === 'bigint'
            ? BigInt64Array.from(columns[c.name] as bigint[])
            : (columns[c.name] as (string | number | Date)[]),
        type: typeOf[c.type],
      })),
    }),
  );
}

function jsonLinesObject(columns: Record<string, unknown[]>, rows: number): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const record: Record<string, unknown> = {};
    for (const c of CDC_LAKE_COLUMNS) {
      const v = columns[c.name][i];
      record[c.name] = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v;
    }
    lines.push(JSON.stringify(record));
  }
  return new Uint8Array(gzipSync(`${lines.join('\n')}\n`));
}

async function timedCrawl(glue: GlueClient, name: string): Promise<number> {
  const started = Date.now();
  await glue.send(new StartCrawlerCommand({ Name: name }));
  for (;;) {
    const { Crawler } = await glue.send(new GetCrawlerCommand({ Name: name }));
    if (Crawler?.State === 'READY') {
      if (Crawler.LastCrawl?.Status !== 'SUCCEEDED')
        throw new Error(`crawl ${name} ${Crawler.LastCrawl?.Status}: ${Crawler.LastCrawl?.ErrorMessage}`);
      return (Date.now() - started) / 1000;
    }
    await sleep(20);
  }
}

async function timedQuery(
  athena: AthenaClient,
  sql: string,
  database: string,
  output: string,
): Promise<{ seconds: number; execution: QueryExecution }> {
  const started = Date.now();
  const { QueryExecutionId } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: { Database: database },
      ResultConfiguration: { OutputLocation: output },
    }),
  );
  for (;;) {
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    const state = QueryExecution?.Status?.State;
    if (QueryExecution && state === 'SUCCEEDED')
      return { seconds: (Date.now() - started) / 1000, execution: QueryExecution };
    if (state === 'FAILED' || state === 'CANCELLED')
      throw new Error(`query ${state}: ${QueryExecution?.Status?.StateChangeReason}\n${sql}`);
    await sleep(10);
  }
}

export async function runLakeBench(opts: LakeBenchOptions = {}): Promise<BenchRow[]> {
  // Explicit options win over BENCH_SCALE.
  const scale = benchScale();
  const rows = opts.rows ?? Math.round(1_000_000 * scale);
  const objectCount = Math.max(1, opts.objects ?? Math.round(1_000 * scale));
  const hourCount = Math.max(1, Math.min(opts.hours ?? 48, objectCount));
  const repeats = Math.max(1, opts.repeats ?? 3);
  const log = opts.log ?? ((line: string) => console.error(line));
  const rowsPerObject = Math.ceil(rows / objectCount);

  const dataDir = mkdtempSync(join(tmpdir(), 'lake-bench-'));
  // The endpoint's own logs stay quiet unless the caller passes a config with its log level.
  const base = withOverrides(opts.config ?? withOverrides(loadConfig(), { logLevel: 'warn' }), { dataDir });
  // The endpoint reads S3 through the pipeline's client, its state under <dataDir>/lake as in the stack.
  const lakeS3 = createS3Client(base);
  const lake = await startLakeServer({
    port: 0,
    dataDir: join(dataDir, 'lake'),
    s3: lakeS3,
    logLevel: base.logLevel,
  });
  const config = withOverrides(base, { aws: { endpoints: { glue: lake.url, athena: lake.url } } });
  const aws = createAwsClients(config);
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const bucket = `lake-bench-${id}`;
  const database = `lake_bench_${id}`;
  const output = `s3://${bucket}/athena-results/`;
  const result: BenchRow[] = [];
  try {
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const hours = partitions(hourCount);
    log(
      `lake bench: writing ${rows.toLocaleString('en-US')} rows as ${objectCount} Parquet + ${objectCount} JSON-lines (gzip) objects over ${hourCount} hours`,
    );
    const sizes = { parquet: 0, json: 0 };
    const hourBytes = { parquet: 0 };
    const probe = hours[Math.min(5, hours.length - 1)];
    await mapWithConcurrency(
      Array.from({ length: objectCount }, (_, i) => i),
      8,
      async (i) => {
        const partition = hours[i % hours.length];
        const n = Math.min(rowsPerObject, Math.max(0, rows - i * rowsPerObject));
        const columns = columnsFor(i, n, partition);
        const folder = `dt=${partition.dt}/hour=${partition.hour}`;
        const parquet = parquetObject(columns);
        const json = jsonLinesObject(columns, n);
        sizes.parquet += parquet.length;
        sizes.json += json.length;
        if (partition === probe) hourBytes.parquet += parquet.length;
        const name = `part-${String(i).padStart(5, '0')}`;
        await aws.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `parquet/orders_cdc/${folder}/${name}.parquet`,
            Body: parquet,
          }),
        );
        await aws.s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `jsonl/orders_cdc_json/${folder}/${name}.json.gz`,
            Body: json,
          }),
        );
      },
    );
    log(
      `lake bench: ${(sizes.parquet / MB).toFixed(1)} MB Parquet, ${(sizes.json / MB).toFixed(1)} MB JSON lines (gzip)`,
    );

    await aws.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
    const crawlerConfiguration = JSON.stringify({
      Version: 1.0,
      Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
      CrawlerOutput: { Partitions: { AddOrUpdateBehavior: 'InheritFromTable' } },
    });
    for (const [name, path] of [
      ['parquet', `s3://${bucket}/parquet/`],
      ['jsonl', `s3://${bucket}/jsonl/`],
    ]) {
      await aws.glue.send(
        new CreateCrawlerCommand({
          Name: `${database}-${name}`,
          Role: 'bench',
          DatabaseName: database,
          Targets: { S3Targets: [{ Path: path }] },
          Configuration: crawlerConfiguration,
        }),
      );
    }

    const crawlTimes = { parquet: [] as number[], json: [] as number[] };
    for (let r = 0; r < repeats; r++) {
      crawlTimes.parquet.push(await timedCrawl(aws.glue, `${database}-parquet`));
      log(`lake bench: Parquet crawl ${r + 1}/${repeats}: ${crawlTimes.parquet.at(-1)} s`);
    }
    crawlTimes.json.push(await timedCrawl(aws.glue, `${database}-jsonl`));
    log(`lake bench: JSON-lines crawl: ${crawlTimes.json[0]} s`);

    const groupBy = (table: string) =>
      `SELECT region, status, count(*) AS orders, sum(amount) AS amount, approx_distinct(customer_id) AS customers FROM ${table} GROUP BY region, status`;
    const cold = await timedQuery(aws.athena, groupBy('orders_cdc'), database, output);
    log(`lake bench: cold group-by (downloads ${objectCount} objects): ${cold.seconds} s`);
    const warm: number[] = [];
    for (let r = 0; r < repeats; r++)
      warm.push((await timedQuery(aws.athena, groupBy('orders_cdc'), database, output)).seconds);
    const jsonCold = await timedQuery(aws.athena, groupBy('orders_cdc_json'), database, output);
    const jsonWarm: number[] = [];
    for (let r = 0; r < repeats; r++)
      jsonWarm.push((await timedQuery(aws.athena, groupBy('orders_cdc_json'), database, output)).seconds);

    const hourStart = new Date(probe.start).toISOString().replace('T', ' ').slice(0, 19);
    const hourEnd = new Date(probe.start + 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
    const pruned = `SELECT count(*), sum(amount) FROM orders_cdc WHERE dt = '${probe.dt}' AND hour = '${probe.hour}'`;
    const unpruned = `SELECT count(*), sum(amount) FROM orders_cdc WHERE change_time >= TIMESTAMP '${hourStart}' AND change_time < TIMESTAMP '${hourEnd}'`;
    const prunedRuns: { seconds: number; execution: QueryExecution }[] = [];
    const unprunedRuns: { seconds: number; execution: QueryExecution }[] = [];
    for (let r = 0; r < repeats; r++) {
      prunedRuns.push(await timedQuery(aws.athena, pruned, database, output));
      unprunedRuns.push(await timedQuery(aws.athena, unpruned, database, output));
    }
    const prunedBytes = prunedRuns[0].execution.Statistics?.DataScannedInBytes ?? 0;
    const unprunedBytes = unprunedRuns[0].execution.Statistics?.DataScannedInBytes ?? 0;
    if (prunedBytes !== hourBytes.parquet)
      log(`lake bench: WARNING pruned bytes ${prunedBytes} != objects of the hour ${hourBytes.parquet}`);

    const scale1 = `${(rows / 1e6).toLocaleString('en-US')}M rows, ${objectCount.toLocaleString('en-US')} objects, ${hourCount} hours`;
    const parquetScan = cold.execution.Statistics?.DataScannedInBytes ?? 0;
    const jsonScan = jsonCold.execution.Statistics?.DataScannedInBytes ?? 0;
    const m = (xs: number[]) => median(xs);
    result.push(
      {
        name: `crawl Parquet (${scale1}): first crawl (reads every footer) vs re-crawl of unchanged objects (median of ${Math.max(1, repeats - 1)})`,
        value: crawlTimes.parquet[0],
        unit: 's',
        ...(repeats > 1
          ? {
              baseline: m(crawlTimes.parquet.slice(1)),
              baselineName: 're-crawl',
              ratio: crawlTimes.parquet[0] / m(crawlTimes.parquet.slice(1)),
            }
          : {}),
      },
      {
        name: `group-by query over ${scale1}: warm cache (median of ${repeats}) vs cold cache (first run, downloads every object)`,
        value: m(warm),
        unit: 's',
        baseline: cold.seconds,
        baselineName: 'cold',
        ratio: m(warm) / cold.seconds,
      },
      {
        name: 'hourly query bytes scanned: with partition pruning vs without (same hour via change_time)',
        value: prunedBytes / MB,
        unit: 'MB',
        baseline: unprunedBytes / MB,
        baselineName: 'no pruning',
        ratio: prunedBytes / Math.max(1, unprunedBytes),
      },
      {
        name: `hourly query time with pruning vs without, median of ${repeats}`,
        value: m(prunedRuns.map((r) => r.seconds)),
        unit: 's',
        baseline: m(unprunedRuns.map((r) => r.seconds)),
        baselineName: 'no pruning',
        ratio: m(prunedRuns.map((r) => r.seconds)) / m(unprunedRuns.map((r) => r.seconds)),
      },
      {
        name: 'group-by bytes scanned: Parquet vs JSON lines (gzip), same rows',
        value: parquetScan / MB,
        unit: 'MB',
        baseline: jsonScan / MB,
        baselineName: 'JSON lines',
        ratio: parquetScan / Math.max(1, jsonScan),
      },
      {
        name: `group-by query time (warm): Parquet vs JSON lines (gzip), median of ${repeats}`,
        value: m(warm),
        unit: 's',
        baseline: m(jsonWarm),
        baselineName: 'JSON lines',
        ratio: m(warm) / m(jsonWarm),
        note: `JSON cold ${jsonCold.seconds} s`,
      },
      {
        name: 'first crawl: Parquet (footers only) vs JSON lines (whole objects read and parsed)',
        value: crawlTimes.parquet[0],
        unit: 's',
        baseline: crawlTimes.json[0],
        baselineName: 'JSON lines',
        ratio: crawlTimes.parquet[0] / crawlTimes.json[0],
      },
    );
    return result;
  } finally {
    await emptyBucket(aws.s3, bucket, { deleteBucket: true }).catch((error: unknown) =>
      log(`lake bench: cleanup of ${bucket} failed: ${(error as Error).message}`),
    );
    destroyAwsClients(aws);
    await lake.close();
    lakeS3.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at !== -1 ? Number(process.argv[at + 1]) : undefined;
  };
  const rows = await runLakeBench({
    rows: arg('rows'),
    objects: arg('objects'),
    hours: arg('hours'),
    repeats: arg('repeats'),
  });
  const fmt = (v: number | undefined) =>
    v === undefined ? '' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3);
  console.log('| measurement | value | baseline | ratio |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    const baseline = r.baseline !== undefined ? `${fmt(r.baseline)} ${r.unit} (${r.baselineName})` : '';
    console.log(
      `| ${r.name}${r.note ? ` — ${r.note}` : ''} | ${fmt(r.value)} ${r.unit} | ${baseline} | ${fmt(r.ratio)} |`,
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
