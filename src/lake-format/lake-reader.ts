/**
 * Reads the CDC table back from the lake: lists every object under `<prefix>/orders_cdc/`, decodes each by
 * its extension and returns the rows with their Hive partition values, as Athena would see them.
 * For the end-to-end tests and the main job's count check; it reads everything, so keep it to test-sized lakes.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config';
import { createLogger } from '../observability/logger';
import { mapWithConcurrency } from '../support/concurrency';
import { formatForExtension } from './formats';
import type { LakeRow } from './lake-row';
import { cdcTableRoot, parseObjectKey } from './cdc-layout';
import { createS3Storage } from './storage';

/**
 * A row as read back: bigint columns as numbers (versions and item counts are small), timestamps as Date,
 * plus the partition values `dt`, `hour` and the object it came from.
 */
export type LakeRecord = Record<string, string | number | Date | null> & {
  dt: string;
  hour: string;
  object_key: string;
};

export interface LakeObjectSummary {
  key: string;
  size: number;
  rows: number;
}

function normalize(row: LakeRow, dt: string, hour: string, key: string): LakeRecord {
  const out: Record<string, string | number | Date | null> = {};
  for (const [name, value] of Object.entries(row))
    out[name] = typeof value === 'bigint' ? Number(value) : value;
  return { ...out, dt, hour, object_key: key };
}

const READ_CONCURRENCY = 8;

/**
 * @example
 *   const rows = await readLakeRecords(aws.s3, config);
 *   new Set(rows.map((r) => r.sequence_number)).size === rows.length; // no duplicates
 */
export async function readLakeRecords(
  s3: S3Client,
  config: Pick<Config, 'lake' | 'logLevel'>,
  options: { objects?: LakeObjectSummary[] } = {},
): Promise<LakeRecord[]> {
  const storage = createS3Storage({
    s3,
    bucket: config.lake.bucket,
    logger: createLogger('lake-reader', config),
  });
  const objects = await storage.list(cdcTableRoot(config));
  const perObject = await mapWithConcurrency(objects, READ_CONCURRENCY, async ({ key, size }) => {
    const location = parseObjectKey(key);
    const format = location && formatForExtension(location.extension);
    if (!location || !format) return [];
    const [dtPart, hourPart] = location.partitionPath.split('/');
    const rows = await format.decode(await storage.get(key));
    options.objects?.push({ key, size, rows: rows.length });
    return rows.map((row) => normalize(row, dtPart.split('=')[1], hourPart.split('=')[1], key));
  });
  return perObject.flat();
}
