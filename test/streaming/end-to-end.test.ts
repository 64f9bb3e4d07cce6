/**
 * The whole streaming data plane with real processes: generator → orders.events → DynamoDB sink (two
 * instances) → DynamoDB Streams → CDC relay (two instances) → orders.cdc → S3 sink (two instances) →
 * Parquet in S3. One instance of each is killed with SIGKILL mid-run and restarted. At the end:
 * - DynamoDB holds exactly the generator's expected final state of every order;
 * - S3 holds exactly one row per DynamoDB change (the table's stream, read directly, is the ground
 *   truth), checked by count and by content, with no duplicates;
 * - every malformed message is in the dead-letter topic.
 *
 * Changes are identified by sequence number AND content: moto's stream assigns sequence numbers with a
 * race, so two concurrent writes to one table can share one (real DynamoDB never does). The relay carries
 * the stream's eventID, which the S3 sink de-duplicates on, so both such changes reach the lake.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { withOverrides, type Config } from '../../src/config';
import { CDC_LAKE_COLUMNS } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ordersStreamArn } from '../../src/resources/dynamodb-tables';
import { createLeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { createGenerator } from '../../src/streaming/generator/generator';
import { readLakeRecords, type LakeRecord } from '../../src/lake-format/lake-reader';
import { freshConfig } from '../support/fresh-config';
import {
  plain,
  provision,
  readStream,
  readTopic,
  itemCount,
  waitForOrders,
  sleep,
  waitFor,
  within,
  ChildProcesses,
  type StreamingEnv,
} from './helpers';

const logger = createLogger('test-e2e', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });
const SINK = 'src/streaming/dynamo-sink/main.ts';
const RELAY = 'src/streaming/cdc-relay/main.ts';
const S3_SINK = 'src/streaming/s3-sink/main.ts';

function e2eConfig(): Config {
  return withOverrides(freshConfig('e2e'), {
    kafka: { sessionTimeoutMs: 6_000 },
    cdcRelay: { leaseDurationMs: 3_000, pollIntervalMs: 100, workerId: '' },
    s3Sink: { rotateMs: 2_000, flushRecords: 500 },
    lake: { format: 'parquet' },
    logLevel: 'warn',
  });
}

/** The lake row a stream record must become: the image's order columns, then op, change time, sequence number. */
function expectedRow(record: _Record): Record<string, string | number | null> {
  const change = record.dynamodb!;
  const image = unmarshall(
    (record.eventName === 'REMOVE' ? change.OldImage : change.NewImage) as never,
  ) as Record<string, unknown>;
  const cdc: Record<string, unknown> = {
    op: record.eventName,
    change_time: change.ApproximateCreationDateTime!.toISOString(),
    sequence_number: change.SequenceNumber,
  };
  const row: Record<string, string | number | null> = {};
  for (const column of CDC_LAKE_COLUMNS) {
    const value = column.from !== undefined ? image[column.from] : cdc[column.name];
    if (value === undefined || value === null) row[column.name] = null;
    else if (column.type === 'timestamp') row[column.name] = Date.parse(String(value));
    else row[column.name] = value as string | number;
  }
  return row;
}

function actualRow(record: LakeRecord): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = {};
  for (const column of CDC_LAKE_COLUMNS) {
    const value = record[column.name];
    row[column.name] = value instanceof Date ? value.getTime() : (value ?? null);
  }
  return row;
}

/** A change's identity in the lake: moto may repeat a sequence number, the full row never repeats. */
const identity = (row: Record<string, string | number | null>) =>
  `${row.sequence_number}|${row.order_id}|${row.version}|${row.op}`;

