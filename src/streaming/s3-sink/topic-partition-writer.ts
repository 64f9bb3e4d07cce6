/**
 * One writer per assigned topic-partition: the buffer of the open segment (one open file per Hive partition)
 * and its rotation state. Rotation on record count, buffered bytes and record time is deterministic; the
 * wall-clock timer (idle partitions), the memory cap and a stop cut segments early — see segment-intent.ts for
 * why that stays exactly-once. Offsets are committed only after every object of the segment is in S3.
 *
 * Calls are serialized by a per-writer lock, so the consumer loop and the flush timer never interleave.
 */
import type { Logger } from '../../observability/logger';
import type { LakeFormat } from './formats';
import type { LakeRow } from './lake-row';
import type { S3SinkMetrics } from './metrics';
import { objectKey, type Partitioner } from './partitioner';
import { encodeSegmentIntent, type SegmentIntent } from './segment-intent';
import type { LakeStorage } from './storage';

export type RotationReason = 'records' | 'bytes' | 'record-time' | 'wall-clock' | 'memory' | 'replay-boundary' | 'stop';

/** One consumed Kafka record, already decoded. */
export interface SinkRecord {
  offset: number;
  /** Undefined for a record that yields no row (it was dead-lettered): it still moves the offset. */
  row?: LakeRow;
  /** shardId/sequenceNumber: identifies the change for de-duplication. */
  changeId?: string;
  /** Size of the record's value, for the buffer accounting. */
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
  rotateMs: number;
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
  pendingIntent?: SegmentIntent;
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
  /** Buffered record bytes of the open segment. */
  bufferedBytes(): number;
  /** Whether the open segment may be cut now (false while replaying an intent's segment). */
  canCutEarly(): boolean;
  /** Appends records in offset order (records below the next offset are ignored: a retried batch), flushing on rotation. */
  write(records: SinkRecord[]): Promise<void>;
  /** Flushes the open segment if the wall clock says it has been open for rotateMs. */
  flushIfDue(): Promise<FlushSummary | undefined>;
  /** Flushes the open segment now (memory cap, stop). */
  flush(reason: RotationReason): Promise<FlushSummary | undefined>;
  /** Drops the buffer and refuses further work: the partition was revoked, its new owner replays. */
  close(): void;
  readonly closed: boolean;
  isBusy(): boolean;
}

interface OpenFile {
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
  // Insertion-ordered set: deleting the first entry evicts the oldest id.
  const recentIds = new Set<string>();

