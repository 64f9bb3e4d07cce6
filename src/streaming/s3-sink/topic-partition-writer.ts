/**
 * One writer per assigned topic-partition: the buffer of the open segment (one open file per Hive partition)
 * and its rotation state. Rotation on record count, buffered bytes and record time is deterministic; the
 * wall-clock timer (idle partitions), the memory cap and a stop cut segments early. segment-cuts.ts explains
 * how every cut is replayed exactly, which keeps the objects exactly-once either way. Offsets are committed
 * only after every object of the segment is in S3.
 *
 * A cut segment is sealed and handed to an upload queue, and the writer takes records again at once: its
 * objects encode in the background (DuckDB, off the consumer's thread) while the next segment fills. The queue
 * uploads and commits one segment at a time, in offset order, so the committed offset only ever moves past
 * segments whose objects are all in S3. At most MAX_SEALED segments wait per partition (back-pressure); a failed
 * upload stops the queue and is retried, before anything else, by the next write or timer tick.
 *
 * Record intake is serialized by a per-writer lock, so the consumer loop and the flush timer never interleave.
 */
import type { Logger } from '../../observability/logger';
import { awaitHeartbeating } from '../heartbeat';
import { RecentIds } from '../recent-ids';
import { StreamingError } from '../errors';
import type { LakeFormat } from '../../lake-format/formats';
import type { S3SinkMetrics } from './metrics';
import { objectKey, parseObjectKey, type Partitioner } from '../../lake-format/cdc-layout';
import {
  encodeSegmentIntent,
  parseSegmentMetadata,
  segmentMetadata,
  type SegmentBounds,
} from './segment-cuts';
import type { LakeStorage } from '../../lake-format/storage';

export type RotationReason =
  'records' | 'bytes' | 'record-time' | 'wall-clock' | 'memory' | 'replay-boundary' | 'stop';

/** One consumed Kafka record, already decoded and validated. */
export interface SinkRecord {
  offset: number;
  /** The change's encoder line (change-line.ts); undefined for a record that yields no row (it was dead-lettered): it still moves the offset. */
  line?: Buffer;
  /** The change time (epoch ms) of a record with a line: its Hive partition and record-time rotation. */
  changeMs?: number;
  /** Identifies the change for de-duplication (cdc-record.ts changeId). */
  changeId?: string;
  /** Size of the record, for the buffer accounting. */
  bytes: number;
}

/** Commits one offset of this writer's topic-partition; throws PartitionRevokedError when it no longer owns it. */
export type OffsetCommitter = (offset: number, metadata: string | null) => Promise<void>;

export class PartitionRevokedError extends StreamingError {
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

export interface TopicPartitionWriter {
  readonly topic: string;
  readonly partition: number;
  readonly closed: boolean;
  /** Bytes of the records held: the open segment and the sealed ones not yet uploaded. */
  bufferedBytes(): number;
  /**
   * Appends records in offset order (records below the next offset are ignored: a retried batch), sealing a
   * segment on rotation. It waits only when MAX_SEALED segments are already queued (calling `heartbeat` while it
   * waits), and throws when a failed upload fails again on its retry.
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

interface OpenFile {
  partitionPath: string;
  startOffset: number;
  lines: Buffer[];
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

interface EncodedObject {
  key: string;
  body: Buffer;
  rows: number;
}

/** A cut segment waiting for its upload; its objects encode from the moment it is sealed. */
interface SealedSegment {
  reason: RotationReason;
  bounds: SegmentBounds;
  bytes: number;
  objects: Promise<EncodedObject[]>;
  sealedAt: bigint;
}

/** Uploads of one flush in flight at once (a segment touches few Hive partitions, usually one or two). */
const PUT_CONCURRENCY = 4;
/** Sealed segments queued per partition before write() waits: encoding of the next overlaps the upload of one. */
const MAX_SEALED = 2;
/** How often a wait on the upload queue heartbeats the consumer group (kafkajs sends one per heartbeatInterval). */
const HEARTBEAT_EVERY_MS = 500;
/** Hive partitions whose object listing a writer keeps (the oldest is dropped; a replay lists it again). */
const MAX_LISTINGS = 48;

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
  const sealed: SealedSegment[] = [];
  let uploading: Promise<void> | undefined;
  /** The error that stopped the upload queue; cleared when a retry gets through. */
  let failure: Error | undefined;
  let progressWaiters: (() => void)[] = [];
  const listings = new Map<string, Promise<Set<number>>>();

