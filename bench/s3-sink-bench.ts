/**
 * S3 sink benchmark, each figure beside its baseline measured in the same run:
 *
 * 1. Throughput: records/s of the S3 sink with its default settings (decode, Parquet, PUT to S3, commit) draining
 *    a pre-produced backlog, against a raw kafkajs consumer (eachBatch, counting bytes) draining the same topic.
 *    Alternated, 3 repetitions each, medians. Both are timed from connect to the last record done, so both
 *    include the group join. For the sink "done" is in S3 and committed: once it has taken every record it is
 *    stopped, and a stop cuts, uploads and commits what it holds, as it does on every deployment's SIGTERM (with
 *    the default 30 s wall-clock rotation, waiting for the timer would measure the timer). The same backlog is also
 *    drained as JSON lines, and by a "ceiling" consumer that does only the unavoidable part (values → DuckDB
 *    Parquet → PUT → commit, no decoding or validation); the cost per record of each sink stage is measured in
 *    process. Every drain's CPU time is measured too (this process alone, and with the local broker and S3
 *    endpoint, cpu-meter.ts).
 * 2. Memory and CPU of the sink as its own process, as the container runs it (compiled by `npm run build`, then
 *    `node dist/streaming/s3-sink/main.js`, default settings) draining a 1M-record backlog: peak RSS (heap and native buffers: VmHWM, and the RSS sampled every
 *    100 ms with pidusage), peak heap and peak buffered bytes against the cap, and its CPU per record.
 *
 *   npx tsx bench/s3-sink-bench.ts          # alone (needs the local stack running)
 *   BENCH_SCALE=0.2 npx tsx bench/s3-sink-bench.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pidusage from 'pidusage';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import { createS3Client } from '../src/aws/clients';
import { configToEnv, loadConfig, withOverrides, type Config, type DeepPartial } from '../src/config';
import { createKafka } from '../src/kafka/client';
import { createLogger } from '../src/observability/logger';
import { scrapeMetrics } from '../src/observability/metrics-scrape';
import { ensureTopics, pipelineTopics } from '../src/resources/kafka-topics';
import { ensureBucket } from '../src/resources/s3-bucket';
import { decodeCdcRecord } from '../src/lake-format/cdc-record';
import { changeLine, lakeRowOfLine } from '../src/lake-format/change-line';
import { createDuckDbChangeEncoder } from '../src/lake-format/formats/duckdb-encoder';
import { createParquetFormat, encodeParquet } from '../src/lake-format/formats/parquet';
import { createS3Sink } from '../src/streaming/s3-sink/s3-sink';
import { compiledEntry, STREAMING_PROCESSES } from '../src/local/pipeline-processes';
import { cdcMessage, makeCdcEvents, produceMessages } from '../test/streaming/s3-sink-support';
import { waitFor } from '../src/support/timing';
import { deletePipelineTopics } from '../test/support/cleanup';
import { createCpuMeter, OWN_PROCESS, type CpuMeter } from './cpu-meter';
import { benchScale, median, runStandalone, type BenchRow } from './types';

const REPETITIONS = 3;
const MiB = 1024 * 1024;

function benchConfig(label: string, overrides: DeepPartial<Config> = {}): Config {
  const id = `bench-${label}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const base = withOverrides(loadConfig(), {
    topics: {
      events: `${id}.events`,
      eventsDlq: `${id}.events.dlq`,
      cdc: `${id}.cdc`,
      cdcDlq: `${id}.cdc.dlq`,
    },
    lake: { bucket: id.slice(0, 63) },
    kafka: { clientId: id },
    logLevel: 'warn',
  });
  return withOverrides(base, overrides);
}

/** Changes produced per chunk: the whole backlog is never held in memory at once (1M changes would take GiBs). */
const PRODUCE_CHUNK = 20_000;

async function prepare(config: Config, records: number): Promise<Kafka> {
  const kafka = createKafka(config, 'bench');
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  const s3 = createS3Client(config);
  await ensureBucket(s3, config);
  s3.destroy();
  // Change times 50 ms apart: record-time rotation (15 min) cuts too, as it would on a real backlog.
  const spacingMs = 50;
  const start = Date.parse('2024-05-01T09:40:00.000Z');
  for (let first = 0; first < records; first += PRODUCE_CHUNK) {
    const events = makeCdcEvents(Math.min(PRODUCE_CHUNK, records - first), {
      spacingMs,
      orders: Math.ceil(PRODUCE_CHUNK / 4),
      start: new Date(start + first * spacingMs),
      sequenceBase: 100000000000000000000n + BigInt(first),
    });
    await produceMessages(kafka, config.topics.cdc, events.map(cdcMessage), 1000);
  }
  return kafka;
}

