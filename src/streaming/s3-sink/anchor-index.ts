/**
 * The anchors a previous run of this topic-partition left (segment-cuts.ts): whether a segment's first row
 * would land on an object that exists already, and if so the cut recorded on it.
 *
 * The start offsets of the partition's objects are listed once per Hive partition (hour). A lookup then costs a
 * round trip only when its key exists (a replay) or its hour is new to this index, instead of one HEAD per
 * segment that would hold up the partition's records. Only the partition's owner writes these keys, and a new
 * owner starts a new writer (and index), so the listing stays true.
 */
import type { Logger } from '../../observability/logger';
import { objectKey, objectKeyPrefix, parseObjectKey } from '../../lake-format/cdc-layout';
import type { LakeStorage } from '../../lake-format/storage';
import { parseSegmentMetadata, type SegmentBounds } from './segment-cuts';

export interface AnchorIndexOptions {
  storage: LakeStorage;
  tableRoot: string;
  topic: string;
  partition: number;
  extension: string;
  logger: Logger;
}

export interface AnchorIndex {
  /** The bounds of the segment a previous run started at `offset` in this Hive partition, if it wrote one. */
  replayedCut(partitionPath: string, offset: number): Promise<SegmentBounds | undefined>;
}

/** Hive partitions whose object listing an index keeps (the oldest is dropped; a replay lists it again). */
const MAX_LISTINGS = 48;

export function createAnchorIndex(options: AnchorIndexOptions): AnchorIndex {
  const { storage, tableRoot, topic, partition } = options;
  const listings = new Map<string, Promise<Set<number>>>();

  const existingStarts = (partitionPath: string): Promise<Set<number>> => {
    const listed = listings.get(partitionPath);
    if (listed) return listed;
    const prefix = objectKeyPrefix(tableRoot, { partitionPath, topic, kafkaPartition: partition });
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
    return listing;
  };

  return {
    async replayedCut(partitionPath, offset) {
      if (!(await existingStarts(partitionPath)).has(offset)) return undefined;
      const key = objectKey(tableRoot, {
        partitionPath,
        topic,
        kafkaPartition: partition,
        startOffset: offset,
        extension: options.extension,
      });
      const bounds = parseSegmentMetadata((await storage.head(key))?.metadata, offset);
      if (bounds)
        options.logger.debug({ anchorOffset: offset, bounds }, 'segment written before: replaying its cut');
      return bounds;
    },
  };
}
