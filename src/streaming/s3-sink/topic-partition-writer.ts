/**
 * One writer per assigned topic-partition: the open segment (one open file per Hive partition, open-segment.ts)
 * and its rotation. Rotation on record count, buffered bytes and record time is deterministic; the wall-clock
 * timer (idle partitions), the memory cap and a stop cut segments early. segment-cuts.ts explains how every cut
 * is replayed exactly (the pending intent, or the anchor an AnchorIndex finds), which keeps the objects
 * exactly-once either way. A cut segment goes to the SegmentUploader, which commits offsets only after every
 * object of the segment is in S3; the writer takes records again at once.
 *
 * Record intake is serialized by a per-writer lock, so the consumer loop and the flush timer never interleave.
 */
import type { Logger } from '../../observability/logger';
import type { LakeFormat } from '../../lake-format/formats';
import type { LakeStorage } from '../../lake-format/storage';
import { objectKey, type Partitioner } from '../../lake-format/cdc-layout';
import { RecentIds } from '../recent-ids';
import { createAnchorIndex } from './anchor-index';
import type { S3SinkMetrics } from './metrics';
import {
  appendRecord,
  filesToWrite,
  openSegment,
  type OpenSegment,
  type RotationLimits,
  type RotationReason,
  type SinkRecord,
} from './open-segment';
import { PartitionRevokedError, type OffsetCommitter } from './partition-offsets';
import type { SegmentBounds } from './segment-cuts';
import { createSegmentUploader } from './segment-uploader';

export interface TopicPartitionWriterOptions {
  topic: string;
  partition: number;
  tableRoot: string;
  format: LakeFormat;
  storage: LakeStorage;
  partitioner: Partitioner;
  limits: RotationLimits;
  commit: OffsetCommitter;
  /** A segment intent found in the committed offset's metadata: the first segment must end exactly there. */
  pendingIntent?: SegmentBounds;
  /** How many recent change ids are remembered per partition for de-duplication. */
  dedupCapacity: number;
  metrics: S3SinkMetrics;
  logger: Logger;
  /** Wall clock (ms), for the idle-flush timer; injectable for tests. */
  now?: () => number;
}

export interface TopicPartitionWriter {
  readonly topic: string;
  readonly partition: number;
  readonly closed: boolean;
  /** Bytes of the records held: the open segment and the sealed ones not yet uploaded. */
  bufferedBytes(): number;
  /**
   * Appends records in offset order (records below the next offset are ignored: a retried batch), sealing a
   * segment on rotation. It waits only when the upload queue is full (calling `heartbeat` while it waits), and
   * throws when a failed upload fails again on its retry.
   */
  write(records: SinkRecord[], heartbeat?: () => Promise<void>): Promise<void>;
  /** Seals the open segment if it has been open for rotateMs of wall-clock time, then uploads what is sealed. */
  flushIfDue(): Promise<void>;
  /**
   * Seals the open segment now (memory cap, stop) unless it replays a previous cut, and uploads everything sealed,
   * calling `heartbeat` while it waits.
   */
  flush(reason: RotationReason, heartbeat?: () => Promise<void>): Promise<void>;
  /** Drops the buffers and refuses further work: the partition was revoked, its new owner replays. */
  close(): void;
  /** Whether a write or flush holds the intake lock (the timer skips the writer then). */
  isBusy(): boolean;
}

