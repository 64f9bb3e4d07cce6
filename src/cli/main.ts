/**
 * `npm start`: the product in one command.
 *
 * Brings up the local stack (Temporal + Web UI, Kafka, moto, the local Glue/Athena endpoint), starts the
 * control-plane worker, runs the provision workflow, starts the streaming processes and the generator, and shows
 * a live status until Ctrl-C, which stops everything it started.
 *
 *   npm start                          # continuous, until Ctrl-C
 *   npm start -- --duration 120        # a bounded end-to-end pass that checks every count and exits
 *   npm start -- --duration 120 --keep # the same, keeping its topics, tables, lake prefix and catalog after
 *   npm start -- --rate 200            # generator rate (events/s)
 *   PIPELINE_MODE=aws npm start -- --generate 20   # against AWS the generator runs only when asked
 *
 * In AWS mode (PIPELINE_MODE=aws) no local stack is started: Temporal and Kafka are reached at their
 * configured addresses and DynamoDB/S3/Glue/Athena are AWS's.
 */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../aws/clients';
import { loadConfig, withOverrides, type Config } from '../config';
import { createKafka } from '../kafka/client';
import {
  stackPaths,
  startLogRotation,
  startPipelineProcesses,
  startStack,
  superviseProcesses,
  type StackEvent,
  type StackHandle,
} from '../local';
import { scheduleIds, triggerSchedule } from '../resources/schedules';
import { createLogger, type Logger } from '../observability/logger';
import { createMetricsRegistry, serveMetrics } from '../observability/metrics';
import { createGenerator, type Generator, type GeneratorReport } from '../streaming/generator/generator';
import { STREAMING_PROCESSES, WORKER_PROCESS } from '../local/pipeline-processes';
import { connectClient, type TemporalClient } from '../temporal/connection';
import * as workflows from '../workflows';
import { runBoundedChecks, type BoundedRunDeps } from './main-job/bounded-run';
import { renderStatus, takeSnapshot, type ProcessEndpoint } from './main-job/live-status';
import { deleteRun, markRunLive, type RunCleanupDeps } from './main-job/run-cleanup';
import { newRunId, runScopedConfig } from './main-job/run-scope';
import { generatorRate, parseMainOptions, type MainOptions } from './main-job/main-options';
import { reconcileStores } from '../local/store-reconcile';

const say = (line: string) => console.log(line);

const stackReport = ({ service, message }: StackEvent) => say(`  [${service}] ${message}`);
const stackOptions = { owner: 'main', report: stackReport };

async function bootLocalStack(config: Config): Promise<StackHandle> {
  say('Starting the local stack (installs what is missing on first run)...');
  const stack = await startStack(config, undefined, stackOptions);
  for (const status of stack.services)
    for (const address of status.addresses) say(`  ${status.name.padEnd(9)} ${address}`);
  return stack;
}

async function provision(client: Client, config: Config, runId: string, bounded: boolean, logger: Logger) {
  const result = await client.workflow.execute(workflows.provision, {
    taskQueue: config.temporal.taskQueue,
    workflowId: `provision-${bounded ? `run-${runId}` : 'main'}-${Date.now()}`,
    // A bounded run creates no schedules: they would outlive it.
    args: [{ schedules: !bounded }],
  });
  say(`  ${result.created} created, ${result.updated} updated, ${result.exists} already in place`);
  if (!bounded) {
    // A crawl the schedule started before provisioning (its bucket gone with moto's memory) failed: crawl
    // again now that the lake exists, rather than show that failure until the next interval.
    await triggerSchedule(client, scheduleIds(config).crawl).catch((error: Error) =>
      logger.warn({ err: error }, 'could not trigger the crawl schedule'),
    );
  }
}

