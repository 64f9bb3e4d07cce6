/**
 * Structured logging (pino), one namespaced child per component.
 * Secrets are redacted by path so a logged config or error never carries credentials.
 * Errors are logged under `err` (`log.warn({ err }, 'what failed')`): the serializer keeps their type, message,
 * stack and cause chain, each cause with its own type and stack.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';
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
  '*.apiKey',
  'temporal.apiKey',
  'config.temporal.apiKey',
  'temporal.tls.clientKey',
  'config.temporal.tls.clientKey',
];

/** The root logger's options: redaction and the error serializer (exported for the test of both). */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.errWithCause },
    base: { pid: process.pid },
  };
}

let root: Logger | undefined;

function rootLogger(level: string): Logger {
  root ??= pino(loggerOptions(level));
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
