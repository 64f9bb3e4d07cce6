/**
 * Structured logging (pino), one namespaced child per component.
 * Secrets are redacted by path so a logged config or error never carries credentials.
 */
import pino, { type Logger } from 'pino';
import type { Config } from '../config';

export type { Logger };

const REDACT = [
  '*.password',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.accessKeyId',
  'kafka.sasl',
  'aws.localCredentials',
  'config.kafka.sasl',
  'config.aws.localCredentials',
];

let root: Logger | undefined;

function rootLogger(level: string): Logger {
  if (!root) {
    root = pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } });
  }
  return root;
}

/**
 * @example
 *   const log = createLogger('dynamo-sink', config);
 *   log.info({ topic, partition, offset }, 'batch applied');
 */
export function createLogger(component: string, config?: Pick<Config, 'logLevel'>): Logger {
  const level = config?.logLevel ?? process.env.LOG_LEVEL ?? 'info';
  const logger = rootLogger(level).child({ component });
  logger.level = level;
  return logger;
}
