/**
 * Backfill activities: a retry-safe export of the orders table to S3 as a Parquet snapshot.
 *
 * Layout (src/lake-format/snapshot-layout.ts): `<snapshotPrefix>/snapshot_id=<id>/segment=<i>/part-<nnnnn>.parquet`.
 * Part n of a segment holds the items of Scan pages [n·pagesPerPart, (n+1)·pagesPerPart) of that segment with a
 * fixed page size (Limit), so part boundaries depend only on the table's content, not on timing. After each part
 * is in S3 the activity heartbeats `{ part, startKey }` (the LastEvaluatedKey at that boundary); an attempt that
 * replaces a crashed one resumes from there and rewrites at most the parts after the last heartbeat the server
 * kept — same keys, same bytes.
 */
import {
  DescribeTableCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { activityInfo, Context } from '@temporalio/activity';
import type { Config } from '../config';
import { snapshotManifestKey, snapshotPartKey } from '../lake-format/snapshot-layout';
import type { Logger } from '../observability/logger';
import type { DynamoKey, SegmentCursor } from '../contract/types';
import { permanentFailure, withAwsErrors } from './errors';
import { encodeSnapshotParquet, SnapshotItemError } from '../lake-format/snapshot-parquet';
import { FailureType } from '../contract/failure-types';

export interface ExportSegmentInput {
  table: string;
  bucket: string;
  /** The snapshot's folder (snapshotFolder): every object of it is under this key prefix. */
  prefix: string;
  segment: number;
  totalSegments: number;
  pageSize: number;
  pagesPerPart: number;
  /** Where the workflow's cursor stands: the next part and the ExclusiveStartKey of its first page. */
  startPart: number;
  startKey: DynamoKey | null;
  /** Return to the workflow after this many parts (it records progress, and continues-as-new when needed). */
  maxParts: number;
  /** Read throttle of this segment (items/s); undefined: none. */
  maxItemsPerSecond?: number;
}

/** Where the segment stands after this activity; its rows and bytes are this activity's (all its attempts), not the whole segment's. */
export interface ExportSegmentResult extends Omit<SegmentCursor, 'resumes'> {
  /** Set when this attempt resumed from a previous attempt's heartbeat: the part it resumed at. */
  resumedFromPart?: number;
}

/** Heartbeat details: the state at the last part boundary whose object is in S3. */
interface SegmentHeartbeat {
  part: number;
  startKey: DynamoKey | null;
  rows: number;
  bytes: number;
  done: boolean;
}

/** Heartbeat interval of a throttle wait when the activity has no heartbeat timeout. */
const UNTIMED_HEARTBEAT_MS = 10_000;

/**
 * Waits `ms` in slices of a third of the heartbeat timeout, heartbeating `progress` after each: a long throttle
 * wait is not silence, so the server does not time the attempt out. Short slices also keep every timer far
 * below setTimeout's 2^31 ms limit, past which Node fires it after 1 ms.
 */
async function throttleWait(ctx: Context, ms: number, progress: SegmentHeartbeat): Promise<void> {
  const slice = Math.max(100, Math.floor((activityInfo().heartbeatTimeoutMs ?? UNTIMED_HEARTBEAT_MS) / 3));
  for (let left = ms; left > 0; left -= slice) {
    await ctx.sleep(Math.min(slice, left));
    ctx.heartbeat(progress);
  }
}

export interface SnapshotManifest {
  snapshotId: string;
  table: string;
  totalSegments: number;
  pageSize: number;
  pagesPerPart: number;
  rows: number;
  parts: number;
  segments: { segment: number; parts: number; rows: number; bytes: number }[];
}

export function createBackfillActivities(deps: {
  dynamodb: DynamoDBClient;
  s3: S3Client;
  config: Config;
  logger: Logger;
}) {
  const { dynamodb, s3, logger } = deps;

  return {
    /** Checks that table and bucket exist (non-retryable failures otherwise) and estimates the item count. */
    async planBackfill(input: { table: string; bucket: string }): Promise<{ estimatedItems: number }> {
      const table = await withAwsErrors(`dynamodb.DescribeTable ${input.table}`, () =>
        dynamodb.send(new DescribeTableCommand({ TableName: input.table })),
      ).catch((error: { type?: string }) => {
        if (error.type === FailureType.ResourceNotFound) {
          throw permanentFailure(FailureType.TableNotFound, `table ${input.table} does not exist`, {
            table: input.table,
          });
        }
        throw error;
      });
      await withAwsErrors(`s3.HeadBucket ${input.bucket}`, () =>
        s3.send(new HeadBucketCommand({ Bucket: input.bucket })),
      ).catch((error: { type?: string }) => {
        if (
          error.type === FailureType.ResourceNotFound ||
          error.type === FailureType.BucketNotFound ||
          error.type === FailureType.AwsClientError
        ) {
          throw permanentFailure(
            FailureType.BucketNotFound,
            `bucket ${input.bucket} does not exist (run the provision workflow)`,
            {
              bucket: input.bucket,
            },
          );
        }
        throw error;
      });
      return { estimatedItems: table.Table?.ItemCount ?? 0 };
    },

    async exportSegment(input: ExportSegmentInput): Promise<ExportSegmentResult> {
      const ctx = Context.current();
      const rate = input.maxItemsPerSecond;
      if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) {
        throw permanentFailure(
          FailureType.InvalidRequest,
          `maxItemsPerSecond must be a positive number, got ${rate}`,
          { maxItemsPerSecond: rate },
        );
      }
      const previous = activityInfo().heartbeatDetails as SegmentHeartbeat | undefined;
      const state: SegmentHeartbeat = previous
        ? { ...previous }
        : { part: input.startPart, startKey: input.startKey, rows: 0, bytes: 0, done: false };
      const resumedFromPart = previous ? previous.part : undefined;
      if (previous) {
        logger.info(
          { segment: input.segment, part: previous.part, attempt: activityInfo().attempt },
          'resuming segment from heartbeat',
        );
      }
      const started = Date.now();
      let itemsRead = 0;
      while (!state.done && state.part - input.startPart < input.maxParts) {
        const items: Record<string, AttributeValue>[] = [];
        let key = state.startKey;
        let exhausted = false;
        for (let page = 0; page < input.pagesPerPart; page++) {
          const response = await withAwsErrors(`dynamodb.Scan ${input.table} segment ${input.segment}`, () =>
            dynamodb.send(
              new ScanCommand({
                TableName: input.table,
                Segment: input.segment,
                TotalSegments: input.totalSegments,
                Limit: input.pageSize,
                ...(key ? { ExclusiveStartKey: key as unknown as Record<string, AttributeValue> } : {}),
              }),
            ),
          );
          items.push(...(response.Items ?? []));
          itemsRead += response.Items?.length ?? 0;
          key = (response.LastEvaluatedKey as DynamoKey | undefined) ?? null;
          // Liveness only: the details stay those of the last boundary that is durable in S3.
          ctx.heartbeat(state);
          if (rate !== undefined) {
            const due = (itemsRead / rate) * 1000 - (Date.now() - started);
            if (due > 0) await throttleWait(ctx, due, state);
          }
          if (!key) {
            exhausted = true;
            break;
          }
        }
        if (items.length > 0) {
          let body: Buffer;
          try {
            body = encodeSnapshotParquet(items);
          } catch (error) {
            if (error instanceof SnapshotItemError)
              throw permanentFailure(FailureType.InvalidItem, error.message);
            throw error;
          }
          const objectKey = snapshotPartKey(input.prefix, input.segment, state.part);
          await withAwsErrors(`s3.PutObject ${objectKey}`, () =>
            s3.send(
              new PutObjectCommand({
                Bucket: input.bucket,
                Key: objectKey,
                Body: body,
                ContentType: 'application/vnd.apache.parquet',
                Metadata: { rows: String(items.length) },
              }),
            ),
          );
          state.part += 1;
          state.rows += items.length;
          state.bytes += body.length;
        }
        state.startKey = key;
        state.done = exhausted;
        ctx.heartbeat(state);
      }
      return {
        segment: input.segment,
        nextPart: state.part,
        startKey: state.startKey,
        rows: state.rows,
        bytes: state.bytes,
        done: state.done,
        ...(resumedFromPart !== undefined ? { resumedFromPart } : {}),
      };
    },

    /** Written last: its presence says the snapshot is complete. Deterministic content (no wall-clock time). */
    async writeSnapshotManifest(input: {
      bucket: string;
      prefix: string;
      manifest: SnapshotManifest;
    }): Promise<string> {
      const key = snapshotManifestKey(input.prefix);
      await withAwsErrors(`s3.PutObject ${key}`, () =>
        s3.send(
          new PutObjectCommand({
            Bucket: input.bucket,
            Key: key,
            Body: `${JSON.stringify(input.manifest, null, 2)}\n`,
            ContentType: 'application/json',
          }),
        ),
      );
      return key;
    },
  };
}

export type BackfillActivities = ReturnType<typeof createBackfillActivities>;
