/**
 * Decides which shards this relay instance reads, as the Kinesis Client Library's lease coordinator does:
 *
 * - Shard sync: every shard of the stream gets a lease (conditional create), starting at TRIM_HORIZON.
 * - Renewal: every lease duration / 3 each held lease's counter is incremented, conditioned on owner and
 *   counter; a refused renewal means the lease was taken and its reader stops at once, unless the table still
 *   names this instance as the owner within its validity (its own renewal applied, the reply lost). Each lease renews on
 *   its own (one slow renewal delays no other), through a client whose timeouts are a fraction of the lease.
 * - Expiry without synchronised clocks: a lease whose counter has not moved for a whole lease duration,
 *   measured on this instance's clock from when it first saw that counter, belongs to a dead instance
 *   and may be taken (conditional on the counter still being that value, so only one taker wins).
 *   A holder stops reading when its own last successful renewal is older than the lease duration, which
 *   is before any other instance can consider the lease expired: no shard is read by two instances.
 * - Lineage: a child shard's lease is taken only when its parent reached SHARD_END (or is gone).
 * - Balance: each instance aims for ceil(active leases / live instances); free and expired leases first,
 *   otherwise it asks the most loaded instance to hand one over (pendingOwner), and the holder passes it
 *   on after its in-hand page is published and checkpointed.
 */
import type { Logger } from '../../observability/logger';
import { within } from '../../support/timing';
import { SHARD_END, type Lease, type LeaseTable, type ShardInfo } from './lease-table';
import type { CdcRelayMetrics } from './metrics';
import type { ReaderExit, ShardReaderHandle } from './shard-reader';

export interface LeaseCoordinatorOptions {
  leases: LeaseTable;
  streamArn: string;
  workerId: string;
  leaseDurationMs: number;
  listShards: () => Promise<ShardInfo[]>;
  startReader: (lease: Lease, isLeaseValid: () => boolean) => ShardReaderHandle;
  logger: Logger;
  metrics: CdcRelayMetrics;
  /** How often the shard list is refreshed (also after any shard ends). */
  shardSyncIntervalMs?: number;
  /** Monotonic clock in ms. */
  now?: () => number;
}

interface Held {
  lease: Lease;
  /** When the last successful renewal (or take) was SENT: validity counts from there. */
  renewedAt: number;
  reader: ShardReaderHandle;
  handingOver: boolean;
  /** The renewal in flight, if any: a lease is renewed on its own, never twice at once. */
  renewal?: Promise<void>;
}

export interface LeaseCoordinator {
  /** One round: renew, sync shards when due, take or request leases. Called by run() every duration / 3. */
  tick(): Promise<void>;
  run(): void;
  /** Stops every reader (each finishes its page) and frees or hands over the leases. */
  stop(): Promise<void>;
  heldShards(): string[];
  /** How long ago the last round completed, undefined before the first: the relay's readiness. */
  msSinceLastRound(): number | undefined;
}

const monotonic = () => Number(process.hrtime.bigint() / 1_000_000n);

/** Share of the lease duration a round waits for its renewals before it goes on without the slow ones. */
const RENEWAL_WAIT_SHARE = 1 / 6;

