/**
 * The only place that constructs the kafkajs client, from config (brokers, TLS, SASL for MSK).
 */
import { Kafka, logLevel as KafkaLogLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config } from '../config';
import { createLogger } from '../observability/logger';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config, clientIdSuffix?: string): Kafka {
  const logger = createLogger('kafkajs', config);
  const { sasl } = config.kafka;
  return new Kafka({
    clientId: clientIdSuffix ? `${config.kafka.clientId}-${clientIdSuffix}` : config.kafka.clientId,
    brokers: config.kafka.brokers,
    ssl: config.kafka.ssl,
    sasl: sasl
      ? ({ mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions)
      : undefined,
    // kafkajs logs through pino so its lines are structured like ours; it is chatty at INFO.
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        logger[levelNames[level] ?? 'info'](extra, message);
      },
  });
}