  if (intent)
    log.info({ intent }, 'pending segment intent: the first segment ends where the previous owner cut it');

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    busy++;
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run.finally(() => busy--);
  };

  const ensureOpen = () => {
    if (closed) throw new PartitionRevokedError(`${topic}[${partition}] was revoked from this writer`);
  };

  /** Wakes whoever waits for the queue to move (an upload finished or failed, or the writer closed). */
  const progressed = () => {
    const waiters = progressWaiters;
    progressWaiters = [];
    for (const wake of waiters) wake();
  };
  const nextProgress = () => new Promise<void>((resolve) => progressWaiters.push(resolve));

  const keyOf = (file: { partitionPath: string; startOffset: number }) =>
    objectKey(options.tableRoot, {
      partitionPath: file.partitionPath,
      topic,
      kafkaPartition: partition,
      startOffset: file.startOffset,
      extension: format.extension,
    });

  const rotationDue = (): RotationReason | undefined => {
    if (!segment) return undefined;
    if (segment.forcedEnd !== undefined)
      return segment.last >= segment.forcedEnd ? 'replay-boundary' : undefined;
    if (segment.rows >= limits.flushRecords) return 'records';
    if (segment.bytes >= limits.flushBytes) return 'bytes';
    return undefined;
  };

  const openSegment = (offset: number): Segment => {
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
    return {
      start: offset,
      last: offset,
      files: new Map(),
      rows: 0,
      bytes: 0,
      firstChangeMs: undefined,
      openedAt: now(),
      forcedEnd,
      anchorChecked: false,
    };
  };

  /**
   * Start offsets of this topic-partition's objects in one Hive partition, listed once per writer. A segment's
   * anchor lookup then costs a round trip only when its key exists (a replay) or its hour is new to this
   * writer, instead of one HEAD per segment that would hold up the partition's records. Only the partition's
   * owner writes these keys, and a new owner starts a new writer (and listing), so the listing stays true.
   */
  const existingStarts = (partitionPath: string): Promise<Set<number>> => {
    let listed = listings.get(partitionPath);
    if (!listed) {
      const prefix = `${options.tableRoot}${partitionPath}/${topic}+${partition}+`;
      const listing = storage.list(prefix).then((objects) => {
        const starts = new Set<number>();
        for (const object of objects) {
          const location = parseObjectKey(object.key);
          if (location?.topic === topic && location.kafkaPartition === partition)
            starts.add(location.startOffset);
        }
        return starts;
      });
      // A failed listing is not kept: the next lookup lists again.
      listing.catch(() => {
        if (listings.get(partitionPath) === listing) listings.delete(partitionPath);
      });
      listings.set(partitionPath, listing);
      if (listings.size > MAX_LISTINGS) listings.delete(listings.keys().next().value!);
      listed = listing;
    }
    return listed;
  };

  /** The first row of a segment: if a previous run wrote the object it anchors, replay that run's cut. */
  const checkAnchor = async (current: Segment, partitionPath: string, offset: number) => {
    if (current.forcedEnd !== undefined) {
      current.anchorChecked = true;
      return;
    }
    const key = keyOf({ partitionPath, startOffset: offset });
    const head = (await existingStarts(partitionPath)).has(offset) ? await storage.head(key) : undefined;
    // Only once the lookup succeeded: a failed lookup is retried with the batch, never skipped.
    current.anchorChecked = true;
    const bounds = parseSegmentMetadata(head?.metadata, offset);
    if (bounds) {
      current.forcedEnd = bounds.end;
      log.debug({ anchorOffset: offset, bounds }, 'segment written before: replaying its cut');
    }
  };

