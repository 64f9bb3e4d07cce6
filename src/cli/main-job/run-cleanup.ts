/**
 * What a bounded run (`npm start -- --duration N`) leaves behind, found by its run-scoped names (see run-scope.ts)
 * and deleted: its four topics and its consumer groups, its two DynamoDB tables, its S3 prefix `runs/<id>/` (lake,
 * snapshots, reports), its crawler and its Glue database (with the tables the crawl created).
 *
 * A finished run deletes its own resources unless `--keep` is given; `npm run pipeline -- cleanup-runs` finds the
 * leftovers of runs that were killed. A run marks itself live with `<dataDir>/runs/<id>.pid` while it runs, so
 * the clean-up never deletes a run that is still going.
 *
 * @example
 *   const leftovers = await findRuns({ aws, kafka }, loadConfig());
 *   for (const run of leftovers.filter((r) => !r.live)) await deleteRun({ aws, kafka }, loadConfig(), run.runId);
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteTableCommand, paginateListTables, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import {
  CrawlerNotRunningException,
  CrawlerRunningException,
  CrawlerStoppingException,
  DeleteCrawlerCommand,
  DeleteDatabaseCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  paginateGetDatabases,
  paginateListCrawlers,
  StopCrawlerCommand,
} from '@aws-sdk/client-glue';
import { DeleteObjectsCommand, ListObjectsV2Command, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { AwsClients } from '../../aws/clients';
import { isS3NotFound } from '../../aws/errors';
import type { Config } from '../../config';
import { pipelineTopics } from '../../resources/kafka-topics';
import { isProcessAlive } from '../../support/process-liveness';
import { waitFor } from '../../support/timing';
import { runScopedConfig } from './run-scope';

export interface RunCleanupDeps {
  aws: AwsClients;
  kafka: Kafka;
}

export interface RunResource {
  kind: 'topic' | 'consumer group' | 'DynamoDB table' | 'S3 prefix' | 'crawler' | 'Glue database';
  name: string;
}

export interface FoundRun {
  runId: string;
  /** Its process still runs (its marker names a live pid): not a leftover. */
  live: boolean;
  resources: RunResource[];
}

/** A run id as newRunId() makes it: 20261125t203000. */
const RUN_ID = '(\\d{8}t\\d{6})';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches `<base><separator><RUN_ID>` exactly; the id is the first group. */
const scoped = (base: string, separator: string) => new RegExp(`^${escape(base + separator)}${RUN_ID}$`);

function markerPath(config: Config, runId: string): string {
  return join(config.dataDir, 'runs', `${runId}.pid`);
}

/** Marks the run live for `cleanup-runs`; returns the function that removes the mark. */
export function markRunLive(config: Config, runId: string): () => void {
  const path = markerPath(config, runId);
  mkdirSync(join(config.dataDir, 'runs'), { recursive: true });
  writeFileSync(path, String(process.pid));
  return () => rmSync(path, { force: true });
}

function isRunLive(config: Config, runId: string): boolean {
  try {
    return isProcessAlive(Number(readFileSync(markerPath(config, runId), 'utf8')));
  } catch {
    return false;
  }
}

const runTopics = (config: Config) => pipelineTopics(config).map((t) => t.topic);

/** Consumer groups of the run: its processes' (`<clientId>-run-<id>-…`) and its counters' (`count-<topic>-…`). */
const isRunGroup = (groupId: string, runId: string) => groupId.includes(`run-${runId}`);

async function existing<T>(pages: AsyncIterable<T>, names: (page: T) => (string | undefined)[]) {
  const all: string[] = [];
  for await (const page of pages) for (const name of names(page)) if (name) all.push(name);
  return all;
}

/** Every bounded run with something left on the stack, oldest first, each with what it left. */
export async function findRuns(deps: RunCleanupDeps, config: Config): Promise<FoundRun[]> {
  const { aws, kafka } = deps;
  const found = new Map<string, RunResource[]>();
  const collect = (kind: RunResource['kind'], names: string[], pattern: RegExp) => {
    for (const name of names) {
      const runId = pattern.exec(name)?.[1];
      if (runId) found.set(runId, [...(found.get(runId) ?? []), { kind, name }]);
    }
  };

  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    for (const base of runTopics(config)) collect('topic', topics, scoped(base, '.run-'));
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    collect('consumer group', groups, new RegExp(`^${escape(`${config.kafka.clientId}-run-`)}${RUN_ID}-`));
  } finally {
    await admin.disconnect();
  }

  const tables = await existing(paginateListTables({ client: aws.dynamodb }, {}), (p) => p.TableNames ?? []);
  collect('DynamoDB table', tables, scoped(config.dynamodb.ordersTable, '-run-'));
  collect('DynamoDB table', tables, scoped(config.dynamodb.checkpointTable, '-run-'));

  try {
    const prefixes = await existing(
      paginateListObjectsV2(
        { client: aws.s3 },
        { Bucket: config.lake.bucket, Prefix: 'runs/', Delimiter: '/' },
      ),
      (p) => (p.CommonPrefixes ?? []).map((c) => c.Prefix),
    );
    collect('S3 prefix', prefixes, new RegExp(`^runs/${RUN_ID}/$`));
  } catch (error) {
    // No bucket yet: no run wrote anything.
    if (!isS3NotFound(error)) throw error;
  }

  const databases = await existing(paginateGetDatabases({ client: aws.glue }, {}), (p) =>
    (p.DatabaseList ?? []).map((d) => d.Name),
  );
  collect('Glue database', databases, scoped(config.glue.database, '_run_'));
  const crawlers = await existing(
    paginateListCrawlers({ client: aws.glue }, {}),
    (p) => p.CrawlerNames ?? [],
  );
  collect('crawler', crawlers, scoped(config.glue.crawler, '-run-'));

  return [...found.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([runId, resources]) => ({ runId, live: isRunLive(config, runId), resources }));
}

