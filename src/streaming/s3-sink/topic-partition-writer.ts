/**
 * One writer per assigned topic-partition: the buffer of the open segment (one open file per Hive partition)
 * and its rotation state. Rotation on record count, buffered bytes and record time is deterministic; the
 * wall-clock timer (idle partitions), the memory cap and a stop cut segments early. segment-cuts.ts explains
 * how every cut is replayed exactly, which keeps the objects exactly-once either way. Offsets are committed
 * only after every object of the segment is in S3.
 *
 * Calls are serialized by a per-writer lock, so the consumer loop and the flush timer never interleave.
 */
import type { Logger } from '../../observability/logger';
import { RecentIds } from '../recent-ids';
import type { LakeFormat } from './formats';
import type { LakeRow } from './lake-row';
import type { S3SinkMetrics } from './metrics';
import { objectKey, type Partitioner } from './partitioner';
import { encodeSegmentIntent, parseSegmentMetadata, segmentMetadata, type SegmentBounds } from './segment-cuts';
import type { LakeStorage } from './storage';

export type RotationReason = 'records' | 'bytes' | 'record-time' | 'wall-clock' | 'memory' | 'replay-boundary' | 'stop';

/** One consumed Kafka record, already decoded. */
export interface SinkRecord {
  offset: number;
  /** Undefined for a record that yields no row (it was dead-lettered): it still moves the offset. */
  row?: LakeRow;
  /** shardId/sequenceNumber: identifies the change for de-duplication. */
  changeId?: string;
  /** Size of the record, for the buffer accounting. */
  bytes: number;
}

/** Commits one offset of this writer's topic-partition; throws PartitionRevokedError when it no longer owns it. */
export type OffsetCommitter = (offset: number, metadata: string | null) => Promise<void>;

export class PartitionRevokedError extends Error {
  override readonly name = 'PartitionRevokedError';
  readonly retriable = false;
}

export interface RotationLimits {
  flushRecords: number;
  flushBytes: number;
  /** Wall clock: a segment open this long is flushed by the timer, records or not. */
  rotateMs: number;
  /** Record time: a change this far past the segment's first change cuts it (0: off). */
  rotateRecordMs: number;
}

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

export interface FlushSummary {
  reason: RotationReason;
  startOffset: number;
  endOffset: number;
  keys: string[];
  rows: number;
  bytes: number;
}

export interface TopicPartitionWriter {
  readonly topic: string;
  readonly partition: number;
  readonly closed: boolean;
  /** Buffered record bytes of the open segment. */
  bufferedBytes(): number;
  /** Whether the open segment may be cut now (false while it replays a previous run's cut). */
  canCutEarly(): boolean;
  /**
   * Appends records in offset order (records below the next offset are ignored: a retried batch), flushing on
   * rotation. `heartbeat` runs between the PUTs of a flush, so a slow store does not get the member evicted.
   */
  write(records: SinkRecord[], heartbeat?: () => Promise<void>): Promise<void>;
  /** Flushes the open segment if it has been open for rotateMs of wall-clock time. */
  flushIfDue(): Promise<FlushSummary | undefined>;
  /** Flushes the open segment now (memory cap, stop) unless it replays a previous cut. */
  flush(reason: RotationReason): Promise<FlushSummary | undefined>;
  /** Drops the buffer and refuses further work: the partition was revoked, its new owner replays. */
  close(): void;
  isBusy(): boolean;
}

interface OpenFile {
  partitionPath: string;
  startOffset: number;
  rows: LakeRow[];
}

interface Segment {
  start: number;
  last: number;
  files: Map<string, OpenFile>;
  rows: number;
  bytes: number;
  firstChangeMs: number | undefined;
  openedAt: number;
  /** Set when this segment replays a cut made before (intent or anchor): it must end exactly here. */
  forcedEnd: number | undefined;
  /** Whether the anchor of this segment's first row was looked up already. */
  anchorChecked: boolean;
}

