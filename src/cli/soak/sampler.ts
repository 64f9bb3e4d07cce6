/**
 * One soak sample: RSS and CPU of every process of the local stack and the pipeline (each as its whole process
 * group: tsx runs node as a child, Kafka is one JVM, moto one Python), the disk use under the data dir, the
 * consumer lags and the pipeline's running counts (from each streaming process's Prometheus endpoint).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin } from 'kafkajs';
import pidusage from 'pidusage';
import type { Config } from '../../config';
import { groupMembers, isRecordAlive, readPidFile } from '../../local/os-processes';
import { stackPaths } from '../../local/paths';
import { scrapeMetrics } from '../../observability/metrics-scrape';
import { dynamoSinkGroupId } from '../../streaming/dynamo-sink/dynamo-sink';
import { s3SinkGroupId } from '../../streaming/s3-sink/s3-sink';
import { groupLag, topicMessageCount } from '../main-job/drain';

export interface ProcessUsage {
  rssMb: number;
  /** Percent of one core, averaged since the previous sample. */
  cpuPercent: number;
}

export interface Sample {
  minute: number;
  at: Date;
  processes: Map<string, ProcessUsage>;
  diskMb: number;
  lags: { dynamoSink?: number; s3Sink?: number };
  counts: {
    events?: number;
    dynamoWrites?: number;
    cdcPublished?: number;
    s3Records?: number;
    /** Items in the orders table: the data moto holds in memory (DescribeTable's ItemCount). */
    orders?: number;
  };
}

const MB = 1024 * 1024;

/** Bytes the files under `dir` take on disk (allocated blocks, as `du` counts them). */
export function diskUsageBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    try {
      const stat = statSync(path, { bigint: false });
      total += stat.isDirectory() ? diskUsageBytes(path) : stat.blocks * 512;
    } catch {
      // Gone between the listing and the stat (a rotated segment): nothing to count.
    }
  }
  return total;
}

/** The process groups to watch: every pid file of the stack (services and pipeline processes), plus extras. */
function watchedGroups(config: Config, extra: Map<string, number>): Map<string, number> {
  const { pidDir } = stackPaths(config);
  const groups = new Map<string, number>();
  let files: string[] = [];
  try {
    files = readdirSync(pidDir).filter((f) => f.endsWith('.pid'));
  } catch {
    // No pid dir yet: only the extras.
  }
  for (const file of files) {
    const record = readPidFile(join(pidDir, file));
    if (record && isRecordAlive(record)) groups.set(record.service, record.pid);
  }
  for (const [name, pid] of extra) groups.set(name, pid);
  return groups;
}

/** The Prometheus port a pipeline process was started with (its METRICS_PORT), read from its environment. */
function metricsPortOf(pid: number): number | undefined {
  try {
    const variable = readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((v) => v.startsWith('METRICS_PORT='));
    const port = Number(variable?.slice('METRICS_PORT='.length));
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function groupUsage(pgid: number): Promise<ProcessUsage | undefined> {
  const members = groupMembers(pgid);
  if (members.length === 0) return undefined;
  const stats = await pidusage(members).catch(() => undefined);
  if (!stats) return undefined;
  let rss = 0;
  let cpu = 0;
  for (const pid of members) {
    rss += stats[pid]?.memory ?? 0;
    cpu += stats[pid]?.cpu ?? 0;
  }
  return { rssMb: rss / MB, cpuPercent: cpu };
}

async function metric(pid: number | undefined, name: string): Promise<number | undefined> {
  const port = pid === undefined ? undefined : metricsPortOf(pid);
  if (port === undefined) return undefined;
  return (await scrapeMetrics(`http://127.0.0.1:${port}/metrics`))?.get(name);
}

const orUndefined = <T>(promise: Promise<T>) => promise.catch(() => undefined);

/**
 * Takes one sample.
 *
 * @param extra process groups started outside the stack's pid files (the soak's own `npm start`), by name.
 */
export async function takeSample(
  config: Config,
  admin: Admin,
  dynamodb: DynamoDBClient,
  startedAt: number,
  extra: Map<string, number>,
): Promise<Sample> {
  const groups = watchedGroups(config, extra);
  const processes = new Map<string, ProcessUsage>();
  for (const [name, pgid] of groups) {
    const usage = await groupUsage(pgid);
    if (usage) processes.set(name, usage);
  }
  const [dynamoSink, s3Sink, events, dynamoWrites, cdcPublished, s3Records, orders] = await Promise.all([
    orUndefined(groupLag(admin, dynamoSinkGroupId(config), config.topics.events)),
    orUndefined(groupLag(admin, s3SinkGroupId(config), config.topics.cdc)),
    orUndefined(topicMessageCount(admin, config.topics.events)),
    metric(groups.get('dynamo-sink'), 'dynamo_sink_applied_total'),
    metric(groups.get('cdc-relay'), 'cdc_relay_records_published_total'),
    metric(groups.get('s3-sink'), 's3_sink_records_out_total'),
    orUndefined(
      dynamodb
        .send(new DescribeTableCommand({ TableName: config.dynamodb.ordersTable }))
        .then((d) => d.Table?.ItemCount),
    ),
  ]);
  return {
    minute: (Date.now() - startedAt) / 60_000,
    at: new Date(),
    processes,
    diskMb: diskUsageBytes(stackPaths(config).dataDir) / MB,
    lags: { dynamoSink, s3Sink },
    counts: { events, dynamoWrites, cdcPublished, s3Records, orders },
  };
}