/** The baseline: a kafkajs consumer that only counts what it drains. */
async function rawDrain(kafka: Kafka, config: Config, groupId: string, records: number): Promise<number> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 1000 });
  let count = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.cdc], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) bytes += message.value?.length ?? 0;
      count += batch.messages.length;
      if (count >= records) done();
    },
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  if (bytes === 0) throw new Error('raw consumer read no bytes');
  return records / seconds;
}

/**
 * The ceiling: the least any S3 sink of this topic must do, with nothing the issue asks of the real one. Each
 * partition's values are taken as they are (no decoding, validation, routing, de-duplication, dead letters or
 * segment intents), encoded 5,000 at a time by the same DuckDB encoder, PUT under one key and committed. What it
 * reaches against the raw consumer bounds what the real sink can reach on this machine.
 */
async function ceilingDrain(kafka: Kafka, config: Config, groupId: string, records: number): Promise<number> {
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 1000,
    maxBytesPerPartition: MiB,
    maxBytes: 10 * MiB,
  });
  const encoder = createDuckDbChangeEncoder();
  const s3 = createS3Client(config);
  let uploaded = 0;
  let failure: Error | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const partitions = new Map<number, { lines: Buffer[]; start: number; queue: Promise<void> }>();
  const cut = (
    partition: number,
    state: { lines: Buffer[]; start: number; queue: Promise<void> },
    end: number,
  ) => {
    const { lines, start } = state;
    state.lines = [];
    const body = encoder.encodeParquet(lines);
    body.catch(() => undefined);
    state.queue = state.queue
      .then(async () => {
        const key = `ceiling/${config.topics.cdc}+${partition}+${String(start).padStart(10, '0')}.parquet`;
        await s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: key, Body: await body }));
        await consumer.commitOffsets([{ topic: config.topics.cdc, partition, offset: String(end + 1) }]);
        uploaded += lines.length;
        if (uploaded >= records) done();
      })
      .catch((error: Error) => {
        failure = error;
        done();
      });
  };
  const started = process.hrtime.bigint();
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.cdc], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: config.topics.partitions,
    eachBatch: async ({ batch }) => {
      let state = partitions.get(batch.partition);
      if (!state)
        partitions.set(batch.partition, (state = { lines: [], start: 0, queue: Promise.resolve() }));
      for (const message of batch.messages) {
        if (state.lines.length === 0) state.start = Number(message.offset);
        state.lines.push(message.value!);
        if (state.lines.length >= 5000) cut(batch.partition, state, Number(message.offset));
      }
      // The end of what is there: cut now rather than wait for a timer.
      if (Number(batch.lastOffset()) + 1 >= Number(batch.highWatermark) && state.lines.length > 0) {
        cut(batch.partition, state, Number(batch.lastOffset()));
      }
    },
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  encoder.close();
  s3.destroy();
  if (failure) throw failure;
  return records / seconds;
}

/**
 * The sink with its default settings, in process, from start to the last record in S3 and committed: once it has
 * taken every record, stop() cuts, uploads and commits what it holds.
 */
async function sinkDrain(
  kafka: Kafka,
  config: Config,
  groupId: string,
  records: number,
): Promise<{ rate: number; objects: number }> {
  const sink = createS3Sink({ config, logger: createLogger('bench-s3-sink', config), kafka, groupId });
  const started = process.hrtime.bigint();
  await sink.start();
  try {
    await waitFor(
      'the sink to take every record',
      async () => (sink.stats().recordsIn >= records ? true : undefined),
      { timeoutMs: 600_000, intervalMs: 5 },
    );
  } finally {
    await sink.stop();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { objectsWritten, rowsOut } = sink.stats();
  if (rowsOut !== records) throw new Error(`sink wrote ${rowsOut} rows, expected ${records}`);
  return { rate: records / seconds, objects: objectsWritten };
}

/**
 * Cost per record of each stage of the sink, in process and without I/O: where the time goes. Decoding runs on
 * the consumer's thread; the native encoder runs on DuckDB's thread (its wall time per record is shown), the
 * JavaScript writer it replaced is measured beside it.
 */
async function stageCosts(records: number): Promise<{ decode: number; native: number; javascript: number }> {
  const bodies = makeCdcEvents(records, { spacingMs: 50 }).map((event) => Buffer.from(JSON.stringify(event)));
  const format = createParquetFormat();
  let best = { decode: Infinity, native: Infinity, javascript: Infinity };
  try {
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      const lines = bodies.map((body) => changeLine(body, decodeCdcRecord(body)));
      const t1 = process.hrtime.bigint();
      for (let i = 0; i < lines.length; i += 5000) await format.encodeChanges(lines.slice(i, i + 5000));
      const t2 = process.hrtime.bigint();
      const rows = lines.map(lakeRowOfLine);
      for (let i = 0; i < rows.length; i += 5000) encodeParquet(rows.slice(i, i + 5000));
      const t3 = process.hrtime.bigint();
      const us = (a: bigint, b: bigint) => Number(b - a) / 1e3 / records;
      best = {
        decode: Math.min(best.decode, us(t0, t1)),
        native: Math.min(best.native, us(t1, t2)),
        javascript: Math.min(best.javascript, us(t2, t3)),
      };
    }
  } finally {
    format.close();
  }
  return best;
}

