/**
 * The ports of the local stack, all derived from the config so there is one source of truth: a second stack
 * for tests only needs other endpoint variables (KAFKA_BROKERS, TEMPORAL_ADDRESS, AWS_ENDPOINT_URL, ...).
 *
 * - Temporal frontend: `config.temporal.address`; Web UI: the port of `config.temporal.uiUrl`.
 * - Kafka broker: `config.kafka.brokers[0]`; KRaft controller: the broker port + 1 (9092 -> 9093).
 * - moto (DynamoDB, Streams, S3): the port of `config.aws.endpoints.s3`.
 * - lake (Glue + Athena): the port of `config.aws.endpoints.glue`.
 */
import { LOCAL_HOST, type Config } from '../config';

export interface Endpoint {
  host: string;
  port: number;
  /** Whether this stack can serve it: only loopback endpoints are started locally. */
  local: boolean;
}

const LOOPBACK = new Set([LOCAL_HOST, 'localhost', '::1', '[::1]']);

function endpoint(host: string, port: number): Endpoint {
  return { host, port, local: LOOPBACK.has(host) };
}

function fromHostPort(value: string): Endpoint {
  const at = value.lastIndexOf(':');
  return endpoint(value.slice(0, at), Number(value.slice(at + 1)));
}

function fromUrl(value: string | undefined): Endpoint | undefined {
  if (!value) return undefined;
  const url = new URL(value);
  return endpoint(url.hostname, url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
}

export interface StackEndpoints {
  temporal: Endpoint;
  temporalUi: Endpoint;
  kafka: Endpoint;
  kafkaController: Endpoint;
  /** undefined when the config has no S3 endpoint override (AWS mode): nothing to run locally. */
  moto: Endpoint | undefined;
  lake: Endpoint | undefined;
}

export function stackEndpoints(config: Config): StackEndpoints {
  const kafka = fromHostPort(config.kafka.brokers[0]);
  const temporal = fromHostPort(config.temporal.address);
  return {
    temporal,
    temporalUi: fromUrl(config.temporal.uiUrl) ?? endpoint(temporal.host, temporal.port + 1000),
    kafka,
    kafkaController: endpoint(kafka.host, kafka.port + 1),
    moto: fromUrl(config.aws.endpoints.s3),
    lake: fromUrl(config.aws.endpoints.glue),
  };
}
