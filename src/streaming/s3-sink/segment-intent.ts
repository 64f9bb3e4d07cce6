/**
 * Exactly-once objects with wall-clock flushes: the segment intent.
 *
 * A partition's records are cut into consecutive SEGMENTS [start, end] of Kafka offsets; a flush writes one
 * object per Hive partition touched by the segment, keyed by the offset of the first record routed to it
 * (`<topic>+<partition>+<startOffset>`), and then commits `end + 1`. Confluent's argument applies as long as
 * the cuts are a pure function of the records (count, bytes, record time): a replay from the committed offset
 * cuts the same segments and overwrites the same keys with the same bytes. Cuts made by the wall clock (idle
 * partitions), by the memory cap or by a graceful stop are NOT reproducible, so a crash after the objects
 * were written but before `end + 1` was committed could leave objects that a replay with other cuts does not
 * overwrite: duplicates.
 *
 * The fix is to make every cut durable before it has effects. A flush is three steps:
 *   1. commit offset `start` (unchanged) with metadata `s3-sink:v1:{"start":S,"end":E}` — the intent;
 *   2. PUT the segment's objects;
 *   3. commit `E + 1` with no metadata.
 * Whoever is assigned the partition next (this process after a restart, or another instance after a
 * rebalance) reads the committed offset with its metadata; when an intent starts at the committed offset,
 * the first segment it cuts ends exactly at E whatever its own rotation rules say. It re-reads the same
 * records, so it writes the same objects under the same keys (identical bytes: the encoders are
 * deterministic) and then commits E + 1. Objects that could exist without their commit are therefore always
 * overwritten, never orphaned, and no listing of the bucket is needed. The intent commit also fences a
 * writer that lost its partition: it aborts before step 2 when a rebalance happened meanwhile.
 *
 * Within a segment, the (shardId, sequenceNumber) de-duplication of relay re-publishes does not move keys:
 * a file's start offset is that of its first routed record, duplicate or not.
 */

export interface SegmentIntent {
  /** First offset of the segment (the offset committed together with the intent). */
  start: number;
  /** Last offset of the segment, inclusive. */
  end: number;
}

const PREFIX = 's3-sink:v1:';

export function encodeSegmentIntent(intent: SegmentIntent): string {
  return `${PREFIX}${JSON.stringify({ start: intent.start, end: intent.end })}`;
}

/** The intent in a committed offset's metadata, if it is one of ours and still pending at `committedOffset`. */
export function parseSegmentIntent(metadata: string | null | undefined, committedOffset: number): SegmentIntent | undefined {
  if (!metadata || !metadata.startsWith(PREFIX)) return undefined;
  try {
    const parsed = JSON.parse(metadata.slice(PREFIX.length)) as Partial<SegmentIntent>;
    if (!Number.isSafeInteger(parsed.start) || !Number.isSafeInteger(parsed.end)) return undefined;
    const intent = { start: parsed.start as number, end: parsed.end as number };
    return intent.start === committedOffset && intent.end >= intent.start ? intent : undefined;
  } catch {
    return undefined;
  }
}
