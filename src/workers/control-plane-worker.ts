/**
 * The control-plane worker: serves the provision, crawl, report, query and backfill workflows and their
 * activities on TEMPORAL_TASK_QUEUE.
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
import { createAwsClients, destroyAwsClients, type AwsClients } from '../aws/clients';
import { ConfigError, loadConfig, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { createLogger, type Logger } from '../observability/logger';
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

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('control-plane-worker', config);
  // SIGINT/SIGTERM make the Runtime shut the worker down gracefully; worker.run() then resolves.
  Runtime.install({
    logger: temporalLogger(createLogger('temporal-sdk', config)),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => logger.info({ signal }, 'shutting down: finishing running activities'));
  }
  const connection = await connectWorkerConnection(config);
  try {
    const { worker, close } = await createControlPlaneWorker({ config, connection, logger });
    logger.info(
      {
        taskQueue: config.temporal.taskQueue,
        namespace: config.temporal.namespace,
        address: config.temporal.address,
        ui: config.temporal.uiUrl,
      },
      'control-plane worker started',
    );
    try {
      await worker.run();
    } finally {
      await close();
    }
    logger.info('control-plane worker stopped');
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
