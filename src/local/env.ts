/**
 * The environment a child process needs so that its own `loadConfig()` sees the same stack as the parent,
 * even when the parent's config came from `withOverrides` (tests) rather than from the environment.
 */
import type { Config, EnvName } from '../config';
import { stackPaths } from './paths';

export function envFromConfig(config: Config): Partial<Record<EnvName, string>> {
  const paths = stackPaths(config);
  const env: Partial<Record<EnvName, string>> = {
    PIPELINE_MODE: config.mode,
    AWS_REGION: config.aws.region,
    AWS_ENDPOINT_URL_DYNAMODB: config.aws.endpoints.dynamodb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: config.aws.endpoints.dynamodbStreams,
    AWS_ENDPOINT_URL_S3: config.aws.endpoints.s3,
    AWS_ENDPOINT_URL_GLUE: config.aws.endpoints.glue,
    AWS_ENDPOINT_URL_ATHENA: config.aws.endpoints.athena,
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    TEMPORAL_UI_URL: config.temporal.uiUrl,
    TOPIC_EVENTS: config.topics.events,
    TOPIC_CDC: config.topics.cdc,
    ORDERS_TABLE: config.dynamodb.ordersTable,
    LAKE_BUCKET: config.lake.bucket,
    LAKE_PREFIX: config.lake.prefix,
    GLUE_DATABASE: config.glue.database,
    ATHENA_WORKGROUP: config.athena.workgroup,
    LOG_LEVEL: config.logLevel,
    DATA_DIR: paths.dataDir,
    STACK_DIR: paths.stackDir,
  };
  // An unset endpoint must stay unset (AWS defaults), not become the string "undefined".
  for (const key of Object.keys(env) as EnvName[]) if (env[key] === undefined) delete env[key];
  return env;
}
