/**
 * The control-plane worker: serves the provision, crawl, report, query, backfill, compact and reconcile workflows
 * and their activities on TEMPORAL_TASK_QUEUE.
 *
 * Run: `npx tsx src/workers/control-plane-worker.ts` (SIGTERM/SIGINT: stop polling, let running activities finish
 * for up to 10 s, close every connection, exit 0). Tests and the CLI's `--with-worker` run the same worker
 * in-process through `createControlPlaneWorker`.
 *
 * @example
 *   const connection = await connectWorkerConnection(config);
 *   const { worker, close } = await createControlPlaneWorker({ config, connection });
 *   await worker.runUntil(somePromise);
 *   await close();
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Duration, LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import {
  bundleWorkflowCode,
  Runtime,
  Worker,
  type NativeConnection,
  type WorkflowBundle,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../aws/clients';
import { ConfigError, loadConfig, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { createReadiness, type Readiness } from '../observability/health';
import { createLogger, type Logger } from '../observability/logger';
import { createMetricsRegistry, serveMetrics } from '../observability/metrics';
import { freePort } from '../support/net';
import { connectClient, connectWorkerConnection } from '../temporal/connection';
import { createControlPlaneActivities } from '../activities';

export interface ControlPlaneWorkerOptions {
  config: Config;
  /** The worker's connection (the caller owns and closes it). */
  connection: NativeConnection;
  /** Client for schedules and search attributes; default: one over a new connection, closed by `close()`. */
  client?: Client;
  /** Default: created from config and destroyed by `close()`. */
  aws?: AwsClients;
  kafka?: Kafka;
  logger?: Logger;
  /** Directory of the report SQL files (default: `reports/`). */
  reportsDir?: string;
  /** Concurrent activities (default 20: backfill segments and reports run in parallel). */
  maxConcurrentActivityTaskExecutions?: number;
  /** How long running activities may finish after shutdown starts (default 10 s). */
  shutdownGraceTime?: Duration;
  /** The process's metrics registry: activities export results there (the last reconciliation's). */
  metrics?: Registry;
}

export interface ControlPlaneWorker {
  worker: Worker;
  /** Releases what the worker created (AWS clients, the client connection). Call after the worker stopped. */
  close(): Promise<void>;
}

/** Temporal's logger interface over our pino logger, so SDK lines are structured like ours. */
export function temporalLogger(logger: Logger): TemporalLogger {
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  const log = (level: LogLevel, message: string, meta?: LogMetadata) =>
    logger[levels[level]](meta ?? {}, message);
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

let bundle: Promise<WorkflowBundle> | undefined;

/**
 * The workflow bundle, built once per process (webpack takes 3-6 s on a 2-core machine; tests start many
 * workers). `writeControlPlaneWorkflowBundle` builds it ahead of time, for containers and the test suite.
 */
export function controlPlaneWorkflowBundle(logger?: Logger): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    // webpack's statistics are noise in the worker's log: warnings and errors only.
    logger: temporalLogger(
      (logger ?? createLogger('workflow-bundler')).child(
        { component: 'workflow-bundler' },
        { level: 'warn' },
      ),
    ),
  }).catch((error: unknown) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}

/** Writes the bundle to `path`, for TEMPORAL_WORKFLOW_BUNDLE. */
export async function writeControlPlaneWorkflowBundle(path: string): Promise<void> {
  const { code } = await controlPlaneWorkflowBundle();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
}

/** A prebuilt bundle when the config names one (a missing file is a clear error), else one built here. */
async function workflowBundleFor(config: Config, logger: Logger): Promise<WorkflowBundleOption> {
  const path = config.temporal.workflowBundlePath;
  if (!path) return controlPlaneWorkflowBundle(logger);
  if (!existsSync(path))
    throw new ConfigError(
      `TEMPORAL_WORKFLOW_BUNDLE: no workflow bundle at ${path} (unset it to bundle at start)`,
    );
  return { codePath: path };
}

