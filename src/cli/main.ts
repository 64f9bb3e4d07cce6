/**
 * `npm start`: the product in one command.
 *
 * Brings up the local stack (Temporal + Web UI, Kafka, moto, the local Glue/Athena endpoint), starts the
 * control-plane worker, runs the provision workflow, starts the streaming processes and the generator, and shows
 * a live status until Ctrl-C, which stops everything it started.
 *
 *   npm start                          # continuous, until Ctrl-C
 *   npm start -- --duration 120        # a bounded end-to-end pass that checks every count and exits
 *   npm start -- --rate 200            # generator rate (events/s)
 *
 * In AWS mode (PIPELINE_MODE=aws) no local stack is started: Temporal and Kafka are reached at their
 * configured addresses and DynamoDB/S3/Glue/Athena are AWS's.
 */
import { createServer } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { createAwsClients, destroyAwsClients } from '../aws/clients';
import { loadConfig, withOverrides, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { stackStatus, startStack, type StackEvent, type StackHandle } from '../local';
import { createPipelineServices } from '../local/services/pipeline';
import { scheduleIds } from '../resources/schedules';
import { createLogger } from '../observability/logger';
import { createMetricsRegistry, serveMetrics } from '../observability/metrics';
import { createGenerator, type GeneratorReport } from '../streaming/generator/generator';
import { STREAMING_PROCESSES, WORKER_PROCESS, type PipelineProcess } from '../local/pipeline-processes';
import { connectClient, type TemporalClient } from '../temporal/connection';
import * as workflows from '../workflows';
import { runBoundedChecks } from './main-job/bounded-run';
import { renderStatus, takeSnapshot, type ProcessEndpoint } from './main-job/live-status';
import { newRunId, runScopedConfig } from './main-job/run-scope';

const number =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (raw: string) => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    }
    return value;
  };

interface MainOptions {
  duration?: number;
  rate: number;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  statusInterval: number;
}

const say = (line: string) => console.log(line);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the worker and the streaming processes as supervised child processes with metrics on free ports. */
async function startPipelineProcesses(
  config: Config,
  processes: PipelineProcess[],
  report: (event: StackEvent) => void,
): Promise<{ handle: StackHandle; endpoints: ProcessEndpoint[]; restartExited: () => Promise<string[]> }> {
  const ports = new Map<string, number>();
  for (const proc of processes) if (proc.name !== WORKER_PROCESS.name) ports.set(proc.name, await freePort());
  const names = processes.map((p) => p.name);
  const options = {
    owner: 'main',
    report,
    extraServices: (ctx: Parameters<typeof createPipelineServices>[0]) =>
      createPipelineServices(ctx, processes, ports),
  };
  const handle = await startStack(config, names, options);
  const endpoints = processes
    .filter((p) => p.name !== WORKER_PROCESS.name)
    .map((p) => ({ name: p.name, metricsUrl: `http://127.0.0.1:${ports.get(p.name)}/metrics` }));
  /**
   * Starts again, on the same metrics port, each of these processes that exited. A consumer exits non-zero when
   * kafkajs gives up for good; started again it resumes from its committed offsets, so nothing is lost.
   */
  const restartExited = async () => {
    const exited = (await stackStatus(config, names, options))
      .filter((s) => s.state === 'stopped')
      .map((s) => s.name);
    if (exited.length > 0) await startStack(config, exited, options);
    return exited;
  };
  return { handle, endpoints, restartExited };
}