  const append = (
    current: Segment,
    record: SinkRecord,
    partitionPath: string | undefined,
  ): RotationReason | undefined => {
    current.last = record.offset;
    current.bytes += record.bytes;
    nextOffset = record.offset + 1;
    const line = record.line;
    if (!line || partitionPath === undefined) return rotationDue();
    let file = current.files.get(partitionPath);
    if (!file) {
      // The key's start offset is the first record routed here, duplicate or not, so de-duplication never moves keys.
      file = { partitionPath, startOffset: record.offset, lines: [] };
      current.files.set(partitionPath, file);
    }
    if (record.changeId !== undefined && recentIds.has(record.changeId)) {
      metrics.duplicateSkipped();
      return rotationDue();
    }
    if (record.changeId !== undefined) recentIds.add(record.changeId);
    file.lines.push(line);
    current.rows++;
    const changeMs = record.changeMs!;
    current.firstChangeMs ??= changeMs;
    // Record-time rotation (Confluent's rotate.interval.ms): a pure function of the records, so replays cut alike.
    if (
      current.forcedEnd === undefined &&
      limits.rotateRecordMs > 0 &&
      changeMs - current.firstChangeMs >= limits.rotateRecordMs
    ) {
      return 'record-time';
    }
    return rotationDue();
  };

  /** Cuts the open segment: its objects start encoding now, and it joins the upload queue. */
  const seal = (reason: RotationReason) => {
    const current = segment;
    if (!current) return;
    segment = undefined;
    // The anchor (first row's file) goes first and is written even if de-duplication emptied it.
    const files = [...current.files.values()]
      .sort((a, b) => a.startOffset - b.startOffset)
      .filter((file, index) => index === 0 || file.lines.length > 0);
    const objects = Promise.all(
      files.map(async (file) => {
        const rows = file.lines.length;
        const body = await format.encodeChanges(file.lines);
        file.lines = []; // encoded: only the body is kept until the upload
        return { key: keyOf(file), body, rows };
      }),
    );
    objects.catch(() => undefined); // awaited by the upload; a failure surfaces there
    sealed.push({
      reason,
      bounds: { start: current.start, end: current.last },
      bytes: current.bytes,
      objects,
      sealedAt: process.hrtime.bigint(),
    });
    void upload().catch(() => undefined); // the failure is kept in `failure` and retried by the next write or tick
  };

