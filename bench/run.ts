/**
 * `npm run bench`: every benchmark of the project, each figure beside its baseline measured in the same run,
 * printed as one markdown table with the date, the machine and the load average (saved to bench/results/latest.md),
 * and written as bench/results/latest.json: one object per figure, for comparing a later run with this one.
 * Needs the local stack: it is started (and stopped afterwards) if it is not already up.
 *
 *   npm run bench                      # everything
 *   npm run bench -- --only lake,s3    # some sections
 *   BENCH_SCALE=0.1 npm run bench      # smaller data sets for a quick look
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchScale, type BenchRow } from './types';

interface Section {
  key: string;
  title: string;
  run: () => Promise<BenchRow[]>;
}

const sections: Section[] = [
  {
    key: 'streaming',
    title: 'Streaming: generator and DynamoDB sink',
    run: async () => (await import('./streaming-bench')).runStreamingBench(),
  },
  {
    key: 's3',
    title: 'Streaming: S3 sink',
    run: async () => (await import('./s3-sink-bench')).runS3SinkBench(),
  },
  {
    key: 'relay',
    title: 'Streaming: CDC relay',
    run: async () => (await import('./cdc-relay-bench')).runCdcRelayBench(),
  },
  {
    key: 'moto',
    title: 'Local moto (DynamoDB, Streams, S3)',
    run: async () => (await import('./moto-bench')).runMotoBench(),
  },
  {
    key: 'lake',
    title: 'Local Glue + Athena',
    run: async () => (await import('./lake-bench')).runLakeBench({}),
  },
  {
    key: 'freshness',
    title: 'Lake freshness (Athena)',
    run: async () => (await import('./lake-freshness-bench')).runLakeFreshnessBench(),
  },
  {
    key: 'temporal',
    title: 'Temporal time-skipping test server',
    run: async () => (await import('./temporal-bench')).runTemporalBench(),
  },
  {
    key: 'backfill',
    title: 'Backfill workflow',
    run: async () => (await import('./backfill-bench')).runBackfillBench({}),
  },
  {
    key: 'worker-memory',
    title: 'Worker memory across reconciliations',
    run: async () =>
      (await import('./worker-memory-bench')).runWorkerMemoryBench({
        items: Math.max(5_000, Math.round(50_000 * benchScale())),
      }),
  },
];

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return '';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits).replace(/\.?0+$/, '') || '0';
}

/** One figure of latest.json: the row as measured, with where, when and under what load. */
interface BenchFigure extends BenchRow {
  section: string;
  date: string;
  machine: string;
  /** The machine's 1, 5 and 15 minute load averages when the section ended (others share this machine). */
  loadAverage: number[];
  /** BENCH_SCALE: the data sets' size relative to the full run. */
  scale: number;
}

const loadAverage = () => loadavg().map((load) => Math.round(load * 100) / 100);

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

async function run() {
  const program = new Command()
    .option('--only <sections>', `comma-separated sections: ${sections.map((s) => s.key).join(', ')}`)
    .option('--no-stack', 'do not start the local stack (use the one already running)')
    .parse(process.argv);
  const options = program.opts<{ only?: string; stack: boolean }>();
  const chosen = options.only ? options.only.split(',').map((s) => s.trim()) : sections.map((s) => s.key);
  const unknown = chosen.filter((key) => !sections.some((s) => s.key === key));
  if (unknown.length > 0) throw new Error(`unknown bench section(s): ${unknown.join(', ')}`);

  const { loadConfig } = await import('../src/config');
  const { ensureStackUp } = await import('../src/local');
  const config = loadConfig();
  const stack = options.stack ? await ensureStackUp(config) : undefined;

  const started = new Date();
  const figures: BenchFigure[] = [];
  const lines: string[] = [
    `Benchmarks — ${started.toISOString().slice(0, 10)} — ${machine()} — BENCH_SCALE ${benchScale()} — load average at the start ${loadAverage().join(' / ')}`,
    '',
    '| section | measurement | value | baseline (same run) | ratio | target |',
    '|---|---|---|---|---|---|',
  ];
  let failed = 0;
  try {
    for (const section of sections.filter((s) => chosen.includes(s.key))) {
      console.error(`\n== ${section.title} ==`);
      try {
        const rows = await section.run();
        const load = loadAverage();
        console.error(`load average at the end of ${section.key}: ${load.join(' / ')}`);
        for (const row of rows) {
          figures.push({
            section: section.title,
            ...row,
            date: new Date().toISOString(),
            machine: machine(),
            loadAverage: load,
            scale: benchScale(),
          });
          const baseline =
            row.baseline !== undefined
              ? `${format(row.baseline)} ${row.unit} (${row.baselineName ?? 'baseline'})`
              : '';
          lines.push(
            `| ${section.title} | ${row.name}${row.note ? ` — ${row.note}` : ''} | ${format(row.value)} ${row.unit} | ${baseline} | ${format(row.ratio)} | ${row.target ?? ''} |`,
          );
        }
      } catch (error) {
        failed++;
        lines.push(`| ${section.title} | FAILED: ${(error as Error).message.replace(/\|/g, '/')} | | | | |`);
        console.error(error);
      }
    }
  } finally {
    await stack?.stopStarted();
  }
  lines.push('', `Load average at the end: ${loadAverage().join(' / ')}`);
  const table = lines.join('\n');
  console.log(`\n${table}\n`);
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.md'), `${table}\n`);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(figures, null, 2)}\n`);
  if (failed > 0) process.exitCode = 1;
}

run().catch((error) => {
  console.error(error);
  process.exit(1);
});
