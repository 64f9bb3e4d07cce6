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
import { createMetricsRegistry, serveMetrics } from '../observability/metrics';

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
    const registry = createMetricsRegistry(name);
    const readiness = createReadiness();
    let phase = 'starting';
    readiness.add('process', () => (phase === 'started' ? undefined : phase));
    const metrics =
      config.metricsPort >= 0
        ? await serveMetrics(registry, { host: config.metricsHost, port: config.metricsPort, readiness })
        : undefined;
    if (metrics) logger.info({ metricsUrl: metrics.url }, 'metrics served');

    const exitUnrecoverable = (err: Error) => {
      logger.fatal({ err }, 'consumer cannot recover: exiting');
      process.exit(1);
    };
    const kafka = (suffix: string) =>
      watchConsumers(createKafka(config, suffix), readiness, config.kafka.sessionTimeoutMs);
    const component = await build({ config, logger, registry, kafka, exitUnrecoverable });
    const { readiness: componentReadiness } = component;
    if (componentReadiness) readiness.add(name, componentReadiness);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      phase = 'stopping';
      logger.info({ signal }, 'stopping');
      component
        .stop()
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
    await component.start();
    if (!stopping) phase = 'started';
    logger.info('started');
  };
  run().catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
}
