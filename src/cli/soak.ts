/**
 * `npm run soak -- --minutes M --rate R`: runs the continuous pipeline (`npm start`, on the local stack) for M
 * minutes and samples, every minute, each process's RSS and CPU (the stack's services included), the disk use under
 * the data dir, the consumer lags and the running counts. Then it stops `npm start` (Ctrl-C), lets the streaming
 * processes drain, checks that every store agrees exactly, prints a table and exits non-zero if a process's RSS,
 * the disk or a lag keeps growing (least-squares slope over the second half above its bound) or a count diverges.
 *
 *   npm run soak -- --minutes 30 --rate 50
 *   npm run soak -- check          # only the exact check of the stores (after a restart, say)
 *
 * Bounds (per minute, over the second half; the first half is warm-up):
 * - RSS of each process: --rss-slope-mb (default 1 MB/min, i.e. < 1.5 GB a day). moto is the in-memory
 *   DynamoDB, so the orders table is memory there: its bound adds MOTO_KB_PER_ITEM per item the table gained
 *   (on AWS that growth is table storage). The stream window, the S3 bodies (in files) and everything else
 *   must be flat.
 * - disk under the data dir: Kafka keeps every event and change for TOPIC_RETENTION_HOURS, so the disk grows
 *   with the data until the retention starts deleting; the bound is --disk-kb-per-event (default 4 KB) times the
 *   events per minute.
 * - consumer lags: 1 % of the events per minute (a pipeline that keeps up has a flat lag).
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createAwsClients, destroyAwsClients } from '../aws/clients';
import { loadConfig, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { startPipelineProcesses, startStack, type StackEvent } from '../local';
import { isRecordAlive, readPidFile, spawnDetached, stopGroup } from '../local/os-processes';
import { PROJECT_ROOT, stackPaths, typeScriptEntry } from '../local/paths';
import { MOTO_KB_PER_ITEM } from '../local/services/moto';
import { STREAMING_PROCESSES, WORKER_PROCESS } from '../local/pipeline-processes';
import { numberBetween } from '../support/cli-options';
import { sleep, waitFor } from '../support/timing';
import { connectClient } from '../temporal/connection';
import { takeSample, type Sample } from './soak/sampler';
import { checkStores } from './soak/store-check';
import {
  leastSquaresSlope,
  secondHalf,
  soakVerdict,
  type CountCheck,
  type SeriesBound,
  type SoakVerdict,
} from './soak/verdict';
import { CliError } from './shared/cli-error';
import { plainAwareTable } from './shared/output';

interface SoakOptions {
  minutes: number;
  rate: number;
  sampleSeconds: number;
  rssSlopeMb: number;
  diskKbPerEvent: number;
}

const say = (line: string) => console.log(line);
const report = ({ service, message }: StackEvent) => say(`  [${service}] ${message}`);
const OWNER = 'soak';
/** The soak's own `npm start`, watched like the stack's services (the generator runs in it). */
const MAIN = 'npm-start';

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);

function sampleLine(sample: Sample): string {
  const rss = [...sample.processes].map(([name, usage]) => `${name} ${fmt(usage.rssMb)}`).join(', ');
  const { counts, lags } = sample;
  return (
    `[${fmt(sample.minute, 1)} min] RSS MB: ${rss} │ disk ${fmt(sample.diskMb)} MB │ lag sink ${fmt(lags.dynamoSink)}, ` +
    `s3 ${fmt(lags.s3Sink)} │ events ${fmt(counts.events)}, DynamoDB writes ${fmt(counts.dynamoWrites)}, ` +
    `CDC ${fmt(counts.cdcPublished)}, S3 ${fmt(counts.s3Records)}, orders ${fmt(counts.orders)}`
  );
}

