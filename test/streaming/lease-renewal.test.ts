/**
 * Relay lease renewals against the real lease table (moto) and a real socket that never answers: a renewal
 * that hangs keeps only its own lease from renewing (the others renew round after round), and the lease
 * table's own client gives up on a hung request well before the lease could expire.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Registry } from 'prom-client';
import { clientConfig, createLeaseDynamoDBClient } from '../../src/aws/clients';
import { withOverrides, type Config } from '../../src/config';
import { createLogger } from '../../src/observability/logger';
import {
  createLeaseCoordinator,
  type LeaseCoordinator,
} from '../../src/streaming/cdc-relay/lease-coordinator';
import { createLeaseTable, type Lease, type LeaseTable } from '../../src/streaming/cdc-relay/lease-table';
import { createCdcRelayMetrics } from '../../src/streaming/cdc-relay/metrics';
import type { ReaderExit, ShardReaderHandle } from '../../src/streaming/cdc-relay/shard-reader';
import { freshConfig } from '../support/fresh-config';
import { provision, waitFor, within, type StreamingEnv } from './helpers';

const logger = createLogger('test-lease-renewal', {
  logLevel: (process.env.LOG_LEVEL as 'error') ?? 'error',
});
const LEASE_MS = 3_000;

/** A TCP server that accepts every connection and never answers: a hung endpoint, for real. */
async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const pointedAt = (config: Config, url: string) =>
  withOverrides(config, { aws: { endpoints: { dynamodb: url } } });

describe('relay lease renewals', () => {
  let env: StreamingEnv;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  const clients: DynamoDBClient[] = [];

  beforeAll(async () => {
    env = await provision(
      withOverrides(freshConfig('lease-renewal'), { cdcRelay: { leaseDurationMs: LEASE_MS } }),
      {
        tables: false,
        checkpoints: true,
      },
    );
    silent = await startSilentServer();
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await silent?.close();
    await env?.cleanup();
  });

  it('keeps renewing every other lease while one renewal hangs', async () => {
    const table = createLeaseTable(env.aws.dynamodb, env.config.dynamodb.checkpointTable);
    // The shared client's timeouts (AWS_REQUEST_TIMEOUT_MS × 5): this renewal hangs far longer than the lease.
    const hungClient = new DynamoDBClient(clientConfig(pointedAt(env.config, silent.url), 'dynamodb'));
    clients.push(hungClient);
    const hung = createLeaseTable(hungClient, env.config.dynamodb.checkpointTable);
    const leases: LeaseTable = {
      ...table,
      renew: (lease, worker) => (lease.shardId === 's-1' ? hung : table).renew(lease, worker),
    };
    const valid = new Map<string, () => boolean>();
    const startReader = (lease: Lease, isLeaseValid: () => boolean): ShardReaderHandle => {
      valid.set(lease.shardId, isLeaseValid);
      let exit!: (value: ReaderExit) => void;
      const done = new Promise<ReaderExit>((resolve) => (exit = resolve));
      return { done, stop: async () => exit('stopped') };
    };
    const coordinator: LeaseCoordinator = createLeaseCoordinator({
      leases,
      streamArn: 'arn:renewal',
      workerId: 'A',
      leaseDurationMs: LEASE_MS,
      listShards: async () => [{ shardId: 's-1' }, { shardId: 's-2' }, { shardId: 's-3' }],
      startReader,
      logger,
      metrics: createCdcRelayMetrics(new Registry()),
    });
    coordinator.run();
    try {
      const counters = async () =>
        new Map((await table.list('arn:renewal')).map((l) => [l.shardId, l.leaseCounter]));
      const taken = await waitFor('all three leases held', async () => {
        const held = coordinator.heldShards();
        return held.length === 3 ? counters() : undefined;
      });
      // Three lease durations: s-2 and s-3 renew every third of one while s-1's renewal hangs throughout.
      await waitFor(
        'six renewals of s-2 and of s-3',
        async () => {
          const now = await counters();
          return now.get('s-2')! - taken.get('s-2')! >= 6 && now.get('s-3')! - taken.get('s-3')! >= 6;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(coordinator.heldShards().sort()).toEqual(['s-1', 's-2', 's-3']);
      expect(valid.get('s-2')!()).toBe(true);
      expect(valid.get('s-3')!()).toBe(true);
      // s-1 was never renewed: its reader stopped reading once its validity lapsed.
      expect((await counters()).get('s-1')).toBe(taken.get('s-1'));
      expect(valid.get('s-1')!()).toBe(false);
    } finally {
      await coordinator.stop();
    }
  }, 60_000);

  it('keeps reading a lease whose counter its own renewal moved although the reply was lost', async () => {
    const table = createLeaseTable(env.aws.dynamodb, env.config.dynamodb.checkpointTable);
    let readersStarted = 0;
    let readersStopped = 0;
    const coordinator = createLeaseCoordinator({
      leases: table,
      streamArn: 'arn:lost-reply',
      workerId: 'A',
      leaseDurationMs: LEASE_MS,
      listShards: async () => [{ shardId: 's-1' }],
      startReader: () => {
        readersStarted++;
        return {
          done: new Promise<ReaderExit>(() => undefined),
          stop: async () => void readersStopped++,
        };
      },
      logger,
      metrics: createCdcRelayMetrics(new Registry()),
    });
    coordinator.run();
    try {
      await waitFor('the lease held', async () => coordinator.heldShards().length === 1);
      const key = 'arn:lost-reply|s-1';
      // A renewal of A's that reached the table while its reply was lost: the counter moved behind A's back.
      const before = (await table.get(key))!;
      expect(await table.renew(before, 'A')).toBeDefined();
      await waitFor(
        "two more of A's own renewals",
        async () => (await table.get(key))!.leaseCounter >= before.leaseCounter + 3,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect({ held: coordinator.heldShards(), readersStarted, readersStopped }).toEqual({
        held: ['s-1'],
        readersStarted: 1,
        readersStopped: 0,
      });
    } finally {
      await coordinator.stop();
    }
  }, 60_000);

  it("gives up on a hung lease request before the next renewal round, through the lease table's own client", async () => {
    const client = createLeaseDynamoDBClient(pointedAt(env.config, silent.url));
    clients.push(client);
    const hung = createLeaseTable(client, env.config.dynamodb.checkpointTable);
    const lease: Lease = {
      leaseKey: 'arn:renewal|s-9',
      streamArn: 'arn:renewal',
      shardId: 's-9',
      leaseOwner: 'A',
      leaseCounter: 1,
      checkpoint: 'TRIM_HORIZON',
      ownerSwitchesSinceCheckpoint: 0,
      updatedAt: new Date().toISOString(),
    };
    // Renewals run every third of the lease: a request that is still hanging then is one the lease cannot afford.
    const outcome = await within(
      LEASE_MS / 3,
      'a renewal against an endpoint that never answers',
      hung.renew(lease, 'A').then(
        () => 'answered',
        (error: Error) => error.name,
      ),
    );
    expect(outcome).toBe('TimeoutError');
  }, 30_000);
});
