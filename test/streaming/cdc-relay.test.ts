/**
 * The CDC relay against the real local stack (moto's DynamoDB Streams, Kafka): every change published once
 * with correct images, resume after restart, the Kafka-side checkpoint closing the publish/checkpoint
 * window, producer fencing, and the lease rules (balance, lineage, failover) on the real lease table.
 */
import {
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { withOverrides, type Config } from '../../src/config';
import type { CdcEvent } from '../../src/lake-format/lake-schema';
import { createLogger } from '../../src/observability/logger';
import { ordersStreamArn } from '../../src/resources/dynamodb-tables';
import { CDC_HEADERS, createShardPublisher } from '../../src/streaming/cdc-relay/cdc-publisher';
import { createCdcRelay, listStreamShards, type CdcRelay } from '../../src/streaming/cdc-relay/cdc-relay';
import { LeaseLostError } from '../../src/streaming/cdc-relay/errors';
import { createLeaseCoordinator } from '../../src/streaming/cdc-relay/lease-coordinator';
import {
  createLeaseTable,
  leaseKeyOf,
  SHARD_END,
  type Lease,
  type LeaseTable,
} from '../../src/streaming/cdc-relay/lease-table';
import { createCdcRelayMetrics } from '../../src/streaming/cdc-relay/metrics';
import type { ReaderExit, ShardReaderHandle } from '../../src/streaming/cdc-relay/shard-reader';
import { advance, toCdcEvent } from '../../src/streaming/cdc-relay/stream-records';
import { Registry } from 'prom-client';
import { freshConfig } from '../support/fresh-config';
import {
  provision,
  readStream,
  readTopic,
  waitFor,
  waitForRelayCheckpoint,
  type ReadMessage,
  type StreamingEnv,
} from './helpers';

const logger = createLogger('test-cdc-relay', { logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error' });

function relayConfig(label: string): Config {
  return withOverrides(freshConfig(label), {
    cdcRelay: { leaseDurationMs: 2_000, pollIntervalMs: 50, workerId: '' },
  });
}

function relay(env: StreamingEnv, workerId?: string): CdcRelay {
  return createCdcRelay({
    config: env.config,
    kafka: env.kafka,
    dynamodb: env.aws.dynamodb,
    dynamodbStreams: env.aws.dynamodbStreams,
    logger,
    workerId,
  });
}

/** Writes a realistic mix: inserts, then modifications, then a few deletions. Returns the number of changes. */
async function writeChanges(
  dynamodb: DynamoDBClient,
  table: string,
  prefix: string,
  orders: number,
): Promise<number> {
  let changes = 0;
  for (let i = 0; i < orders; i++) {
    const item = {
      orderId: `${prefix}-${i}`,
      status: 'CREATED',
      version: 1,
      amount: 10 + i / 100,
      tags: ['a', 'b'],
      nested: { n: i },
    };
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: marshall(item) }));
    changes += 1;
  }
  for (let i = 0; i < orders; i += 2) {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: marshall({ orderId: `${prefix}-${i}` }),
        UpdateExpression: 'SET #s = :s, version = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: marshall({ ':s': 'PAID', ':v': 2 }),
      }),
    );
    changes += 1;
  }
  for (let i = 0; i < orders; i += 5) {
    await dynamodb.send(
      new DeleteItemCommand({ TableName: table, Key: marshall({ orderId: `${prefix}-${i}` }) }),
    );
    changes += 1;
  }
  return changes;
}

/**
 * Every stream record appears exactly once on the CDC topic, with op, key, images and headers right.
 * Changes are matched by the stream's eventID (moto can repeat a sequence number under concurrent writes).
 */