export function createLeaseCoordinator(options: LeaseCoordinatorOptions): LeaseCoordinator {
  const { leases, streamArn, workerId, leaseDurationMs, metrics } = options;
  const now = options.now ?? monotonic;
  const shardSyncIntervalMs = options.shardSyncIntervalMs ?? 30_000;
  const log = options.logger.child({ workerId });
  const held = new Map<string, Held>();
  /** Last counter seen per lease and when it was first seen (on our clock). */
  const observed = new Map<string, { counter: number; since: number }>();
  let knownShards = new Set<string>();
  let lastShardSync = Number.NEGATIVE_INFINITY;
  let stopped = false;
  let loop: Promise<void> | undefined;
  let wakeLoop: (() => void) | undefined;

  /**
   * Readers of dropped leases that have not finished their page yet, by lease key. A key is not held again
   * until its old reader is done: a renewal whose reply was lost looks like a takeover, and the lease can come
   * straight back to this instance while the old reader is still publishing.
   */
  const stopping = new Map<string, Promise<unknown>>();

  /** Validity belongs to one holding: a later holding of the same key does not make an old reader valid. */
  const isValid = (entry: Held) =>
    held.get(entry.lease.leaseKey) === entry && now() - entry.renewedAt < leaseDurationMs;

  const updateGauge = () => metrics.leasesHeld(held.size);

  const hold = (lease: Lease, renewedAt: number) => {
    const entry = { lease, renewedAt, handingOver: false } as Held;
    held.set(lease.leaseKey, entry);
    const reader = options.startReader(lease, () => isValid(entry));
    entry.reader = reader;
    updateGauge();
    reader.done
      .then((exit: ReaderExit) => {
        if (held.get(lease.leaseKey) !== entry) return;
        if (exit === 'shard-end') {
          held.delete(lease.leaseKey);
          lastShardSync = Number.NEGATIVE_INFINITY; // children may be startable now
          wakeLoop?.();
        } else if (exit === 'lease-lost') {
          held.delete(lease.leaseKey);
          metrics.leaseLost();
        }
        updateGauge();
      })
      .catch(() => undefined);
  };

  const drop = (entry: Held, why: string) => {
    if (held.get(entry.lease.leaseKey) !== entry) return;
    held.delete(entry.lease.leaseKey);
    metrics.leaseLost();
    updateGauge();
    log.warn({ shardId: entry.lease.shardId, why }, 'lease lost; reader stopping');
    const key = entry.lease.leaseKey;
    const done = entry.reader.stop().catch(() => undefined);
    stopping.set(key, done);
    void done.then(() => {
      if (stopping.get(key) === done) stopping.delete(key);
    });
  };

  const handOver = async (entry: Held) => {
    entry.handingOver = true;
    log.info(
      { shardId: entry.lease.shardId, to: entry.lease.pendingOwner },
      'handing the lease over after the page in hand',
    );
    await entry.reader.stop();
    await leases
      .release(entry.lease.leaseKey, workerId)
      .catch((error: Error) => log.warn({ err: error }, 'hand-over write failed'));
    if (held.get(entry.lease.leaseKey) === entry) held.delete(entry.lease.leaseKey);
    updateGauge();
  };

  const renew = async (entry: Held) => {
    const sentAt = now();
    let renewed: Lease | undefined;
    try {
      renewed = await leases.renew(entry.lease, workerId);
    } catch (error) {
      // Transient: keep the lease; the reader pauses by itself if validity lapses before a renewal works.
      log.warn({ shardId: entry.lease.shardId, err: error }, 'lease renewal failed');
      return;
    }
    if (held.get(entry.lease.leaseKey) !== entry || entry.handingOver) return;
    if (!renewed) {
      if (await keptAfterLostReply(entry)) return;
      return drop(entry, 'renewal refused (taken over)');
    }
    entry.lease = renewed;
    entry.renewedAt = sentAt;
    if (renewed.pendingOwner && renewed.pendingOwner !== workerId) void handOver(entry);
  };

  /**
   * A refused renewal while this instance still owns the lease, within its validity, comes from one of its own
   * earlier renewals that was applied although its reply was lost (a request timeout on a slow endpoint): no
   * other instance takes a lease before its holder's validity ends. The lease is kept at the counter the table
   * holds, and its reader goes on; otherwise it was taken over.
   */
  const keptAfterLostReply = async (entry: Held): Promise<boolean> => {
    if (!isValid(entry)) return false;
    const current = await leases.get(entry.lease.leaseKey).catch(() => undefined);
    if (current?.leaseOwner !== workerId || !isValid(entry) || held.get(entry.lease.leaseKey) !== entry)
      return false;
    entry.lease = current;
    log.info(
      { shardId: current.shardId, leaseCounter: current.leaseCounter },
      'lease counter moved by a renewal whose reply was lost: lease kept',
    );
    return true;
  };

  /**
   * Every held lease renews on its own: a round waits a short while for the renewals (so one round's work sees
   * their outcome), then goes on. A renewal that hangs only keeps its own lease from renewing; it is not sent
   * again while in flight, and every other lease renews, round after round, as usual.
   */
  const renewAll = async () => {
    const pending: Promise<void>[] = [];
    for (const entry of held.values()) {
      if (entry.handingOver) continue;
      entry.renewal ??= renew(entry).finally(() => {
        entry.renewal = undefined;
      });
      pending.push(entry.renewal);
    }
    const waitMs = Math.max(50, Math.floor(leaseDurationMs * RENEWAL_WAIT_SHARE));
    await within(waitMs, 'lease renewals', Promise.all(pending)).catch(() =>
      log.warn({ waitMs }, 'a lease renewal is still in flight; the round goes on without it'),
    );
  };

  const syncShards = async () => {
    const shards = await options.listShards();
    knownShards = new Set(shards.map((s) => s.shardId));
    let created = 0;
    for (const shard of shards) if (await leases.create(streamArn, shard)) created += 1;
    if (created > 0) log.info({ created, shards: shards.length }, 'leases created for new shards');
    // Finished shards that aged out of the stream need no lease any more (their children treat a missing
    // parent that is no longer in the stream as done).
    for (const lease of await leases.list(streamArn)) {
      if (lease.checkpoint === SHARD_END && !knownShards.has(lease.shardId))
        await leases.remove(lease.leaseKey);
    }
    lastShardSync = now();
  };

  const takeLeases = async () => {
    const all = await leases.list(streamArn);
    const seenAt = now();
    const byShard = new Map(all.map((l) => [l.shardId, l]));
    for (const lease of all) {
      const seen = observed.get(lease.leaseKey);
      if (!seen || seen.counter !== lease.leaseCounter)
        observed.set(lease.leaseKey, { counter: lease.leaseCounter, since: seenAt });
    }
    const expired = (lease: Lease) =>
      !lease.leaseOwner || seenAt - observed.get(lease.leaseKey)!.since >= leaseDurationMs;
    const parentDone = (lease: Lease) => {
      if (!lease.parentShardId) return true;
      const parent = byShard.get(lease.parentShardId);
      // No lease and no longer in the stream: the parent aged out (or was read and cleaned up).
      if (!parent) return !knownShards.has(lease.parentShardId);
      return parent.checkpoint === SHARD_END;
    };
    const active = all.filter((l) => l.checkpoint !== SHARD_END && parentDone(l));

    // Leases handed to us by their previous holder: confirm with a renewal, then read.
    for (const lease of active) {
      if (lease.leaseOwner !== workerId || held.has(lease.leaseKey) || stopping.has(lease.leaseKey)) continue;
      const sentAt = now();
      const confirmed = await leases.renew(lease, workerId);
      if (confirmed) {
        metrics.leaseTaken();
        log.info({ shardId: lease.shardId }, 'lease received by hand-over');
        hold(confirmed, sentAt);
      }
    }

    const owners = new Map<string, Lease[]>();
    for (const lease of active) {
      if (!lease.leaseOwner || expired(lease)) continue;
      owners.set(lease.leaseOwner, [...(owners.get(lease.leaseOwner) ?? []), lease]);
    }
    owners.set(workerId, owners.get(workerId) ?? []);
    const target = Math.ceil(active.length / owners.size);
    let missing = target - held.size;
    if (missing <= 0) return;

    // Free leases first, then those of dead instances; parents (lower shard ids) before their children.
    const available = active
      .filter((l) => l.leaseOwner !== workerId && expired(l) && !stopping.has(l.leaseKey))
      .sort(
        (a, b) =>
          Number(Boolean(a.leaseOwner)) - Number(Boolean(b.leaseOwner)) || a.shardId.localeCompare(b.shardId),
      );
    for (const lease of available) {
      if (missing <= 0 || stopped) break;
      const sentAt = now();
      const taken = await leases.take(lease, workerId);
      if (!taken) continue;
      missing -= 1;
      metrics.leaseTaken();
      log.info(
        { shardId: lease.shardId, previousOwner: lease.leaseOwner ?? null, checkpoint: taken.checkpoint },
        lease.leaseOwner ? 'took over an expired lease' : 'took a free lease',
      );
      hold(taken, sentAt);
    }
    if (missing <= 0 || available.length > 0) return;

    // Nothing free: ask the most loaded live instance for one of its leases (one request per round).
    if (active.some((l) => l.pendingOwner === workerId)) return;
    const [victim, victimLeases] = [...owners.entries()]
      .filter(([owner]) => owner !== workerId)
      .sort((a, b) => b[1].length - a[1].length)[0] ?? [undefined, []];
    if (!victim || victimLeases.length <= target) return;
    const candidate = victimLeases.find((l) => !l.pendingOwner);
    if (candidate && (await leases.requestHandoff(candidate, workerId))) {
      log.info({ shardId: candidate.shardId, from: victim, target }, 'asked for a lease to balance the load');
    }
  };

  let lastRoundAt: number | undefined;
  const tick = async () => {
    await renewAll();
    if (stopped) return;
    if (now() - lastShardSync >= shardSyncIntervalMs) await syncShards();
    await takeLeases();
    lastRoundAt = now();
  };

  return {
    tick,
    heldShards: () => [...held.values()].map((h) => h.lease.shardId),
    msSinceLastRound: () => (lastRoundAt === undefined ? undefined : now() - lastRoundAt),
    run() {
      loop ??= (async () => {
        while (!stopped) {
          await tick().catch((error: Error) => log.error({ err: error }, 'lease round failed'));
          if (stopped) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(100, Math.floor(leaseDurationMs / 3)));
            wakeLoop = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      })();
    },
    async stop() {
      stopped = true;
      wakeLoop?.();
      await loop;
      // Graceful: finish each page in hand, then free (or hand over) the lease so another instance
      // takes it at once instead of waiting for it to expire.
      await Promise.all(
        [...held.values()].map(async (entry) => {
          await entry.reader.stop();
          await leases
            .release(entry.lease.leaseKey, workerId)
            .catch((error: Error) => log.warn({ err: error }, 'lease release failed'));
        }),
      );
      held.clear();
      // Readers of leases lost just before: their page in hand ends (published and checkpointed, or not) first.
      await Promise.all(stopping.values());
      updateGauge();
    },
  };
}