export async function createControlPlaneWorker(
  options: ControlPlaneWorkerOptions,
): Promise<ControlPlaneWorker> {
  const { config } = options;
  const logger = options.logger ?? createLogger('control-plane-worker', config);
  const owned: (() => Promise<void> | void)[] = [];
  const aws = options.aws ?? createAwsClients(config);
  if (!options.aws) owned.push(() => destroyAwsClients(aws));
  let client = options.client;
  if (!client) {
    const temporal = await connectClient(config);
    owned.push(temporal.close);
    client = temporal.client;
  }
  const kafka = options.kafka ?? createKafka(config, 'control-plane');
  const close = async () => {
    for (const release of owned.reverse()) await release();
  };
  try {
    const worker = await Worker.create({
      connection: options.connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: await workflowBundleFor(config, logger),
      activities: createControlPlaneActivities({
        config,
        aws,
        kafka,
        temporal: client,
        logger,
        reportsDir: options.reportsDir,
        metrics: options.metrics,
      }),
      maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 20,
      shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
    });
    return { worker, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** How often the worker's connection is health-checked for /readyz, and how old a success may be. */
const CONNECTION_CHECK_MS = 10_000;
const CONNECTION_CHECK_MAX_AGE_MS = 30_000;

/**
 * /readyz of the worker: RUNNING and its connection answered a health check recently (a worker polls on through
 * an outage, so its state alone would say ready while nothing reaches the server).
 */
function watchWorkerReadiness(
  worker: Worker,
  connection: NativeConnection,
  readiness: Readiness,
  logger: Logger,
) {
  let lastAnswerAt: number | undefined;
  const check = () =>
    connection.healthService
      .check({})
      .then(() => {
        lastAnswerAt = Date.now();
      })
      .catch((err: Error) => logger.warn({ err }, 'Temporal health check failed'));
  void check();
  const timer = setInterval(() => void check(), CONNECTION_CHECK_MS);
  timer.unref();
  readiness.add('temporal-worker', () => {
    const state = worker.getState();
    if (state !== 'RUNNING') return `worker ${state.toLowerCase()}`;
    if (lastAnswerAt === undefined) return 'Temporal connection not checked yet';
    const silentMs = Date.now() - lastAnswerAt;
    return silentMs > CONNECTION_CHECK_MAX_AGE_MS
      ? `Temporal did not answer a health check for ${Math.round(silentMs / 1000)} s`
      : undefined;
  });
  return () => clearInterval(timer);
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('control-plane-worker', config);
  // The SDK's own metrics (polls, task latencies, slots) are exported by its core on a loopback port and served
  // as part of this process's /metrics: one scrape target and one port per process, like the streaming ones.
  const sdkMetricsAddress = `127.0.0.1:${await freePort()}`;
  // SIGINT/SIGTERM make the Runtime shut the worker down gracefully; worker.run() then resolves.
  Runtime.install({
    logger: temporalLogger(createLogger('temporal-sdk', config)),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetricsAddress } } },
  });
  const readiness = createReadiness();
  let phase = 'starting';
  readiness.add('process', () => (phase === 'started' ? undefined : phase));
  const registry = createMetricsRegistry('worker');
  const metrics =
    config.metricsPort >= 0
      ? await serveMetrics(registry, {
          host: config.metricsHost,
          port: config.metricsPort,
          readiness,
          extraMetrics: async () => (await fetch(`http://${sdkMetricsAddress}/metrics`)).text(),
        })
      : undefined;
  if (metrics) logger.info({ metricsUrl: metrics.url }, 'metrics served');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      phase = 'stopping';
      logger.info({ signal }, 'shutting down: finishing running activities');
    });
  }
  const connection = await connectWorkerConnection(config);
  try {
    const { worker, close } = await createControlPlaneWorker({
      config,
      connection,
      logger,
      metrics: registry,
    });
    const stopWatching = watchWorkerReadiness(worker, connection, readiness, logger);
    logger.info(
      {
        taskQueue: config.temporal.taskQueue,
        namespace: config.temporal.namespace,
        address: config.temporal.address,
        ui: config.temporal.uiUrl,
      },
      'control-plane worker started',
    );
    if (phase === 'starting') phase = 'started';
    try {
      await worker.run();
    } finally {
      stopWatching();
      await close();
    }
    logger.info('control-plane worker stopped');
  } finally {
    await connection.close();
    await metrics?.close();
  }
}

if (require.main === module) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
