/**
 * The one typed configuration of the pipeline, read from the environment and validated.
 *
 * Every endpoint, resource name and tuning knob lives here with a local default, so the same code runs
 * against the local stack (no variables set) and against AWS (region + credentials, no endpoint overrides).
 *
 * @example
 *   const config = loadConfig();
 *   config.kafka.brokers; // ['127.0.0.1:9092']
 */
import { z } from 'zod';

const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const url = z.url();

/** Local stack ports: one place, so the supervisor, the config defaults and docker-compose agree. */
export const LOCAL_PORTS = {
  temporal: 7233,
  temporalUi: 8233,
  kafka: 9092,
  kafkaController: 9093,
  moto: 5000,
  lake: 5050,
} as const;

export const LOCAL_HOST = '127.0.0.1';

/**
 * Environment variables and their defaults. The key is the variable name; docs and docker-compose
 * are checked against this table, so it is the source of truth for variable names.
 */
export const ENV_SPEC = {
  PIPELINE_MODE: {
    default: 'local',
    doc: '`local` fills in the local stack endpoints and dummy credentials; `aws` uses AWS defaults',
  },
  AWS_REGION: { default: 'us-east-1', doc: 'AWS region' },
  AWS_ENDPOINT_URL: {
    default: '',
    doc: 'Endpoint override for every AWS service (per-service variables win)',
  },
  AWS_ENDPOINT_URL_DYNAMODB: {
    default: `http://${LOCAL_HOST}:${LOCAL_PORTS.moto}`,
    doc: 'DynamoDB endpoint (local mode default: moto)',
  },
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: {
    default: `http://${LOCAL_HOST}:${LOCAL_PORTS.moto}`,
    doc: 'DynamoDB Streams endpoint',
  },
  AWS_ENDPOINT_URL_S3: { default: `http://${LOCAL_HOST}:${LOCAL_PORTS.moto}`, doc: 'S3 endpoint' },
  AWS_ENDPOINT_URL_GLUE: {
    default: `http://${LOCAL_HOST}:${LOCAL_PORTS.lake}`,
    doc: 'Glue endpoint (local mode default: the project lake endpoint)',
  },
  AWS_ENDPOINT_URL_ATHENA: { default: `http://${LOCAL_HOST}:${LOCAL_PORTS.lake}`, doc: 'Athena endpoint' },
  AWS_REQUEST_TIMEOUT_MS: {
    default: '30000',
    doc: 'An AWS request whose socket is silent this long fails and is retried (a hung endpoint never stalls a process)',
  },
  KAFKA_BROKERS: {
    default: `${LOCAL_HOST}:${LOCAL_PORTS.kafka}`,
    doc: 'Comma-separated bootstrap brokers (e.g. MSK)',
  },
  KAFKA_CLIENT_ID: { default: 'orders-pipeline', doc: 'kafkajs client id prefix' },
  KAFKA_SSL: { default: 'false', doc: 'Use TLS to the brokers' },
  KAFKA_SASL_MECHANISM: { default: '', doc: '`plain`, `scram-sha-256` or `scram-sha-512` (empty: no SASL)' },
  KAFKA_SASL_USERNAME: { default: '', doc: 'SASL user name' },
  KAFKA_SASL_PASSWORD: { default: '', doc: 'SASL password (never logged)' },
  KAFKA_SESSION_TIMEOUT_MS: {
    default: '30000',
    doc: 'Consumer group session timeout: how long a dead consumer keeps its partitions',
  },
  TOPIC_EVENTS: { default: 'orders.events', doc: 'Order events topic' },
  TOPIC_EVENTS_DLQ: { default: 'orders.events.dlq', doc: 'Dead letters of the DynamoDB sink' },
  TOPIC_CDC: { default: 'orders.cdc', doc: 'Change events relayed from DynamoDB Streams' },
  TOPIC_CDC_DLQ: { default: 'orders.cdc.dlq', doc: 'Dead letters of the S3 sink' },
  TOPIC_PARTITIONS: { default: '6', doc: 'Partitions of the pipeline topics' },
  TOPIC_RETENTION_HOURS: { default: '168', doc: 'Retention of the pipeline topics' },
  ORDERS_TABLE: { default: 'orders', doc: 'DynamoDB table with the current state of each order' },
  CDC_CHECKPOINT_TABLE: {
    default: 'orders-cdc-checkpoints',
    doc: 'DynamoDB table with the relay shard leases and checkpoints',
  },
  LAKE_BUCKET: { default: 'orders-lake', doc: 'S3 bucket of the data lake, reports and Athena results' },
  LAKE_PREFIX: { default: 'lake', doc: 'Key prefix of the CDC data in the bucket' },
  LAKE_FORMAT: { default: 'parquet', doc: '`parquet` or `jsonl`' },
  SNAPSHOT_PREFIX: { default: 'snapshots', doc: 'Key prefix of the backfill snapshots' },
  REPORTS_PREFIX: { default: 'reports', doc: 'Key prefix of the reports' },
  ATHENA_RESULTS_PREFIX: { default: 'athena-results', doc: 'Key prefix of Athena query results' },
  GLUE_DATABASE: { default: 'orders_lake', doc: 'Glue database' },
  GLUE_CRAWLER: { default: 'orders-cdc-crawler', doc: 'Glue crawler over the CDC and snapshot prefixes' },
  GLUE_CRAWLER_ROLE: {
    default: 'arn:aws:iam::000000000000:role/orders-pipeline-crawler',
    doc: 'IAM role the crawler assumes (AWS mode)',
  },
  ATHENA_WORKGROUP: { default: 'orders-pipeline', doc: 'Athena workgroup' },
  TEMPORAL_ADDRESS: { default: `${LOCAL_HOST}:${LOCAL_PORTS.temporal}`, doc: 'Temporal frontend' },
  TEMPORAL_NAMESPACE: { default: 'default', doc: 'Temporal namespace' },
  TEMPORAL_TASK_QUEUE: { default: 'orders-control-plane', doc: 'Task queue of the control-plane worker' },
  TEMPORAL_UI_URL: {
    default: `http://${LOCAL_HOST}:${LOCAL_PORTS.temporalUi}`,
    doc: 'Temporal Web UI (printed for users)',
  },
  CRAWL_INTERVAL_MINUTES: { default: '15', doc: 'Schedule of the crawl workflow' },
  REPORT_INTERVAL_MINUTES: { default: '60', doc: 'Schedule of the report workflow' },
  SINK_CONCURRENCY: { default: '16', doc: 'Concurrent conditional writes of the DynamoDB sink' },
  SINK_PARTITIONS_CONCURRENTLY: { default: '3', doc: 'Kafka partitions the DynamoDB sink processes at once' },
  CDC_LEASE_DURATION_MS: {
    default: '10000',
    doc: 'Relay shard lease: a lease not renewed for this long moves to another relay',
  },
  CDC_POLL_INTERVAL_MS: {
    default: '500',
    doc: 'Relay pause between GetRecords calls on a shard with no new records',
  },
  CDC_WORKER_ID: { default: '', doc: 'Relay instance id in the lease table (empty: host-pid-random)' },
  S3_SINK_FLUSH_RECORDS: {
    default: '5000',
    doc: 'Rotate an S3 object after this many records per partition',
  },
  S3_SINK_FLUSH_BYTES: { default: '16777216', doc: 'Rotate after this many buffered bytes per partition' },
  S3_SINK_ROTATE_MS: { default: '30000', doc: 'Rotate an open object after this long (idle partitions too)' },
  S3_SINK_ROTATE_RECORD_MS: {
    default: '900000',
    doc: 'Rotate when a change time is this far past the first one in the open object (deterministic; 0: off)',
  },
  S3_SINK_MAX_BUFFER_BYTES: {
    default: '134217728',
    doc: 'Buffered bytes over all partitions before fetching pauses',
  },
  S3_SINK_JSONL_GZIP: { default: 'false', doc: 'Gzip the objects when LAKE_FORMAT=jsonl (`.jsonl.gz`)' },
  METRICS_PORT: { default: '0', doc: 'Prometheus port of a streaming process (0: pick a free one; -1: off)' },
  LOG_LEVEL: { default: 'info', doc: 'pino log level' },
  DATA_DIR: {
    default: '.data',
    doc: 'Local data, logs and reports (local stack and local copies of reports)',
  },
  STACK_DIR: {
    default: '.stack',
    doc: 'Installed local stack tools (Python venv, Kafka jars); shareable between stacks',
  },
} as const satisfies Record<string, { default: string; doc: string }>;