export function createTopicPartitionWriter(options: TopicPartitionWriterOptions): TopicPartitionWriter {
  const { topic, partition, tableRoot, format, storage, partitioner, limits, metrics } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 's3-sink-writer', topic, partition });

  let segment: OpenSegment | undefined;
  let nextOffset = -1;
  let intent = options.pendingIntent;
  let closed = false;
  let busy = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const recentIds = new RecentIds(options.dedupCapacity);

  const ensureOpen = () => {
    if (closed) throw new PartitionRevokedError(`${topic}[${partition}] was revoked from this writer`);
  };
  const anchors = createAnchorIndex({
    storage,
    tableRoot,
    topic,
    partition,
    extension: format.extension,
    logger: log,
  });
  const uploader = createSegmentUploader({
    storage,
    format,
    commit: options.commit,
    ensureOpen,
    metrics,
    logger: log,
  });

  if (intent)
    log.info({ intent }, 'pending segment intent: the first segment ends where the previous owner cut it');

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    busy++;
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run.finally(() => busy--);
  };

  /** A new segment ends where a pending intent says, if its records are still there. */
  const open = (offset: number): OpenSegment => {
    let forcedEnd: number | undefined;
    if (intent) {
      if (offset <= intent.end) forcedEnd = intent.end;
      else
        log.warn(
          { intent, firstOffset: offset },
          'the records of a pending intent are gone (retention?): intent dropped',
        );
      intent = undefined;
    }
    return openSegment(offset, now(), forcedEnd);
  };

  /** The first row of a segment: if a previous run wrote the object it anchors, replay that run's cut. */
  const checkAnchor = async (current: OpenSegment, partitionPath: string, offset: number) => {
    const bounds =
      current.forcedEnd === undefined ? await anchors.replayedCut(partitionPath, offset) : undefined;
    // Only once the lookup succeeded: a failed lookup is retried with the batch, never skipped.
    current.anchorChecked = true;
    if (bounds) current.forcedEnd = bounds.end;
  };

  /** Cuts the open segment and hands it to the upload queue. */
  const seal = (reason: RotationReason) => {
    const current = segment;
    if (!current) return;
    segment = undefined;
    const files = filesToWrite(current).map((file) => ({
      key: objectKey(tableRoot, {
        partitionPath: file.partitionPath,
        topic,
        kafkaPartition: partition,
        startOffset: file.startOffset,
        extension: format.extension,
      }),
      lines: file.lines,
    }));
    uploader.enqueue({
      reason,
      bounds: { start: current.start, end: current.last },
      bytes: current.bytes,
      files,
      letters: current.letters,
    });
  };

  /** Seals the open segment, then applies back-pressure: waits while the upload queue is full. */
  const sealAndWaitForRoom = async (reason: RotationReason, heartbeat?: () => Promise<void>) => {
    seal(reason);
    await uploader.waitForRoom(heartbeat);
  };

  const writeLocked = async (records: SinkRecord[], heartbeat?: () => Promise<void>) => {
    ensureOpen();
    // Before more records are taken.
    await uploader.retryFailed();
    for (const record of records) {
      ensureOpen();
      if (record.offset < nextOffset) continue;
      if (segment?.forcedEnd !== undefined && record.offset > segment.forcedEnd) {
        // The offsets up to the replayed cut are gone (retention): cut where the previous run cut anyway.
        await sealAndWaitForRoom('replay-boundary', heartbeat);
      }
      segment ??= open(record.offset);
      const partitionPath =
        record.line && record.changeMs !== undefined ? partitioner.partitionPath(record.changeMs) : undefined;
      if (partitionPath !== undefined && !segment.anchorChecked)
        await checkAnchor(segment, partitionPath, record.offset);
      const reason = appendRecord(segment, record, partitionPath, {
        limits,
        recentIds,
        onDuplicate: () => metrics.duplicateSkipped(),
      });
      nextOffset = record.offset + 1;
      if (reason) await sealAndWaitForRoom(reason, heartbeat);
    }
  };

  /**
   * Seals the open segment if it may be cut early (not while it replays a previous cut) and `due` says so, then
   * uploads everything sealed: outside the intake lock, so records keep coming in meanwhile.
   */
  const cutAndUpload = async (
    reason: RotationReason,
    due: (open: OpenSegment) => boolean,
    heartbeat?: () => Promise<void>,
  ) => {
    await exclusive(async () => {
      if (!closed && segment && segment.forcedEnd === undefined && due(segment)) seal(reason);
    });
    await uploader.drain(heartbeat);
  };

  return {
    topic,
    partition,
    get closed() {
      return closed;
    },
    bufferedBytes: () => (segment?.bytes ?? 0) + uploader.queuedBytes(),
    isBusy: () => busy > 0,
    write: (records, heartbeat) => exclusive(() => writeLocked(records, heartbeat)),
    flushIfDue: () => cutAndUpload('wall-clock', (open) => now() - open.openedAt >= limits.rotateMs),
    flush: (reason, heartbeat) => cutAndUpload(reason, () => true, heartbeat),
    close() {
      closed = true;
      segment = undefined;
      uploader.close();
    },
  };
}
