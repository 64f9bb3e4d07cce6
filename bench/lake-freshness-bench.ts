/**
 * Lake freshness: event time → the row counted by an Athena `count(*)` on its hour partition, p50 and p99, at a
 * sustained 100 events/s for 200 s across an hour boundary. Target (issue 14): p99 ≤ S3_SINK_ROTATE_MS + 5 s.
 *
 * The pipeline runs as `npm start` runs it: a run-scoped config (its own topics, tables, lake prefix and Glue
 * database, as a bounded run), the control-plane worker and the provision workflow, then the DynamoDB sink, the
 * CDC relay and the S3 sink as supervised processes with their default settings (S3_SINK_ROTATE_MS included), and
 * the generator in this process. Without waiting for a wall-clock hour, the run crosses one: the generator's clock
 * and the orders table's stream records (the change time the lake partitions by; the stack's moto honours
 * STREAM_CLOCK_OFFSET_TAG) are shifted so that the hour turns half-way through.
 *
 * Measured from outside, as a user sees it: the lake's objects are listed every 250 ms (when each appeared), and
 * the `count(*)` of each hour partition seen is asked of Athena (the real client against the local endpoint) over
 * and over, one loop per partition. An object is visible at the first answer whose count covers it and every object of its partition
 * listed before it (counts only grow: nothing compacts during the run). A row's freshness is that time minus its
 * event time (updated_at, shifted back to the wall clock). Also reported, to see where the time goes: event time →
 * its change time (the DynamoDB sink's write, both on the shifted clock), event time → object listed in S3 (the
 * relay and the S3 sink's rotation), object listed → counted (registration and query), and one count query's time.
 *
 *   npx tsx bench/lake-freshness-bench.ts
 *   BENCH_SCALE=0.2 npx tsx bench/lake-freshness-bench.ts   # 40 s instead of 200 s
 */
import { loadavg } from 'node:os';
import { DescribeTableCommand, TagResourceCommand } from '@aws-sdk/client-dynamodb';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { fetchQueryRows, startQuery, waitForQuery } from '../src/activities/athena-query';
import { createAwsClients, destroyAwsClients } from '../src/aws/clients';
import { deleteRun, markRunLive } from '../src/cli/main-job/run-cleanup';
import { newRunId, runScopedConfig } from '../src/cli/main-job/run-scope';
import { CDC_TABLE_FOLDER, loadConfig, type Config } from '../src/config';
import { createKafka } from '../src/kafka/client';
import { cdcTableRoot, parseObjectKey } from '../src/lake-format/cdc-layout';
import { readLakeRecords } from '../src/lake-format/lake-reader';
import { startPipelineProcesses, type PipelineProcessGroup } from '../src/local';
import { STREAMING_PROCESSES, WORKER_PROCESS } from '../src/local/pipeline-processes';
import { STREAM_CLOCK_OFFSET_TAG } from '../src/local/services/moto';
import { createLogger } from '../src/observability/logger';
import { createGenerator } from '../src/streaming/generator/generator';
import { connectClient, type TemporalClient } from '../src/temporal/connection';
import { sleep, waitFor } from '../src/support/timing';
import * as workflows from '../src/workflows';
import { benchScale, median, percentile, runStandalone, type BenchRow } from './types';

const RATE = 100;
const FULL_SECONDS = 200;
const HOUR_MS = 3_600_000;
const LIST_INTERVAL_MS = 250;
const logger = createLogger('lake-freshness-bench', { logLevel: 'error' });
const say = (line: string) => console.error(line);

/** One answer of Athena: the partition's count(*) when the answer came back. */
interface CountSample {
  partitionPath: string;
  count: number;
  at: number;
  seconds: number;
}

/** The `WHERE` of one hour partition: `dt=2026-12-07/hour=03` → `dt = '2026-12-07' AND hour = '03'`. */
function partitionFilter(partitionPath: string): string {
  return partitionPath
    .split('/')
    .map((pair) => pair.split('='))
    .map(([key, value]) => `${key} = '${value}'`)
    .join(' AND ');
}

async function countPartition(
  config: Config,
  athena: ReturnType<typeof createAwsClients>['athena'],
  path: string,
) {
  const started = Date.now();
  const id = await startQuery(athena, {
    sql: `SELECT count(*) FROM ${CDC_TABLE_FOLDER} WHERE ${partitionFilter(path)}`,
    database: config.glue.database,
    workgroup: config.athena.workgroup,
    idempotencyKey: `freshness-${path}-${started}-${Math.random()}`,
  });
  await waitForQuery(athena, id, { sleep, heartbeat: () => undefined, timeoutMs: 60_000 });
  const { rows } = await fetchQueryRows(athena, id, {
    maxRows: 1,
    maxBytes: 1024,
    heartbeat: () => undefined,
  });
  const at = Date.now();
  return { count: Number(rows[0]?.[0] ?? 0), at, seconds: (at - started) / 1000 };
}

