/**
 * The S3 sink's offsets: the committed offset (and its segment intent) a new writer starts from, and the
 * committer it commits through. Both are fenced by the assignment: after a rebalance, a writer of the previous
 * one can neither start nor commit, because the new owner of its partition replays from the committed offset.
 */
import type { Admin, Consumer } from 'kafkajs';
import { kafkaErrorOfType } from '../../kafka/errors';
import type { DeadLetter, SourceCommitter } from '../dlq';
import { StreamingError } from '../errors';

/**
 * Commits one offset of a writer's topic-partition, with the dead letters that belong to the offsets before it
 * (in one transaction); throws PartitionRevokedError when it no longer owns it.
 */
export type OffsetCommitter = (
  offset: number,
  metadata: string | null,
  letters?: DeadLetter[],
) => Promise<void>;

export class PartitionRevokedError extends StreamingError {
  override readonly name = 'PartitionRevokedError';
  readonly retriable = false;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

export interface PartitionClaim {
  committed: CommittedOffset | undefined;
  commit: OffsetCommitter;
}

export interface PartitionOffsets {
  /** The assignment changed: claims made before are fenced, and committed offsets are fetched again. */
  fence(): void;
  /** The partition's committed offset, and a committer fenced to the current assignment. */
  claim(partition: number): Promise<PartitionClaim>;
}

/** Broker errors that mean "rejoin the group", which kafkajs handles itself when it sees them unwrapped. */
const MEMBERSHIP_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
]);

export function createPartitionOffsets(options: {
  consumer: Consumer;
  admin: Admin;
  groupId: string;
  topic: string;
  /** Commits that carry dead letters. */
  withLetters: SourceCommitter;
}): PartitionOffsets {
  const { consumer, admin, groupId, topic, withLetters } = options;
  // Bumped on every rebalance: claims (writers and their commits) of an older epoch are fenced.
  let epoch = 0;
  let committedOffsets: { epoch: number; offsets: Promise<Map<number, CommittedOffset>> } | undefined;

  const fetchCommitted = (forEpoch: number) => {
    if (committedOffsets?.epoch !== forEpoch) {
      const offsets = admin.fetchOffsets({ groupId, topics: [topic] }).then((topics) => {
        const byPartition = new Map<number, CommittedOffset>();
        for (const p of topics.find((t) => t.topic === topic)?.partitions ?? []) {
          byPartition.set(p.partition, { offset: Number(p.offset), metadata: p.metadata });
        }
        return byPartition;
      });
      // A failed fetch is not cached: the next batch asks again.
      offsets.catch(() => {
        if (committedOffsets?.offsets === offsets) committedOffsets = undefined;
      });
      committedOffsets = { epoch: forEpoch, offsets };
    }
    return committedOffsets.offsets;
  };

  const committerFor =
    (partition: number, claimEpoch: number): OffsetCommitter =>
    async (offset, metadata, letters = []) => {
      if (epoch !== claimEpoch)
        throw new PartitionRevokedError(`${topic}[${partition}] was revoked before its commit`);
      if (letters.length > 0) {
        await withLetters.commit({ partition, offset, metadata, letters });
        if (epoch !== claimEpoch)
          throw new PartitionRevokedError(`${topic}[${partition}] was revoked during its commit`);
        return;
      }
      try {
        await consumer.commitOffsets([{ topic, partition, offset: String(offset), metadata }]);
      } catch (error) {
        // The group is rebalancing or has dropped this member: kafkajs wraps that refusal in a non-retriable
        // error that would crash the consumer for good. Rethrown as the broker's own error, it makes kafkajs
        // rejoin instead; the new owner of the partition replays the uncommitted segment.
        throw kafkaErrorOfType(error, MEMBERSHIP_ERRORS) ?? error;
      }
      // A rebalance while the commit was in flight: the new owner replays; this writer must not go on.
      if (epoch !== claimEpoch)
        throw new PartitionRevokedError(`${topic}[${partition}] was revoked during its commit`);
    };

  return {
    fence() {
      epoch++;
      committedOffsets = undefined;
    },
    async claim(partition) {
      const claimEpoch = epoch;
      const committed = (await fetchCommitted(claimEpoch)).get(partition);
      if (epoch !== claimEpoch)
        throw new PartitionRevokedError(`${topic}[${partition}]: rebalanced while starting its writer`);
      return { committed, commit: committerFor(partition, claimEpoch) };
    },
  };
}