async function startGenerator(
  config: Config,
  kafka: Kafka,
  logger: Logger,
  options: MainOptions,
  runId: string,
): Promise<{ generator: Generator; endpoint: ProcessEndpoint; closeMetrics: () => void }> {
  const registry = createMetricsRegistry('generator');
  // The main job's own status reads it: a free port, whatever METRICS_PORT says for the standalone processes.
  const metrics = await serveMetrics(registry, { host: config.metricsHost, port: 0 });
  const generator = createGenerator({
    config,
    kafka,
    logger,
    registry,
    rate: options.rate,
    durationMs: options.duration !== undefined ? options.duration * 1000 : 365 * 24 * 3_600_000,
    // Only a bounded run checks the final states; a continuous one would hold every order played.
    keepExpectedStates: options.duration !== undefined,
    duplicates: options.duplicates,
    outOfOrder: options.outOfOrder,
    malformed: options.malformed,
    runId,
  });
  await generator.start();
  return {
    generator,
    endpoint: { name: 'generator', metricsUrl: metrics.url },
    closeMetrics: () => void metrics.close(),
  };
}

async function removeRun(deps: RunCleanupDeps, baseConfig: Config, runId: string): Promise<void> {
  say(`Deleting what run ${runId} created (--keep keeps it)...`);
  const deleted = await deleteRun(deps, baseConfig, runId).catch((error: Error) => {
    throw new Error(`${error.message} (what is left: npm run pipeline -- cleanup-runs)`);
  });
  say(`  deleted ${deleted.map((r) => `${r.kind} ${r.name}`).join(', ') || 'nothing (none was left)'}`);
}

function printWhereToLook(config: Config, bounded: boolean, endpoints: ProcessEndpoint[]): void {
  say('');
  say(`Metrics (also /healthz, /readyz): ${endpoints.map((e) => `${e.name} ${e.metricsUrl}`).join(', ')}`);
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
}