/** Runs a drain and measures the CPU every party spent on it, per record. */
async function metered<T>(
  meter: CpuMeter,
  records: number,
  drain: () => Promise<T>,
): Promise<{ result: T; cpu: Map<string, number> }> {
  const before = await meter.snapshot();
  const result = await drain();
  return { result, cpu: meter.perRecordMicros(before, await meter.snapshot(), records) };
}

/** Median µs of CPU per record of each party over the repetitions. */
function medianCpu(runs: Map<string, number>[]): Map<string, number> {
  return new Map([...runs[0].keys()].map((party) => [party, median(runs.map((run) => run.get(party)!))]));
}

function describeCpu(cpu: Map<string, number>): string {
  const parts = [...cpu]
    .filter(([party]) => party !== 'total')
    .map(([party, us]) => `${party} ${us.toFixed(1)}`);
  return `${cpu.get('total')!.toFixed(1)} µs (${parts.join(', ')})`;
}

async function throughput(records: number): Promise<BenchRow[]> {
  const config = benchConfig('s3tput');
  const kafka = await prepare(config, records);
  const meter = await createCpuMeter(config);
  const raw: number[] = [];
  const sink: number[] = [];
  const jsonl: number[] = [];
  const ceiling: number[] = [];
  const cpu = {
    raw: [] as Map<string, number>[],
    sink: [] as Map<string, number>[],
    jsonl: [] as Map<string, number>[],
    ceiling: [] as Map<string, number>[],
  };
  let objects = 0;
  try {
    for (let rep = 1; rep <= REPETITIONS; rep++) {
      const rawRun = await metered(meter, records, () =>
        rawDrain(kafka, config, `${config.kafka.clientId}-raw-${rep}`, records),
      );
      raw.push(rawRun.result);
      cpu.raw.push(rawRun.cpu);
      // A fresh prefix per repetition: each run writes a new lake (no earlier cuts to replay).
      const parquetConfig = withOverrides(config, { lake: { prefix: `bench-rep-${rep}` } });
      const sinkRun = await metered(meter, records, () =>
        sinkDrain(kafka, parquetConfig, `${config.kafka.clientId}-sink-${rep}`, records),
      );
      sink.push(sinkRun.result.rate);
      cpu.sink.push(sinkRun.cpu);
      objects = sinkRun.result.objects;
      const jsonlConfig = withOverrides(config, { lake: { prefix: `bench-jsonl-${rep}`, format: 'jsonl' } });
      const jsonlRun = await metered(meter, records, () =>
        sinkDrain(kafka, jsonlConfig, `${config.kafka.clientId}-jsonl-${rep}`, records),
      );
      jsonl.push(jsonlRun.result.rate);
      cpu.jsonl.push(jsonlRun.cpu);
      const ceilingRun = await metered(meter, records, () =>
        ceilingDrain(kafka, config, `${config.kafka.clientId}-ceiling-${rep}`, records),
      );
      ceiling.push(ceilingRun.result);
      cpu.ceiling.push(ceilingRun.cpu);
      console.error(
        `  rep ${rep}: raw ${Math.round(raw[rep - 1])}, sink parquet ${Math.round(sinkRun.result.rate)} (${objects} objects), sink jsonl ${Math.round(jsonl[rep - 1])}, ceiling ${Math.round(ceiling[rep - 1])} records/s; CPU µs/record raw ${rawRun.cpu.get('total')!.toFixed(1)}, sink ${sinkRun.cpu.get('total')!.toFixed(1)}, ceiling ${ceilingRun.cpu.get('total')!.toFixed(1)}`,
      );
    }
  } finally {
    meter.close();
    await deletePipelineTopics(kafka, config);
  }
  const value = median(sink);
  const baseline = median(raw);
  const stages = await stageCosts(Math.min(records, 30_000));
  const runs = (rates: number[]) => rates.map((r) => Math.round(r)).join(', ');
  const vsRaw = { baseline, baselineName: 'raw kafkajs eachBatch consumer draining the same topic' };
  const backlog = `${records.toLocaleString('en-US')}-record backlog`;
  return [
    {
      name: `S3 sink records/s (Parquet+snappy, default settings, ${config.topics.partitions} partitions, ${backlog})`,
      value,
      unit: 'records/s',
      ...vsRaw,
      ratio: value / baseline,
      target: '>= 0.35',
      note: `median of ${REPETITIONS}; sink runs ${runs(sink)}; raw runs ${runs(raw)}; ${objects} objects per run`,
    },
    {
      name: 'S3 sink records/s, JSON lines (same backlog)',
      value: median(jsonl),
      unit: 'records/s',
      ...vsRaw,
      ratio: median(jsonl) / baseline,
      target: '>= 0.25',
      note: `median of ${REPETITIONS}; runs ${runs(jsonl)}`,
    },
    {
      name: 'Ceiling: values to DuckDB Parquet to S3, no decoding or validation (same backlog)',
      value: median(ceiling),
      unit: 'records/s',
      ...vsRaw,
      ratio: median(ceiling) / baseline,
      note: `median of ${REPETITIONS}; runs ${runs(ceiling)}; bounds what any sink doing the issue's work can reach here`,
    },
    ...cpuRows(meter, {
      'S3 sink (Parquet)': cpu.sink,
      'S3 sink (JSON lines)': cpu.jsonl,
      'ceiling consumer': cpu.ceiling,
      'raw consumer': cpu.raw,
    }),
    {
      name: 'S3 sink cost per record by stage (in process, no I/O, best of 3)',
      value: stages.decode,
      unit: 'µs/record on the consumer thread',
      baseline: 1e6 / baseline,
      baselineName: 'raw consumer, whole drain',
      ratio: stages.decode / (1e6 / baseline),
      note: `decode + validate + encoder line ${stages.decode.toFixed(1)} µs (consumer thread); Parquet: DuckDB ${stages.native.toFixed(1)} µs wall (its own thread) vs hyparquet-writer from rows ${stages.javascript.toFixed(1)} µs (JavaScript, the fallback)`,
    },
  ];
}

