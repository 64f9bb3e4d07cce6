/**
 * The lifecycle every long-running streaming process shares: config, logger, Prometheus metrics,
 * and a graceful stop on SIGTERM/SIGINT (stop fetching, finish or abandon in-flight work, commit only
 * what is durable, exit 0). A second signal exits at once.
 *
 * @example
 *   // src/streaming/dynamo-sink/main.ts
 *   runStreamingProcess('dynamo-sink', (ctx) => createDynamoSink({ ...ctx }));
 */
import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '../config';
import { createLogger, type Logger } from '../observability/logger';
import { createMetricsRegistry, serveMetrics } from '../observability/metrics';

export interface StreamingComponent {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ProcessContext {
  config: Config;
  logger: Logger;
  registry: Registry;
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
    const metrics = config.metricsPort >= 0 ? await serveMetrics(registry, config.metricsPort) : undefined;
    if (metrics) logger.info({ metricsUrl: `http://127.0.0.1:${metrics.port}/metrics` }, 'metrics served');

    const exitUnrecoverable = (error: Error) => {
      logger.fatal({ error: error.message }, 'consumer cannot recover: exiting');
      process.exit(1);
    };
    const component = await build({ config, logger, registry, exitUnrecoverable });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      component
        .stop()
        .then(() => {
          metrics?.server.close();
          logger.info('stopped cleanly');
          process.exit(0);
        })
        .catch((error: Error) => {
          logger.error({ error: error.message }, 'stop failed');
          process.exit(1);
        });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    await component.start();
    logger.info('started');
  };
  run().catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
}
