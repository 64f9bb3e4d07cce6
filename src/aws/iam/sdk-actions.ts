/**
 * What each AWS SDK command the pipeline sends needs from IAM: one row per command, keyed
 * `<client package suffix>.<Command>` (`s3.PutObject` is `new PutObjectCommand(...)` of `@aws-sdk/client-s3`;
 * paginators and waiters count as the command they send). A row names the IAM action(s), the kind of resource
 * the command acts on (the process's use of it must point at a resource of that kind) and, for the commands that
 * make AWS act on the caller's behalf (Athena reading the catalog and the lake), the grants that implies.
 *
 * A new SDK command in src/ fails test/ops/iam-policy.test.ts until it has a row here and a use in
 * ./process-access.ts.
 *
 * @example
 *   SDK_COMMANDS['s3.HeadObject']; // { actions: ['s3:GetObject'], kind: 'objects' }
 */
import type { IamTarget, TargetOf } from './targets';
import {
  athenaResultObjects,
  catalogTables,
  currentView,
  lakeBucket,
  objects,
  queriedData,
  queriedDataListing,
} from './targets';

/** What a command acts on; a process's use of the command resolves it to ARNs. */
export type ResourceKind =
  | 'table'
  | 'stream'
  | 'bucket'
  | 'listing'
  | 'objects'
  | 'database'
  | 'glueTable'
  | 'crawler'
  | 'workgroup'
  | 'role'
  | 'logGroup'
  | 'kafkaCluster'
  | 'kafkaTopic'
  | 'kafkaGroup'
  | 'kafkaTransactionalId';

export interface DependentGrant {
  actions: string[];
  on: TargetOf;
  /** Why the caller needs it although it never sends it itself. */
  why: string;
}

export interface CommandGrant {
  actions: string[];
  kind: ResourceKind;
  dependent?: DependentGrant[];
}

/** Athena runs a query with the caller's permissions: it reads the catalog and the data, and writes results. */
const athenaOnBehalf: DependentGrant[] = [
  {
    actions: [
      'glue:GetDatabase',
      'glue:GetDatabases',
      'glue:GetTable',
      'glue:GetTables',
      'glue:GetPartition',
      'glue:GetPartitions',
      'glue:BatchGetPartition',
    ],
    on: catalogTables,
    why: 'Athena reads the Glue catalog with the caller’s permissions',
  },
  {
    actions: ['glue:CreateTable', 'glue:UpdateTable'],
    on: currentView,
    why: 'provisioning runs CREATE OR REPLACE VIEW orders_current, and Athena writes the view’s Glue table with the caller’s permissions',
  },
  {
    actions: ['s3:GetObject'],
    on: queriedData,
    why: 'Athena reads the queried objects with the caller’s permissions',
  },
  {
    actions: ['s3:ListBucket'],
    on: queriedDataListing,
    why: 'Athena lists the queried prefixes and its results prefix with the caller’s permissions',
  },
  {
    actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
    on: lakeBucket,
    why: 'Athena locates the bucket and manages its result uploads with the caller’s permissions',
  },
  {
    actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    on: athenaResultObjects,
    why: 'Athena writes the query results under ATHENA_RESULTS_PREFIX with the caller’s permissions',
  },
];

const athenaResultsRead: DependentGrant[] = [
  {
    actions: ['s3:GetObject'],
    on: athenaResultObjects,
    why: 'GetQueryResults streams the results from S3 with the caller’s permissions',
  },
];

/**
 * CopyObject is authorized as PutObject on the destination and GetObject on the source. Every copy in the
 * pipeline takes a sink object (under LAKE_PREFIX) into a compacted version (the use's destination).
 */
const copyFromSinkObjects: DependentGrant[] = [
  {
    actions: ['s3:GetObject'],
    on: objects((config) => [config.lake.prefix]),
    why: 'CopyObject reads its source, a sink object under LAKE_PREFIX',
  },
];

const grant = (kind: ResourceKind, ...actions: string[]): CommandGrant => ({ actions, kind });