/** Uploads of one flush in flight at once (a segment touches few Hive partitions, usually one or two). */
const PUT_CONCURRENCY = 4;

export function createTopicPartitionWriter(options: TopicPartitionWriterOptions): TopicPartitionWriter {
  const { topic, partition, format, storage, partitioner, limits, metrics } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 's3-sink-writer', topic, partition });

  let segment: Segment | undefined;
  let nextOffset = -1;
  let intent = options.pendingIntent;
  let closed = false;
  let busy = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const recentIds = new RecentIds(options.dedupCapacity);

  if (intent) log.info({ intent }, 'pending segment intent: the first segment ends where the previous owner cut it');

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    busy++;
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run.finally(() => busy--);
  };

  const ensureOpen = () => {
    if (closed) throw new PartitionRevokedError(`${topic}[${partition}] was revoked from this writer`);
  };

  const keyOf = (file: { partitionPath: string; startOffset: number }) =>
    objectKey(options.tableRoot, { partitionPath: file.partitionPath, topic, kafkaPartition: partition, startOffset: file.startOffset, extension: format.extension });

  const rotationDue = (): RotationReason | undefined => {
    if (!segment) return undefined;
    if (segment.forcedEnd !== undefined) return segment.last >= segment.forcedEnd ? 'replay-boundary' : undefined;
    if (segment.rows >= limits.flushRecords) return 'records';
    if (segment.bytes >= limits.flushBytes) return 'bytes';
    return undefined;
  };

  const openSegment = (offset: number): Segment => {
    let forcedEnd: number | undefined;
    if (intent) {
      if (offset <= intent.end) forcedEnd = intent.end;
      else log.warn({ intent, firstOffset: offset }, 'the records of a pending intent are gone (retention?): intent dropped');
      intent = undefined;
    }
    return { start: offset, last: offset, files: new Map(), rows: 0, bytes: 0, firstChangeMs: undefined, openedAt: now(), forcedEnd, anchorChecked: false };
  };

  /** The first row of a segment: if a previous run wrote the object it anchors, replay that run's cut. */
  const checkAnchor = async (current: Segment, partitionPath: string, offset: number) => {
    if (current.forcedEnd !== undefined) {
      current.anchorChecked = true;
      return;
    }
    const head = await storage.head(keyOf({ partitionPath, startOffset: offset }));
    // Only once the lookup succeeded: a failed HEAD is retried with the batch, never skipped.
    current.anchorChecked = true;
    const bounds = parseSegmentMetadata(head?.metadata, offset);
    if (bounds) {
      current.forcedEnd = bounds.end;
      log.debug({ anchorOffset: offset, bounds }, 'segment written before: replaying its cut');
    }
  };

  const append = (current: Segment, record: SinkRecord, partitionPath: string | undefined): RotationReason | undefined => {
    current.last = record.offset;
    current.bytes += record.bytes;
    nextOffset = record.offset + 1;
    const row = record.row;
    if (!row || partitionPath === undefined) return rotationDue();
    let file = current.files.get(partitionPath);
    if (!file) {
      // The key's start offset is the first record routed here, duplicate or not, so de-duplication never moves keys.
      file = { partitionPath, startOffset: record.offset, rows: [] };
      current.files.set(partitionPath, file);
    }
    if (record.changeId !== undefined && recentIds.has(record.changeId)) {
      metrics.duplicateSkipped();
      return rotationDue();
    }
    if (record.changeId !== undefined) recentIds.add(record.changeId);
    file.rows.push(row);
    current.rows++;
    const changeMs = (row.change_time as Date).getTime();
    current.firstChangeMs ??= changeMs;
    // Record-time rotation (Confluent's rotate.interval.ms): a pure function of the records, so replays cut alike.
    if (current.forcedEnd === undefined && limits.rotateRecordMs > 0 && changeMs - current.firstChangeMs >= limits.rotateRecordMs) {
      return 'record-time';
    }
    return rotationDue();
  };

  const flushLocked = async (reason: RotationReason, heartbeat?: () => Promise<void>): Promise<FlushSummary | undefined> => {
    ensureOpen();
    const current = segment;
    if (!current) return undefined;
    const started = process.hrtime.bigint();
    const bounds = { start: current.start, end: current.last };
    // The anchor (first row's file) goes first and is written even if de-duplication emptied it.
    const files = [...current.files.values()].sort((a, b) => a.startOffset - b.startOffset);
    const objects = files
      .filter((file, index) => index === 0 || file.rows.length > 0)
      .map((file) => ({ key: keyOf(file), body: format.encode(file.rows), rows: file.rows.length }));
    if (objects.length > 0) {
      const metadata = segmentMetadata(bounds);
      await options.commit(bounds.start, encodeSegmentIntent(bounds));
      ensureOpen();
      await storage.put(objects[0].key, objects[0].body, format.contentType, metadata);
      metrics.objectWritten(objects[0].body.length);
      await heartbeat?.();
      let next = 1;
      const uploader = async () => {
        while (next < objects.length) {
          const object = objects[next++];
          ensureOpen();
          await storage.put(object.key, object.body, format.contentType, metadata);
          metrics.objectWritten(object.body.length);
          await heartbeat?.();
        }
      };
      await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, objects.length - 1) }, uploader));
    }
    ensureOpen();
    await options.commit(bounds.end + 1, null);
    segment = undefined;
    const rows = objects.reduce((sum, o) => sum + o.rows, 0);
    const bytes = objects.reduce((sum, o) => sum + o.body.length, 0);
    metrics.rowsOut(rows);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.flushed(reason, seconds);
    const summary = { reason, startOffset: bounds.start, endOffset: bounds.end, keys: objects.map((o) => o.key), rows, bytes };
    log.debug({ ...summary, keys: summary.keys.length, ms: Math.round(seconds * 1000) }, 'segment flushed');
    return summary;
  };

  const writeLocked = async (records: SinkRecord[], heartbeat?: () => Promise<void>) => {
    ensureOpen();
    // A flush that failed before (an S3 outage) left its segment due: retry it before taking more.
    const pending = rotationDue();
    if (pending) await flushLocked(pending, heartbeat);
    for (const record of records) {
      if (record.offset < nextOffset) continue;
      if (segment?.forcedEnd !== undefined && record.offset > segment.forcedEnd) {
        // The offsets up to the replayed cut are gone (retention): cut where the previous run cut anyway.
        await flushLocked('replay-boundary', heartbeat);
      }
      segment ??= openSegment(record.offset);
      const partitionPath = record.row ? partitioner.partitionPath(record.row) : undefined;
      if (partitionPath !== undefined && !segment.anchorChecked) await checkAnchor(segment, partitionPath, record.offset);
      const reason = append(segment, record, partitionPath);
      if (reason) await flushLocked(reason, heartbeat);
    }
  };

  return {
    topic,
    partition,
    get closed() {
      return closed;
    },
    bufferedBytes: () => segment?.bytes ?? 0,
    canCutEarly: () => segment !== undefined && segment.forcedEnd === undefined,
    isBusy: () => busy > 0,
    write: (records, heartbeat) => exclusive(() => writeLocked(records, heartbeat)),
    flushIfDue: () =>
      exclusive(async () => {
        if (closed || !segment || segment.forcedEnd !== undefined || now() - segment.openedAt < limits.rotateMs) return undefined;
        return flushLocked('wall-clock');
      }),
    flush: (reason) =>
      exclusive(async () => {
        if (closed || !segment || segment.forcedEnd !== undefined) return undefined;
        return flushLocked(reason);
      }),
    close() {
      closed = true;
      segment = undefined;
    },
  };
}
