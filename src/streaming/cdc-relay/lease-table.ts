/**
 * The relay's shard leases and checkpoints in the checkpoint table (partition key `leaseKey`), one item per
 * shard, every change a conditional write (attribute `checkpoint` goes through a name placeholder), as Amazon's Kinesis Client Library keeps them:
 *
 *   leaseKey      `<streamArn>|<shardId>`
 *   leaseOwner    worker id of the holder (absent: free)
 *   leaseCounter  incremented by every renewal; a lease whose counter has not moved for the lease duration
 *                 (timed on the observer's own clock, so no clock sync is needed) has a dead owner
 *   checkpoint    TRIM_HORIZON | <last published sequence number> | SHARD_END
 *   pendingOwner  a worker asking for the lease (load balancing); the holder hands it over when it is safe
 *   parentShardId the shard that must reach SHARD_END before this one is read
 */
import {
  GetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  paginateScan,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CHECKPOINT_KEY } from '../../domain/table-keys';

export const TRIM_HORIZON = 'TRIM_HORIZON';
export const SHARD_END = 'SHARD_END';

export interface Lease {
  leaseKey: string;
  streamArn: string;
  shardId: string;
  parentShardId?: string;
  leaseOwner?: string;
  leaseCounter: number;
  checkpoint: string;
  pendingOwner?: string;
  ownerSwitchesSinceCheckpoint: number;
  updatedAt: string;
}

export interface ShardInfo {
  shardId: string;
  parentShardId?: string;
}

export function leaseKeyOf(streamArn: string, shardId: string): string {
  return `${streamArn}|${shardId}`;
}

export interface LeaseTable {
  /** Creates the lease of a newly seen shard (TRIM_HORIZON); false if it already exists. */
  create(streamArn: string, shard: ShardInfo): Promise<boolean>;
  list(streamArn: string): Promise<Lease[]>;
  /** One lease as the table holds it now (a consistent read); undefined if it does not exist. */
  get(leaseKey: string): Promise<Lease | undefined>;
  /** Takes a free or expired lease if its counter is still the one observed. Undefined if someone was faster. */
  take(lease: Lease, workerId: string): Promise<Lease | undefined>;
  /** Renews a held lease. Undefined if the lease was lost (owner or counter changed). */
  renew(lease: Lease, workerId: string): Promise<Lease | undefined>;
  /** Records the last published sequence number. False if the lease is no longer ours. */
  checkpoint(leaseKey: string, workerId: string, sequenceNumber: string): Promise<boolean>;
  /** Marks a fully read, closed shard done and frees its lease. */
  markShardEnd(leaseKey: string, workerId: string): Promise<boolean>;
  /** Asks the holder to hand a lease over. */
  requestHandoff(lease: Lease, workerId: string): Promise<boolean>;
  /** Passes a held lease to its pendingOwner (or frees it when nobody asked). */
  release(leaseKey: string, workerId: string): Promise<boolean>;
  remove(leaseKey: string): Promise<void>;
}

function fromItem(item: Record<string, AttributeValue>): Lease {
  return unmarshall(item) as Lease;
}

