/**
 * Crash safety and scale-out with real processes: the DynamoDB sink and the CDC relay run as children from
 * their main.ts (configured only by the environment); two instances of each share the work, one is killed
 * with SIGKILL mid-run and restarted, and the final outcome is still exact.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { withOverrides, type Config } from '../../src/config';
import type { CdcEvent } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ordersStreamArn } from '../../src/resources/dynamodb-tables';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { createLeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { createGenerator, type GeneratorReport } from '../../src/streaming/generator/generator';
import { freshConfig } from '../support/fresh-config';
import {
  changesBeyond,
  committedOffsets,
  endOffsets,
  plain,
  provision,
  readStream,
  readTopic,
  itemCount,
  uncommitted,
  waitForOrders,
  waitForRelayCheckpoint,
  waitFor,
  ChildProcesses,
  logLines,
  type StreamingEnv,
} from './helpers';

const logger = createLogger('test-crash', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });
const SINK = 'src/streaming/dynamo-sink/main.ts';
const RELAY = 'src/streaming/cdc-relay/main.ts';

function crashConfig(label: string): Config {
  return withOverrides(freshConfig(label), {
    kafka: { sessionTimeoutMs: 6_000 },
    cdcRelay: { leaseDurationMs: 3_000, pollIntervalMs: 100, workerId: '' },
    logLevel: 'warn',
  });
}

describe('crash recovery and scale-out', () => {
  let env: StreamingEnv;
  const children = new ChildProcesses(() => env.config);
  const start = children.start.bind(children);

  afterEach(async () => {
    await children.killAll();
    await env?.cleanup();
  });

  it('DynamoDB sink: two instances share the partitions; one killed with -9 mid-run and restarted; final state exact', async () => {
    env = await provision(crashConfig('crash-sink'));
    const { config, kafka, aws } = env;
    start('sink-a', SINK);
    start('sink-b', SINK);
    // Both members joined and each owns partitions: the group shares the work.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor(
        'two sink members with partitions',
        async () => {
          const { groups } = await admin.describeGroups([dynamoSinkGroupId(config)]);
          const members = groups[0]?.members ?? [];
          return (
            groups[0]?.state === 'Stable' &&
            members.length === 2 &&
            members.every((m) => m.memberAssignment.length > 0)
          );
        },
        { timeoutMs: 60_000 },
      );
    } finally {
      await admin.disconnect();
    }

    const generation = createGenerator({
      config,
      kafka,
      logger,
      count: 3_000,
      rate: 600,
      concurrentOrders: 300,
      duplicates: 0.05,
      outOfOrder: 0.1,
      seed: 21,
    }).run();
    // Kill one instance mid-run, once records it cannot have read are on every partition:
    // frozen, it commits nothing beyond the end offsets at the freeze (a commit in flight covers records read),
    // so the partitions it owns hold uncommitted records at the kill, and the group cannot move them on before
    // its session times out.
    await waitFor(
      'the sinks to be mid-run',
      async () => (await itemCount(aws.dynamodb, config.dynamodb.ordersTable)) > 300,
      { timeoutMs: 60_000 },
    );
    const groupId = dynamoSinkGroupId(config);
    const topic = config.topics.events;
    let burst: Promise<GeneratorReport> | undefined;
    const killAdmin = kafka.admin();
    await killAdmin.connect();
    try {
      const victim = children.all[0];
      victim.freeze();
      const endsAtFreeze = await endOffsets(killAdmin, topic);
      // Orders of their own: the main generation may be over by now.
      burst = createGenerator({ config, kafka, logger, count: 200, concurrentOrders: 50, seed: 22 }).run();
      const endsAtKill = await waitFor(
        'records on every partition after the sink froze',
        async () => {
          const ends = await endOffsets(killAdmin, topic);
          return [...endsAtFreeze].every(([partition, end]) => ends.get(partition)! > end) ? ends : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      await victim.kill9();
      expect(uncommitted(endsAtKill, await committedOffsets(killAdmin, groupId, topic))).toBeGreaterThan(0);
    } finally {
      await killAdmin.disconnect();
    }
    const reports = await Promise.all([generation, burst!]);
    start('sink-a-restarted', SINK);

    // Each run's orders have ids of their own.
    const expectedStates = new Map(reports.flatMap((r) => [...r.expectedStates]));
    const expected = plain(Object.fromEntries(expectedStates));
    const items = await waitForOrders(aws.dynamodb, config.dynamodb.ordersTable, expectedStates, 120_000);
    expect(items).toEqual(expected);
    // SIGTERM: finish the chunk in hand, commit, leave the group, exit 0.
    for (const child of children.all.filter(
      (c) => c.child.exitCode === null && c.child.signalCode === null,
    )) {
      expect(await child.terminate()).toBe(0);
    }
  }, 240_000);

  it('CDC relay: two instances, the shard holder killed with -9 mid-run; every change on the topic exactly once', async () => {
    env = await provision(crashConfig('crash-relay'), { checkpoints: true });
    const { config, kafka, aws } = env;
    start('relay-a', RELAY, { CDC_WORKER_ID: 'relay-a' });
    start('relay-b', RELAY, { CDC_WORKER_ID: 'relay-b' });
    const leases = createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable);
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const holder = async () => (await leases.list(streamArn)).find((l) => l.leaseOwner)?.leaseOwner;

    // A steady stream of changes (inserts and modifications) while the relays run.
    const total = 800;
    let written = 0;
    const writer = (async () => {
      await Promise.all(
        Array.from({ length: 4 }, async (_, lane) => {
          for (let i = lane; i < total; i += 4) {
            const orderId = `o-${i % 400}`;
            await aws.dynamodb.send(
              new PutItemCommand({
                TableName: config.dynamodb.ordersTable,
                Item: marshall({ orderId, version: Math.floor(i / 400) + 1, n: i }),
              }),
            );
            written += 1;
          }
        }),
      );
    })();

    const first = await waitFor('a relay to hold the shard', holder, { timeoutMs: 60_000 });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // High watermarks count transaction markers too: a rough but cheap measure of progress.
      await waitFor(
        'the relay to be mid-run',
        async () =>
          (await admin.fetchTopicOffsets(config.topics.cdc)).reduce((sum, p) => sum + Number(p.high), 0) >
          150,
        { intervalMs: 200 },
      );
    } finally {
      await admin.disconnect();
    }
    expect(written).toBeLessThan(total);
    const victim = children.all.find((c) => c.name === first)!;
    // Make the kill land on uncommitted work instead of hoping it does: freeze the holder and let the writer
    // add changes it cannot have read. Each of the 4 lanes finishes at most one write begun before the freeze,
    // so a fifth write finished after it was begun after it, and its change lies beyond anything the holder
    // read, published or checkpointed (a checkpoint covers changes read, even one still in flight).
    victim.freeze();
    const writtenAtFreeze = written;
    await waitFor('changes written after the holder froze', async () => written > writtenAtFreeze + 4, {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    // Every write makes one change, appended in order: the stream's first writtenAtKill changes were in it.
    const writtenAtKill = written;
    await victim.kill9();
    // Its checkpoint as it died: frozen for a few writes, far less than a lease duration, it still held the shard.
    const leaseAtKill = (await leases.list(streamArn)).find((l) => l.leaseOwner);
    expect(leaseAtKill?.leaseOwner).toBe(first);
    // The survivor takes the shard over once the lease expires (3 s on its clock).
    const second = await waitFor(
      'the other relay to take the shard over',
      async () => {
        const owner = await holder();
        return owner && owner !== first ? owner : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(second).not.toBe(first);
    // At info level it logs when it has started (see below).
    const restarted = start(`${first}`, RELAY, { CDC_WORKER_ID: `${first}-restarted`, LOG_LEVEL: 'info' });
    await writer;

    const records = await readStream(aws, config);
    expect(records).toHaveLength(total);
    // The kill landed while changes already in the stream lay beyond the victim's checkpoint.
    expect(changesBeyond(records.slice(0, writtenAtKill), leaseAtKill!.checkpoint)).toBeGreaterThan(0);
    await waitForRelayCheckpoint(aws, config, records, 60_000);
    const messages = await readTopic(kafka, config.topics.cdc, { expected: total, timeoutMs: 90_000 });
    // Identified by the stream's eventID: moto may repeat a sequence number under concurrent writes.
    const ids = messages.map((m) => (JSON.parse(m.value!.toString()) as CdcEvent).eventId!);
    expect(new Set(ids).size).toBe(ids.length); // no duplicates despite the kill
    expect(new Set(ids)).toEqual(new Set(records.map((r) => r.eventID!)));
    // A SIGTERM that lands while node is still loading the relay's modules (before any handler exists) ends it
    // by the signal, with nothing to clean up: the exit code below is about a relay that has started.
    await waitFor(
      'the restarted relay to start',
      async () => logLines(restarted.output()).some((line) => line.msg === 'started'),
      { timeoutMs: 60_000 },
    );
    // SIGTERM: publish and checkpoint the page in hand, free the lease, exit 0.
    for (const child of children.all.filter(
      (c) => c.child.exitCode === null && c.child.signalCode === null,
    )) {
      expect(await child.terminate()).toBe(0);
    }
    expect((await leases.list(streamArn)).filter((l) => l.leaseOwner)).toEqual([]);
  }, 240_000);
});
