/**
 * Which SDK commands each process sends, and on which of the configured resources. test/ops/iam-policy.test.ts
 * checks the command lists against the code (every `new XxxCommand(` reachable from the process's entry point,
 * and nothing else), so a policy built from them is exactly what the process needs.
 */
import { compactedLakePrefix, type Config } from '../../config';
import type { SdkCommand } from './sdk-actions';
import {
  athenaResultObjects,
  catalogTables,
  cdcTable,
  crawler,
  currentView,
  database,
  lakeBucket,
  listing,
  objects,
  streamsOf,
  tables,
  workgroup,
  type TargetOf,
} from './targets';

export interface CommandUse {
  commands: SdkCommand[];
  on: TargetOf;
}

/** The processes that call AWS (the generator talks to Kafka only). */
export type AwsProcessName = 'dynamo-sink' | 'cdc-relay' | 's3-sink' | 'worker';

const ordersTable = (config: Config) => [config.dynamodb.ordersTable];
const checkpointTable = (config: Config) => [config.dynamodb.checkpointTable];
const pipelineTables = (config: Config) => [config.dynamodb.ordersTable, config.dynamodb.checkpointTable];
const cdcData = (config: Config) => [config.lake.prefix];
const compacted = (config: Config) => [compactedLakePrefix(config)];
const reconcileWork = (config: Config) => [`${config.lake.reportsPrefix}/reconcile`];
const cdcAndCompacted = (config: Config) => [config.lake.prefix, compactedLakePrefix(config)];

/**
 * src/resources/cdc-catalog.ts, one module for the CDC table and its partitions: provisioning creates the table
 * (or appends a new schema version's columns), the S3 sink registers partitions with the table's schema (and looks
 * one up for a late object), compaction repoints them.
 */
const managesCdcTable: CommandUse = {
  commands: [
    'glue.CreateTable',
    'glue.GetTable',
    'glue.UpdateTable',
    'glue.BatchCreatePartition',
    'glue.GetPartition',
    'glue.UpdatePartition',
  ],
  on: cdcTable,
};

/** src/lake-format/storage.ts: what a process reading and writing lake objects through it sends. */
const lakeStorageWrites = [
  's3.PutObject',
  's3.CreateMultipartUpload',
  's3.UploadPart',
  's3.CompleteMultipartUpload',
  's3.AbortMultipartUpload',
] satisfies SdkCommand[];
const lakeStorageReads = ['s3.GetObject', 's3.HeadObject'] satisfies SdkCommand[];

/** ensureOrdersTable / ensureCheckpointTable (src/resources/dynamodb-tables.ts), run at start-up and by provision. */
const ensuresTables = (names: (config: Config) => string[]): CommandUse => ({
  commands: ['dynamodb.CreateTable', 'dynamodb.DescribeTable', 'dynamodb.UpdateTable'],
  on: tables(names),
});

