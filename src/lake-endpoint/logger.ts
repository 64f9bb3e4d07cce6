/**
 * The endpoint's structured logging (pino): one root per server, at the level it was started with, and a
 * child per component (`lake-endpoint`, `lake-crawler`, `lake-athena`) so each line says who wrote it.
 *
 * @example
 *   const root = createRootLogger('info');
 *   root.child({ component: 'lake-crawler' }).info({ crawler }, 'crawl started');
 */
import pino, { type Level, type Logger } from 'pino';

export type { Logger };

export type LogLevel = Level | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// The endpoint never logs credentials on purpose; redaction keeps an S3 client error or config out of the logs too.
const REDACT = ['*.secretAccessKey', '*.sessionToken', '*.accessKeyId', '*.credentials'];

export function createRootLogger(level: LogLevel): Logger {
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    // Type, message, stack and the cause chain of an error logged as `{ err }`.
    serializers: { err: pino.stdSerializers.errWithCause },
    base: { pid: process.pid },
  });
}
