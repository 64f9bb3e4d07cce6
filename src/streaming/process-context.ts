/**
 * The lifecycle every long-running streaming process shares: config, logger, Prometheus metrics with /healthz and
 * /readyz (src/observability/health.ts), and a graceful stop on SIGTERM/SIGINT (stop fetching, finish or abandon in-flight work, commit only
 * what is durable, exit 0). A second signal exits at once.
 *
 * @example
 *   // src/streaming/dynamo-sink/main.ts
 *   runStreamingProcess('dynamo-sink', (ctx) => createDynamoSink({ ...ctx }));
 */
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { watchConsumers } from '../kafka/health';
import { createReadiness, type ReadinessCheck } from '../observability/health';
import { createLogger, type Logger } from '../observability/logger';
import { createMetricsRegistry, serveMetrics, type MetricsServer } from '../observability/metrics';

export interface StreamingComponent {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What /readyz checks beyond its consumers (named after the process); undefined when ready. */
  readiness?: ReadinessCheck;
}

export interface ProcessContext {
  config: Config;
  logger: Logger;
  registry: Registry;
  /** A Kafka client whose consumers report to /readyz (connected, assigned, not stalled). */
  kafka(clientIdSuffix: string): Kafka;
  /**
   * For a consumer kafkajs gave up on for good: exits non-zero, because a dead consumer in a live process would
   * look healthy. Whoever runs the process starts it again (`npm start` does); it resumes from its commits.
   */
  exitUnrecoverable: (error: Error) => void;
}

export function runStreamingProcess(
  name: string,
  build: (ctx: ProcessContext) => StreamingComponent | Promise<StreamingComponent>,
): void {
  const run = async () => {
    const config = loadConfig();
    const logger = createLogger(name, config);
    // Handlers first: a stop asked for during start-up (ensuring topics and tables can take seconds) must
    // still end in a clean exit, not in the default action of the signal.
    const running: { component?: StreamingComponent; starting?: Promise<void>; metrics?: MetricsServer } = {};
    let phase = 'starting';
    const shutdown = (signal: string) => {
      if (phase === 'stopping') {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      phase = 'stopping';
      logger.info({ signal }, 'stopping');
      const { component, starting, metrics } = running;
      if (!component) {
        // Nothing consumed yet, so nothing to finish or commit.
        logger.info('stopped before start-up finished');
        process.exit(0);
      }
      // A stop never races a start: a consumer half-joined would otherwise be left behind.
      (starting ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => component.stop())
        .then(async () => {
          await metrics?.close();
          logger.info('stopped cleanly');
          process.exit(0);
        })
        .catch((err: Error) => {
          logger.error({ err }, 'stop failed');
          process.exit(1);
        });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    logger.info({ pid: process.pid }, 'starting');

    const registry = createMetricsRegistry(name);
    const readiness = createReadiness();
    readiness.add('process', () => (phase === 'started' ? undefined : phase));
    const metrics =
      config.metricsPort >= 0
        ? await serveMetrics(registry, { host: config.metricsHost, port: config.metricsPort, readiness })
        : undefined;
    running.metrics = metrics;
    if (metrics) logger.info({ metricsUrl: metrics.url }, 'metrics served');

    const exitUnrecoverable = (err: Error) => {
      logger.fatal({ err }, 'consumer cannot recover: exiting');
      process.exit(1);
    };
    const kafka = (suffix: string) =>
      watchConsumers(createKafka(config, suffix), readiness, config.kafka.sessionTimeoutMs);
    const built = await build({ config, logger, registry, kafka, exitUnrecoverable });
    const { readiness: componentReadiness } = built;
    if (componentReadiness) readiness.add(name, componentReadiness);
    running.component = built;
    running.starting = built.start();
    await running.starting;
    if (phase === 'starting') phase = 'started';
    logger.info('started');
  };
  run().catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
}