/** Redraws the status every `intervalSeconds`: in place on a terminal, else a new block every 5th time. */
function startLiveStatus(
  config: Config,
  aws: AwsClients,
  endpoints: ProcessEndpoint[],
  intervalSeconds: number,
  logger: Logger,
  temporal?: Client,
): { draw: () => Promise<void>; stop: () => void } {
  const interactive = process.stdout.isTTY === true;
  let drawn = 0;
  const draw = async () => {
    const lines = renderStatus(await takeSnapshot(config, aws.glue, endpoints, temporal));
    if (interactive && drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    process.stdout.write(lines.join('\n') + '\n');
    drawn = lines.length;
  };
  let ticks = 0;
  const timer = setInterval(() => {
    if (!interactive && ticks++ % 5 !== 0) return;
    draw().catch((e: Error) => logger.warn({ err: e }, 'status failed'));
  }, intervalSeconds * 1000);
  return { draw, stop: () => clearInterval(timer) };
}

/** Resolves at the first SIGINT or SIGTERM; a later one exits at once. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    let firstSignalAt: number | undefined;
    const onSignal = () => {
      // Ctrl-C reaches npm, tsx and this process at once, and npm and tsx relay it (as SIGINT or SIGTERM):
      // signals within a few seconds of the first are the same request. A later one means "stop now".
      if (firstSignalAt !== undefined) {
        if (Date.now() - firstSignalAt < 3000) return;
        say('Second Ctrl-C: exiting without waiting.');
        process.exit(1);
      }
      firstSignalAt = Date.now();
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The end of a bounded run: what the generator sent, then drain, crawl, report and every count checked. */
async function checkBoundedRun(
  generator: Generator,
  deps: Omit<BoundedRunDeps, 'report' | 'say'>,
): Promise<boolean> {
  const report: GeneratorReport = await generator.done;
  say(
    `Generator done: ${report.messagesSent} messages (${report.validEvents} valid events, ${report.duplicates} duplicates, ` +
      `${Object.values(report.malformed).reduce((a, b) => a + b, 0)} malformed) for ${report.orders} orders at ${Math.round(report.achievedRate)}/s`,
  );
  return runBoundedChecks({ ...deps, report, say });
}

async function run() {
  // A closed pipe (`npm start | tee`, then Ctrl-C) must not abort the clean-up that follows.
  process.stdout.on('error', () => undefined);
  const options = parseMainOptions(process.argv);
  const bounded = options.duration !== undefined;
  const runId = newRunId();
  const baseConfig = loadConfig();
  const config = bounded
    ? // Its own names, so the counts are exact; objects flushed sooner so the drain is short.
      withOverrides(runScopedConfig(baseConfig, runId), { s3Sink: { rotateMs: 5000 } })
    : baseConfig;
  // The terminal belongs to the status display: the main process logs only warnings unless asked.
  const logger = createLogger('main', { logLevel: process.env.LOG_LEVEL ? config.logLevel : 'warn' });
  // What to stop at the end, in reverse order of starting.
  const started: Pick<StackHandle, 'stopStarted'>[] = [];
  const aws = createAwsClients(config);
  const kafka = createKafka(config, 'main');
  let temporal: TemporalClient | undefined;
  let exitCode = 0;
  const stopAll = async () => {
    for (const handle of started.reverse())
      await handle.stopStarted().catch((e: Error) => say(`stop failed: ${e.message}`));
  };

  try {
    say(
      `orders pipeline — ${config.mode} mode${bounded ? `, bounded run ${runId} (${options.duration} s)` : ''}`,
    );
    if (config.mode === 'local') started.push(await bootLocalStack(config));
    if (bounded) {
      const unmark = markRunLive(config, runId);
      // Stopped after the run's processes, before the stack: nothing uses the resources any more, and the
      // services that hold them still answer.
      started.push({
        stopStarted: async () => {
          try {
            if (!options.keep) await removeRun({ aws, kafka }, baseConfig, runId);
          } finally {
            unmark();
          }
        },
      });
    }

    say('Starting the control-plane worker...');
    const worker = await startPipelineProcesses(config, [WORKER_PROCESS], stackOptions);
    started.push(worker.handle);

    temporal = await connectClient(config);
    const { client } = temporal;
    if (config.mode === 'local' && !bounded) {
      const { line } = await reconcileStores({ config, aws, kafka, report: say });
      if (line) say(line);
    }
    say('Provisioning (provision workflow)...');
    await provision(client, config, runId, bounded, logger);

    say('Starting the streaming processes...');
    const streaming = await startPipelineProcesses(config, STREAMING_PROCESSES, stackOptions);
    started.push(streaming.handle);

    const rate = generatorRate(options, config.mode);
    const generated =
      rate === undefined
        ? undefined
        : await startGenerator(config, kafka, logger, { ...options, rate }, runId);
    if (!generated)
      say(
        `No generator: against AWS it runs only with --generate [events/s] (into ${config.topics.events}).`,
      );
    const endpoints = [...(generated ? [generated.endpoint] : []), ...streaming.endpoints];
    printWhereToLook(config, bounded, [...worker.endpoints, ...endpoints]);
    const status = startLiveStatus(config, aws, endpoints, options.statusInterval, logger, client);
    // The run keeps its processes up: one that exited is started again (and said so).
    const stopRestarts = superviseProcesses([worker, streaming], {
      onRestarted: (name) =>
        say(`${name} had exited: started again (its log: ${config.dataDir}/logs/${name}.log)`),
      onError: (e) => logger.warn({ err: e }, 'restart of an exited process failed; retried'),
    });
    // The logs of the stack and of this run's processes would otherwise grow for as long as the run does.
    const stopLogRotation = startLogRotation(
      stackPaths(config).logDir,
      config.retention.localLogMegabytes * 1024 ** 2,
      { onError: (e) => logger.warn({ err: e }, 'log rotation failed; tried again in a minute') },
    );
    try {
      // A bounded run always generates (generatorRate), into its own run-scoped topics.
      if (bounded && generated) {
        const ok = await checkBoundedRun(generated.generator, {
          config,
          aws,
          kafka,
          client,
          onProgress: status.draw,
        });
        exitCode = ok ? 0 : 1;
      } else {
        await untilInterrupted();
      }
    } finally {
      // Neither redraws nor restarts while what this run started stops.
      status.stop();
      stopRestarts();
      stopLogRotation();
    }
    if (!bounded) {
      say('\nStopping: generator, streaming processes, worker, stack...');
      await generated?.generator.stop();
    }
    generated?.closeMetrics();
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
