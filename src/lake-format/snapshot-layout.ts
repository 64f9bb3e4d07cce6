/**
 * Where a backfill snapshot lives in S3: one definition for the workflow (which names the folder), the activities
 * (which write into it), the crawler (which catalogs it) and the tests.
 *
 *   <snapshotPrefix>/snapshot_id=<id>/segment=<i>/part-<nnnnn>.parquet
 *   <snapshotPrefix>/snapshot_id=<id>/_manifest.json
 *
 * Hive-style folders make every snapshot a partition of one Glue table named after the snapshot prefix's last
 * folder (`snapshots` by default), partitioned by `snapshot_id` and `segment`, from the first snapshot on: a crawl
 * finds the same table whether the prefix holds one snapshot or many. The manifest's name starts with `_`, which
 * crawlers skip, as they skip Spark's `_SUCCESS`.
 */

import { sanitizeTableName } from '../support/glue-table-names';

/** The partition keys of the snapshot table, in folder order. */
export const SNAPSHOT_PARTITION_KEYS = ['snapshot_id', 'segment'] as const;
const [SNAPSHOT_ID, SEGMENT] = SNAPSHOT_PARTITION_KEYS;

/** The folder of one snapshot: every object of it is under this key prefix. */
export function snapshotFolder(snapshotPrefix: string, snapshotId: string): string {
  return `${snapshotPrefix}/${SNAPSHOT_ID}=${snapshotId}`;
}

export function snapshotPartKey(folder: string, segment: number, part: number): string {
  return `${folder}/${SEGMENT}=${segment}/part-${String(part).padStart(5, '0')}.parquet`;
}

export function snapshotManifestKey(folder: string): string {
  return `${folder}/_manifest.json`;
}

/** The Glue table a crawl of the snapshot prefix creates: its last folder, as the crawler names tables. */
export function snapshotTableName(snapshotPrefix: string): string {
  return sanitizeTableName(snapshotPrefix.slice(snapshotPrefix.lastIndexOf('/') + 1));
}