  /** Commits the intent, PUTs the objects (anchor first), commits past the segment. */
  const uploadSegment = async (job: SealedSegment) => {
    ensureOpen();
    const objects = await job.objects;
    const { bounds } = job;
    if (objects.length > 0) {
      const metadata = segmentMetadata(bounds);
      ensureOpen();
      await options.commit(bounds.start, encodeSegmentIntent(bounds));
      ensureOpen();
      await storage.put(objects[0].key, objects[0].body, format.contentType, metadata);
      metrics.objectWritten(objects[0].body.length);
      let next = 1;
      const uploader = async () => {
        while (next < objects.length) {
          const object = objects[next++];
          ensureOpen();
          await storage.put(object.key, object.body, format.contentType, metadata);
          metrics.objectWritten(object.body.length);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, objects.length - 1) }, uploader));
    }
    ensureOpen();
    await options.commit(bounds.end + 1, null);
    const rows = objects.reduce((sum, o) => sum + o.rows, 0);
    const bytes = objects.reduce((sum, o) => sum + o.body.length, 0);
    metrics.rowsOut(rows);
    const seconds = Number(process.hrtime.bigint() - job.sealedAt) / 1e9;
    metrics.flushed(job.reason, seconds);
    log.debug(
      {
        reason: job.reason,
        startOffset: bounds.start,
        endOffset: bounds.end,
        keys: objects.length,
        rows,
        bytes,
        ms: Math.round(seconds * 1000),
      },
      'segment flushed',
    );
  };

  /** Uploads the queue until it is empty or an upload fails. */
  const runQueue = async () => {
    await Promise.resolve(); // `uploading` is set before this run can end
    try {
      while (sealed.length > 0) {
        await uploadSegment(sealed[0]);
        sealed.shift();
        failure = undefined;
        progressed();
      }
    } catch (error) {
      if (!(error instanceof PartitionRevokedError) && failure?.message !== (error as Error).message) {
        log.warn(
          { error: (error as Error).message, queued: sealed.length },
          'segment upload failed; retried before more records are taken',
        );
      }
      failure = error as Error;
      throw error;
    } finally {
      uploading = undefined;
      progressed();
    }
  };

  /** Starts the upload queue, or joins the run in progress: one run at a time keeps the commits in order. */
  const upload = (): Promise<void> => {
    uploading ??= runQueue();
    return uploading;
  };

  /** An upload that failed before (an S3 outage) is retried, when no run is in progress. */
  const retryFailedUpload = () => (failure && !uploading ? upload() : undefined);

  /**
   * Seals the open segment, then applies back-pressure: waits while too many segments are queued, retrying a
   * failed upload rather than waiting on it.
   */
  const sealAndWaitForRoom = async (reason: RotationReason, heartbeat?: () => Promise<void>) => {
    seal(reason);
    while (sealed.length > MAX_SEALED) {
      ensureOpen();
      await awaitHeartbeating(retryFailedUpload() ?? nextProgress(), heartbeat, HEARTBEAT_EVERY_MS);
    }
    ensureOpen();
  };

  const writeLocked = async (records: SinkRecord[], heartbeat?: () => Promise<void>) => {
    ensureOpen();
    // Before more records are taken.
    await retryFailedUpload();
    for (const record of records) {
      ensureOpen();
      if (record.offset < nextOffset) continue;
      if (segment?.forcedEnd !== undefined && record.offset > segment.forcedEnd) {
        // The offsets up to the replayed cut are gone (retention): cut where the previous run cut anyway.
        await sealAndWaitForRoom('replay-boundary', heartbeat);
      }
      segment ??= openSegment(record.offset);
      const partitionPath =
        record.line && record.changeMs !== undefined ? partitioner.partitionPath(record.changeMs) : undefined;
      if (partitionPath !== undefined && !segment.anchorChecked)
        await checkAnchor(segment, partitionPath, record.offset);
      const reason = append(segment, record, partitionPath);
      if (reason) await sealAndWaitForRoom(reason, heartbeat);
    }
  };

  /**
   * Seals the open segment if it may be cut early (not while it replays a previous cut) and `due` says so, then
   * uploads everything sealed: outside the intake lock, so records keep coming in meanwhile.
   */
  const cutAndUpload = async (
    reason: RotationReason,
    due: (open: Segment) => boolean,
    heartbeat?: () => Promise<void>,
  ) => {
    await exclusive(async () => {
      if (!closed && segment && segment.forcedEnd === undefined && due(segment)) seal(reason);
    });
    while (!closed && sealed.length > 0) await awaitHeartbeating(upload(), heartbeat, HEARTBEAT_EVERY_MS);
  };

  return {
    topic,
    partition,
    get closed() {
      return closed;
    },
    bufferedBytes: () => (segment?.bytes ?? 0) + sealed.reduce((sum, job) => sum + job.bytes, 0),
    isBusy: () => busy > 0,
    write: (records, heartbeat) => exclusive(() => writeLocked(records, heartbeat)),
    flushIfDue: () => cutAndUpload('wall-clock', (open) => now() - open.openedAt >= limits.rotateMs),
    flush: (reason, heartbeat) => cutAndUpload(reason, () => true, heartbeat),
    close() {
      closed = true;
      segment = undefined;
      sealed.length = 0;
      progressed();
    },
  };
}
