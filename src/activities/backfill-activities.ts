/**
 * Backfill activities: a retry-safe export of the orders table to S3 as a Parquet snapshot.
 *
 * Layout (src/lake-format/snapshot-layout.ts): `<snapshotPrefix>/snapshot_id=<id>/segment=<i>/part-<nnnnn>.parquet`.
 * A part is the longest run of whole Scan pages (fixed page size, Limit) after the previous part whose Parquet
 * encoding fits `targetBytes` (at most `pagesPerPart` pages when set; a single page over the target is a part of
 * its own), so part boundaries depend only on the table's content, not on timing or on where an attempt started.
 * After each part is in S3 the activity heartbeats `{ part, startKey }` (the LastEvaluatedKey at that boundary);
 * an attempt that replaces a crashed one resumes from there and rewrites at most the parts after the last
 * heartbeat the server kept — same keys, same bytes.
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
import { createScanPacer } from './scan-pacing';
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
  /** At most this many pages per part; undefined: bounded by targetBytes alone. */
  pagesPerPart?: number;
  targetBytes: number;
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

/** One Scan page and the LastEvaluatedKey after it (null: the segment ends with it). */
interface ScanPage {
  items: Record<string, AttributeValue>[];
  keyAfter: DynamoKey | null;
}

function encodePages(pages: ScanPage[]): Buffer {
  try {
    return encodeSnapshotParquet(pages.flatMap((page) => page.items));
  } catch (error) {
    if (error instanceof SnapshotItemError) throw permanentFailure(FailureType.InvalidItem, error.message);
    throw error;
  }
}

const rowsOf = (pages: ScanPage[]) => pages.reduce((n, page) => n + page.items.length, 0);

export interface SnapshotManifest {
  snapshotId: string;
  table: string;
  totalSegments: number;
  pageSize: number;
  pagesPerPart?: number;
  targetBytes: number;
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
      // Liveness only during a wait: the details stay those of the last boundary that is durable in S3.
      const pacer = createScanPacer(ctx, rate, () => state);
      const readPage = async (key: DynamoKey | null): Promise<ScanPage> => {
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
        // Liveness only: the details stay those of the last boundary that is durable in S3.
        ctx.heartbeat(state);
        await pacer.read(response.Items?.length ?? 0);
        return {
          items: response.Items ?? [],
          keyAfter: (response.LastEvaluatedKey as DynamoKey | undefined) ?? null,
        };
      };
      const pagesCap = input.pagesPerPart ?? Number.POSITIVE_INFINITY;
      /** Pages read past the last part's end: the next part's first pages (an attempt re-reads them from the cursor). */
      let carried: ScanPage[] = [];
      /** Encoded bytes per row of the last encoding: when to try an encoding, never where a part ends. */
      let bytesPerRow: number | undefined;

      /**
       * Grows the part page by page until its encoding is over the target (encoding only when the estimate says
       * so), then gives back the last pages until it fits: with sizes growing with the rows, that is the longest
       * run of pages that fits, whatever the estimates were.
       */
      const nextPart = async (): Promise<{ pages: ScanPage[]; body: Buffer }> => {
        const pages = carried;
        carried = [];
        let body: Buffer | undefined;
        const canGrow = () => pages.length < pagesCap && pages[pages.length - 1]?.keyAfter !== null;
        while (canGrow()) {
          pages.push(await readPage(pages.length > 0 ? pages[pages.length - 1].keyAfter : state.startKey));
          body = undefined;
          const rows = rowsOf(pages);
          if (rows > 0 && (bytesPerRow === undefined || rows * bytesPerRow > input.targetBytes)) {
            body = encodePages(pages);
            bytesPerRow = body.length / rows;
            if (body.length > input.targetBytes) break;
          }
        }
        body ??= encodePages(pages);
        while (body.length > input.targetBytes && pages.length > 1) {
          carried.unshift(pages.pop()!);
          body = encodePages(pages);
        }
        return { pages, body };
      };

      while (!state.done && state.part - input.startPart < input.maxParts) {
        const { pages, body } = await nextPart();
        const rows = rowsOf(pages);
        if (rows > 0) {
          const objectKey = snapshotPartKey(input.prefix, input.segment, state.part);
          await withAwsErrors(`s3.PutObject ${objectKey}`, () =>
            s3.send(
              new PutObjectCommand({
                Bucket: input.bucket,
                Key: objectKey,
                Body: body,
                ContentType: 'application/vnd.apache.parquet',
                Metadata: { rows: String(rows) },
              }),
            ),
          );
          state.part += 1;
          state.rows += rows;
          state.bytes += body.length;
        }
        state.startKey = pages[pages.length - 1].keyAfter;
        state.done = state.startKey === null;
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