/**
 * Deletes everything the run `runId` of `config` (the unscoped config) may have created; what is already gone is
 * skipped. Call it only once the run's processes have stopped (a consumer group with members cannot be deleted;
 * the sessions of killed ones are waited out). Returns what it deleted.
 */
export async function deleteRun(deps: RunCleanupDeps, config: Config, runId: string): Promise<RunResource[]> {
  const { aws, kafka } = deps;
  const run = runScopedConfig(config, runId);
  const deleted: RunResource[] = [];

  const admin = kafka.admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const topics = runTopics(run).filter((t) => present.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    deleted.push(...topics.map((name) => ({ kind: 'topic' as const, name })));
  } finally {
    await admin.disconnect();
  }

  for (const table of [run.dynamodb.ordersTable, run.dynamodb.checkpointTable]) {
    try {
      await aws.dynamodb.send(new DeleteTableCommand({ TableName: table }));
      deleted.push({ kind: 'DynamoDB table', name: table });
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }

  const prefix = `runs/${runId}/`;
  let objects = 0;
  try {
    // Listing again after each delete: a page's continuation token may point past keys just deleted.
    for (;;) {
      const page = await aws.s3.send(
        new ListObjectsV2Command({ Bucket: run.lake.bucket, Prefix: prefix, MaxKeys: 1000 }),
      );
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await aws.s3.send(new DeleteObjectsCommand({ Bucket: run.lake.bucket, Delete: { Objects: keys } }));
      objects += keys.length;
    }
  } catch (error) {
    if (!isS3NotFound(error)) throw error;
  }
  if (objects > 0)
    deleted.push({ kind: 'S3 prefix', name: `s3://${run.lake.bucket}/${prefix} (${objects} objects)` });

  if (await deleteCrawler(deps, run.glue.crawler)) deleted.push({ kind: 'crawler', name: run.glue.crawler });
  try {
    // Deleting a database deletes its tables and their partitions.
    await aws.glue.send(new DeleteDatabaseCommand({ Name: run.glue.database }));
    deleted.push({ kind: 'Glue database', name: run.glue.database });
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
  }

  // Last: a group with members cannot be deleted. A killed process stays a member until its session times out,
  // so that is waited for; a process of the run still up keeps its group, and only this step fails.
  const groupAdmin = kafka.admin();
  await groupAdmin.connect();
  try {
    const groups = (await groupAdmin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => isRunGroup(g, runId));
    if (groups.length > 0) {
      await waitFor(
        `the consumer groups of run ${runId} to have no members (a killed consumer leaves after KAFKA_SESSION_TIMEOUT_MS=${config.kafka.sessionTimeoutMs}; is a process of the run still up?)`,
        async () =>
          (await groupAdmin.describeGroups(groups)).groups.every((group) => group.members.length === 0),
        { timeoutMs: 2 * config.kafka.sessionTimeoutMs + 10_000, intervalMs: 1000 },
      );
      await groupAdmin.deleteGroups(groups);
    }
    deleted.push(...groups.map((name) => ({ kind: 'consumer group' as const, name })));
  } finally {
    await groupAdmin.disconnect();
  }
  return deleted;
}

/** Deletes the crawler, stopping its crawl first if a killed run left one going; false if there was none. */
async function deleteCrawler({ aws }: RunCleanupDeps, name: string): Promise<boolean> {
  try {
    await aws.glue.send(new DeleteCrawlerCommand({ Name: name }));
    return true;
  } catch (error) {
    if (error instanceof EntityNotFoundException) return false;
    if (!(error instanceof CrawlerRunningException)) throw error;
  }
  try {
    await aws.glue.send(new StopCrawlerCommand({ Name: name }));
  } catch (error) {
    // Already stopping, or ended since: either way it becomes READY.
    if (!(error instanceof CrawlerStoppingException || error instanceof CrawlerNotRunningException))
      throw error;
  }
  await waitFor(
    `crawler ${name} to stop`,
    async () => (await aws.glue.send(new GetCrawlerCommand({ Name: name }))).Crawler?.State === 'READY',
    { timeoutMs: 5 * 60_000, intervalMs: 2000 },
  );
  await aws.glue.send(new DeleteCrawlerCommand({ Name: name }));
  return true;
}