async function run() {
  // A closed pipe (`npm start | tee`, then Ctrl-C) must not abort the clean-up that follows.
  process.stdout.on('error', () => undefined);
  const program = new Command('npm start')
    .description('Run the order pipeline locally (or against AWS with PIPELINE_MODE=aws)')
    .option(
      '--duration <seconds>',
      'generate for this long, drain, crawl, report, check every count and exit',
      number(1),
    )
    .option('--rate <events/s>', 'generator rate', number(1), 50)
    .option('--duplicates <p>', 'share of events the generator sends twice', number(0, 1), 0.01)
    .option('--out-of-order <p>', 'share of events sent after their successor', number(0, 1), 0.02)
    .option(
      '--malformed <p>',
      'share of malformed messages (they go to the dead-letter topic)',
      number(0, 1),
      0.005,
    )
    .option('--status-interval <seconds>', 'how often the live status refreshes', number(1), 2)
    .parse(process.argv);
  const options = program.opts<MainOptions>();
  const bounded = options.duration !== undefined;

  let config = loadConfig();
  const runId = newRunId();
  if (bounded) {
    // Its own names, so the counts are exact; objects flushed sooner so the drain is short.
    config = withOverrides(runScopedConfig(config, runId), { s3Sink: { rotateMs: 5000 } });
  }
  // The terminal belongs to the status display: the main process logs only warnings unless asked.
  const logger = createLogger('main', { logLevel: process.env.LOG_LEVEL ? config.logLevel : 'warn' });
  const stackReport = ({ service, message }: StackEvent) => say(`  [${service}] ${message}`);
  const started: StackHandle[] = [];
  const aws = createAwsClients(config);
  const kafka = createKafka(config, 'main');
  let temporal: TemporalClient | undefined;
  let stopping = false;
  let exitCode = 0;
  const stopAll = async () => {
    for (const handle of started.reverse())
      await handle.stopStarted().catch((e: Error) => say(`stop failed: ${e.message}`));
  };

  try {
    say(
      `orders pipeline — ${config.mode} mode${bounded ? `, bounded run ${runId} (${options.duration} s)` : ''}`,
    );
    if (config.mode === 'local') {
      say('Starting the local stack (installs what is missing on first run)...');
      const stack = await startStack(config, undefined, { owner: 'main', report: stackReport });
      started.push(stack);
      for (const status of stack.services)
        for (const address of status.addresses) say(`  ${status.name.padEnd(9)} ${address}`);
    }

    say('Starting the control-plane worker...');
    const worker = await startPipelineProcesses(config, [WORKER_PROCESS], stackReport);
    started.push(worker.handle);

    temporal = await connectClient(config);
    const { client } = temporal;
    say('Provisioning (provision workflow)...');
    const provision = await client.workflow.execute(workflows.provision, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `provision-${bounded ? `run-${runId}` : 'main'}-${Date.now()}`,
      // A bounded run creates no schedules: they would outlive it.
      args: [{ schedules: !bounded }],
    });
    say(`  ${provision.created} created, ${provision.updated} updated, ${provision.exists} already in place`);
    if (!bounded) {
      // A crawl the schedule started before provisioning (its bucket gone with moto's memory) failed: crawl
      // again now that the lake exists, rather than show that failure until the next interval.
      await client.schedule
        .getHandle(scheduleIds(config).crawl)
        .trigger()
        .catch((error: Error) =>
          logger.warn({ error: error.message }, 'could not trigger the crawl schedule'),
        );
    }

    say('Starting the streaming processes...');
    const streaming = await startPipelineProcesses(config, STREAMING_PROCESSES, stackReport);
    started.push(streaming.handle);

    const registry = createMetricsRegistry('generator');
    const generatorMetrics = await serveMetrics(registry, 0);
    const generator = createGenerator({
      config,
      kafka,
      logger,
      registry,
      rate: options.rate,
      durationMs: bounded ? options.duration! * 1000 : 365 * 24 * 3_600_000,
      duplicates: options.duplicates,
      outOfOrder: options.outOfOrder,
      malformed: options.malformed,
      runId,
    });
    await generator.start();
    const endpoints = [
      { name: 'generator', metricsUrl: `http://127.0.0.1:${generatorMetrics.port}/metrics` },
      ...streaming.endpoints,
    ];

    say('');
    say(`Temporal Web UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    say('Ad-hoc query (paste into another terminal):');
    say(
      `  temporal workflow start --address ${config.temporal.address} --task-queue ${config.temporal.taskQueue} --type query ` +
        `--input '${JSON.stringify({ sql: `SELECT status, count(*) AS orders FROM ${config.glue.database}.orders_cdc GROUP BY status`, database: config.glue.database })}'`,
    );
    say(
      `Logs of each process: ${config.dataDir}/logs/<name>.log${bounded ? '' : '   (Ctrl-C stops everything)'}`,
    );
    say('');

    const interactive = process.stdout.isTTY === true;
    let drawn = 0;
    const draw = async () => {
      const lines = renderStatus(await takeSnapshot(config, aws.glue, endpoints));
      if (interactive && drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
      process.stdout.write(lines.join('\n') + '\n');
      drawn = lines.length;
    };
    // The run keeps its processes up: one that exited is started again (and said so).
    let restarting = false;
    const keeper = setInterval(() => {
      if (stopping || restarting) return;
      restarting = true;
      Promise.all([worker.restartExited(), streaming.restartExited()])
        .then(([a, b]) => {
          for (const name of [...a, ...b])
            say(`${name} had exited: started again (its log: ${config.dataDir}/logs/${name}.log)`);
        })
        .catch((e: Error) =>
          logger.warn({ error: e.message }, 'restart of an exited process failed; retried'),
        )
        .finally(() => (restarting = false));
    }, 5_000);
    keeper.unref();
    let ticks = 0;
    const timer = setInterval(() => {
      // Without a terminal, print a block every 5 refreshes instead of redrawing.
      if (!interactive && ticks++ % 5 !== 0) return;
      if (!stopping) draw().catch((e: Error) => logger.warn({ error: e.message }, 'status failed'));
    }, options.statusInterval * 1000);

    if (!bounded) {
      await new Promise<void>((resolve) => {
        let firstSignalAt = 0;
        const onSignal = () => {
          // Ctrl-C reaches npm, tsx and this process at once, and npm and tsx relay it (as SIGINT or SIGTERM):
          // signals within a few seconds of the first are the same request. A later one means "stop now".
          if (stopping) {
            if (Date.now() - firstSignalAt < 3000) return;
            say('Second Ctrl-C: exiting without waiting.');
            process.exit(1);
          }
          stopping = true;
          firstSignalAt = Date.now();
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      clearInterval(timer);
      clearInterval(keeper);
      say('\nStopping: generator, streaming processes, worker, stack...');
      await generator.stop();
      generatorMetrics.server.close();
      return;
    }

    const report: GeneratorReport = await generator.done;
    say(
      `Generator done: ${report.messagesSent} messages (${report.validEvents} valid events, ${report.duplicates} duplicates, ` +
        `${Object.values(report.malformed).reduce((a, b) => a + b, 0)} malformed) for ${report.orders} orders at ${Math.round(report.achievedRate)}/s`,
    );
    const ok = await runBoundedChecks({ config, aws, kafka, client, report, say, onProgress: () => draw() });
    clearInterval(timer);
    clearInterval(keeper);
    stopping = true;
    generatorMetrics.server.close();
    exitCode = ok ? 0 : 1;
  } finally {
    await temporal?.close().catch(() => undefined);
    say('Stopping what this run started...');
    await stopAll();
    destroyAwsClients(aws);
  }
  process.exitCode = exitCode;
}

run().catch((error: Error) => {
  console.error(`npm start failed: ${error.message}`);
  if (process.env.LOG_LEVEL === 'debug') console.error(error);
  process.exit(1);
});
