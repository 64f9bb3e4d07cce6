/**
 * Reads one leased shard and relays its records: GetRecords → publish (one Kafka transaction per page)
 * → checkpoint in the lease table, in that order, so a checkpoint never runs ahead of what Kafka holds.
 *
 * Where it starts: the later of the lease table's checkpoint and the checkpoint committed with the last
 * Kafka transaction, with AFTER_SEQUENCE_NUMBER; a shard never read starts at TRIM_HORIZON.
 * Expired iterators (15 min) are re-acquired from the last published sequence number; trimmed data
 * (older than 24 h, never relayed) is logged as lost and reading resumes at TRIM_HORIZON. A shard that has aged
 * out of the stream altogether (a closed shard left unread for 24 h) cannot be read again: once it fails and two
 * listings of the stream in a row no longer hold it, the loss is logged and the shard is marked finished, so its
 * children are read instead of waiting on it forever.
 * Every retry (an expired iterator, trimmed data, a failed read or publish) waits an exponential backoff with
 * jitter that grows with the failures in a row and starts over after a page is relayed. A record that cannot be
 * converted goes to the dead-letter topic with its page (cdc-publisher.ts), and reading moves past it.
 */
import {
  ExpiredIteratorException,
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import type { Logger } from '../../observability/logger';
import { backoffDelayMs, type Backoff } from '../../support/timing';
import type { CdcEvent } from '../../lake-format/lake-schema';
import type { ShardPublisher, StreamRecordLetter } from './cdc-publisher';
import { CdcPublishError, LeaseLostError, StreamRecordError } from './errors';
import type { Lease, LeaseTable } from './lease-table';
import type { CdcRelayMetrics } from './metrics';
import { RecentIds } from '../recent-ids';
import {
  advance,
  compareSequenceNumbers,
  isSequenceNumber,
  recordMark,
  toCdcEvent,
  unrelayed,
  type RelayPosition,
} from './stream-records';

/** Event ids remembered per reader to relay moto's late changes (far more than one poll's worth of writes). */
const RECENT_IDS = 20_000;

export type ReaderExit = 'shard-end' | 'lease-lost' | 'stopped';

export interface ShardReaderHandle {
  /** Finishes the page in hand (publish + checkpoint), then stops. */
  stop(): Promise<void>;
  readonly done: Promise<ReaderExit>;
}

export interface ShardReaderOptions {
  lease: Lease;
  workerId: string;
  streams: DynamoDBStreamsClient;
  leases: LeaseTable;
  publisher: ShardPublisher;
  /** Whether this instance's lease is still valid on its own clock; no read or publish happens otherwise. */
  isLeaseValid: () => boolean;
  pollIntervalMs: number;
  logger: Logger;
  metrics: CdcRelayMetrics;
  /** Records per GetRecords call (the service maximum is 1000). */
  limit?: number;
  /** Whether the stream still lists this shard (asked only after a read failed). */
  shardInStream: () => Promise<boolean>;
}

/** Listings in a row, each after a failed read, that must miss a shard before it is given up as gone. */
const MISSING_LISTINGS_TO_GIVE_UP = 2;

/** Waits between retries of a read or publish (failures in a row); reset by a relayed page. */
export const READ_RETRY_BACKOFF: Backoff = { baseMs: 100, maxMs: 10_000 };
/** Waits between attempts to initialise the shard's producer (Kafka's transaction coordinator may be down). */
export const INIT_RETRY_BACKOFF: Backoff = { baseMs: 200, maxMs: 5_000 };

/** A page's records as changes to publish and letters for those that cannot be converted. */
function convertPage(
  records: _Record[],
  streamArn: string,
  shardId: string,
): { events: CdcEvent[]; letters: StreamRecordLetter[] } {
  const events: CdcEvent[] = [];
  const letters: StreamRecordLetter[] = [];
  for (const record of records) {
    try {
      events.push(toCdcEvent(record, shardId));
    } catch (error) {
      if (!(error instanceof StreamRecordError)) throw error;
      letters.push({ record, reason: `unconvertible-record: ${error.message}`, streamArn, shardId });
    }
  }
  return { events, letters };
}

/**
 * Where to resume: the later of the lease-table checkpoint and the position committed with the last Kafka
 * transaction (the latter is never behind, since it is written first, unless the metadata was lost).
 */
export function startingPosition(
  leaseCheckpoint: string,
  kafka: RelayPosition | undefined,
): RelayPosition | undefined {
  const table = isSequenceNumber(leaseCheckpoint)
    ? { sequenceNumber: leaseCheckpoint, eventIds: [] }
    : undefined;
  if (!kafka) return table;
  if (!table) return kafka;
  return compareSequenceNumbers(kafka.sequenceNumber, table.sequenceNumber) >= 0 ? kafka : table;
}

export function startShardReader(options: ShardReaderOptions): ShardReaderHandle {
  const { lease, workerId, streams, leases, publisher, isLeaseValid, metrics } = options;
  const { streamArn, shardId, leaseKey } = lease;
  const log = options.logger.child({ shardId });
  const limit = options.limit ?? 1000;
  let stopping = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const iteratorAt = async (position: RelayPosition | undefined): Promise<string | undefined> => {
    const response = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ...(position
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: position.sequenceNumber }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return response.ShardIterator;
  };

  let missingListings = 0;
  /** After a failed read: whether the stream has stopped listing the shard (a listing that fails says nothing). */
  const goneFromStream = async (): Promise<boolean> => {
    try {
      missingListings = (await options.shardInStream()) ? 0 : missingListings + 1;
    } catch {
      return false;
    }
    return missingListings >= MISSING_LISTINGS_TO_GIVE_UP;
  };

  const run = async (): Promise<ReaderExit> => {
    let position: RelayPosition | undefined;
    for (let attempt = 0; ; attempt++) {
      if (stopping) return 'stopped';
      try {
        position = startingPosition(lease.checkpoint, await publisher.init());
        break;
      } catch (error) {
        if (error instanceof LeaseLostError) return 'lease-lost';
        log.warn({ err: error, attempt }, 'producer initialisation failed, retrying');
        await pause(backoffDelayMs(attempt + 1, INIT_RETRY_BACKOFF));
      }
    }
    log.info({ resumeAfter: position?.sequenceNumber ?? 'TRIM_HORIZON' }, 'reading shard');
    let iterator: string | undefined;
    let failures = 0;
    const relayed = new RecentIds(RECENT_IDS);
    while (!stopping) {
      if (!isLeaseValid()) {
        // Not renewed recently enough to be sure nobody else holds it: wait for the coordinator's verdict.
        await pause(options.pollIntervalMs);
        continue;
      }
      try {
        iterator ??= await iteratorAt(position);
        if (!iterator) throw new Error('GetShardIterator returned no iterator');
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
        const fetched = page.Records ?? [];
        // Never on AWS (sequence numbers only grow); moto can re-serve a record, or serve one late.
        const records = unrelayed(fetched, position, relayed);
        metrics.recordsIn(fetched.length);
        if (records.length > 0) {
          if (!isLeaseValid()) {
            iterator = undefined; // read again from the checkpoint once the lease is confirmed
            continue;
          }
          const endTimer = metrics.batchTimer();
          const { events, letters } = convertPage(records, streamArn, shardId);
          const next = advance(
            position,
            records.flatMap((record) => recordMark(record) ?? []),
          );
          const last = next.sequenceNumber;
          await publisher.publish(events, next, letters);
          for (const record of records) if (record.eventID) relayed.add(record.eventID);
          metrics.published(events.map((e) => e.op));
          metrics.deadLettered(letters.length);
          position = next;
          if (!(await leases.checkpoint(leaseKey, workerId, last))) {
            log.warn({ sequenceNumber: last }, 'checkpoint refused: the lease has a new owner');
            return 'lease-lost';
          }
          metrics.checkpoint();
          if (events.length > 0) metrics.age(shardId, events[events.length - 1].changeTime);
          endTimer();
        }
        failures = 0;
        iterator = page.NextShardIterator;
        if (!iterator) {
          // A closed shard read to its end: its children may start now.
          await leases.markShardEnd(leaseKey, workerId);
          log.info({ lastSequenceNumber: position }, 'shard ended');
          return 'shard-end';
        }
        // Nothing new (an empty page, or only records moto served again): wait before polling.
        if (records.length === 0) await pause(options.pollIntervalMs);
      } catch (error) {
        if (error instanceof LeaseLostError) {
          log.warn({ err: error }, 'lease lost while publishing');
          return 'lease-lost';
        }
        iterator = undefined;
        failures += 1;
        if (error instanceof ExpiredIteratorException) {
          metrics.expiredIterator();
          log.warn(
            { resumeAfter: position?.sequenceNumber ?? 'TRIM_HORIZON', failures },
            'shard iterator expired; re-acquiring it from the last checkpoint',
          );
          await pause(backoffDelayMs(failures, READ_RETRY_BACKOFF));
          continue;
        }
        if (error instanceof TrimmedDataAccessException) {
          metrics.trimmed();
          log.error(
            { lostAfter: position?.sequenceNumber ?? 'TRIM_HORIZON', failures },
            'stream records after the checkpoint were trimmed (older than the 24 h retention) before being relayed; they are lost. Resuming from TRIM_HORIZON',
          );
          position = undefined;
          await pause(backoffDelayMs(failures, READ_RETRY_BACKOFF));
          continue;
        }
        if (!(error instanceof CdcPublishError) && (await goneFromStream())) {
          metrics.trimmed();
          log.error(
            { lostAfter: position?.sequenceNumber ?? 'TRIM_HORIZON', err: error },
            'the shard is no longer in the stream (aged out past the 24 h retention) before it was fully relayed: its remaining records are lost. Marking it finished so its children are read',
          );
          await leases.markShardEnd(leaseKey, workerId);
          return 'shard-end';
        }
        if (error instanceof CdcPublishError) metrics.publishRetry();
        const level = error instanceof ResourceNotFoundException || failures > 5 ? 'error' : 'warn';
        log[level]({ err: error, failures }, 'shard read failed; retrying from the last checkpoint');
        await pause(backoffDelayMs(failures, READ_RETRY_BACKOFF));
      }
    }
    return 'stopped';
  };

  const done = run()
    .catch((error: Error) => {
      log.error({ err: error }, 'shard reader failed');
      return 'lease-lost' as ReaderExit;
    })
    .finally(() => publisher.close());

  return {
    done,
    async stop() {
      stopping = true;
      wake?.();
      await done;
    },
  };
}