function expectExactlyOnce(messages: ReadMessage[], records: _Record[]): void {
  const byEventId = new Map<string, ReadMessage[]>();
  for (const message of messages) {
    const event = JSON.parse(message.value!.toString()) as CdcEvent;
    byEventId.set(event.eventId!, [...(byEventId.get(event.eventId!) ?? []), message]);
  }
  const duplicates = [...byEventId.entries()].filter(([, copies]) => copies.length > 1).map(([id]) => id);
  expect(duplicates).toEqual([]);
  expect(messages).toHaveLength(records.length);
  for (const record of records) {
    const [message] = byEventId.get(record.eventID!) ?? [];
    expect(message).toBeDefined();
    const event = JSON.parse(message.value!.toString()) as CdcEvent;
    expect(event.sequenceNumber).toBe(record.dynamodb!.SequenceNumber);
    const keys = unmarshall(record.dynamodb!.Keys as never);
    expect(event.op).toBe(record.eventName);
    expect(event.orderId).toBe(keys.orderId);
    expect(message.key).toBe(keys.orderId);
    expect(event.newImage).toEqual(
      record.dynamodb!.NewImage ? unmarshall(record.dynamodb!.NewImage as never) : null,
    );
    expect(event.oldImage).toEqual(
      record.dynamodb!.OldImage ? unmarshall(record.dynamodb!.OldImage as never) : null,
    );
    expect(Date.parse(event.changeTime)).toBeGreaterThan(Date.now() - 600_000);
    expect(message.headers[CDC_HEADERS.sequenceNumber]).toBe(event.sequenceNumber);
    expect(message.headers[CDC_HEADERS.shardId]).toBe(event.shardId);
  }
}

/** The CDC topic once the relay has checkpointed every one of `records`: final, so a late copy would show. */
async function readPublished(env: StreamingEnv, records: _Record[]): Promise<ReadMessage[]> {
  await waitForRelayCheckpoint(env.aws, env.config, records, 60_000);
  return readTopic(env.kafka, env.config.topics.cdc, { expected: records.length });
}