  if (intent) log.info({ intent }, 'pending segment intent: the first segment is cut exactly where the previous owner cut it');

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    busy++;
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run.finally(() => busy--);
  };

  const ensureOpen = () => {
    if (closed) throw new PartitionRevokedError(`${topic}[${partition}] was revoked from this writer`);
  };

  /** Whether the open segment is the replay of a pending intent (its end is fixed). */
  const replayingIntent = () => intent !== undefined && segment !== undefined && segment.start <= intent.end;

  const rotationDue = (): RotationReason | undefined => {
    if (!segment) return undefined;
    if (intent && segment.start <= intent.end) return segment.last >= intent.end ? 'replay-boundary' : undefined;
    if (segment.rows >= limits.flushRecords) return 'records';
    if (segment.bytes >= limits.flushBytes) return 'bytes';
    return undefined;
  };

  const remember = (id: string) => {
    recentIds.add(id);
    if (recentIds.size > options.dedupCapacity) recentIds.delete(recentIds.values().next().value as string);
  };

  const append = (record: SinkRecord): RotationReason | undefined => {
    if (!segment) {
      segment = { start: record.offset, last: record.offset, files: new Map(), rows: 0, bytes: 0, firstChangeMs: undefined, openedAt: now() };
      if (intent && record.offset > intent.end) {
        log.warn({ intent, firstOffset: record.offset }, 'the records of a pending intent are gone (retention?): intent dropped');
        intent = undefined;
      }
    }
    segment.last = record.offset;
    segment.bytes += record.bytes;
    nextOffset = record.offset + 1;
    const row = record.row;
    if (!row) return rotationDue();
    const path = partitioner.partitionPath(row);
    let file = segment.files.get(path);
    if (!file) {
      // The key's start offset is the first record routed here, duplicate or not, so de-duplication never moves keys.
      file = { startOffset: record.offset, rows: [] };
      segment.files.set(path, file);
    }
    if (record.changeId !== undefined && recentIds.has(record.changeId)) {
      metrics.duplicateSkipped();
      return rotationDue();
    }
    if (record.changeId !== undefined) remember(record.changeId);
    file.rows.push(row);
    segment.rows++;
    const changeMs = (row.change_time as Date).getTime();
    segment.firstChangeMs ??= changeMs;
    // Record-time rotation (Confluent's rotate.interval.ms): a pure function of the records, so replays cut alike.
    if (!replayingIntent() && changeMs - segment.firstChangeMs >= limits.rotateMs) return 'record-time';
    return rotationDue();
  };

  const flushLocked = async (reason: RotationReason): Promise<FlushSummary | undefined> => {
    ensureOpen();
    const current = segment;
    if (!current) return undefined;
    const started = process.hrtime.bigint();
    const files = [...current.files.entries()].filter(([, file]) => file.rows.length > 0);
    const objects = files.map(([partitionPath, file]) => ({
      key: objectKey(options.tableRoot, { partitionPath, topic, kafkaPartition: partition, startOffset: file.startOffset, extension: format.extension }),
      body: format.encode(file.rows),
      rows: file.rows.length,
    }));
    if (objects.length > 0) {
      await options.commit(current.start, encodeSegmentIntent({ start: current.start, end: current.last }));
      let next = 0;
      const uploader = async () => {
        while (next < objects.length) {
          const object = objects[next++];
          ensureOpen();
          await storage.put(object.key, object.body, format.contentType);
          metrics.objectWritten(object.body.length);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, objects.length) }, uploader));
    }
    ensureOpen();
    await options.commit(current.last + 1, null);
    if (intent && current.start <= intent.end) intent = undefined;
    segment = undefined;
    const rows = objects.reduce((sum, o) => sum + o.rows, 0);
    const bytes = objects.reduce((sum, o) => sum + o.body.length, 0);
    metrics.rowsOut(rows);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.flushed(reason, seconds);
    const summary = { reason, startOffset: current.start, endOffset: current.last, keys: objects.map((o) => o.key), rows, bytes };
    log.debug({ ...summary, keys: summary.keys.length, ms: Math.round(seconds * 1000) }, 'segment flushed');
    return summary;
  };

  return {
    topic,
    partition,
    bufferedBytes: () => segment?.bytes ?? 0,
    canCutEarly: () => segment !== undefined && !replayingIntent(),
    get closed() {
      return closed;
    },
    isBusy: () => busy > 0,
    write: (records) =>
      exclusive(async () => {
        ensureOpen();
        // A flush that failed earlier (S3 outage) left its segment due: retry it before taking more.
        const pending = rotationDue();
        if (pending) await flushLocked(pending);
        for (const record of records) {
          if (record.offset < nextOffset) continue;
          if (intent && segment && segment.start <= intent.end && record.offset > intent.end) {
            // Offsets between the intent's end and this record are gone: cut where the previous owner cut.
            await flushLocked('replay-boundary');
          }
          const reason = append(record);
          if (reason) await flushLocked(reason);
        }
      }),
    flushIfDue: () =>
      exclusive(async () => {
        if (closed || !segment || replayingIntent() || now() - segment.openedAt < limits.rotateMs) return undefined;
        return flushLocked('wall-clock');
      }),
    flush: (reason) =>
      exclusive(async () => {
        if (closed || !segment || replayingIntent()) return undefined;
        return flushLocked(reason);
      }),
    close() {
      closed = true;
      segment = undefined;
    },
  };
}
