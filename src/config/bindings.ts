/**
 * The configuration table: every setting once, at its place in the Config object, with its environment
 * variable, codec, default and meaning. The schema, `loadConfig`, `configToEnv` and the README's configuration
 * table (scripts/config-table.ts) all come from it.
 *
 * Every endpoint, resource name and tuning knob has a local default, so the same code runs against the local
 * stack (no variables set) and against AWS (region + credentials, no endpoint overrides).
 */
import { z } from 'zod';
import {
  endpointOverrides,
  group,
  modeSchema,
  optionalGroup,
  setting,
  type Binding,
  type Mode,
  type Variable,
} from './binding';
import { bool, folder, fraction, hostPorts, int, oneOf, text } from './codecs';
import { ConfigError } from './config-error';
import { LOCAL_HOST, LOCAL_PORTS } from './local-stack';
import { temporalBinding } from './temporal-binding';

const PIPELINE_MODE = {
  name: 'PIPELINE_MODE',
  default: 'local',
  doc: '`local` fills in the local stack endpoints and dummy credentials; `aws` uses AWS defaults',
} as const satisfies Variable;

/**
 * Read before every other setting, because endpoints and credentials depend on it. Unlike the other variables,
 * an empty PIPELINE_MODE is not the default but an error.
 */
export function readMode(env: NodeJS.ProcessEnv): Mode {
  const text = env[PIPELINE_MODE.name];
  const mode = modeSchema.safeParse(text ?? PIPELINE_MODE.default);
  if (!mode.success) throw new ConfigError(`${PIPELINE_MODE.name} must be "local" or "aws", got "${text}"`);
  return mode.data;
}

const pipelineMode: Binding<typeof modeSchema> = {
  schema: modeSchema,
  variables: [PIPELINE_MODE],
  load: ({ mode }) => mode,
  toEnv: (mode) => ({ [PIPELINE_MODE.name]: mode }),
};

const localCredentialsSchema = z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).optional();

/**
 * Dummy static credentials, only in local mode when the environment has none. Never written to an environment:
 * a child in local mode fills them in again, and AWS mode uses the SDK's provider chain of the child.
 */
const localCredentials: Binding<typeof localCredentialsSchema> = {
  schema: localCredentialsSchema,
  variables: [],
  load({ env, mode }) {
    const hasEnvCredentials = Boolean(
      env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE,
    );
    return mode === 'local' && !hasEnvCredentials
      ? { accessKeyId: 'local', secretAccessKey: 'local' }
      : undefined;
  },
  toEnv: () => ({}),
};

const LOCAL_REGION = 'us-east-1';
const AWS_REGION = {
  name: 'AWS_REGION',
  default: LOCAL_REGION,
  doc: "AWS region (AWS mode: no default, so the SDK's region chain decides, e.g. the profile's `region`)",
} as const satisfies Variable;

/**
 * Unset in AWS mode unless AWS_REGION is set: the SDK then resolves the region as it resolves credentials (env,
 * profile incl. SSO), instead of a hard-coded region overriding the profile. The local stack takes any region.
 */
const awsRegion: Binding<z.ZodOptional<z.ZodString>> = {
  schema: z.string().min(1).optional(),
  variables: [AWS_REGION],
  load: ({ env, mode }) => env[AWS_REGION.name] || (mode === 'local' ? LOCAL_REGION : undefined),
  toEnv: (region) => ({ [AWS_REGION.name]: region }),
};