describe('CDC relay', () => {
  let env: StreamingEnv;
  const relays: CdcRelay[] = [];

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await env?.cleanup();
  });

  it('publishes every insert, modify and remove with plain-JSON images, keyed by orderId', async () => {
    env = await provision(relayConfig('relay-ops'), { checkpoints: true });
    const { config, aws } = env;
    const r = relay(env);
    relays.push(r);
    await r.start();
    const changes = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'o', 40);
    const records = await readStream(aws, config);
    expect(records).toHaveLength(changes);
    const messages = await readPublished(env, records);
    expectExactlyOnce(messages, records);
    const ops = messages.map((m) => (JSON.parse(m.value!.toString()) as CdcEvent).op);
    expect(ops.filter((op) => op === 'INSERT')).toHaveLength(40);
    expect(ops.filter((op) => op === 'MODIFY')).toHaveLength(20);
    expect(ops.filter((op) => op === 'REMOVE')).toHaveLength(8);
  });

  it('gives up a shard that aged out of the stream unread, so the child waiting on it is read', async () => {
    env = await provision(relayConfig('relay-gone'), { checkpoints: true });
    const { config, aws } = env;
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const leases = createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable);
    // As left by a relay that was down for over 24 h: the lease of a closed shard the stream no longer lists,
    // and the lease of its child (the stream's live shard), which must wait until the parent is finished.
    const gone = 'shardId-00000001500000000000-0123abcd';
    const [live] = await listStreamShards(aws.dynamodbStreams, streamArn);
    await leases.create(streamArn, { shardId: gone });
    await leases.create(streamArn, { shardId: live.shardId, parentShardId: gone });
    await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'gone', 10);
    const records = await readStream(aws, config);

    relays.push(relay(env));
    await relays[0].start();
    expectExactlyOnce(await readPublished(env, records), records);
    // Marked finished, then removed by the shard sync that follows (a finished shard the stream no longer lists).
    const remaining = await waitFor(
      "the aged-out shard's lease to be removed",
      async () => {
        const all = await leases.list(streamArn);
        return all.some((l) => l.shardId === gone) ? undefined : all;
      },
      { timeoutMs: 30_000 },
    );
    expect(remaining.map((l) => l.shardId)).toEqual([live.shardId]);
  }, 120_000);

  it('resumes after a restart from its checkpoint, without loss or duplicates', async () => {
    env = await provision(relayConfig('relay-resume'), { checkpoints: true });
    const { config, aws, kafka } = env;
    const first = relay(env);
    await first.start();
    const before = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'a', 30);
    await readTopic(kafka, config.topics.cdc, { expected: before });
    await first.stop();

    // While no relay runs, more changes pile up in the stream.
    const during = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'b', 30);
    const records = await readStream(aws, config);
    const leases = await createLeaseTable(aws.dynamodb, config.dynamodb.checkpointTable).list(
      await ordersStreamArn(aws.dynamodb, config),
    );
    expect(leases).toHaveLength(1);
    expect(leases[0].leaseOwner).toBeUndefined(); // released on a graceful stop
    expect(leases[0].checkpoint).toBe(records[before - 1].dynamodb!.SequenceNumber);

    expect(records).toHaveLength(before + during);

    const second = relay(env);
    relays.push(second);
    await second.start();
    expectExactlyOnce(await readPublished(env, records), records);
  });

  it('resumes after the Kafka-side checkpoint when the lease-table checkpoint lags (crash between the two)', async () => {
    env = await provision(relayConfig('relay-window'), { checkpoints: true });
    const { config, aws, kafka } = env;
    const changes = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'w', 20);
    const records = await readStream(aws, config);
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const [shard] = await listStreamShards(aws.dynamodbStreams, streamArn);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // A relay that published the first 12 changes and died before writing its lease-table checkpoint.
      const crashed = createShardPublisher({
        kafka,
        admin,
        topic: config.topics.cdc,
        dlqTopic: config.topics.cdcDlq,
        clientId: config.kafka.clientId,
        leaseKey: leaseKeyOf(streamArn, shard.shardId),
        logger,
      });
      await crashed.init();
      const published = records.slice(0, 12).map((r) => toCdcEvent(r, shard.shardId));
      await crashed.publish(published, advance(undefined, published));
      await crashed.close();
    } finally {
      await admin.disconnect();
    }
    expect(records).toHaveLength(changes);
    const r = relay(env);
    relays.push(r);
    await r.start();
    expectExactlyOnce(await readPublished(env, records), records);
  });

  it('publishes only the new part of a page that another holder published in part while it recovered', async () => {
    env = await provision(relayConfig('relay-overlap'), { checkpoints: true });
    const { config, aws, kafka } = env;
    await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'v', 10);
    const records = await readStream(aws, config);
    const streamArn = await ordersStreamArn(aws.dynamodb, config);
    const [shard] = await listStreamShards(aws.dynamodbStreams, streamArn);
    const events = records.map((r) => toCdcEvent(r, shard.shardId));
    const admin = kafka.admin();
    await admin.connect();
    const publisher = () =>
      createShardPublisher({
        kafka,
        admin,
        topic: config.topics.cdc,
        dlqTopic: config.topics.cdcDlq,
        clientId: config.kafka.clientId,
        leaseKey: leaseKeyOf(streamArn, shard.shardId),
        logger,
      });
    try {
      // A's producer is gone after a failed publish; meanwhile B took the lease and published the first 6
      // changes (its page). A then retries its own, larger page: it must publish only the 7th change onwards.
      const a = publisher();
      const b = publisher();
      await b.init();
      await b.publish(events.slice(0, 6), advance(undefined, events.slice(0, 6)));
      await a.publish(events, advance(undefined, events));
      await a.close();
      await b.close();
    } finally {
      await admin.disconnect();
    }
    const messages = await readTopic(kafka, config.topics.cdc, { expected: records.length });
    expectExactlyOnce(messages, records);
  });

  it('fences a zombie: after another relay initialised the shard, the old publisher cannot publish', async () => {
    env = await provision(relayConfig('relay-fence'), { tables: false });
    const { config, kafka } = env;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const make = () =>
        createShardPublisher({
          kafka,
          admin,
          topic: config.topics.cdc,
          dlqTopic: config.topics.cdcDlq,
          clientId: config.kafka.clientId,
          leaseKey: 'arn|shard-z',
          logger,
        });
      const zombie = make();
      await zombie.init();
      const owner = make();
      await owner.init();
      const event: CdcEvent = {
        op: 'INSERT',
        orderId: 'z-1',
        sequenceNumber: '100',
        changeTime: new Date().toISOString(),
        shardId: 'shard-z',
        newImage: { orderId: 'z-1' },
        oldImage: null,
      };
      await expect(zombie.publish([event], { sequenceNumber: '100', eventIds: [] })).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      await owner.publish([{ ...event, sequenceNumber: '101' }], { sequenceNumber: '101', eventIds: [] });
      await owner.close();
      await zombie.close();
      const messages = await readTopic(kafka, config.topics.cdc, { expected: 1 });
      expect(messages.map((m) => m.headers[CDC_HEADERS.sequenceNumber])).toEqual(['101']);
    } finally {
      await admin.disconnect();
    }
  });

  it('hands the shard to a second relay when the first stops, and keeps exactly-once', async () => {
    env = await provision(relayConfig('relay-pair'), { checkpoints: true });
    const { config, aws, kafka } = env;
    const a = relay(env, 'relay-a');
    const b = relay(env, 'relay-b');
    relays.push(b);
    await a.start();
    await b.start();
    const first = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'p', 25);
    await readTopic(kafka, config.topics.cdc, { expected: first });
    // One shard locally: exactly one of the two reads it.
    expect([a.stats().shards.length, b.stats().shards.length].sort()).toEqual([0, 1]);
    const holder = a.stats().shards.length === 1 ? a : b;
    const other = holder === a ? b : a;
    await holder.stop();
    if (holder === b) relays.splice(relays.indexOf(b), 1, a);
    const second = await writeChanges(aws.dynamodb, config.dynamodb.ordersTable, 'q', 25);
    const records = await readStream(aws, config);
    expect(records).toHaveLength(first + second);
    expectExactlyOnce(await readPublished(env, records), records);
    expect(other.stats().shards).toHaveLength(1);
  });
});

