/**
 * The upload queue of one topic-partition writer. A cut segment is queued and its objects start encoding at once
 * (DuckDB, off the consumer's thread) while the writer fills the next one. The queue uploads and commits one
 * segment at a time, in offset order, so the committed offset only ever moves past segments whose objects are
 * all in S3: intent commit, anchor PUT, the other PUTs, commit past the segment (segment-cuts.ts). At most
 * MAX_QUEUED segments wait (back-pressure); a failed upload stops the queue and is retried, before anything
 * else, by the writer's next write or timer tick.
 */
import { mapWithConcurrency } from '../../support/concurrency';
import type { DeadLetter } from '../dlq';
import type { LakeFormat } from '../../lake-format/formats';
import type { LakeStorage } from '../../lake-format/storage';
import type { Logger } from '../../observability/logger';
import { awaitHeartbeating } from '../heartbeat';
import type { S3SinkMetrics } from './metrics';
import type { RotationReason } from './open-segment';
import { PartitionRevokedError, type OffsetCommitter } from './partition-offsets';
import { encodeSegmentIntent, segmentMetadata, type SegmentBounds } from './segment-cuts';

/** A cut segment: its objects' keys and lines, the anchor first. */
export interface CutSegment {
  reason: RotationReason;
  bounds: SegmentBounds;
  bytes: number;
  files: { key: string; lines: Buffer[] }[];
  /** Letters of the segment's rejected records: published with the commit past the segment, not before. */
  letters: DeadLetter[];
}

export interface SegmentUploaderOptions {
  storage: LakeStorage;
  format: LakeFormat;
  commit: OffsetCommitter;
  /** Throws PartitionRevokedError once the writer is closed: checked before every commit and PUT. */
  ensureOpen: () => void;
  metrics: S3SinkMetrics;
  logger: Logger;
}

export interface SegmentUploader {
  /**
   * Queues a cut segment (throws once the writer is closed): its objects encode from now on, its upload starts
   * when the ones before are done.
   */
  enqueue(segment: CutSegment): void;
  /** Bytes of the records of the queued segments. */
  queuedBytes(): number;
  /** Retries an upload that failed before (an S3 outage) unless a run is in progress; undefined if none failed. */
  retryFailed(): Promise<void> | undefined;
  /** Waits (heartbeating) while more than MAX_QUEUED segments are queued, retrying a failed upload meanwhile. */
  waitForRoom(heartbeat?: () => Promise<void>): Promise<void>;
  /** Uploads everything queued (heartbeating while it waits); throws when an upload fails. */
  drain(heartbeat?: () => Promise<void>): Promise<void>;
  /** Drops the queue: the partition was revoked, its new owner replays. */
  close(): void;
}

interface EncodedObject {
  key: string;
  body: Buffer;
  rows: number;
}

interface QueuedSegment {
  reason: RotationReason;
  bounds: SegmentBounds;
  bytes: number;
  objects: Promise<EncodedObject[]>;
  letters: DeadLetter[];
  sealedAt: bigint;
}

/** Uploads of one flush in flight at once (a segment touches few Hive partitions, usually one or two). */
const PUT_CONCURRENCY = 4;
/** Segments queued before a writer waits: encoding of the next overlaps the upload of one. */
const MAX_QUEUED = 2;
/** How often a wait on the queue heartbeats the consumer group (kafkajs sends one per heartbeatInterval). */
const HEARTBEAT_EVERY_MS = 500;

export function createSegmentUploader(options: SegmentUploaderOptions): SegmentUploader {
  const { storage, format, commit, ensureOpen, metrics, logger: log } = options;
  const queue: QueuedSegment[] = [];
  let uploading: Promise<void> | undefined;
  /** The error that stopped the queue; cleared when a retry gets through. */
  let failure: Error | undefined;
  let progressWaiters: (() => void)[] = [];

  /** Wakes whoever waits for the queue to move (an upload finished or failed, or the writer closed). */
  const progressed = () => {
    const waiters = progressWaiters;
    progressWaiters = [];
    for (const wake of waiters) wake();
  };
  const nextProgress = () => new Promise<void>((resolve) => progressWaiters.push(resolve));

  const put = async (object: EncodedObject, metadata: Record<string, string>) => {
    ensureOpen();
    await storage.put(object.key, object.body, format.contentType, metadata);
    metrics.objectWritten(object.body.length);
  };

  /** Commits the intent, PUTs the objects (anchor first), commits past the segment. */
  const uploadSegment = async (job: QueuedSegment) => {
    ensureOpen();
    const objects = await job.objects;
    const { bounds } = job;
    if (objects.length > 0) {
      const metadata = segmentMetadata(bounds);
      ensureOpen();
      await commit(bounds.start, encodeSegmentIntent(bounds));
      await put(objects[0], metadata);
      await mapWithConcurrency(objects.slice(1), PUT_CONCURRENCY, (object) => put(object, metadata));
    }
    ensureOpen();
    // The segment's dead letters go out in the same transaction as this commit: once its objects are in S3.
    await commit(bounds.end + 1, null, job.letters);
    for (const letter of job.letters) metrics.deadLetter(letter.reason.split(':')[0]);
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
      while (queue.length > 0) {
        await uploadSegment(queue[0]);
        queue.shift();
        failure = undefined;
        progressed();
      }
    } catch (error) {
      if (!(error instanceof PartitionRevokedError) && failure?.message !== (error as Error).message) {
        log.warn(
          { err: error, queued: queue.length },
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

  /** Starts the queue, or joins the run in progress: one run at a time keeps the commits in order. */
  const upload = (): Promise<void> => {
    uploading ??= runQueue();
    return uploading;
  };

  const retryFailed = () => (failure && !uploading ? upload() : undefined);

  return {
    enqueue(segment) {
      ensureOpen(); // a closed writer's queue stays empty, so a flush after close has nothing to wait for
      const objects = Promise.all(
        segment.files.map(async (file) => {
          const rows = file.lines.length;
          const body = await format.encodeChanges(file.lines);
          file.lines = []; // encoded: only the body is kept until the upload
          return { key: file.key, body, rows };
        }),
      );
      objects.catch(() => undefined); // awaited by the upload; a failure surfaces there
      const { reason, bounds, bytes, letters } = segment;
      queue.push({ reason, bounds, bytes, objects, letters, sealedAt: process.hrtime.bigint() });
      void upload().catch(() => undefined); // the failure is kept in `failure` and retried by the next write or tick
    },
    queuedBytes: () => queue.reduce((sum, job) => sum + job.bytes, 0),
    retryFailed,
    async waitForRoom(heartbeat) {
      while (queue.length > MAX_QUEUED) {
        ensureOpen();
        await awaitHeartbeating(retryFailed() ?? nextProgress(), heartbeat, HEARTBEAT_EVERY_MS);
      }
      ensureOpen();
    },
    async drain(heartbeat) {
      while (queue.length > 0) await awaitHeartbeating(upload(), heartbeat, HEARTBEAT_EVERY_MS);
    },
    close() {
      queue.length = 0;
      progressed();
    },
  };
}