describe('streaming end to end', () => {
  let env: StreamingEnv;
  const children = new ChildProcesses(() => env.config);
  const start = children.start.bind(children);
  const logDir = join(tmpdir(), `streaming-e2e-${process.pid}`);

  afterEach(async () => {
    mkdirSync(logDir, { recursive: true });
    for (const child of await children.killAll())
      writeFileSync(join(logDir, `${child.name}-${child.child.pid}.log`), child.output());
    await env?.cleanup();
  });

  it('generator → sink → relay → S3: exact state, exactly one lake row per change, with every consumer killed once', async () => {
    env = await provision(e2eConfig(), { checkpoints: true, bucket: true });

    const began = Date.now();
    const steps: string[] = [];
    const step = (what: string) => {
      steps.push(`+${((Date.now() - began) / 1000).toFixed(1)}s ${what}`);
      if (process.env.E2E_STEPS) process.stderr.write(`[e2e ${steps[steps.length - 1]}]\n`);
    };
    try {
      await runPipeline(step);
    } catch (error) {
      // A failure must say where the pipeline stood, not just which wait gave up: the logs go with the run.
      (error as Error).message += `\n\nsteps so far:\n  ${steps.join('\n  ')}\n\n${await diagnose(env)}`;
      throw error;
    }
  }, 660_000); // above the sum of the stage budgets below, so a stuck stage fails with the diagnosis

  /** The pipeline's progress at each stage, and the warnings and errors of every process. */
  async function diagnose({ config, kafka, aws }: StreamingEnv): Promise<string> {
    const lines: string[] = [];
    const attempt = async (what: string, read: () => Promise<unknown>) => {
      try {
        lines.push(`${what}: ${JSON.stringify(await within(20_000, what, read()))}`);
      } catch (error) {
        lines.push(`${what}: unavailable (${(error as Error).message})`);
      }
    };
    await attempt('orders items', () => itemCount(aws.dynamodb, config.dynamodb.ordersTable));
    await attempt('stream changes', async () => (await readStream(aws, config)).length);
    await attempt('lake rows', async () => (await readLakeRecords(aws.s3, config)).length);
    await attempt('leases', async () => {
      const streamArn = await ordersStreamArn(aws.dynamodb, config);
      return createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable).list(streamArn);
    });
    const admin = kafka.admin();
    await attempt('topic high watermarks', async () => {
      await admin.connect();
      const out: Record<string, string[]> = {};
      for (const topic of [config.topics.events, config.topics.eventsDlq, config.topics.cdc]) {
        out[topic] = (await admin.fetchTopicOffsets(topic)).map((p) => `${p.partition}:${p.high}`);
      }
      for (const suffix of ['dynamo-sink', 's3-sink']) {
        const groupId = `${config.kafka.clientId}-${suffix}`;
        const [committed] = await admin.fetchOffsets({
          groupId,
          topics: [suffix === 's3-sink' ? config.topics.cdc : config.topics.events],
        });
        out[groupId] = committed.partitions.map((p) => `${p.partition}:${p.offset}`);
      }
      return out;
    });
    await admin.disconnect().catch(() => undefined);
    for (const child of children.all) {
      const state =
        child.child.exitCode !== null || child.child.signalCode !== null
          ? `exited ${child.child.exitCode ?? child.child.signalCode}`
          : 'running';
      const notable = child
        .output()
        .split('\n')
        .filter((line) => /"level":(40|50|60)|Error|error/.test(line))
        .slice(-10)
        .map((line) => line.slice(0, 400));
      lines.push(
        `--- ${child.name} (${state}), last warnings and errors:\n${notable.join('\n') || '(none)'}`,
      );
    }
    return lines.join('\n');
  }

  async function runPipeline(step: (what: string) => void): Promise<void> {
    const { config, kafka, aws } = env;
    const sink = start('dynamo-sink-a', SINK);
    start('dynamo-sink-b', SINK);
    start('relay-a', RELAY, { CDC_WORKER_ID: 'relay-a' });
    start('relay-b', RELAY, { CDC_WORKER_ID: 'relay-b' });
    const s3a = start('s3-sink-a', S3_SINK);
    start('s3-sink-b', S3_SINK);
    const generation = createGenerator({
      config,
      kafka,
      logger,
      count: 2_000,
      rate: 250,
      concurrentOrders: 200,
      duplicates: 0.05,
      outOfOrder: 0.1,
      malformed: 0.01,
      seed: 99,
    }).run();

    // 1. The DynamoDB sink, once items are being written.
    await waitFor(
      'the sink to be mid-run',
      async () => (await itemCount(aws.dynamodb, config.dynamodb.ordersTable)) > 150,
      { timeoutMs: 60_000 },
    );
    await sink.kill9();
    step('sink killed');
    await sleep(500);
    start('dynamo-sink-a-restarted', SINK);

    // 2. The relay holding the shard, once changes are flowing to the CDC topic.
    const leases = createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable);
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const holder = await waitFor(
      'a relay to hold the shard',
      async () => (await leases.list(streamArn)).find((l) => l.leaseOwner)?.leaseOwner,
      {
        timeoutMs: 30_000,
      },
    );
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor('changes on the CDC topic', async () => {
        const offsets = await admin.fetchTopicOffsets(config.topics.cdc);
        return offsets.reduce((sum, p) => sum + Number(p.high), 0) > 200;
      });
    } finally {
      await admin.disconnect();
    }
    await children.all.find((c) => c.name === holder)!.kill9();
    step('relay killed');
    start(`${holder}-restarted`, RELAY, { CDC_WORKER_ID: `${holder}-restarted` });

    // 3. One S3 sink instance, once objects are landing.
    await waitFor('objects in the lake', async () => (await readLakeRecords(aws.s3, config)).length > 0, {
      timeoutMs: 60_000,
    });
    await s3a.kill9();
    step('s3 sink killed');
    start('s3-sink-a-restarted', S3_SINK);

    const report = await within(90_000, 'the generator to finish', generation);
    expect(report.validEvents).toBe(2_000);
    step('generator done');

    // DynamoDB: exactly the expected final state.
    const expectedStates = plain(Object.fromEntries(report.expectedStates));
    const items = await waitForOrders(
      aws.dynamodb,
      config.dynamodb.ordersTable,
      report.expectedStates,
      150_000,
    );
    expect(items).toEqual(expectedStates);
    step('dynamodb exact');

    // S3: one row per change of the table's stream, same content, no duplicates.
    const records = await readStream(aws, config);
    const expectedRows = records.map(expectedRow);
    const rows = await waitFor(
      'one lake row per change',
      async () => {
        const lake = await readLakeRecords(aws.s3, config);
        return lake.length >= records.length ? lake : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    );
    step('lake complete');
    await sleep(3_000); // anything late would be a duplicate: give it time to land
    const finalRows = (await readLakeRecords(aws.s3, config)).map(actualRow);
    expect(rows.length).toBeGreaterThanOrEqual(records.length);
    expect(finalRows).toHaveLength(records.length);
    const ids = finalRows.map(identity);
    expect(new Set(ids).size).toBe(ids.length);
    const byIdentity = new Map(finalRows.map((row) => [identity(row), row]));
    for (const expected of expectedRows) expect(byIdentity.get(identity(expected))).toEqual(expected);

    // Every malformed message is a dead letter.
    const malformed =
      report.malformed['malformed-json'] + report.malformed['schema-invalid'] + report.malformed.oversized;
    expect(malformed).toBeGreaterThan(0);
    expect(
      await readTopic(kafka, config.topics.eventsDlq, { expected: malformed, timeoutMs: 30_000 }),
    ).toHaveLength(malformed);
  }
});
