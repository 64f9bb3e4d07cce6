/**
 * Idempotently ensures the Glue side of the lake: the database and the crawler over the CDC prefix.
 *
 * The crawler targets `s3://<bucket>/<lake.prefix>/`, so the folder `orders_cdc/` becomes the table `orders_cdc`
 * and its `dt=`/`hour=` folders become partition keys. It has no Glue schedule: Temporal schedules it (one
 * scheduler, visible and pausable in one place).
 */
import {
  AlreadyExistsException,
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  GetDatabaseCommand,
  UpdateCrawlerCommand,
  type Crawler,
  type GlueClient,
} from '@aws-sdk/client-glue';
import type { Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';

/** Crawler settings from the AWS guide: one table per compatible folder, partitions inherit the table schema. */
export const CRAWLER_CONFIGURATION = {
  Version: 1.0,
  Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
  CrawlerOutput: { Partitions: { AddOrUpdateBehavior: 'InheritFromTable' } },
};

/**
 * LOG both ways: the CDC table and its partitions are written by provisioning, the S3 sink and compaction
 * (cdc-catalog.ts). With UPDATE_IN_DATABASE a crawl would point a compacted partition back at the sink's folder
 * (its files are still there during the reader grace), and with DEPRECATE/DELETE it would retire partitions
 * whose sink folder compaction emptied. New tables (snapshots) and new partitions are still added.
 */
export const CRAWLER_SCHEMA_CHANGE_POLICY = {
  UpdateBehavior: 'LOG',
  DeleteBehavior: 'LOG',
} as const;

/**
 * The S3 paths the crawler crawls: the parent of the CDC table folder (table `orders_cdc`), and the backfill
 * snapshots' prefix (one table named after it, partitioned by snapshot, see src/lake-format/snapshot-layout.ts).
 */
function lakeCrawlerTargetPaths(config: Config): string[] {
  const { bucket, prefix, snapshotPrefix } = config.lake;
  return [`s3://${bucket}/${prefix}/`, `s3://${bucket}/${snapshotPrefix}/`];
}

export async function ensureGlueDatabase(glue: GlueClient, config: Config): Promise<EnsureOutcome> {
  const name = config.glue.database;
  try {
    await glue.send(new GetDatabaseCommand({ Name: name }));
    return { kind: 'glue-database', name, action: 'exists' };
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
  }
  try {
    await glue.send(
      new CreateDatabaseCommand({
        DatabaseInput: { Name: name, Description: 'Orders pipeline data lake (CDC table and snapshots)' },
      }),
    );
  } catch (error) {
    // A concurrent provisioning run created it first.
    if (!(error instanceof AlreadyExistsException)) throw error;
  }
  return { kind: 'glue-database', name, action: 'created' };
}

interface CrawlerSpec {
  Name: string;
  Role: string;
  DatabaseName: string;
  Description: string;
  Targets: { S3Targets: { Path: string }[] };
  SchemaChangePolicy: typeof CRAWLER_SCHEMA_CHANGE_POLICY;
  RecrawlPolicy: { RecrawlBehavior: 'CRAWL_EVERYTHING' };
  Configuration: string;
}

function lakeCrawlerSpec(config: Config): CrawlerSpec {
  return {
    Name: config.glue.crawler,
    Role: config.glue.crawlerRole,
    DatabaseName: config.glue.database,
    Description:
      'Crawls the CDC folders and the backfill snapshots of the orders pipeline (scheduled by Temporal)',
    Targets: { S3Targets: lakeCrawlerTargetPaths(config).map((Path) => ({ Path })) },
    SchemaChangePolicy: CRAWLER_SCHEMA_CHANGE_POLICY,
    RecrawlPolicy: { RecrawlBehavior: 'CRAWL_EVERYTHING' },
    Configuration: JSON.stringify(CRAWLER_CONFIGURATION),
  };
}

function sameJson(a: string | undefined, b: string): boolean {
  try {
    return a !== undefined && JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/** AWS may return a role given as a name as its ARN, or the other way round: both name the same role. */
function sameRole(actual: string | undefined, wanted: string): boolean {
  if (!actual) return false;
  const name = (role: string) => role.slice(role.lastIndexOf('/') + 1);
  return actual === wanted || name(actual) === name(wanted);
}

/** What differs between the crawler and its spec, in words (empty: nothing). */
export function crawlerDrift(crawler: Crawler, spec: CrawlerSpec): string[] {
  const drift: string[] = [];
  if (crawler.DatabaseName !== spec.DatabaseName)
    drift.push(`database ${crawler.DatabaseName} -> ${spec.DatabaseName}`);
  if (!sameRole(crawler.Role, spec.Role)) drift.push('role');
  const paths = (crawler.Targets?.S3Targets ?? []).map((t) => t.Path ?? '').sort();
  const wanted = spec.Targets.S3Targets.map((t) => t.Path).sort();
  if (JSON.stringify(paths) !== JSON.stringify(wanted))
    drift.push(`targets ${paths.join(',')} -> ${wanted.join(',')}`);
  if (!sameJson(crawler.Configuration, spec.Configuration)) drift.push('configuration');
  const policy = crawler.SchemaChangePolicy;
  if (
    (policy?.UpdateBehavior ?? 'UPDATE_IN_DATABASE') !== spec.SchemaChangePolicy.UpdateBehavior ||
    (policy?.DeleteBehavior ?? 'DEPRECATE_IN_DATABASE') !== spec.SchemaChangePolicy.DeleteBehavior
  ) {
    drift.push('schema change policy');
  }
  return drift;
}

/**
 * Creates the lake's crawler (CDC folders and snapshots) or brings it back to its spec. Updating a running crawler
 * fails with CrawlerRunningException; the provisioning activity retries that.
 *
 * @example
 *   await ensureLakeCrawler(aws.glue, config); // { kind: 'glue-crawler', name: 'orders-cdc-crawler', action: 'exists' }
 */
export async function ensureLakeCrawler(glue: GlueClient, config: Config): Promise<EnsureOutcome> {
  const spec = lakeCrawlerSpec(config);
  let current: Crawler | undefined;
  try {
    current = (await glue.send(new GetCrawlerCommand({ Name: spec.Name }))).Crawler;
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
  }
  if (!current) {
    try {
      await glue.send(new CreateCrawlerCommand(spec));
      return { kind: 'glue-crawler', name: spec.Name, action: 'created' };
    } catch (error) {
      if (!(error instanceof AlreadyExistsException)) throw error;
      current = (await glue.send(new GetCrawlerCommand({ Name: spec.Name }))).Crawler;
      if (!current) throw error;
    }
  }
  const drift = crawlerDrift(current, spec);
  if (drift.length === 0) return { kind: 'glue-crawler', name: spec.Name, action: 'exists' };
  await glue.send(new UpdateCrawlerCommand(spec));
  return { kind: 'glue-crawler', name: spec.Name, action: 'updated', detail: drift.join(', ') };
}
