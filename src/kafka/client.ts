/**
 * The only place that constructs the kafkajs client, from config: brokers, TLS (a CA bundle, a client certificate
 * for mTLS) and SASL (PLAIN, SCRAM, OAUTHBEARER with a client-credentials grant, MSK IAM).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel as KafkaLogLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import { ConfigError, type Config } from '../config';
import { createLogger } from '../observability/logger';
import { cachedTokenProvider, clientCredentialsToken, mskIamToken } from './sasl-tokens';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

function readPem(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read "${path}": ${(error as Error).message}`);
  }
}

/** kafkajs's `ssl`: off, on with the system CAs, or with the configured CA bundle and client certificate. */
export function kafkaTls(kafka: Config['kafka']): ConnectionOptions | boolean {
  const { caPath, certPath, keyPath } = kafka.tls;
  if (!caPath && !certPath) return kafka.ssl;
  return {
    ...(caPath ? { ca: readPem(caPath, 'KAFKA_SSL_CA_PATH') } : {}),
    ...(certPath
      ? { cert: readPem(certPath, 'KAFKA_SSL_CERT_PATH'), key: readPem(keyPath, 'KAFKA_SSL_KEY_PATH') }
      : {}),
  };
}

/**
 * kafkajs's `sasl`. OAUTHBEARER and MSK IAM get a token provider that caches for the client's lifetime, so the
 * connections of one client share a token and fetch a new one only as it nears expiry.
 */
export function kafkaSasl(kafka: Config['kafka']): SASLOptions | undefined {
  const { sasl } = kafka;
  if (!sasl) return undefined;
  switch (sasl.mechanism) {
    case 'oauthbearer':
      return {
        mechanism: 'oauthbearer',
        oauthBearerProvider: cachedTokenProvider(clientCredentialsToken(sasl)),
      };
    case 'aws-msk-iam':
      return {
        mechanism: 'oauthbearer',
        oauthBearerProvider: cachedTokenProvider(mskIamToken(sasl.awsRegion)),
      };
    default:
      return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
  }
}

export function createKafka(config: Config, clientIdSuffix?: string): Kafka {
  const logger = createLogger('kafkajs', config);
  return new Kafka({
    clientId: clientIdSuffix ? `${config.kafka.clientId}-${clientIdSuffix}` : config.kafka.clientId,
    brokers: config.kafka.brokers,
    ssl: kafkaTls(config.kafka),
    sasl: kafkaSasl(config.kafka),
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