export const PROCESS_ACCESS: Record<AwsProcessName, CommandUse[]> = {
  'dynamo-sink': [ensuresTables(ordersTable), { commands: ['dynamodb.PutItem'], on: tables(ordersTable) }],
  'cdc-relay': [
    ensuresTables(pipelineTables),
    {
      commands: [
        'dynamodb.GetItem',
        'dynamodb.PutItem',
        'dynamodb.UpdateItem',
        'dynamodb.DeleteItem',
        'dynamodb.Scan',
      ],
      on: tables(checkpointTable),
    },
    {
      commands: [
        'dynamodb-streams.DescribeStream',
        'dynamodb-streams.GetShardIterator',
        'dynamodb-streams.GetRecords',
      ],
      on: streamsOf(ordersTable),
    },
  ],
  's3-sink': [
    {
      commands: [
        's3.PutObject',
        's3.CreateMultipartUpload',
        's3.UploadPart',
        's3.CompleteMultipartUpload',
        's3.AbortMultipartUpload',
        's3.GetObject',
        's3.HeadObject',
      ],
      on: objects(cdcData),
    },
    { commands: ['s3.ListObjectsV2'], on: listing(cdcData) },
    managesCdcTable,
    // A late object of a compacted hour is copied into the hour's current version.
    { commands: ['s3.CopyObject'], on: objects(compacted) },
  ],
  worker: [
    // provision
    ensuresTables(pipelineTables),
    { commands: ['s3.CreateBucket', 's3.HeadBucket', 's3.PutBucketLifecycleConfiguration'], on: lakeBucket },
    { commands: ['glue.CreateDatabase', 'glue.GetDatabase'], on: database },
    {
      commands: [
        'glue.CreateCrawler',
        'glue.UpdateCrawler',
        'glue.GetCrawler',
        'glue.StartCrawler',
        'glue.GetCrawlerMetrics',
      ],
      on: crawler,
    },
    {
      commands: [
        'athena.CreateWorkGroup',
        'athena.GetWorkGroup',
        'athena.UpdateWorkGroup',
        'athena.StartQueryExecution',
        'athena.GetQueryExecution',
        'athena.GetQueryResults',
        'athena.StopQueryExecution',
      ],
      on: workgroup,
    },
    // backfill (of ORDERS_TABLE into SNAPSHOT_PREFIX) and report (into REPORTS_PREFIX)
    { commands: ['dynamodb.Scan'], on: tables(ordersTable) },
    {
      commands: ['s3.PutObject'],
      on: objects((config) => [config.lake.snapshotPrefix, config.lake.reportsPrefix]),
    },
    // provision (the CDC table) and compact (src/activities/compaction-activities.ts): it reads the sink's
    // objects, writes versions beside them, switches partitions, copies late objects in and deletes what a
    // version replaced, in both folders; it never writes into the sink's folder.
    managesCdcTable,
    { commands: lakeStorageReads, on: objects(cdcAndCompacted) },
    // provision: reads the orders_current view's stored definition before replacing it through Athena.
    { commands: ['glue.GetTable'], on: currentView },
    { commands: lakeStorageWrites, on: objects(compacted) },
    { commands: ['s3.ListObjectsV2'], on: listing(cdcAndCompacted) },
    { commands: ['s3.CopyObject'], on: objects(compacted) },
    { commands: ['s3.DeleteObjects'], on: objects(cdcAndCompacted) },
    // reconcile (src/activities/reconcile-activities.ts): looks candidates up again, keeps its sorted runs and
    // candidates under REPORTS_PREFIX/reconcile/ (deleted at the end) and streams the view's result CSV.
    { commands: ['dynamodb.BatchGetItem'], on: tables(ordersTable) },
    { commands: ['s3.GetObject', 's3.DeleteObjects'], on: objects(reconcileWork) },
    { commands: ['s3.ListObjectsV2'], on: listing(reconcileWork) },
    { commands: ['s3.GetObject'], on: athenaResultObjects },
  ],
};

/**
 * `npm start`'s own calls (the live status, a bounded run's read-back), on top of those of the processes it
 * starts. In AWS mode it is for a trial on one machine; deployed, each process runs with its own policy.
 */
export const MAIN_JOB_ACCESS: CommandUse[] = [
  { commands: ['glue.GetCrawler'], on: crawler },
  { commands: ['dynamodb.Scan'], on: tables(ordersTable) },
  {
    commands: [
      'dynamodb-streams.DescribeStream',
      'dynamodb-streams.GetShardIterator',
      'dynamodb-streams.GetRecords',
    ],
    on: streamsOf(ordersTable),
  },
  // The lake reader shares src/lake-format/storage.ts with the S3 sink.
  {
    commands: [
      's3.PutObject',
      's3.CreateMultipartUpload',
      's3.UploadPart',
      's3.CompleteMultipartUpload',
      's3.AbortMultipartUpload',
      's3.GetObject',
      's3.HeadObject',
    ],
    on: objects(cdcData),
  },
  { commands: ['s3.ListObjectsV2'], on: listing(cdcData) },
  { commands: ['s3.GetObject'], on: objects((config) => [config.lake.reportsPrefix]) },
  // Deleting a bounded run's resources (src/cli/main-job/run-cleanup.ts): its tables, objects, database (with
  // its tables) and crawler; the resources' names come from the run-scoped configuration.
  { commands: ['dynamodb.ListTables', 'dynamodb.DeleteTable'], on: tables(pipelineTables) },
  {
    commands: ['s3.DeleteObjects'],
    on: objects((config) => [
      ...cdcAndCompacted(config),
      config.lake.snapshotPrefix,
      config.lake.reportsPrefix,
    ]),
  },
  { commands: ['glue.GetDatabases'], on: database },
  { commands: ['glue.DeleteDatabase'], on: catalogTables },
  { commands: ['glue.ListCrawlers', 'glue.StopCrawler', 'glue.DeleteCrawler'], on: crawler },
  // After moto lost its data (src/local/store-reconcile.ts, local mode): the catalog's stale tables go too.
  { commands: ['glue.GetTables', 'glue.BatchDeleteTable'], on: catalogTables },
];