describe('lease coordinator (real lease table, synthetic shards)', () => {
  let env: StreamingEnv;
  afterEach(async () => env?.cleanup());

  /** A stand-in reader: records that it ran, ends its shard on request. */
  function fakeReaders() {
    const running = new Map<string, { worker: string; finish: (exit: ReaderExit) => void }>();
    const start =
      (worker: string) =>
      (lease: Lease): ShardReaderHandle => {
        let finish!: (exit: ReaderExit) => void;
        const done = new Promise<ReaderExit>((resolve) => (finish = resolve));
        running.set(lease.shardId, { worker, finish });
        void done.then(() => running.delete(lease.shardId));
        return { done, stop: async () => finish('stopped') };
      };
    return { running, start };
  }

  it("balances shards, holds children until their parent ends, and moves a dead worker's shards", async () => {
    env = await provision(relayConfig('leases'), { tables: false, checkpoints: true });
    const leases = createLeaseTable(env.aws.dynamodb, env.config.dynamodb.checkpointTable);
    const shards = [
      { shardId: 's-1' },
      { shardId: 's-2' },
      { shardId: 's-3' },
      { shardId: 's-4' },
      { shardId: 's-5', parentShardId: 's-1' },
    ];
    let clock = 0;
    const readers = fakeReaders();
    const make = (workerId: string) =>
      createLeaseCoordinator({
        leases,
        streamArn: 'arn:test',
        workerId,
        leaseDurationMs: 3_000,
        listShards: async () => shards,
        startReader: readers.start(workerId),
        logger,
        metrics: createCdcRelayMetrics(new Registry()),
        now: () => clock,
      });
    const a = make('A');
    const b = make('B');

    await a.tick(); // A alone: takes every startable shard (s-5 waits for s-1)
    expect(a.heldShards().sort()).toEqual(['s-1', 's-2', 's-3', 's-4']);
    // A hands a lease over in the background (its reader stops first): B can confirm it once the table says so.
    const handedToB = (count: number) =>
      waitFor(`${count} lease(s) handed over to B in the lease table`, async () => {
        const owned = (await leases.list('arn:test')).filter((l) => l.leaseOwner === 'B' && !l.pendingOwner);
        return owned.length === count;
      });
    await b.tick(); // B sees A live with 4 > target 2: asks for one
    await a.tick(); // A hands it over after its reader stopped
    await handedToB(1);
    await b.tick(); // B confirms it
    await b.tick(); // and asks for another
    await a.tick();
    await handedToB(2);
    await b.tick();
    expect(a.heldShards()).toHaveLength(2);
    expect(b.heldShards()).toHaveLength(2);
    expect(new Set([...a.heldShards(), ...b.heldShards()]).size).toBe(4); // no shard read by two

    // s-1 ends: its child becomes startable.
    const parentHolder = a.heldShards().includes('s-1') ? 'A' : 'B';
    await leases.markShardEnd(leaseKeyOf('arn:test', 's-1'), parentHolder);
    readers.running.get('s-1')!.finish('shard-end');
    await waitFor(
      'the ended shard to be let go',
      async () => ![...a.heldShards(), ...b.heldShards()].includes('s-1'),
    );
    await a.tick();
    await b.tick();
    const all = await leases.list('arn:test');
    expect(all.find((l) => l.shardId === 's-1')!.checkpoint).toBe(SHARD_END);
    expect([...a.heldShards(), ...b.heldShards()].sort()).toEqual(['s-2', 's-3', 's-4', 's-5']);

    // B dies (stops renewing). Its leases expire on A's clock after a full lease duration, not before.
    const bShards = b.heldShards();
    clock += 1_000;
    await a.tick();
    expect(a.heldShards().some((s) => bShards.includes(s))).toBe(false);
    clock += 3_500;
    await a.tick();
    await a.tick();
    expect(a.heldShards().sort()).toEqual(['s-2', 's-3', 's-4', 's-5']);
    await a.stop();
    expect((await leases.list('arn:test')).filter((l) => l.leaseOwner === 'A')).toHaveLength(0);
  });

  it('after a renewal whose reply was lost past its validity, reads the shard again only once the old reader is done', async () => {
    env = await provision(relayConfig('leases-lost'), { tables: false, checkpoints: true });
    const table = createLeaseTable(env.aws.dynamodb, env.config.dynamodb.checkpointTable);
    let loseNextReply = false;
    // The renewal is applied, but its reply is lost: to the coordinator it looks refused (taken over).
    const leases: LeaseTable = {
      ...table,
      renew: async (lease, worker) => {
        const renewed = await table.renew(lease, worker);
        if (!loseNextReply) return renewed;
        loseNextReply = false;
        return undefined;
      },
    };
    const readers: { isValid: () => boolean; stopping: boolean; finishPage: () => void }[] = [];
    const startReader = (_lease: Lease, isLeaseValid: () => boolean): ShardReaderHandle => {
      let finishPage!: () => void;
      const pageDone = new Promise<void>((resolve) => (finishPage = resolve));
      const reader = { isValid: isLeaseValid, stopping: false, finishPage };
      readers.push(reader);
      let exit!: (value: ReaderExit) => void;
      const done = new Promise<ReaderExit>((resolve) => (exit = resolve));
      // Stopping finishes the page in hand first (publish + checkpoint), which takes a while.
      return {
        done,
        stop: async () => {
          reader.stopping = true;
          await pageDone;
          exit('stopped');
          await done;
        },
      };
    };
    let clock = 0;
    const coordinator = createLeaseCoordinator({
      leases,
      streamArn: 'arn:test',
      workerId: 'A',
      leaseDurationMs: 3_000,
      listShards: async () => [{ shardId: 's-1' }],
      startReader,
      logger,
      metrics: createCdcRelayMetrics(new Registry()),
      now: () => clock,
    });
    await coordinator.tick();
    expect(readers).toHaveLength(1);
    expect(readers[0].isValid()).toBe(true);

    // The reply is lost once the lease's validity has lapsed (a lease duration since its last confirmed renewal):
    // the refusal cannot be told from a takeover then. Within validity the lease is kept instead (the
    // lease-renewal test).
    loseNextReply = true;
    clock += 3_000;
    await coordinator.tick();
    // Dropped: the reader stops after its page, and is no longer valid. The table still names A as the owner,
    // but no second reader starts while the first one is still on its page.
    expect(readers[0].stopping).toBe(true);
    expect(readers[0].isValid()).toBe(false);
    expect(readers).toHaveLength(1);
    await coordinator.tick();
    expect(readers).toHaveLength(1);

    readers[0].finishPage();
    // Once the old reader is done, a tick starts the second one.
    await waitFor('a second reader after the first one finished its page', async () => {
      await coordinator.tick();
      return readers.length > 1;
    });
    expect(readers).toHaveLength(2);
    expect(readers[1].isValid()).toBe(true);
    expect(readers[0].isValid()).toBe(false); // a later holding of the same lease does not revive the old reader
    readers[1].finishPage();
    await coordinator.stop();
  });
});