export const SDK_COMMANDS = {
  'dynamodb.CreateTable': grant('table', 'dynamodb:CreateTable'),
  'dynamodb.DescribeTable': grant('table', 'dynamodb:DescribeTable'),
  'dynamodb.UpdateTable': grant('table', 'dynamodb:UpdateTable'),
  'dynamodb.GetItem': grant('table', 'dynamodb:GetItem'),
  'dynamodb.PutItem': grant('table', 'dynamodb:PutItem'),
  'dynamodb.UpdateItem': grant('table', 'dynamodb:UpdateItem'),
  'dynamodb.DeleteItem': grant('table', 'dynamodb:DeleteItem'),
  'dynamodb.Scan': grant('table', 'dynamodb:Scan'),
  'dynamodb.BatchGetItem': grant('table', 'dynamodb:BatchGetItem'),
  'dynamodb.DeleteTable': grant('table', 'dynamodb:DeleteTable'),
  // Listed without resource types in the Service Authorization Reference: its use resolves to "*".
  'dynamodb.ListTables': grant('table', 'dynamodb:ListTables'),
  'dynamodb-streams.DescribeStream': grant('stream', 'dynamodb:DescribeStream'),
  'dynamodb-streams.GetShardIterator': grant('stream', 'dynamodb:GetShardIterator'),
  'dynamodb-streams.GetRecords': grant('stream', 'dynamodb:GetRecords'),
  's3.CreateBucket': grant('bucket', 's3:CreateBucket'),
  // HeadBucket has no action of its own: S3 authorizes it as ListBucket (with no prefix).
  's3.HeadBucket': grant('bucket', 's3:ListBucket'),
  's3.PutBucketLifecycleConfiguration': grant('bucket', 's3:PutLifecycleConfiguration'),
  's3.ListObjectsV2': grant('listing', 's3:ListBucket'),
  's3.GetObject': grant('objects', 's3:GetObject'),
  's3.HeadObject': grant('objects', 's3:GetObject'),
  's3.PutObject': grant('objects', 's3:PutObject'),
  's3.CreateMultipartUpload': grant('objects', 's3:PutObject'),
  's3.UploadPart': grant('objects', 's3:PutObject'),
  's3.CompleteMultipartUpload': grant('objects', 's3:PutObject'),
  's3.AbortMultipartUpload': grant('objects', 's3:AbortMultipartUpload'),
  's3.DeleteObjects': grant('objects', 's3:DeleteObject'),
  's3.CopyObject': { actions: ['s3:PutObject'], kind: 'objects', dependent: copyFromSinkObjects },
  'glue.CreateDatabase': grant('database', 'glue:CreateDatabase'),
  'glue.GetDatabase': grant('database', 'glue:GetDatabase'),
  'glue.GetDatabases': grant('database', 'glue:GetDatabases'),
  'glue.DeleteDatabase': grant('database', 'glue:DeleteDatabase'),
  'glue.GetTables': grant('database', 'glue:GetTables'),
  'glue.BatchDeleteTable': grant('database', 'glue:BatchDeleteTable'),
  'glue.CreateTable': grant('glueTable', 'glue:CreateTable'),
  'glue.GetTable': grant('glueTable', 'glue:GetTable'),
  'glue.UpdateTable': grant('glueTable', 'glue:UpdateTable'),
  'glue.BatchCreatePartition': grant('glueTable', 'glue:BatchCreatePartition'),
  'glue.GetPartition': grant('glueTable', 'glue:GetPartition'),
  'glue.UpdatePartition': grant('glueTable', 'glue:UpdatePartition'),
  'glue.CreateCrawler': { actions: ['glue:CreateCrawler'], kind: 'crawler', dependent: passCrawlerRole() },
  'glue.UpdateCrawler': { actions: ['glue:UpdateCrawler'], kind: 'crawler', dependent: passCrawlerRole() },
  'glue.GetCrawler': grant('crawler', 'glue:GetCrawler'),
  'glue.StartCrawler': grant('crawler', 'glue:StartCrawler'),
  'glue.StopCrawler': grant('crawler', 'glue:StopCrawler'),
  'glue.DeleteCrawler': grant('crawler', 'glue:DeleteCrawler'),
  // Listed without resource types in the Service Authorization Reference: its use resolves to "*".
  'glue.ListCrawlers': grant('crawler', 'glue:ListCrawlers'),
  // Listed without resource types in the Service Authorization Reference: its use resolves to "*".
  'glue.GetCrawlerMetrics': grant('crawler', 'glue:GetCrawlerMetrics'),
  'athena.CreateWorkGroup': grant('workgroup', 'athena:CreateWorkGroup'),
  'athena.GetWorkGroup': grant('workgroup', 'athena:GetWorkGroup'),
  'athena.UpdateWorkGroup': grant('workgroup', 'athena:UpdateWorkGroup'),
  'athena.StartQueryExecution': {
    actions: ['athena:StartQueryExecution'],
    kind: 'workgroup',
    dependent: athenaOnBehalf,
  },
  'athena.GetQueryExecution': grant('workgroup', 'athena:GetQueryExecution'),
  'athena.GetQueryResults': {
    actions: ['athena:GetQueryResults'],
    kind: 'workgroup',
    dependent: athenaResultsRead,
  },
  'athena.StopQueryExecution': grant('workgroup', 'athena:StopQueryExecution'),
} satisfies Record<string, CommandGrant>;

export type SdkCommand = keyof typeof SDK_COMMANDS;

/** Actions that AWS authorizes only on "*" (no resource types): a use of them resolves to "*", said why. */
export const WILDCARD_ONLY_ACTIONS: Record<string, string> = {
  'glue:GetCrawlerMetrics':
    'glue:GetCrawlerMetrics has no resource types in the Service Authorization Reference: AWS requires "*"',
  'glue:ListCrawlers':
    'glue:ListCrawlers has no resource types in the Service Authorization Reference: AWS requires "*"',
  'dynamodb:ListTables':
    'dynamodb:ListTables has no resource types in the Service Authorization Reference: AWS requires "*"',
};

/** Creating or updating a crawler hands it GLUE_CRAWLER_ROLE: IAM checks the caller may pass that role to Glue. */
function passCrawlerRole(): DependentGrant[] {
  const on: TargetOf = (ctx): IamTarget => ({
    kind: 'role',
    arns: [ctx.crawlerRoleArn],
    condition: { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } },
  });
  return [{ actions: ['iam:PassRole'], on, why: 'a crawler is created and updated with its role' }];
}
