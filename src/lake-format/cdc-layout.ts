/**
 * Record → object location. The Hive-style partition comes from the change time in UTC
 * (`dt=YYYY-MM-DD/hour=HH`, the CDC_PARTITION_KEYS the crawler turns into partition columns); the object
 * name is Confluent's deterministic `<topic>+<kafkaPartition>+<startOffset zero-padded to 10>.<ext>`,
 * so writing the same records again lands on the same key.
 */
import { CDC_TABLE_FOLDER, type Config } from '../config';
import { CDC_PARTITION_KEYS } from './lake-schema';

const OFFSET_DIGITS = 10;
const [DT_KEY, HOUR_KEY] = CDC_PARTITION_KEYS;

export interface Partitioner {
  /** `dt=2024-05-01/hour=09` for a change whose time (epoch ms) is 2024-05-01T09:xx:xxZ. */
  partitionPath(changeMs: number): string;
}

export function hourlyPartitionPath(time: Date): string {
  const iso = time.toISOString(); // always UTC: YYYY-MM-DDTHH:...
  return `${DT_KEY}=${iso.slice(0, 10)}/${HOUR_KEY}=${iso.slice(11, 13)}`;
}

const HOUR_MS = 3_600_000;

export function createHourlyPartitioner(): Partitioner {
  // Consecutive records nearly always fall in the same hour: remember the last one (saves a toISOString per row).
  let lastHour = Number.NaN;
  let lastPath = '';
  return {
    partitionPath(changeMs) {
      if (!Number.isFinite(changeMs))
        throw new Error(`change time ${changeMs} is not a time: it cannot be partitioned`);
      const hour = Math.floor(changeMs / HOUR_MS);
      if (hour !== lastHour) {
        lastHour = hour;
        lastPath = hourlyPartitionPath(new Date(changeMs));
      }
      return lastPath;
    },
  };
}

/** The folder of the CDC table in the bucket, with a trailing slash: `<prefix>/orders_cdc/`. */
export function cdcTableRoot(config: Pick<Config, 'lake'>): string {
  return `${config.lake.prefix}/${CDC_TABLE_FOLDER}/`;
}

export interface ObjectLocation {
  partitionPath: string;
  topic: string;
  kafkaPartition: number;
  startOffset: number;
  extension: string;
}

/**
 * @example
 *   objectKey('lake/orders_cdc/', { partitionPath: 'dt=2024-05-01/hour=09', topic: 'orders.cdc', kafkaPartition: 2, startOffset: 42, extension: 'parquet' })
 *   // 'lake/orders_cdc/dt=2024-05-01/hour=09/orders.cdc+2+0000000042.parquet'
 */
export function objectKey(root: string, location: ObjectLocation): string {
  const offset = String(location.startOffset).padStart(OFFSET_DIGITS, '0');
  return `${objectKeyPrefix(root, location)}${offset}.${location.extension}`;
}

/** What every key of one topic-partition's objects in one Hive partition starts with (a listing prefix). */
export function objectKeyPrefix(
  root: string,
  location: Pick<ObjectLocation, 'partitionPath' | 'topic' | 'kafkaPartition'>,
): string {
  return `${root}${location.partitionPath}/${location.topic}+${location.kafkaPartition}+`;
}

const KEY_PATTERN = new RegExp(
  `^(.*/)?(${DT_KEY}=[^/]+/${HOUR_KEY}=[^/]+)/([^/+]+)\\+(\\d+)\\+(\\d+)\\.([^/]+)$`,
);

/** The inverse of objectKey (Kafka topic names cannot contain `+`), or undefined for foreign objects. */
export function parseObjectKey(key: string): ObjectLocation | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  return {
    partitionPath: match[2],
    topic: match[3],
    kafkaPartition: Number(match[4]),
    startOffset: Number(match[5]),
    extension: match[6],
  };
}