/**
 * One row per consumer: µs of CPU per record of its own process (every thread), beside the raw consumer's, with
 * the total over the local broker and moto in the note (medians over the repetitions).
 */
function cpuRows(meter: CpuMeter, byConsumer: Record<string, Map<string, number>[]>): BenchRow[] {
  const own = (runs: Map<string, number>[]) => medianCpu(runs).get(OWN_PROCESS)!;
  const rawOwn = own(byConsumer['raw consumer']);
  return Object.entries(byConsumer).map(([consumer, runs]) => ({
    name: `CPU per record: ${consumer}, its own process (in process: every thread)`,
    value: own(runs),
    unit: 'µs CPU/record',
    baseline: rawOwn,
    baselineName: 'raw consumer, its own process',
    ratio: own(runs) / rawOwn,
    note: `with the local services (${meter.parties.map((p) => p.name).join(', ')}): ${describeCpu(medianCpu(runs))}; median of ${runs.length}`,
  }));
}

function procStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 'NaN') * 1024;
    const status = { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    // A process that has exited but is not reaped yet has no memory lines.
    return Number.isFinite(status.rss) && Number.isFinite(status.hwm) ? status : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process's children that have exited and been reaped (cutime + cstime in /proc/self/stat). */
function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces: cutime and cstime are 16 and 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}
/** USER_HZ, which Linux fixes at 100 for what /proc reports. */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcessRun {
  seconds: number;
  startupRss: number;
  peakRss: number;
  peakHeap: number;
  maxBuffered: number;
  pauses: number;
  /** µs of CPU per record: the sink's process (all threads, reaped), and the broker and moto. */
  cpu: Map<string, number>;
}

/**
 * The sink as its own process with its default settings over a fresh pre-produced backlog: its memory sampled every
 * 100 ms (VmHWM and pidusage's RSS), its heap from its metrics endpoint. Once it has taken every record it gets a
 * SIGTERM, which flushes and commits the rest before it exits.
 */
