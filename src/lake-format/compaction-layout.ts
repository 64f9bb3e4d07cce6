/**
 * Where compaction puts its objects. A compacted hour lives in a versioned folder outside the CDC table's folder
 * (`<lake.prefix>-compacted/orders_cdc/dt=…/hour=…/v=<version>/`), so it is outside every crawler target: the
 * crawler can never catalog a version as a partition or a table. Readers switch when the Glue partition's
 * location moves to the new version (one UpdatePartition); the version's `_manifest.json` (hidden from Athena,
 * whose readers skip names starting with `_`) names the sink objects folded into its parts, so a later compaction
 * never folds one twice.
 */
import { CDC_TABLE_FOLDER, compactedLakePrefix, type Config } from '../config';
import { cdcTableRoot } from './cdc-layout';
import { CDC_PARTITION_KEYS } from './lake-schema';

export const COMPACTION_MANIFEST = '_manifest.json';

/** What a compacted version folded in: the sink objects (by file name) and the parts it wrote. */
export interface CompactionManifest {
  folded: string[];
  parts: string[];
}

/** `<lake.prefix>-compacted/orders_cdc/`: the root of every compacted version, beside (not under) the lake prefix. */
export function compactedTableRoot(config: Pick<Config, 'lake'>): string {
  return `${compactedLakePrefix(config)}/${CDC_TABLE_FOLDER}/`;
}

/** The folder every version of one hour sits in. */
export function compactedHourRoot(config: Pick<Config, 'lake'>, partitionPath: string): string {
  return `${compactedTableRoot(config)}${partitionPath}/`;
}

export function versionFolder(config: Pick<Config, 'lake'>, partitionPath: string, version: string): string {
  return `${compactedHourRoot(config, partitionPath)}v=${version}/`;
}

/** The sink's folder of one hour (the partition's location until its first compaction). */
export function sinkHourFolder(config: Pick<Config, 'lake'>, partitionPath: string): string {
  return `${cdcTableRoot(config)}${partitionPath}/`;
}

export function s3FolderUrl(bucket: string, keyPrefix: string): string {
  return `s3://${bucket}/${keyPrefix}`;
}

/** The key prefix of an `s3://bucket/prefix/` location in `bucket`, or undefined when it is elsewhere. */
export function keyPrefixOf(bucket: string, location: string | undefined): string | undefined {
  const head = `s3://${bucket}/`;
  if (!location?.startsWith(head)) return undefined;
  const prefix = location.slice(head.length);
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** `dt=2024-05-01/hour=09` → `['2024-05-01', '09']`, the partition's Glue values. */
export function partitionValues(partitionPath: string): string[] {
  const parts = partitionPath.split('/');
  return CDC_PARTITION_KEYS.map((key, i) => {
    const [name, value] = (parts[i] ?? '').split('=');
    if (name !== key || !value) throw new Error(`${partitionPath} is not a dt=/hour= partition path`);
    return value;
  });
}

export function partitionPathOf(values: readonly string[]): string {
  return CDC_PARTITION_KEYS.map((key, i) => `${key}=${values[i]}`).join('/');
}

/** Epoch ms at which the hour of `dt=…/hour=…` ends. */
export function hourEndMs(partitionPath: string): number {
  const [dt, hour] = partitionValues(partitionPath);
  return Date.parse(`${dt}T${hour}:00:00Z`) + 3_600_000;
}

export function fileName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