/** The series to judge, with their bounds (see the header). */
function soakSeries(samples: Sample[], options: SoakOptions): SeriesBound[] {
  const names = [...new Set(samples.flatMap((s) => [...s.processes.keys()]))];
  const eventsPerMinute = options.rate * 60;
  const series = (name: string, unit: string, max: number, value: (s: Sample) => number | undefined) => ({
    name,
    unit,
    maxSlopePerMinute: max,
    points: samples.flatMap((s) => {
      const v = value(s);
      return v === undefined ? [] : [{ minute: s.minute, value: v }];
    }),
  });
  const orderItems = series('orders table', 'items', Infinity, (s) => s.counts.orders);
  const itemsPerMinute = Math.max(0, leastSquaresSlope(secondHalf(orderItems.points)) ?? 0);
  const rssBound = (name: string) =>
    options.rssSlopeMb + (name === 'moto' ? (itemsPerMinute * MOTO_KB_PER_ITEM) / 1024 : 0);
  return [
    ...names.map((name) => series(`RSS ${name}`, 'MB', rssBound(name), (s) => s.processes.get(name)?.rssMb)),
    series(
      'disk under the data dir',
      'MB',
      (eventsPerMinute * options.diskKbPerEvent) / 1024,
      (s) => s.diskMb,
    ),
    series('lag of the DynamoDB sink', 'events', eventsPerMinute / 100, (s) => s.lags.dynamoSink),
    series('lag of the S3 sink', 'records', eventsPerMinute / 100, (s) => s.lags.s3Sink),
  ];
}

function printVerdict(verdict: SoakVerdict, checks: CountCheck[], samples: Sample[]): void {
  const table = plainAwareTable(['series', 'start', 'end', 'slope/min (2nd half)', 'bound/min', '']);
  for (const s of verdict.series)
    table.push([
      `${s.name} (${s.unit})`,
      fmt(s.first),
      fmt(s.last),
      fmt(s.slopePerMinute, 2),
      fmt(s.maxSlopePerMinute, 2),
      s.growing ? 'GROWING' : s.slopePerMinute === undefined ? 'too few samples' : 'ok',
    ]);
  say(table.toString());
  const cpu = plainAwareTable(['process', 'mean CPU % of a core']);
  const names = [...new Set(samples.flatMap((s) => [...s.processes.keys()]))];
  for (const name of names) {
    const values = samples.slice(1).flatMap((s) => s.processes.get(name)?.cpuPercent ?? []);
    cpu.push([name, fmt(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), 1)]);
  }
  say(cpu.toString());
  const counts = plainAwareTable(['check', 'expected', 'actual', '']);
  for (const c of checks)
    counts.push([c.stage, String(c.expected), String(c.actual), c.expected === c.actual ? 'ok' : 'MISMATCH']);
  say(counts.toString());
  say(
    verdict.ok
      ? 'Soak passed: memory and disk flat, lags flat, every count agrees.'
      : `Soak FAILED: ${[
          ...verdict.growing.map((s) => `${s.name} keeps growing`),
          ...verdict.diverging.map((c) => `${c.stage}: ${c.actual} ≠ ${c.expected}`),
          ...(verdict.tooShort ? ['too few samples to judge a slope (run at least 4 minutes)'] : []),
        ].join('; ')}`,
  );
}

/** Drains with the streaming processes (started again if `npm start` stopped them) and checks the stores. */
async function drainAndCheck(config: Config): Promise<CountCheck[]> {
  const processes = await startPipelineProcesses(config, [WORKER_PROCESS, ...STREAMING_PROCESSES], {
    owner: OWNER,
    report,
  });
  const aws = createAwsClients(config);
  const kafka = createKafka(config, 'soak-check');
  const temporal = await connectClient(config);
  try {
    return await checkStores({ config, aws, kafka, client: temporal.client, say });
  } finally {
    await temporal.close().catch(() => undefined);
    destroyAwsClients(aws);
    await processes.handle.stopStarted();
  }
}