async function processRun(records: number): Promise<ProcessRun> {
  const config = benchConfig('s3proc', { metricsPort: 0, logLevel: 'info' });
  const kafka = await prepare(config, records);
  const meter = await createCpuMeter(config);
  const sinkParty = 'S3 sink process';
  const cpuBefore = await meter.snapshot();
  const childrenBefore = reapedChildrenCpuSeconds();
  const started = Date.now();
  const child = spawn(process.execPath, [compiledEntry(S3_SINK_ENTRY)], {
    cwd: ROOT,
    env: { ...process.env, ...configToEnv(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let metricsUrl: string | undefined;
  let startupRss = Number.NaN;
  let lastStats: Record<string, unknown> | undefined;
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.metricsUrl === 'string') {
          metricsUrl = entry.metricsUrl;
          startupRss = procStatus(child.pid!)?.rss ?? Number.NaN;
        }
        if (entry.msg === 's3 sink stopped') lastStats = entry;
      } catch {
        // not a log line
      }
    }
  });
  let peakHeap = 0;
  let peakRss = 0;
  let recordsIn = 0;
  const sampler = setInterval(() => {
    const status = procStatus(child.pid!);
    if (status) peakRss = Math.max(peakRss, status.hwm, status.rss);
    pidusage(child.pid!)
      .then((usage) => (peakRss = Math.max(peakRss, usage.memory)))
      .catch(() => undefined); // exited between two samples
  }, 100);
  const scraper = setInterval(() => {
    if (!metricsUrl) return;
    void scrapeMetrics(metricsUrl).then((totals) => {
      peakHeap = Math.max(peakHeap, totals?.get('nodejs_heap_size_used_bytes') ?? 0);
      recordsIn = Math.max(recordsIn, totals?.get('s3_sink_records_in_total') ?? 0);
    });
  }, 500);
  try {
    await waitFor('the sink process to take every record', async () => recordsIn >= records || undefined, {
      timeoutMs: 1_800_000,
      intervalMs: 100,
    });
    child.kill('SIGTERM');
    const code = await exited;
    const seconds = (Date.now() - started) / 1000;
    if (code !== 0) throw new Error(`the sink exited with ${code}`);
    if (Number(lastStats?.rowsOut) !== records)
      throw new Error(`the sink process wrote ${String(lastStats?.rowsOut)} rows, expected ${records}`);
    const cpu = meter.perRecordMicros(cpuBefore, await meter.snapshot(), records);
    const sinkMicros = ((reapedChildrenCpuSeconds() - childrenBefore) / records) * 1e6;
    cpu.delete(OWN_PROCESS);
    cpu.set(sinkParty, sinkMicros);
    cpu.set(
      'total',
      [...cpu].reduce((sum, [party, us]) => (party === 'total' ? sum : sum + us), 0),
    );
    return {
      seconds,
      startupRss,
      peakRss,
      peakHeap,
      maxBuffered: Number(lastStats?.maxBufferedBytes ?? Number.NaN),
      pauses: Number(lastStats?.fetchPauses ?? Number.NaN),
      cpu,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(scraper);
    meter.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    await deletePipelineTopics(kafka, config);
  }
}

const ROOT = join(__dirname, '..');
const S3_SINK_ENTRY = STREAMING_PROCESSES.find((p) => p.name === 's3-sink')!.entry;

async function ownProcess(records: number): Promise<BenchRow[]> {
  // As the container runs it: compiled (`npm run build`) and started with node. Through tsx the process also holds
  // the loader and the transpiled sources.
  console.error('  building dist/ (npm run build) for the sink process');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const run = await processRun(records);
  const cap = loadConfig().s3Sink.maxBufferBytes;
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
  const backlog = `${records.toLocaleString('en-US')}-record backlog, default settings`;
  const limit = 300 * 1e6;
  return [
    {
      name: `S3 sink process peak RSS (heap and native buffers), ${backlog}`,
      value: run.peakRss / 1e6,
      unit: 'MB',
      baseline: limit / 1e6,
      baselineName: 'the target',
      ratio: run.peakRss / limit,
      target: '<= 300 MB',
      note: `RSS at startup ${mib(run.startupRss)}; peak heap used ${mib(run.peakHeap)}; peak buffered ${mib(run.maxBuffered)} of the ${mib(cap)} cap, ${run.pauses} fetch pauses; ${Math.round(records / run.seconds)} records/s from spawn to exit`,
    },
    {
      name: `CPU per record: S3 sink as its own process (every thread), ${backlog}`,
      value: run.cpu.get('S3 sink process')!,
      unit: 'µs CPU/record',
      note: `with the local services: ${describeCpu(run.cpu)}`,
    },
  ];
}

export async function runS3SinkBench(): Promise<BenchRow[]> {
  const factor = benchScale();
  const rows = await throughput(Math.round(100_000 * factor));
  rows.push(...(await ownProcess(Math.round(1_000_000 * factor))));
  return rows;
}

if (require.main === module) runStandalone(runS3SinkBench);
