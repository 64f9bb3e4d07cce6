/**
 * The whole streaming data plane with real processes: generator → orders.events → DynamoDB sink (two
 * instances) → DynamoDB Streams → CDC relay (two instances) → orders.cdc → S3 sink (two instances) →
 * Parquet in S3. One instance of each is killed with SIGKILL mid-run, made to hold uncommitted work first (frozen
 * until work it cannot have read is queued behind it; checked), and restarted. Once every consumer's effects
 * are durable (the relay checkpointed every change, the S3 sink's group committed every CDC record):
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
import type { Admin } from 'kafkajs';
import { CDC_LAKE_COLUMNS, imageValue, type CdcEvent } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ordersStreamArn } from '../../src/resources/dynamodb-tables';
import { createLeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { s3SinkGroupId } from '../../src/streaming/s3-sink/s3-sink';
import { createGenerator, type GeneratorReport } from '../../src/streaming/generator/generator';
import { readLakeRecords, type LakeRecord } from '../../src/lake-format/lake-reader';
import { freshConfig } from '../support/fresh-config';
import {
  changesBeyond,
  committedOffsets,
  endOffsets,
  nextChange,
  plain,
  provision,
  readStream,
  readTopic,
  recordEnds,
  itemCount,
  uncommitted,
  waitForGroupCommitted,
  waitForOrders,
  waitForRelayCheckpoint,
  waitFor,
  within,
  ChildProcesses,
  type ChildHandle,
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
    const value = column.from !== undefined ? imageValue(column, image) : cdc[column.name];
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

  /**
   * Kills one instance of each consumer with -9 while it has uncommitted work, and restarts it; the orders
   * produced meanwhile go to `bursts`. Returns what
   * the S3 sink's kill left uncommitted, to be found on the CDC topic once it is complete: the change published
   * while the S3 sinks were frozen, the group's committed offsets and the topic's end offsets at the kill.
   */
  async function killEachConsumerOnce(
    admin: Admin,
    bursts: Promise<GeneratorReport>[],
    sink: ChildHandle,
    s3a: ChildHandle,
    step: (what: string) => void,
  ): Promise<{ eventId: string; committed: Map<number, number>; ends: Map<number, number> }> {
    const { config, aws } = env;
    // Each freeze is followed by a burst of orders of its own: the main generation may be over by then.
    const burst = (seed: number) =>
      createGenerator({ config, kafka: env.kafka, logger, count: 150, concurrentOrders: 50, seed }).run();
    // 1. The DynamoDB sink, once items are being written: frozen, it commits nothing beyond the end offsets at
    // the freeze, so records produced after it on every partition leave its own partitions uncommitted.
    await waitFor(
      'the sink to be mid-run',
      async () => (await itemCount(aws.dynamodb, config.dynamodb.ordersTable)) > 150,
      { timeoutMs: 60_000 },
    );
    const sinkGroup = dynamoSinkGroupId(config);
    sink.freeze();
    const eventsAtFreeze = await endOffsets(admin, config.topics.events);
    bursts.push(burst(1));
    const eventsAtKill = await waitFor(
      'events on every partition after the sink froze',
      async () => {
        const ends = await endOffsets(admin, config.topics.events);
        return [...eventsAtFreeze].every(([partition, end]) => ends.get(partition)! > end) ? ends : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await sink.kill9();
    step('sink killed');
    // The events topic has no transaction markers: offsets are records.
    expect(
      uncommitted(eventsAtKill, await committedOffsets(admin, sinkGroup, config.topics.events)),
    ).toBeGreaterThan(0);
    start('dynamo-sink-a-restarted', SINK);

    // 2. The relay holding the shard, once changes are flowing to the CDC topic: frozen until a change it
    // cannot have read is in the stream.
    const leases = createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable);
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const holder = await waitFor(
      'a relay to hold the shard',
      async () => (await leases.list(streamArn)).find((l) => l.leaseOwner)?.leaseOwner,
      { timeoutMs: 30_000 },
    );
    await waitFor('changes on the CDC topic', async () => {
      const offsets = await admin.fetchTopicOffsets(config.topics.cdc);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0) > 200;
    });
    const relay = children.all.find((c) => c.name === holder)!;
    relay.freeze();
    const unread = await nextChange(aws, config, 30_000, () => bursts.push(burst(2)));
    await relay.kill9();
    step('relay killed');
    // Frozen for less than a lease duration, it still held the shard, its checkpoint short of that change.
    const leaseAtKill = (await leases.list(streamArn)).find((l) => l.leaseOwner);
    expect(leaseAtKill?.leaseOwner).toBe(holder);
    expect(changesBeyond([unread], leaseAtKill!.checkpoint)).toBe(1);
    start(`${holder}-restarted`, RELAY, { CDC_WORKER_ID: `${holder}-restarted` });

    // 3. One S3 sink instance, once objects are landing. Both instances are frozen, so the group commits
    // nothing from then on, and a change that enters the stream after the freeze and is then checkpointed by
    // the relay is a committed CDC record beyond the end offsets at the freeze: uncommitted at the kill.
    await waitFor('objects in the lake', async () => (await readLakeRecords(aws.s3, config)).length > 0, {
      timeoutMs: 60_000,
    });
    const s3Sinks = children.all.filter((c) => c.name.startsWith('s3-sink'));
    for (const s3Sink of s3Sinks) s3Sink.freeze();
    const published = await nextChange(aws, config, 30_000, () => bursts.push(burst(3)));
    await waitForRelayCheckpoint(aws, config, [published], 30_000);
    const cdcAtKill = await endOffsets(admin, config.topics.cdc);
    await s3a.kill9();
    const s3CommittedAtKill = await committedOffsets(admin, s3SinkGroupId(config), config.topics.cdc);
    for (const s3Sink of s3Sinks) s3Sink.thaw();
    step('s3 sink killed');
    start('s3-sink-a-restarted', S3_SINK);
    return { eventId: published.eventID!, committed: s3CommittedAtKill, ends: cdcAtKill };
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

    // Each kill lands on uncommitted work by construction: the victim is frozen (SIGSTOP) until work it
    // cannot have read is queued behind it, then killed, and a check after the kill says so.
    const admin = kafka.admin();
    await admin.connect();
    const bursts: Promise<GeneratorReport>[] = [];
    const s3Kill = await killEachConsumerOnce(admin, bursts, sink, s3a, step).finally(() =>
      admin.disconnect(),
    );

    const report = await within(90_000, 'the generator to finish', generation);
    expect(report.validEvents).toBe(2_000);
    const reports = [report, ...(await within(90_000, 'the bursts to finish', Promise.all(bursts)))];
    step('generator done');

    // DynamoDB: exactly the expected final state (each run's orders have ids of their own).
    const allExpectedStates = new Map(reports.flatMap((r) => [...r.expectedStates]));
    const expectedStates = plain(Object.fromEntries(allExpectedStates));
    const items = await waitForOrders(aws.dynamodb, config.dynamodb.ordersTable, allExpectedStates, 150_000);
    expect(items).toEqual(expectedStates);
    step('dynamodb exact');

    // The durable end state: the relay checkpointed every change of the table's stream, and the S3 sink's group
    // committed every record of the CDC topic (it commits only once the objects are in S3). Nothing can change
    // the lake after that, so a duplicate or a gap shows in one read.
    const records = await readStream(aws, config);
    const expectedRows = records.map(expectedRow);
    await waitForRelayCheckpoint(aws, config, records, 120_000);
    step('relay checkpointed');
    const cdcMessages = await readTopic(kafka, config.topics.cdc, {
      expected: records.length,
      timeoutMs: 120_000,
    });
    // The S3 sink's kill landed while the change published during the freeze lay on the topic, uncommitted.
    expect(
      cdcMessages.some(
        (m) =>
          (JSON.parse(m.value!.toString()) as CdcEvent).eventId === s3Kill.eventId &&
          Number(m.offset) >= (s3Kill.committed.get(m.partition) ?? 0) &&
          Number(m.offset) < s3Kill.ends.get(m.partition)!,
      ),
    ).toBe(true);
    await waitForGroupCommitted(
      kafka,
      s3SinkGroupId(config),
      config.topics.cdc,
      recordEnds(cdcMessages),
      120_000,
    );
    step('s3 sink committed');

    // S3: one row per change of the table's stream, same content, no duplicates.
    const finalRows = (await readLakeRecords(aws.s3, config)).map(actualRow);
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
