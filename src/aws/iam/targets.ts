/**
 * The resources a policy names, as ARNs built from the configuration, the account and the region: the configured
 * tables, their streams, the bucket and its prefixes, the Glue database and crawler, the Athena workgroup and the
 * crawler's role. Nothing here is a pattern over other names: a policy for one configuration grants nothing on
 * another's resources.
 */
import { CDC_TABLE_FOLDER, ORDERS_CURRENT_VIEW, type Config } from '../../config';
import type { ResourceKind } from './sdk-actions';

export interface IamContext {
  config: Config;
  account: string;
  region: string;
  /** `aws`, `aws-cn` or `aws-us-gov`, from the region. */
  partition: string;
  /** GLUE_CRAWLER_ROLE's role, in `account`. */
  crawlerRoleArn: string;
}

export type PolicyCondition = Record<string, Record<string, string | string[]>>;

export interface IamTarget {
  kind: ResourceKind;
  arns: string[];
  condition?: PolicyCondition;
}

export type TargetOf = (ctx: IamContext) => IamTarget;

type Pick<T> = (config: Config) => T;

const regional = (ctx: IamContext, service: string, resource: string) =>
  `arn:${ctx.partition}:${service}:${ctx.region}:${ctx.account}:${resource}`;
const bucketArn = (ctx: IamContext) => `arn:${ctx.partition}:s3:::${ctx.config.lake.bucket}`;
const folderPatterns = (prefixes: string[]) => prefixes.flatMap((prefix) => [prefix, `${prefix}/*`]);

export const tables =
  (names: Pick<string[]>): TargetOf =>
  (ctx) => ({
    kind: 'table',
    arns: names(ctx.config).map((name) => regional(ctx, 'dynamodb', `table/${name}`)),
  });

export const streamsOf =
  (names: Pick<string[]>): TargetOf =>
  (ctx) => ({
    kind: 'stream',
    // A stream's ARN ends with its creation time, which changes when the stream is re-enabled.
    arns: names(ctx.config).map((name) => regional(ctx, 'dynamodb', `table/${name}/stream/*`)),
  });

export const lakeBucket: TargetOf = (ctx) => ({ kind: 'bucket', arns: [bucketArn(ctx)] });

/** ListBucket limited to keys under the prefixes (the `s3:prefix` condition of the request). */
export const listing =
  (prefixes: Pick<string[]>): TargetOf =>
  (ctx) => ({
    kind: 'listing',
    arns: [bucketArn(ctx)],
    condition: { StringLike: { 's3:prefix': folderPatterns(prefixes(ctx.config)) } },
  });

export const objects =
  (prefixes: Pick<string[]>): TargetOf =>
  (ctx) => ({ kind: 'objects', arns: prefixes(ctx.config).map((prefix) => `${bucketArn(ctx)}/${prefix}/*`) });

export const database: TargetOf = (ctx) => ({
  kind: 'database',
  arns: [regional(ctx, 'glue', 'catalog'), regional(ctx, 'glue', `database/${ctx.config.glue.database}`)],
});

/** The database and every table in it (the crawler names the tables after the folders it finds). */
export const catalogTables: TargetOf = (ctx) => ({
  kind: 'database',
  arns: [...database(ctx).arns, regional(ctx, 'glue', `table/${ctx.config.glue.database}/*`)],
});

/** The CDC table the pipeline writes (provisioning creates it, the sink and compaction manage its partitions). */
export const cdcTable: TargetOf = (ctx) => ({
  kind: 'glueTable',
  arns: [
    ...database(ctx).arns,
    regional(ctx, 'glue', `table/${ctx.config.glue.database}/${CDC_TABLE_FOLDER}`),
  ],
});

/** The `orders_current` view's Glue table (provisioning creates and replaces it through Athena). */
export const currentView: TargetOf = (ctx) => ({
  kind: 'glueTable',
  arns: [
    ...database(ctx).arns,
    regional(ctx, 'glue', `table/${ctx.config.glue.database}/${ORDERS_CURRENT_VIEW}`),
  ],
});

export const crawler: TargetOf = (ctx) => ({
  kind: 'crawler',
  arns: [regional(ctx, 'glue', `crawler/${ctx.config.glue.crawler}`)],
});

export const workgroup: TargetOf = (ctx) => ({
  kind: 'workgroup',
  arns: [regional(ctx, 'athena', `workgroup/${ctx.config.athena.workgroup}`)],
});

/** What the crawler crawls and Athena queries: the CDC data and the snapshots. */
export const crawledPrefixes: Pick<string[]> = (config) => [config.lake.prefix, config.lake.snapshotPrefix];

export const queriedData = objects(crawledPrefixes);
export const queriedDataListing = listing((config) => [
  ...crawledPrefixes(config),
  config.lake.athenaResultsPrefix,
]);
export const athenaResultObjects = objects((config) => [config.lake.athenaResultsPrefix]);

/** The AWS partition of a region: `cn-north-1` → `aws-cn`. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