async function conditional<T>(write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

export function createLeaseTable(dynamodb: DynamoDBClient, table: string): LeaseTable {
  const key = (leaseKey: string) => ({ [CHECKPOINT_KEY]: { S: leaseKey } });
  const now = () => new Date().toISOString();

  return {
    async create(streamArn, shard) {
      const lease: Lease = {
        leaseKey: leaseKeyOf(streamArn, shard.shardId),
        streamArn,
        shardId: shard.shardId,
        ...(shard.parentShardId ? { parentShardId: shard.parentShardId } : {}),
        leaseCounter: 0,
        checkpoint: TRIM_HORIZON,
        ownerSwitchesSinceCheckpoint: 0,
        updatedAt: now(),
      };
      const created = await conditional(() =>
        dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: marshall(lease, { removeUndefinedValues: true }),
            ConditionExpression: 'attribute_not_exists(#key)',
            ExpressionAttributeNames: { '#key': CHECKPOINT_KEY },
          }),
        ),
      );
      return created !== undefined;
    },

    async list(streamArn) {
      const leases: Lease[] = [];
      const pages = paginateScan(
        { client: dynamodb },
        {
          TableName: table,
          ConsistentRead: true,
          FilterExpression: 'streamArn = :arn',
          ExpressionAttributeValues: { ':arn': { S: streamArn } },
        },
      );
      for await (const page of pages) for (const item of page.Items ?? []) leases.push(fromItem(item));
      return leases;
    },

    async get(leaseKey) {
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: table, Key: key(leaseKey), ConsistentRead: true }),
      );
      return Item ? fromItem(Item) : undefined;
    },

    async take(lease, workerId) {
      const result = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(lease.leaseKey),
            UpdateExpression:
              'SET leaseOwner = :me, leaseCounter = leaseCounter + :one, ownerSwitchesSinceCheckpoint = ownerSwitchesSinceCheckpoint + :one, updatedAt = :now REMOVE pendingOwner',
            ConditionExpression: 'leaseCounter = :observed AND #cp <> :end',
            ExpressionAttributeNames: { '#cp': 'checkpoint' },
            ExpressionAttributeValues: marshall({
              ':me': workerId,
              ':one': 1,
              ':observed': lease.leaseCounter,
              ':end': SHARD_END,
              ':now': now(),
            }),
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return result?.Attributes ? fromItem(result.Attributes) : undefined;
    },

    async renew(lease, workerId) {
      const result = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(lease.leaseKey),
            UpdateExpression: 'SET leaseCounter = leaseCounter + :one, updatedAt = :now',
            ConditionExpression: 'leaseOwner = :me AND leaseCounter = :observed',
            ExpressionAttributeValues: marshall({
              ':me': workerId,
              ':one': 1,
              ':observed': lease.leaseCounter,
              ':now': now(),
            }),
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return result?.Attributes ? fromItem(result.Attributes) : undefined;
    },

    async checkpoint(leaseKey, workerId, sequenceNumber) {
      // Conditioned on the owner only (not the counter), so it never races this worker's own renewals.
      const result = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(leaseKey),
            UpdateExpression: 'SET #cp = :seq, ownerSwitchesSinceCheckpoint = :zero, updatedAt = :now',
            ExpressionAttributeNames: { '#cp': 'checkpoint' },
            ConditionExpression: 'leaseOwner = :me',
            ExpressionAttributeValues: marshall({
              ':me': workerId,
              ':seq': sequenceNumber,
              ':zero': 0,
              ':now': now(),
            }),
          }),
        ),
      );
      return result !== undefined;
    },

    async markShardEnd(leaseKey, workerId) {
      const result = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(leaseKey),
            UpdateExpression:
              'SET #cp = :end, leaseCounter = leaseCounter + :one, updatedAt = :now REMOVE leaseOwner, pendingOwner',
            ExpressionAttributeNames: { '#cp': 'checkpoint' },
            ConditionExpression: 'leaseOwner = :me',
            ExpressionAttributeValues: marshall({
              ':me': workerId,
              ':end': SHARD_END,
              ':one': 1,
              ':now': now(),
            }),
          }),
        ),
      );
      return result !== undefined;
    },

    async requestHandoff(lease, workerId) {
      const result = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(lease.leaseKey),
            UpdateExpression: 'SET pendingOwner = :me, updatedAt = :now',
            ConditionExpression: 'leaseOwner = :holder AND attribute_not_exists(pendingOwner)',
            ExpressionAttributeValues: marshall({
              ':me': workerId,
              ':holder': lease.leaseOwner ?? '',
              ':now': now(),
            }),
          }),
        ),
      );
      return result !== undefined;
    },

    async release(leaseKey, workerId) {
      // With a pendingOwner the lease goes straight to it; otherwise it becomes free for anyone.
      const handedOver = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(leaseKey),
            UpdateExpression:
              'SET leaseOwner = pendingOwner, leaseCounter = leaseCounter + :one, updatedAt = :now REMOVE pendingOwner',
            ConditionExpression: 'leaseOwner = :me AND attribute_exists(pendingOwner)',
            ExpressionAttributeValues: marshall({ ':me': workerId, ':one': 1, ':now': now() }),
          }),
        ),
      );
      if (handedOver !== undefined) return true;
      const freed = await conditional(() =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: key(leaseKey),
            UpdateExpression: 'SET leaseCounter = leaseCounter + :one, updatedAt = :now REMOVE leaseOwner',
            ConditionExpression: 'leaseOwner = :me',
            ExpressionAttributeValues: marshall({ ':me': workerId, ':one': 1, ':now': now() }),
          }),
        ),
      );
      return freed !== undefined;
    },

    async remove(leaseKey) {
      await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: key(leaseKey) }));
    },
  };
}