async function soak(options: SoakOptions): Promise<number> {
  const config = loadConfig();
  if (config.mode !== 'local')
    throw new CliError('the soak runs on the local stack (PIPELINE_MODE=local)', 2);
  const paths = stackPaths(config);
  say(`Soak: ${options.minutes} min at ${options.rate} events/s, a sample every ${options.sampleSeconds} s`);
  // Started here, not by `npm start`: stopping `npm start` at the end must leave the stores up for the check.
  const stack = await startStack(config, undefined, { owner: OWNER, report });
  const main = spawnDetached({
    ...typeScriptEntry('src/cli/main.ts', ['--rate', String(options.rate), '--status-interval', '60']),
    cwd: PROJECT_ROOT,
    env: process.env,
    logFile: join(paths.logDir, 'soak-npm-start.log'),
  });
  let mainExit: number | null | undefined;
  void main.exited.then((code) => (mainExit = code));
  say(`npm start: pid ${main.pid}, its output in ${join(paths.logDir, 'soak-npm-start.log')}`);
  const kafka = createKafka(config, 'soak');
  const admin = kafka.admin();
  const aws = createAwsClients(config);
  const samples: Sample[] = [];
  try {
    await waitFor(
      'the streaming processes of npm start',
      async () => {
        if (mainExit !== undefined)
          throw new CliError(`npm start exited (${mainExit}) before the pipeline ran`);
        return STREAMING_PROCESSES.every((p) => {
          const record = readPidFile(join(paths.pidDir, `${p.name}.pid`));
          return record !== undefined && isRecordAlive(record);
        });
      },
      { timeoutMs: 10 * 60_000, intervalMs: 1000, retryErrors: false },
    );
    await admin.connect();
    const startedAt = Date.now();
    const extra = new Map([[MAIN, main.pid]]);
    for (;;) {
      const sample = await takeSample(config, admin, aws.dynamodb, startedAt, extra);
      samples.push(sample);
      say(sampleLine(sample));
      if (mainExit !== undefined) throw new CliError(`npm start exited (${mainExit}) during the soak`);
      const next = startedAt + samples.length * options.sampleSeconds * 1000;
      if (next > startedAt + options.minutes * 60_000) break;
      await sleep(Math.max(0, next - Date.now()));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    destroyAwsClients(aws);
    if (mainExit === undefined) {
      say('Stopping npm start (Ctrl-C)...');
      process.kill(-main.pid, 'SIGINT');
      await Promise.race([main.exited, sleep(120_000)]);
      await stopGroup(main.pid, 1000);
    }
  }
  const checks = await drainAndCheck(config);
  const verdict = soakVerdict(soakSeries(samples, options), checks);
  printVerdict(verdict, checks, samples);
  const resultsDir = join(paths.dataDir, 'soak');
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    resultsFile,
    JSON.stringify(
      {
        options,
        samples: samples.map((s) => ({ ...s, processes: Object.fromEntries(s.processes) })),
        verdict,
      },
      null,
      2,
    ),
  );
  say(`Samples and verdict: ${resultsFile}`);
  await stack.stopStarted();
  return verdict.ok ? 0 : 1;
}

async function checkOnly(): Promise<number> {
  const config = loadConfig();
  const stack = await startStack(config, undefined, { owner: OWNER, report });
  const checks = await drainAndCheck(config).finally(() => stack.stopStarted());
  const table = plainAwareTable(['check', 'expected', 'actual', '']);
  for (const c of checks)
    table.push([c.stage, String(c.expected), String(c.actual), c.expected === c.actual ? 'ok' : 'MISMATCH']);
  say(table.toString());
  const ok = checks.every((c) => c.expected === c.actual);
  say(ok ? 'Every store agrees.' : 'The stores DO NOT agree: see the MISMATCH rows.');
  return ok ? 0 : 1;
}

async function run(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('npm run soak')
    .description('Run the continuous pipeline for a while and check that memory, disk and counts stay flat')
    .option('--minutes <m>', 'how long to run the pipeline', numberBetween(1), 30)
    .option('--rate <events/s>', 'generator rate', numberBetween(1), 50)
    .option('--sample-seconds <s>', 'time between samples', numberBetween(5), 60)
    .option('--rss-slope-mb <MB/min>', 'steepest accepted RSS growth of a process', numberBetween(0), 1)
    .option('--disk-kb-per-event <KB>', 'accepted disk growth per event generated', numberBetween(0), 4)
    .action(async (options: SoakOptions) => {
      exitCode = await soak(options);
    });
  program
    .command('check')
    .description('drain with the streaming processes, then check that every store agrees exactly')
    .action(async () => {
      exitCode = await checkOnly();
    });
  await program.parseAsync(argv);
  return exitCode;
}

run(process.argv)
  .then((code) => process.exit(code))
  .catch((error: Error) => {
    console.error(`npm run soak failed: ${error.message}`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  });