export type EnvName = keyof typeof ENV_SPEC;

const modeSchema = z.enum(['local', 'aws']);

/** Whether one key prefix is the other or a folder inside it ("lake" and "lake/snapshots"; not "lake" and "lakes"). */
function nestedFolders(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

export const configSchema = z.object({
  mode: modeSchema,
  aws: z.object({
    region: z.string().min(1),
    /** undefined = the SDK's default endpoint for the region */
    endpoints: z.object({
      dynamodb: url.optional(),
      dynamodbStreams: url.optional(),
      s3: url.optional(),
      glue: url.optional(),
      athena: url.optional(),
    }),
    /** Dummy static credentials, only in local mode when the environment has none. */
    localCredentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).optional(),
    requestTimeoutMs: z.number().int().positive(),
  }),
  kafka: z.object({
    brokers: z.array(z.string().regex(/^[^:]+:\d+$/, 'expected host:port')).min(1),
    clientId: z.string().min(1),
    ssl: z.boolean(),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .optional(),
    sessionTimeoutMs: int(3000, 300_000),
  }),
  topics: z.object({
    events: z.string().min(1),
    eventsDlq: z.string().min(1),
    cdc: z.string().min(1),
    cdcDlq: z.string().min(1),
    partitions: int(1, 1000),
    retentionHours: int(1),
  }),
  dynamodb: z.object({ ordersTable: z.string().min(3), checkpointTable: z.string().min(3) }),
  lake: z
    .object({
      bucket: z.string().min(3),
      prefix: z.string().min(1),
      format: z.enum(['parquet', 'jsonl']),
      snapshotPrefix: z.string().min(1),
      reportsPrefix: z.string().min(1),
      athenaResultsPrefix: z.string().min(1),
    })
    // The crawler crawls both prefixes, each into its own table: one inside the other would mix them.
    .refine(({ prefix, snapshotPrefix }) => !nestedFolders(prefix, snapshotPrefix), {
      message: 'LAKE_PREFIX and SNAPSHOT_PREFIX must be separate folders (neither inside the other)',
      path: ['snapshotPrefix'],
    }),
  glue: z.object({ database: z.string().min(1), crawler: z.string().min(1), crawlerRole: z.string().min(1) }),
  athena: z.object({ workgroup: z.string().min(1) }),
  temporal: z.object({
    address: z.string().min(1),
    namespace: z.string().min(1),
    taskQueue: z.string().min(1),
    uiUrl: z.string().min(1),
  }),
  schedules: z.object({ crawlIntervalMinutes: int(1), reportIntervalMinutes: int(1) }),
  sink: z.object({ concurrency: int(1, 256), partitionsConcurrently: int(1, 64) }),
  cdcRelay: z.object({ leaseDurationMs: int(1000), pollIntervalMs: int(10), workerId: z.string() }),
  s3Sink: z.object({
    flushRecords: int(1),
    flushBytes: int(1024),
    rotateMs: int(100),
    rotateRecordMs: int(0),
    maxBufferBytes: int(1024 * 1024),
    jsonlGzip: z.boolean(),
  }),
  metricsPort: int(-1, 65535),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  dataDir: z.string().min(1),
  stackDir: z.string().min(1),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The CDC table name in the lake and the Glue catalog (the crawler names it after the folder). */
export const CDC_TABLE_FOLDER = 'orders_cdc';

/**
 * Reads and validates the configuration. Unknown values fail with a message naming the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = modeSchema.safeParse(env.PIPELINE_MODE ?? ENV_SPEC.PIPELINE_MODE.default);
  if (!mode.success)
    throw new ConfigError(`PIPELINE_MODE must be "local" or "aws", got "${env.PIPELINE_MODE}"`);
  const local = mode.data === 'local';

  const get = (name: EnvName): string => {
    const value = env[name];
    return value !== undefined && value !== '' ? value : ENV_SPEC[name].default;
  };
  // In AWS mode an endpoint is only set when the user sets one; locally each has its stack default.
  const endpoint = (name: EnvName): string | undefined => {
    const specific = env[name];
    if (specific) return specific;
    if (env.AWS_ENDPOINT_URL) return env.AWS_ENDPOINT_URL;
    return local ? ENV_SPEC[name].default : undefined;
  };
  const parse = <T>(name: EnvName, schema: z.ZodType<T>): T => {
    const result = schema.safeParse(get(name));
    if (!result.success) {
      throw new ConfigError(
        `${name}: ${result.error.issues.map((i) => i.message).join('; ')} (got "${get(name)}")`,
      );
    }
    return result.data;
  };

  const saslMechanism = get('KAFKA_SASL_MECHANISM');
  const hasEnvCredentials = Boolean(
    env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE,
  );

  const raw = {
    mode: mode.data,
    aws: {
      region: get('AWS_REGION'),
      endpoints: {
        dynamodb: endpoint('AWS_ENDPOINT_URL_DYNAMODB'),
        dynamodbStreams: endpoint('AWS_ENDPOINT_URL_DYNAMODB_STREAMS'),
        s3: endpoint('AWS_ENDPOINT_URL_S3'),
        glue: endpoint('AWS_ENDPOINT_URL_GLUE'),
        athena: endpoint('AWS_ENDPOINT_URL_ATHENA'),
      },
      localCredentials:
        local && !hasEnvCredentials ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
      requestTimeoutMs: parse('AWS_REQUEST_TIMEOUT_MS', int(1000, 3_600_000)),
    },
    kafka: {
      brokers: parse('KAFKA_BROKERS', csv),
      clientId: get('KAFKA_CLIENT_ID'),
      ssl: parse('KAFKA_SSL', bool),
      sasl: saslMechanism
        ? {
            mechanism: saslMechanism,
            username: get('KAFKA_SASL_USERNAME'),
            password: get('KAFKA_SASL_PASSWORD'),
          }
        : undefined,
      sessionTimeoutMs: parse('KAFKA_SESSION_TIMEOUT_MS', int(3000, 300_000)),
    },
    topics: {
      events: get('TOPIC_EVENTS'),
      eventsDlq: get('TOPIC_EVENTS_DLQ'),
      cdc: get('TOPIC_CDC'),
      cdcDlq: get('TOPIC_CDC_DLQ'),
      partitions: parse('TOPIC_PARTITIONS', int(1, 1000)),
      retentionHours: parse('TOPIC_RETENTION_HOURS', int(1)),
    },
    dynamodb: { ordersTable: get('ORDERS_TABLE'), checkpointTable: get('CDC_CHECKPOINT_TABLE') },
    lake: {
      bucket: get('LAKE_BUCKET'),
      prefix: get('LAKE_PREFIX').replace(/^\/+|\/+$/g, ''),
      format: get('LAKE_FORMAT'),
      snapshotPrefix: get('SNAPSHOT_PREFIX').replace(/^\/+|\/+$/g, ''),
      reportsPrefix: get('REPORTS_PREFIX').replace(/^\/+|\/+$/g, ''),
      athenaResultsPrefix: get('ATHENA_RESULTS_PREFIX').replace(/^\/+|\/+$/g, ''),
    },
    glue: {
      database: get('GLUE_DATABASE'),
      crawler: get('GLUE_CRAWLER'),
      crawlerRole: get('GLUE_CRAWLER_ROLE'),
    },
    athena: { workgroup: get('ATHENA_WORKGROUP') },
    temporal: {
      address: get('TEMPORAL_ADDRESS'),
      namespace: get('TEMPORAL_NAMESPACE'),
      taskQueue: get('TEMPORAL_TASK_QUEUE'),
      uiUrl: get('TEMPORAL_UI_URL'),
    },
    schedules: {
      crawlIntervalMinutes: parse('CRAWL_INTERVAL_MINUTES', int(1)),
      reportIntervalMinutes: parse('REPORT_INTERVAL_MINUTES', int(1)),
    },
    sink: {
      concurrency: parse('SINK_CONCURRENCY', int(1, 256)),
      partitionsConcurrently: parse('SINK_PARTITIONS_CONCURRENTLY', int(1, 64)),
    },
    cdcRelay: {
      leaseDurationMs: parse('CDC_LEASE_DURATION_MS', int(1000)),
      pollIntervalMs: parse('CDC_POLL_INTERVAL_MS', int(10)),
      workerId: get('CDC_WORKER_ID'),
    },
    s3Sink: {
      flushRecords: parse('S3_SINK_FLUSH_RECORDS', int(1)),
      flushBytes: parse('S3_SINK_FLUSH_BYTES', int(1024)),
      rotateMs: parse('S3_SINK_ROTATE_MS', int(100)),
      rotateRecordMs: parse('S3_SINK_ROTATE_RECORD_MS', int(0)),
      maxBufferBytes: parse('S3_SINK_MAX_BUFFER_BYTES', int(1024 * 1024)),
      jsonlGzip: parse('S3_SINK_JSONL_GZIP', bool),
    },
    metricsPort: parse('METRICS_PORT', int(-1, 65535)),
    logLevel: get('LOG_LEVEL'),
    dataDir: get('DATA_DIR'),
    stackDir: get('STACK_DIR'),
  };

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const details = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  return result.data;
}

/** A copy of the config with a partial override, for tests that need fresh topic/table/bucket names. */
export function withOverrides(config: Config, overrides: DeepPartial<Config>): Config {
  return configSchema.parse(deepMerge(config, overrides));
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function deepMerge<T>(base: T, patch: unknown): T {
  if (patch === undefined) return base;
  if (
    typeof base !== 'object' ||
    base === null ||
    Array.isArray(base) ||
    typeof patch !== 'object' ||
    patch === null
  ) {
    return patch as T;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    out[key] = deepMerge((base as Record<string, unknown>)[key], value);
  }
  return out as T;
}

/**
 * The environment that makes `loadConfig()` return this config again: for starting a pipeline process as a
 * child with a test's fresh names (`spawn(tsx, [entry], { env: { ...process.env, ...configToEnv(config) } })`).
 * Typed against ENV_SPEC so a new knob without a line here fails the typecheck. AWS credentials are never
 * part of it (local mode fills in dummy ones; AWS mode uses the SDK's provider chain of the child).
 *
 * @example
 *   const env = configToEnv(freshConfig('crash'));
 *   loadConfig({ ...env }).dynamodb.ordersTable; // the fresh table name
 */
export function configToEnv(config: Config): Record<string, string> {
  const { endpoints } = config.aws;
  const env: Record<EnvName, string | undefined> = {
    PIPELINE_MODE: config.mode,
    AWS_REGION: config.aws.region,
    // Every per-service endpoint is set explicitly, so a parent's AWS_ENDPOINT_URL adds nothing.
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodbStreams,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_GLUE: endpoints.glue,
    AWS_ENDPOINT_URL_ATHENA: endpoints.athena,
    AWS_REQUEST_TIMEOUT_MS: String(config.aws.requestTimeoutMs),
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    KAFKA_CLIENT_ID: config.kafka.clientId,
    KAFKA_SSL: String(config.kafka.ssl),
    KAFKA_SASL_MECHANISM: config.kafka.sasl?.mechanism,
    KAFKA_SASL_USERNAME: config.kafka.sasl?.username,
    KAFKA_SASL_PASSWORD: config.kafka.sasl?.password,
    KAFKA_SESSION_TIMEOUT_MS: String(config.kafka.sessionTimeoutMs),
    TOPIC_EVENTS: config.topics.events,
    TOPIC_EVENTS_DLQ: config.topics.eventsDlq,
    TOPIC_CDC: config.topics.cdc,
    TOPIC_CDC_DLQ: config.topics.cdcDlq,
    TOPIC_PARTITIONS: String(config.topics.partitions),
    TOPIC_RETENTION_HOURS: String(config.topics.retentionHours),
    ORDERS_TABLE: config.dynamodb.ordersTable,
    CDC_CHECKPOINT_TABLE: config.dynamodb.checkpointTable,
    LAKE_BUCKET: config.lake.bucket,
    LAKE_PREFIX: config.lake.prefix,
    LAKE_FORMAT: config.lake.format,
    SNAPSHOT_PREFIX: config.lake.snapshotPrefix,
    REPORTS_PREFIX: config.lake.reportsPrefix,
    ATHENA_RESULTS_PREFIX: config.lake.athenaResultsPrefix,
    GLUE_DATABASE: config.glue.database,
    GLUE_CRAWLER: config.glue.crawler,
    GLUE_CRAWLER_ROLE: config.glue.crawlerRole,
    ATHENA_WORKGROUP: config.athena.workgroup,
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    TEMPORAL_UI_URL: config.temporal.uiUrl,
    CRAWL_INTERVAL_MINUTES: String(config.schedules.crawlIntervalMinutes),
    REPORT_INTERVAL_MINUTES: String(config.schedules.reportIntervalMinutes),
    SINK_CONCURRENCY: String(config.sink.concurrency),
    SINK_PARTITIONS_CONCURRENTLY: String(config.sink.partitionsConcurrently),
    CDC_LEASE_DURATION_MS: String(config.cdcRelay.leaseDurationMs),
    CDC_POLL_INTERVAL_MS: String(config.cdcRelay.pollIntervalMs),
    CDC_WORKER_ID: config.cdcRelay.workerId,
    S3_SINK_FLUSH_RECORDS: String(config.s3Sink.flushRecords),
    S3_SINK_FLUSH_BYTES: String(config.s3Sink.flushBytes),
    S3_SINK_ROTATE_MS: String(config.s3Sink.rotateMs),
    S3_SINK_ROTATE_RECORD_MS: String(config.s3Sink.rotateRecordMs),
    S3_SINK_MAX_BUFFER_BYTES: String(config.s3Sink.maxBufferBytes),
    S3_SINK_JSONL_GZIP: String(config.s3Sink.jsonlGzip),
    METRICS_PORT: String(config.metricsPort),
    LOG_LEVEL: config.logLevel,
    DATA_DIR: config.dataDir,
    STACK_DIR: config.stackDir,
  };
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
