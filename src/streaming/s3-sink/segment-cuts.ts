/**
 * Exactly-once objects although some cuts come from the wall clock: every cut is made reproducible.
 *
 * A partition's records are cut into consecutive SEGMENTS [start, end] of Kafka offsets. A flush writes one
 * object per Hive partition the segment touches, keyed by the offset of the first record routed to it
 * (`<topic>+<partition>+<startOffset>`), then commits `end + 1`. Confluent's argument — a replay from the
 * committed offset cuts the same segments, so it overwrites the same keys — holds only while every cut is a
 * pure function of the records (count, bytes, record time). Cuts made by the wall clock (idle partitions), by
 * the memory cap or by a stop are not: a replay that cuts elsewhere writes objects under other keys and the
 * old ones stay, duplicating their rows. So the sink never relies on cutting alike; it REPLAYS THE CUT:
 *
 * 1. Anchor object. The object holding the segment's first row (smallest start offset) is the anchor; it is
 *    PUT first, with the segment's bounds in its user metadata (`segment-start`, `segment-end`), and only
 *    then the segment's other objects. So if any object of a segment exists, its anchor exists. Whenever a
 *    writer starts a segment, it looks at the key its first row would anchor (one HEAD): if that object
 *    exists, a previous run wrote this segment, and the writer cuts exactly at its `segment-end`, whatever
 *    its own rotation rules say. The same records then give the same objects under the same keys, with the
 *    same bytes (the encoders are deterministic), overwriting rather than duplicating. This covers a crash
 *    between the PUTs and the commit, a rebalance, and a deliberate replay from a reset offset.
 * 2. Segment intent. Before the PUTs, the writer commits the segment's start offset again with the metadata
 *    `s3-sink:v1:{"start":S,"end":E}`. That round trip to the group coordinator fences a writer that lost
 *    its partition without noticing (its commit fails, it aborts before writing); the next owner also reads
 *    the intent and cuts at E even before it can look at the anchor.
 *
 * Within a segment, the (shardId, sequenceNumber) de-duplication of relay re-publishes does not move keys:
 * a file's start offset is that of its first routed record, duplicate or not, and the anchor is written
 * even when all of its rows were duplicates.
 */

export interface SegmentBounds {
  /** First offset of the segment. */
  start: number;
  /** Last offset of the segment, inclusive. */
  end: number;
}

const INTENT_PREFIX = 's3-sink:v1:';

/** S3 user-metadata keys of a segment's objects (sent as x-amz-meta-*; S3 lower-cases them). */
export const SEGMENT_METADATA = { start: 'segment-start', end: 'segment-end' } as const;

export function encodeSegmentIntent(bounds: SegmentBounds): string {
  return `${INTENT_PREFIX}${JSON.stringify({ start: bounds.start, end: bounds.end })}`;
}

/** The intent in a committed offset's metadata, if it is ours and still pending at `committedOffset`. */
export function parseSegmentIntent(
  metadata: string | null | undefined,
  committedOffset: number,
): SegmentBounds | undefined {
  if (!metadata || !metadata.startsWith(INTENT_PREFIX)) return undefined;
  try {
    const parsed = JSON.parse(metadata.slice(INTENT_PREFIX.length)) as Partial<SegmentBounds>;
    return boundsIfValid(parsed.start, parsed.end, committedOffset);
  } catch {
    return undefined;
  }
}

export function segmentMetadata(bounds: SegmentBounds): Record<string, string> {
  return { [SEGMENT_METADATA.start]: String(bounds.start), [SEGMENT_METADATA.end]: String(bounds.end) };
}

/** The bounds recorded on an anchor object, if they cover `firstRowOffset`. */
export function parseSegmentMetadata(
  metadata: Record<string, string> | undefined,
  firstRowOffset: number,
): SegmentBounds | undefined {
  if (!metadata) return undefined;
  const start = Number(metadata[SEGMENT_METADATA.start]);
  const end = Number(metadata[SEGMENT_METADATA.end]);
  const bounds = boundsIfValid(start, end);
  return bounds && bounds.start <= firstRowOffset && firstRowOffset <= bounds.end ? bounds : undefined;
}

function boundsIfValid(start: unknown, end: unknown, expectedStart?: number): SegmentBounds | undefined {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  const bounds = { start: start as number, end: end as number };
  if (bounds.end < bounds.start) return undefined;
  if (expectedStart !== undefined && bounds.start !== expectedStart) return undefined;
  return bounds;
}