/** Whether one key prefix is the other or a folder inside it ("lake" and "lake/snapshots"; not "lake" and "lakes"). */
function nestedFolders(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

type SaslField = 'username' | 'password' | 'tokenEndpointUrl' | 'clientId' | 'clientSecret';

/** The settings each SASL mechanism cannot do without, with their variables (for the error naming them). */
const saslRequirements: Record<
  'plain' | 'scram-sha-256' | 'scram-sha-512' | 'oauthbearer' | 'aws-msk-iam',
  [SaslField, string][]
> = {
  plain: [
    ['username', 'KAFKA_SASL_USERNAME'],
    ['password', 'KAFKA_SASL_PASSWORD'],
  ],
  'scram-sha-256': [
    ['username', 'KAFKA_SASL_USERNAME'],
    ['password', 'KAFKA_SASL_PASSWORD'],
  ],
  'scram-sha-512': [
    ['username', 'KAFKA_SASL_USERNAME'],
    ['password', 'KAFKA_SASL_PASSWORD'],
  ],
  oauthbearer: [
    ['tokenEndpointUrl', 'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL'],
    ['clientId', 'KAFKA_SASL_OAUTHBEARER_CLIENT_ID'],
    ['clientSecret', 'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET'],
  ],
  // The default credential chain signs the token: nothing to configure.
  'aws-msk-iam': [],
};

const motoUrl = `http://${LOCAL_HOST}:${LOCAL_PORTS.moto}`;
const lakeUrl = `http://${LOCAL_HOST}:${LOCAL_PORTS.lake}`;

export const configBindings = group({
  mode: pipelineMode,
  aws: group({
    region: awsRegion,
    endpoints: endpointOverrides(
      {
        name: 'AWS_ENDPOINT_URL',
        doc: 'Endpoint override for every AWS service (per-service variables win)',
      },
      {
        dynamodb: {
          name: 'AWS_ENDPOINT_URL_DYNAMODB',
          default: motoUrl,
          doc: 'DynamoDB endpoint (local mode default: moto)',
        },
        dynamodbStreams: {
          name: 'AWS_ENDPOINT_URL_DYNAMODB_STREAMS',
          default: motoUrl,
          doc: 'DynamoDB Streams endpoint',
        },
        s3: { name: 'AWS_ENDPOINT_URL_S3', default: motoUrl, doc: 'S3 endpoint' },
        glue: {
          name: 'AWS_ENDPOINT_URL_GLUE',
          default: lakeUrl,
          doc: 'Glue endpoint (local mode default: the project lake endpoint)',
        },
        athena: { name: 'AWS_ENDPOINT_URL_ATHENA', default: lakeUrl, doc: 'Athena endpoint' },
      },
    ),
    localCredentials,
    requestTimeoutMs: setting(
      'AWS_REQUEST_TIMEOUT_MS',
      int(1000, 3_600_000),
      '30000',
      'An AWS request not answered within this long fails and is retried, up to 5 attempts (a hung endpoint never stalls a process)',
    ),
  }),
  kafka: group({
    brokers: setting(
      'KAFKA_BROKERS',
      hostPorts,
      `${LOCAL_HOST}:${LOCAL_PORTS.kafka}`,
      'Comma-separated bootstrap brokers (e.g. MSK)',
    ),
    clientId: setting('KAFKA_CLIENT_ID', text(), 'orders-pipeline', 'kafkajs client id prefix'),
    ssl: setting('KAFKA_SSL', bool, 'false', 'Use TLS to the brokers (a `KAFKA_SSL_*_PATH` turns it on too)'),
    tls: group(
      {
        caPath: setting(
          'KAFKA_SSL_CA_PATH',
          text(0),
          '',
          "CA bundle (PEM) that signed the brokers' certificates (default: system CAs)",
        ),
        certPath: setting('KAFKA_SSL_CERT_PATH', text(0), '', 'Client certificate (PEM) for mTLS'),
        keyPath: setting('KAFKA_SSL_KEY_PATH', text(0), '', 'Client private key (PEM) for mTLS'),
      },
      (schema) =>
        schema.refine(({ certPath, keyPath }) => Boolean(certPath) === Boolean(keyPath), {
          message: 'KAFKA_SSL_CERT_PATH and KAFKA_SSL_KEY_PATH go together (mTLS needs both)',
          path: ['keyPath'],
        }),
    ),
    sasl: optionalGroup(
      'mechanism',
      {
        mechanism: setting(
          'KAFKA_SASL_MECHANISM',
          oneOf(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'aws-msk-iam']),
          '',
          '`plain`, `scram-sha-256`, `scram-sha-512`, `oauthbearer` (client-credentials grant) or `aws-msk-iam` (empty: no SASL)',
        ),
        username: setting('KAFKA_SASL_USERNAME', text(0), '', 'SASL user name (plain, SCRAM)'),
        password: setting('KAFKA_SASL_PASSWORD', text(0), '', 'SASL password (plain, SCRAM; never logged)'),
        tokenEndpointUrl: setting(
          'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL',
          text(0),
          '',
          "oauthbearer: OAuth token endpoint (client-credentials grant, e.g. Confluent Cloud's identity provider)",
        ),
        clientId: setting('KAFKA_SASL_OAUTHBEARER_CLIENT_ID', text(0), '', 'oauthbearer: OAuth client id'),
        clientSecret: setting(
          'KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET',
          text(0),
          '',
          'oauthbearer: OAuth client secret (never logged)',
        ),
        scope: setting(
          'KAFKA_SASL_OAUTHBEARER_SCOPE',
          text(0),
          '',
          'oauthbearer: scope to request (empty: none)',
        ),
        awsRegion: setting(
          'KAFKA_SASL_AWS_REGION',
          text(0),
          '',
          "aws-msk-iam: the cluster's region (empty: the AWS SDK's region chain, e.g. `AWS_REGION` or the profile's)",
        ),
      },
      (schema) =>
        schema.superRefine((sasl, context) => {
          const missing = saslRequirements[sasl.mechanism].filter(([key]) => !sasl[key]);
          if (missing.length > 0) {
            context.addIssue({
              code: 'custom',
              message: `KAFKA_SASL_MECHANISM=${sasl.mechanism} needs ${missing.map(([, name]) => name).join(', ')}`,
              path: [missing[0]![0]],
            });
          }
          if (sasl.tokenEndpointUrl && !URL.canParse(sasl.tokenEndpointUrl)) {
            context.addIssue({
              code: 'custom',
              message: `KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL is not a URL: "${sasl.tokenEndpointUrl}"`,
              path: ['tokenEndpointUrl'],
            });
          }
        }),
    ),
    sessionTimeoutMs: setting(
      'KAFKA_SESSION_TIMEOUT_MS',
      int(3000, 300_000),
      '30000',
      'Consumer group session timeout: how long a dead consumer keeps its partitions',
    ),
  }),
  topics: group({
    events: setting('TOPIC_EVENTS', text(), 'orders.events', 'Order events topic'),
    eventsDlq: setting('TOPIC_EVENTS_DLQ', text(), 'orders.events.dlq', 'Dead letters of the DynamoDB sink'),
    cdc: setting('TOPIC_CDC', text(), 'orders.cdc', 'Change events relayed from DynamoDB Streams'),
    cdcDlq: setting(
      'TOPIC_CDC_DLQ',
      text(),
      'orders.cdc.dlq',
      'Dead letters of the S3 sink and of the CDC relay (stream records it cannot convert)',
    ),
    partitions: setting('TOPIC_PARTITIONS', int(1, 1000), '6', 'Partitions of the pipeline topics'),
    retentionHours: setting('TOPIC_RETENTION_HOURS', int(1), '168', 'Retention of the pipeline topics'),
  }),
  dynamodb: group({
    ordersTable: setting(
      'ORDERS_TABLE',
      text(3),
      'orders',
      'DynamoDB table with the current state of each order',
    ),
    checkpointTable: setting(
      'CDC_CHECKPOINT_TABLE',
      text(3),
      'orders-cdc-checkpoints',
      'DynamoDB table with the relay shard leases and checkpoints',
    ),
  }),
  lake: group(
    {
      bucket: setting(
        'LAKE_BUCKET',
        text(3),
        'orders-lake',
        'S3 bucket of the data lake, reports and Athena results',
      ),
      prefix: setting('LAKE_PREFIX', folder, 'lake', 'Key prefix of the CDC data in the bucket'),
      format: setting('LAKE_FORMAT', oneOf(['parquet', 'jsonl']), 'parquet', '`parquet` or `jsonl`'),
      snapshotPrefix: setting('SNAPSHOT_PREFIX', folder, 'snapshots', 'Key prefix of the backfill snapshots'),
      reportsPrefix: setting('REPORTS_PREFIX', folder, 'reports', 'Key prefix of the reports'),
      athenaResultsPrefix: setting(
        'ATHENA_RESULTS_PREFIX',
        folder,
        'athena-results',
        'Key prefix of Athena query results',
      ),
    },
    // The crawler crawls both prefixes, each into its own table: one inside the other would mix them.
    (schema) =>
      schema.refine(({ prefix, snapshotPrefix }) => !nestedFolders(prefix, snapshotPrefix), {
        message: 'LAKE_PREFIX and SNAPSHOT_PREFIX must be separate folders (neither inside the other)',
        path: ['snapshotPrefix'],
      }),
  ),
  glue: group({
    database: setting('GLUE_DATABASE', text(), 'orders_lake', 'Glue database'),
    crawler: setting(
      'GLUE_CRAWLER',
      text(),
      'orders-cdc-crawler',
      'Glue crawler over the CDC and snapshot prefixes',
    ),
    crawlerRole: setting(
      'GLUE_CRAWLER_ROLE',
      text(),
      'arn:aws:iam::000000000000:role/orders-pipeline-crawler',
      'IAM role the crawler assumes (AWS mode)',
    ),
  }),
  athena: group({
    workgroup: setting('ATHENA_WORKGROUP', text(), 'orders-pipeline', 'Athena workgroup'),
  }),
  temporal: temporalBinding(
    `${LOCAL_HOST}:${LOCAL_PORTS.temporal}`,
    group({
      taskQueue: setting(
        'TEMPORAL_TASK_QUEUE',
        text(),
        'orders-control-plane',
        'Task queue of the control-plane worker',
      ),
      uiUrl: setting(
        'TEMPORAL_UI_URL',
        text(),
        `http://${LOCAL_HOST}:${LOCAL_PORTS.temporalUi}`,
        'Temporal Web UI (printed for users)',
      ),
      workflowBundlePath: setting(
        'TEMPORAL_WORKFLOW_BUNDLE',
        text(0),
        '',
        'Prebuilt workflow bundle for the worker (empty: bundle at start)',
      ),
    }),
  ),
  schedules: group({
    crawlIntervalMinutes: setting('CRAWL_INTERVAL_MINUTES', int(1), '15', 'Schedule of the crawl workflow'),
    reportIntervalMinutes: setting(
      'REPORT_INTERVAL_MINUTES',
      int(1),
      '60',
      'Schedule of the report workflow',
    ),
    // The S3 sink writes a change within S3_SINK_ROTATE_MS and registers its hour's partition before the object:
    // a minute covers both with room for a busy sink.
    reconcileFreshnessSeconds: setting(
      'RECONCILE_FRESHNESS_SECONDS',
      int(0, 86_400),
      '60',
      'Freshness bound of the reconcile workflow: a change older than this must be in the lake',
    ),
  }),
  sink: group({
    concurrency: setting(
      'SINK_CONCURRENCY',
      int(1, 256),
      '16',
      'Concurrent conditional writes of the DynamoDB sink',
    ),
    partitionsConcurrently: setting(
      'SINK_PARTITIONS_CONCURRENTLY',
      int(1, 64),
      '3',
      'Kafka partitions the DynamoDB sink processes at once',
    ),
  }),
  generator: group({
    schemaV2Share: setting(
      'GENERATOR_SCHEMA_V2_SHARE',
      fraction,
      '0.5',
      'Share of orders the generator emits as order-event schema version 2 (0: all version 1, 1: all version 2)',
    ),
  }),
  cdcRelay: group({
    leaseDurationMs: setting(
      'CDC_LEASE_DURATION_MS',
      int(1000),
      '10000',
      'Relay shard lease: a lease not renewed for this long moves to another relay; each lease-table request gives up after a twelfth of it (2 attempts)',
    ),
    pollIntervalMs: setting(
      'CDC_POLL_INTERVAL_MS',
      int(10),
      '500',
      'Relay pause between GetRecords calls on a shard with no new records',
    ),
    workerId: setting(
      'CDC_WORKER_ID',
      text(0),
      '',
      'Relay instance id in the lease table (empty: host-pid-random)',
    ),
  }),
  s3Sink: group({
    flushRecords: setting(
      'S3_SINK_FLUSH_RECORDS',
      int(1),
      '5000',
      'Rotate an S3 object after this many records per partition',
    ),
    flushBytes: setting(
      'S3_SINK_FLUSH_BYTES',
      int(1024),
      '16777216',
      'Rotate after this many buffered bytes per partition',
    ),
    rotateMs: setting(
      'S3_SINK_ROTATE_MS',
      int(100),
      '30000',
      'Rotate an open object after this long (idle partitions too)',
    ),
    rotateRecordMs: setting(
      'S3_SINK_ROTATE_RECORD_MS',
      int(0),
      '900000',
      'Rotate when a change time is this far past the first one in the open object (deterministic; 0: off)',
    ),
    maxBufferBytes: setting(
      'S3_SINK_MAX_BUFFER_BYTES',
      int(1024 * 1024),
      '134217728',
      'Buffered bytes over all partitions before fetching pauses',
    ),
    jsonlGzip: setting(
      'S3_SINK_JSONL_GZIP',
      bool,
      'false',
      'Gzip the objects when LAKE_FORMAT=jsonl (`.jsonl.gz`)',
    ),
  }),
  metricsPort: setting(
    'METRICS_PORT',
    int(-1, 65535),
    '0',
    'Port of the /metrics, /healthz and /readyz server of every process (0: pick a free one; -1: off)',
  ),
  metricsHost: setting(
    'METRICS_HOST',
    text(),
    LOCAL_HOST,
    'Address that server binds (`0.0.0.0` in a container, so probes and Prometheus reach it)',
  ),
  logLevel: setting(
    'LOG_LEVEL',
    oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
    'pino log level',
  ),
  dataDir: setting(
    'DATA_DIR',
    text(),
    '.data',
    'Local data, logs and reports (local stack and local copies of reports)',
  ),
  stackDir: setting(
    'STACK_DIR',
    text(),
    '.stack',
    'Installed local stack tools (Python venv, Kafka jars); shareable between stacks',
  ),
  retention: group({
    athenaResultsDays: setting(
      'ATHENA_RESULTS_EXPIRE_DAYS',
      int(1),
      '7',
      'S3 lifecycle: Athena query results expire after this many days',
    ),
    reportsDays: setting(
      'REPORTS_EXPIRE_DAYS',
      int(1),
      '90',
      'S3 lifecycle: reports expire after this many days',
    ),
    localStreamSeconds: setting(
      'LOCAL_STREAM_RETENTION_SECONDS',
      int(1),
      '3600',
      'Local stack (moto): how long DynamoDB Streams keep a record (AWS: 86400, 24 h; moto holds them in memory)',
    ),
    localLifecycleDaySeconds: setting(
      'LOCAL_LIFECYCLE_DAY_SECONDS',
      int(1),
      '86400',
      'Local stack (moto): length of one S3 lifecycle day, so tests can see expiration happen',
    ),
    localLogMegabytes: setting(
      'LOCAL_LOG_MAX_MB',
      int(1),
      '64',
      'Local stack: while npm start runs, a service log past this size is moved to <name>.log.1 (replacing the previous one) and starts again empty',
    ),
  }),
});
