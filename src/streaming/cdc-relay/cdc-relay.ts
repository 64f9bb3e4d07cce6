/**
 * The CDC relay: DynamoDB Streams of the `orders` table (NEW_AND_OLD_IMAGES) → `orders.cdc`, keyed by
 * orderId, every change exactly once (see cdc-publisher.ts), shards shared between instances through
 * leases in the checkpoint table (see lease-coordinator.ts), parents before children.
 *
 * @example
 *   const relay = createCdcRelay({ config, kafka, dynamodb, dynamodbStreams, logger, registry });
 *   await relay.start();
 *   // ... SIGTERM:
 *   await relay.stop(); // publishes and checkpoints the page in hand, frees its leases
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLeaseDynamoDBClient } from '../../aws/clients';
import { DescribeStreamCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Admin, Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Config } from '../../config';
import type { Logger } from '../../observability/logger';
import { ordersStreamArn } from '../../resources/dynamodb-tables';
import type { StreamingComponent } from '../process-context';
import { createShardPublisher } from './cdc-publisher';
import { createLeaseCoordinator, type LeaseCoordinator } from './lease-coordinator';
import { createLeaseTable, type ShardInfo } from './lease-table';
import { createCdcRelayMetrics, type CdcRelayStats } from './metrics';
import { startShardReader } from './shard-reader';

export interface CdcRelayOptions {
  config: Config;
  kafka: Kafka;
  dynamodb: DynamoDBClient;
  /**
   * The lease table's client (leases and checkpoints). Default: createLeaseDynamoDBClient with this relay's
   * lease duration, destroyed on stop.
   */
  leaseDynamodb?: DynamoDBClient;
  dynamodbStreams: DynamoDBStreamsClient;
  logger: Logger;
  registry?: Registry;
  /** Default config.cdcRelay.workerId, or host-pid-random. Must be unique per running instance. */
  workerId?: string;
  leaseDurationMs?: number;
  pollIntervalMs?: number;
  shardSyncIntervalMs?: number;
}

export interface CdcRelay extends StreamingComponent {
  readonly workerId: string;
  stats(): CdcRelayStats & { shards: string[] };
  readiness(): string | undefined;
}

/** Every shard of the stream with its parent (DescribeStream is paged by shard id). */
export async function listStreamShards(
  streams: DynamoDBStreamsClient,
  streamArn: string,
): Promise<ShardInfo[]> {
  const shards: ShardInfo[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const { StreamDescription: description } = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    for (const shard of description?.Shards ?? []) {
      if (shard.ShardId)
        shards.push({
          shardId: shard.ShardId,
          ...(shard.ParentShardId ? { parentShardId: shard.ParentShardId } : {}),
        });
    }
    exclusiveStartShardId = description?.LastEvaluatedShardId;
  } while (exclusiveStartShardId);
  return shards;
}

export function createCdcRelay(options: CdcRelayOptions): CdcRelay {
  const { config, kafka, dynamodb, dynamodbStreams } = options;
  const workerId =
    options.workerId ||
    config.cdcRelay.workerId ||
    `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const leaseDurationMs = options.leaseDurationMs ?? config.cdcRelay.leaseDurationMs;
  const pollIntervalMs = options.pollIntervalMs ?? config.cdcRelay.pollIntervalMs;
  const log = options.logger.child({ component: 'cdc-relay', workerId, topic: config.topics.cdc });
  const metrics = createCdcRelayMetrics(options.registry ?? new Registry());
  let leaseClient: DynamoDBClient | undefined;
  let admin: Admin | undefined;
  let coordinator: LeaseCoordinator | undefined;

  return {
    workerId,
    stats: () => ({ ...metrics.stats, shards: coordinator?.heldShards() ?? [] }),
    /** Ready when a lease round succeeded within three lease durations (DynamoDB and its stream answer). */
    readiness() {
      const silentMs = coordinator?.msSinceLastRound();
      if (silentMs === undefined) return coordinator ? 'first lease round pending' : 'not started';
      return silentMs > 3 * leaseDurationMs
        ? `no lease round succeeded for ${Math.round(silentMs / 1000)} s`
        : undefined;
    },
    async start() {
      const streamArn = await ordersStreamArn(dynamodb, config);
      leaseClient = options.leaseDynamodb ?? createLeaseDynamoDBClient(config, leaseDurationMs);
      const leases = createLeaseTable(leaseClient, config.dynamodb.checkpointTable);
      admin = kafka.admin();
      await admin.connect();
      const connectedAdmin = admin;
      coordinator = createLeaseCoordinator({
        leases,
        streamArn,
        workerId,
        leaseDurationMs,
        shardSyncIntervalMs: options.shardSyncIntervalMs,
        logger: log,
        metrics,
        listShards: () => listStreamShards(dynamodbStreams, streamArn),
        startReader: (lease, isLeaseValid) =>
          startShardReader({
            lease,
            workerId,
            streams: dynamodbStreams,
            leases,
            publisher: createShardPublisher({
              kafka,
              admin: connectedAdmin,
              topic: config.topics.cdc,
              dlqTopic: config.topics.cdcDlq,
              clientId: config.kafka.clientId,
              leaseKey: lease.leaseKey,
              logger: log,
            }),
            isLeaseValid,
            pollIntervalMs,
            logger: log,
            metrics,
            shardInStream: async () =>
              (await listStreamShards(dynamodbStreams, streamArn)).some((s) => s.shardId === lease.shardId),
          }),
      });
      coordinator.run();
      log.info({ streamArn, leaseDurationMs, pollIntervalMs }, 'relaying');
    },
    async stop() {
      await coordinator?.stop();
      await admin?.disconnect();
      if (leaseClient !== options.leaseDynamodb) leaseClient?.destroy();
      leaseClient = undefined;
      coordinator = undefined;
      admin = undefined;
      log.info({ ...metrics.stats }, 'stopped');
    },
  };
}
