/**
 * The open segment of a topic-partition: the records taken since the last cut, one file per Hive partition,
 * and the deterministic rotation rules (record count, buffered bytes, record time) that decide where it is cut.
 * segment-cuts.ts explains why a segment that replays a previous cut ignores these rules.
 */
import type { DeadLetter } from '../dlq';
import type { RecentIds } from '../recent-ids';

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
  /** Set when the record was rejected: its letter goes out with the commit past the segment holding it. */
  letter?: DeadLetter;
}

export interface RotationLimits {
  flushRecords: number;
  flushBytes: number;
  /** Wall clock: a segment open this long is flushed by the timer, records or not. */
  rotateMs: number;
  /** Record time: a change this far past the segment's first change cuts it (0: off). */
  rotateRecordMs: number;
}

/** The lines of one Hive partition, to become one object keyed by its first record's offset. */
export interface SegmentFile {
  partitionPath: string;
  startOffset: number;
  lines: Buffer[];
}

export interface OpenSegment {
  start: number;
  last: number;
  files: Map<string, SegmentFile>;
  rows: number;
  bytes: number;
  firstChangeMs: number | undefined;
  openedAt: number;
  /** Set when this segment replays a cut made before (intent or anchor): it must end exactly here. */
  forcedEnd: number | undefined;
  /** Whether the anchor of this segment's first row was looked up already. */
  anchorChecked: boolean;
  /** Dead letters of the segment's rejected records, in offset order. */
  letters: DeadLetter[];
}

export function openSegment(start: number, openedAt: number, forcedEnd: number | undefined): OpenSegment {
  return {
    start,
    last: start,
    files: new Map(),
    rows: 0,
    bytes: 0,
    firstChangeMs: undefined,
    openedAt,
    forcedEnd,
    anchorChecked: false,
    letters: [],
  };
}

function rotationDue(segment: OpenSegment, limits: RotationLimits): RotationReason | undefined {
  if (segment.forcedEnd !== undefined)
    return segment.last >= segment.forcedEnd ? 'replay-boundary' : undefined;
  if (segment.rows >= limits.flushRecords) return 'records';
  if (segment.bytes >= limits.flushBytes) return 'bytes';
  return undefined;
}

/**
 * Adds a record to the segment (its line to the file of `partitionPath`, unless `recentIds` has seen the change
 * already) and says whether the segment is to be cut after it.
 */
export function appendRecord(
  segment: OpenSegment,
  record: SinkRecord,
  partitionPath: string | undefined,
  {
    limits,
    recentIds,
    onDuplicate,
  }: { limits: RotationLimits; recentIds: RecentIds; onDuplicate: () => void },
): RotationReason | undefined {
  segment.last = record.offset;
  segment.bytes += record.bytes;
  if (record.letter) segment.letters.push(record.letter);
  const line = record.line;
  if (!line || partitionPath === undefined) return rotationDue(segment, limits);
  let file = segment.files.get(partitionPath);
  if (!file) {
    // The key's start offset is the first record routed here, duplicate or not, so de-duplication never moves keys.
    file = { partitionPath, startOffset: record.offset, lines: [] };
    segment.files.set(partitionPath, file);
  }
  if (record.changeId !== undefined && recentIds.has(record.changeId)) {
    onDuplicate();
    return rotationDue(segment, limits);
  }
  if (record.changeId !== undefined) recentIds.add(record.changeId);
  file.lines.push(line);
  segment.rows++;
  const changeMs = record.changeMs!;
  segment.firstChangeMs ??= changeMs;
  // Record-time rotation (Confluent's rotate.interval.ms): a pure function of the records, so replays cut alike.
  if (
    segment.forcedEnd === undefined &&
    limits.rotateRecordMs > 0 &&
    changeMs - segment.firstChangeMs >= limits.rotateRecordMs
  ) {
    return 'record-time';
  }
  return rotationDue(segment, limits);
}

/** The files to write when the segment is cut: the anchor (first row's file) first, kept even if de-duplication emptied it. */
export function filesToWrite(segment: OpenSegment): SegmentFile[] {
  return [...segment.files.values()]
    .sort((a, b) => a.startOffset - b.startOffset)
    .filter((file, index) => index === 0 || file.lines.length > 0);
}