/** Shifts the run's clock so that the hour turns half-way through a run of `seconds` that starts about now. */
function clockOffsetAcrossHour(seconds: number): number {
  const middle = Date.now() + (seconds * 1000) / 2;
  return Math.ceil(middle / HOUR_MS) * HOUR_MS - middle;
}

export async function runLakeFreshnessBench(opts: { seconds?: number } = {}): Promise<BenchRow[]> {
  const seconds = opts.seconds ?? Math.max(20, Math.round(FULL_SECONDS * benchScale()));
  const loadAtStart = loadavg()[0].toFixed(2);
  const baseConfig = loadConfig();
  const runId = newRunId();
  const config = runScopedConfig(baseConfig, runId);
  const unmark = markRunLive(config, runId);
  const aws = createAwsClients(config);
  const kafka = createKafka(config, 'bench');
  const stackOptions = { owner: 'bench', report: () => undefined };
  const groups: PipelineProcessGroup[] = [];
  let temporal: TemporalClient | undefined;
  let watching = true;
  const watchers: Promise<void>[] = [];
  try {
    say(`run ${runId}: worker and provision workflow...`);
    groups.push(await startPipelineProcesses(config, [WORKER_PROCESS], stackOptions));
    temporal = await connectClient(config);
    await temporal.client.workflow.execute(workflows.provision, {
      taskQueue: config.temporal.taskQueue,
      workflowId: `provision-run-${runId}-${Date.now()}`,
      args: [{ schedules: false }],
    });
    say('streaming processes...');
    groups.push(await startPipelineProcesses(config, STREAMING_PROCESSES, stackOptions));

    const clockOffsetMs = Math.round(clockOffsetAcrossHour(seconds));
    const table = await aws.dynamodb.send(
      new DescribeTableCommand({ TableName: config.dynamodb.ordersTable }),
    );
    await aws.dynamodb.send(
      new TagResourceCommand({
        ResourceArn: table.Table!.TableArn!,
        Tags: [{ Key: STREAM_CLOCK_OFFSET_TAG, Value: String(clockOffsetMs) }],
      }),
    );

    const listedAt = new Map<string, number>();
    const samples: CountSample[] = [];
    watchers.push(
      (async () => {
        while (watching) {
          for await (const page of paginateListObjectsV2(
            { client: aws.s3 },
            { Bucket: config.lake.bucket, Prefix: cdcTableRoot(config) },
          )) {
            const now = Date.now();
            for (const object of page.Contents ?? [])
              if (object.Key && !listedAt.has(object.Key)) listedAt.set(object.Key, now);
          }
          await sleep(LIST_INTERVAL_MS);
        }
      })(),
      (async () => {
        // One loop per partition seen, so each partition is asked about as often as a query takes.
        const counting = new Map<string, Promise<void>>();
        while (watching) {
          for (const key of listedAt.keys()) {
            const partitionPath = parseObjectKey(key)?.partitionPath;
            if (partitionPath === undefined || counting.has(partitionPath)) continue;
            counting.set(
              partitionPath,
              (async () => {
                while (watching)
                  samples.push({
                    partitionPath,
                    ...(await countPartition(config, aws.athena, partitionPath)),
                  });
              })(),
            );
          }
          await sleep(LIST_INTERVAL_MS);
        }
        await Promise.all(counting.values());
      })(),
    );

    say(
      `generator: ${RATE} events/s for ${seconds} s, clock offset ${(clockOffsetMs / 1000).toFixed(0)} s...`,
    );
    const report = await createGenerator({
      config,
      kafka,
      logger,
      rate: RATE,
      durationMs: seconds * 1000,
      clockOffsetMs,
    }).run();
    say(`generator done: ${report.messagesSent} events for ${report.orders} orders; draining...`);

    // Drained: every order's final version is in the lake, and Athena counts every lake row.
    const rows = await waitFor(
      'every order at its final version in the lake, and counted by Athena',
      async () => {
        const lake = await readLakeRecords(aws.s3, config);
        const latest = new Map<string, number>();
        for (const row of lake)
          latest.set(
            String(row.order_id),
            Math.max(latest.get(String(row.order_id)) ?? 0, Number(row.version)),
          );
        const complete = [...report.expectedStates.values()].every(
          (s) => (latest.get(s.orderId) ?? 0) >= s.version,
        );
        if (!complete) return undefined;
        const counted = new Map<string, number>();
        for (const sample of samples) counted.set(sample.partitionPath, sample.count);
        const total = [...counted.values()].reduce((a, b) => a + b, 0);
        return total === lake.length ? lake : undefined;
      },
      { timeoutMs: 5 * 60_000, intervalMs: 2_000 },
    );
    watching = false;
    await Promise.all(watchers);

    // Per object: when it was listed, and the first count of its partition covering it and those listed before it.
    const rowsByObject = new Map<string, number>();
    for (const row of rows) rowsByObject.set(row.object_key, (rowsByObject.get(row.object_key) ?? 0) + 1);
    const visibleAt = new Map<string, number>();
    const byPartition = new Map<string, string[]>();
    for (const key of rowsByObject.keys()) {
      const path = parseObjectKey(key)!.partitionPath;
      byPartition.set(path, [...(byPartition.get(path) ?? []), key]);
    }
    for (const [path, keys] of byPartition) {
      const ordered = keys.sort((a, b) => listedAt.get(a)! - listedAt.get(b)!);
      const counts = samples.filter((s) => s.partitionPath === path);
      let covered = 0;
      for (const key of ordered) {
        covered += rowsByObject.get(key)!;
        const sample = counts.find((s) => s.count >= covered && s.at >= listedAt.get(key)!);
        if (!sample) throw new Error(`no Athena count of ${path} ever covered ${key}`);
        visibleAt.set(key, sample.at);
      }
    }
    const eventMs = (row: (typeof rows)[number]) => (row.updated_at as Date).getTime() - clockOffsetMs;
    const visible = rows.map((row) => (visibleAt.get(row.object_key)! - eventMs(row)) / 1000);
    const listed = rows.map((row) => (listedAt.get(row.object_key)! - eventMs(row)) / 1000);
    const counted = rows.map(
      (row) => (visibleAt.get(row.object_key)! - listedAt.get(row.object_key)!) / 1000,
    );
    const written = rows.map(
      (row) => ((row.change_time as Date).getTime() - (row.updated_at as Date).getTime()) / 1000,
    );
    const querySeconds = samples.map((s) => s.seconds);
    const rotateSeconds = config.s3Sink.rotateMs / 1000;
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ');
    const note =
      `${RATE} events/s for ${seconds} s across ${byPartition.size} hour partitions (${[...byPartition.keys()].sort().join(', ')}), ` +
      `${rows.length.toLocaleString('en-US')} lake rows in ${rowsByObject.size} objects, S3_SINK_ROTATE_MS ${config.s3Sink.rotateMs}, ` +
      `${samples.length} count queries; load average ${loadAtStart} at the start, ${load} (1/5/15 min) at the end`;
    say(note);
    return [
      {
        name: 'Lake freshness p50 (event time → counted by Athena count(*) on its partition)',
        value: percentile(visible, 50),
        unit: 's',
        note,
      },
      {
        name: 'Lake freshness p99',
        value: percentile(visible, 99),
        unit: 's',
        baseline: rotateSeconds + 5,
        baselineName: 'S3_SINK_ROTATE_MS + 5 s',
        ratio: percentile(visible, 99) / (rotateSeconds + 5),
        target: '≤ 1',
      },
      {
        name: 'of which event time → change time (generator, Kafka, DynamoDB sink write), p50 / p99',
        value: percentile(written, 50),
        unit: `s / ${percentile(written, 99).toFixed(2)} s`,
      },
      {
        name: 'of which event time → object listed in S3 (relay, S3 sink rotation and upload too), p50 / p99',
        value: percentile(listed, 50),
        unit: `s / ${percentile(listed, 99).toFixed(2)} s`,
      },
      {
        name: 'of which object listed → counted by Athena, p50 / p99',
        value: percentile(counted, 50),
        unit: `s / ${percentile(counted, 99).toFixed(2)} s`,
      },
      {
        name: 'One count(*) query on a partition (start → result), median / p99',
        value: median(querySeconds),
        unit: `s / ${percentile(querySeconds, 99).toFixed(2)} s`,
      },
    ];
  } finally {
    watching = false;
    await Promise.allSettled(watchers);
    for (const group of groups.reverse())
      await group.handle.stopStarted().catch((e: Error) => say(e.message));
    await temporal?.close().catch(() => undefined);
    try {
      await deleteRun({ aws, kafka }, baseConfig, runId);
    } finally {
      unmark();
      destroyAwsClients(aws);
    }
  }
}

if (require.main === module) runStandalone(() => runLakeFreshnessBench());
