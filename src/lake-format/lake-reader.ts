/**
 * Reads the CDC table back from the lake as its readers see it: per hour, the folder its Glue partition points to
 * (the sink's folder, or the compacted version that replaced it: compaction-layout.ts), decoded by extension, with
 * the Hive partition values. For the end-to-end tests, the main job's and the soak's count checks. `read()` holds
 * every row, so keep it to test-sized lakes; `count()` and `scan()` hold one object's rows at a time, for a lake of
 * any size (a soak's two hours at 150 events/s: a million rows, about 1.6 GB of heap as rows). Reuse one reader
 * across polls: it decodes each object once for `read()` and `count()`.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config';
import { createLogger } from '../observability/logger';
import { mapWithConcurrency } from '../support/concurrency';
import { formatForExtension, type LakeFormat } from './formats';
import type { LakeRow } from './lake-row';
import { cdcTableRoot } from './cdc-layout';
import {
  COMPACTION_MANIFEST,
  compactedTableRoot,
  fileName,
  sinkHourFolder,
  type CompactionManifest,
} from './compaction-layout';
import { createS3Storage, type StoredObject } from './storage';

/**
 * A row as read back: bigint columns as numbers (versions and item counts are small), timestamps as Date,
 * plus the partition values `dt`, `hour` and the object it came from.
 */
export type LakeRecord = Record<string, string | number | Date | null> & {
  dt: string;
  hour: string;
  object_key: string;
};

/**
 * A change's identity in the lake: its item and its stream sequence number (sequence numbers order the changes of
 * one item; they are not unique across shards). Two rows with one identity are a duplicate.
 */
export function lakeChangeId(record: LakeRecord): string {
  return `${String(record.order_id)}@${String(record.sequence_number)}`;
}

export interface LakeObjectSummary {
  key: string;
  size: number;
  rows: number;
}

/**
 * The key prefix readers of an hour (`dt=…/hour=…`) read now, from its Glue partition's location; undefined when
 * the hour has no partition yet (then its readers will read the sink's folder).
 */
export type CurrentFolder = (partitionPath: string) => Promise<string | undefined>;

export interface LakeReaderOptions {
  /** Without it, hours are read from the sink's folders only (a lake nothing has compacted). */
  currentFolder?: CurrentFolder;
  /** `count` and `scan` decode objects of at least this many bytes one at a time; default 1 MiB. */
  scanAloneBytes?: number;
}

export interface LakeReader {
  /** Every row the lake holds now. `objects`, when given, receives each object read. */
  read(options?: { objects?: LakeObjectSummary[] }): Promise<LakeRecord[]>;
  /** How many rows the lake holds now; an object's row count (not its rows) is kept for the next call. */
  count(): Promise<number>;
  /**
   * Calls `visit` with every row the lake holds now, a few objects' rows in memory at a time, hour by hour: after
   * the last row of an hour, `endOfHour` with its partition path (`dt=…/hour=…`). Returns the count.
   */
  scan(visit: (row: LakeRecord) => void, endOfHour?: (partitionPath: string) => void): Promise<number>;
}

function normalize(row: LakeRow, dt: string, hour: string, key: string): LakeRecord {
  const out: Record<string, string | number | Date | null> = {};
  for (const [name, value] of Object.entries(row))
    out[name] = typeof value === 'bigint' ? Number(value) : value;
  return { ...out, dt, hour, object_key: key };
}

const READ_CONCURRENCY = 8;
const SCAN_CONCURRENCY = 4;
/** A MB of Parquet is about 30,000 changes. */
const SCAN_ALONE_BYTES = 1024 * 1024;
/** `dt=…/hour=…/` right under a table root, then the rest of the key. */
const HOUR_UNDER_ROOT = /^(dt=[^/]+\/hour=[^/]+)\/(.+)$/;

/** The format of an object by its name's extension (a topic's name has dots too: try each suffix). */
function formatOf(key: string): LakeFormat | undefined {
  const name = fileName(key);
  if (name.startsWith('_') || name.startsWith('.')) return undefined;
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
    const format = formatForExtension(name.slice(dot + 1));
    if (format) return format;
  }
  return undefined;
}

function groupByHour(root: string, objects: StoredObject[]): Map<string, StoredObject[]> {
  const byHour = new Map<string, StoredObject[]>();
  for (const object of objects) {
    const match = HOUR_UNDER_ROOT.exec(object.key.slice(root.length));
    if (!match) continue;
    byHour.set(match[1], [...(byHour.get(match[1]) ?? []), object]);
  }
  return byHour;
}

/**
 * One reader, polled many times: objects are immutable under their key and size (a sink object rewritten after a
 * crash has the same bytes; a compacted part lives in a version named by what it folds), so each is decoded once.
 *
 * @example
 *   const reader = createLakeReader(aws.s3, config, { currentFolder: (p) => glueFolderOf(p) });
 *   const rows = await reader.read();
 *   new Set(rows.map((r) => r.sequence_number)).size === rows.length; // no duplicates
 */
export function createLakeReader(
  s3: S3Client,
  config: Pick<Config, 'lake' | 'logLevel'>,
  options: LakeReaderOptions = {},
): LakeReader {
  const storage = createS3Storage({
    s3,
    bucket: config.lake.bucket,
    logger: createLogger('lake-reader', config),
  });
  const decoded = new Map<string, LakeRecord[]>();
  const manifests = new Map<string, CompactionManifest | undefined>();

  const manifestOf = async (folder: string, versionObjects: StoredObject[]) => {
    if (manifests.get(folder) !== undefined) return manifests.get(folder);
    const key = `${folder}${COMPACTION_MANIFEST}`;
    if (!versionObjects.some((o) => o.key === key)) return undefined;
    const manifest = JSON.parse(Buffer.from(await storage.get(key)).toString('utf8')) as CompactionManifest;
    manifests.set(folder, manifest);
    return manifest;
  };

  /** The objects readers of one hour see, plus sink objects written after its version and not yet copied in. */
  const objectsOfHour = async (
    partitionPath: string,
    sinkObjects: StoredObject[],
    compactedObjects: StoredObject[],
  ): Promise<StoredObject[]> => {
    const sinkFolder = sinkHourFolder(config, partitionPath);
    const folder = (await options.currentFolder?.(partitionPath)) ?? sinkFolder;
    if (folder === sinkFolder) return sinkObjects;
    const versionObjects = compactedObjects.filter((o) => o.key.startsWith(folder));
    const folded = new Set((await manifestOf(folder, versionObjects))?.folded ?? []);
    const present = new Set(versionObjects.map((o) => fileName(o.key)));
    const pendingLate = sinkObjects.filter(
      (o) => !folded.has(fileName(o.key)) && !present.has(fileName(o.key)),
    );
    return [...versionObjects, ...pendingLate];
  };

  /** The objects readers see now, hour by hour, each with its cache key (immutable under key and size). */
  const visibleHours = async () => {
    const sinkRoot = cdcTableRoot(config);
    const compactedRoot = compactedTableRoot(config);
    const sinkByHour = groupByHour(sinkRoot, await storage.list(sinkRoot));
    const compactedByHour = options.currentFolder
      ? groupByHour(compactedRoot, await storage.list(compactedRoot))
      : new Map<string, StoredObject[]>();
    const hours = [...new Set([...sinkByHour.keys(), ...compactedByHour.keys()])].sort();
    const objects = await mapWithConcurrency(hours, READ_CONCURRENCY, (hour) =>
      objectsOfHour(hour, sinkByHour.get(hour) ?? [], compactedByHour.get(hour) ?? []),
    );
    return hours.map((hour, i) => ({
      hour,
      objects: objects[i]
        .filter((o) => formatOf(o.key) !== undefined)
        .map((object) => ({ ...object, cacheKey: `${object.key}\u0000${object.size}` })),
    }));
  };
  const visibleObjects = async () => (await visibleHours()).flatMap(({ objects }) => objects);

  const decodeObject = async (key: string): Promise<LakeRecord[]> => {
    const sinkRoot = cdcTableRoot(config);
    const [dtPart, hourPart] = HOUR_UNDER_ROOT.exec(
      key.startsWith(sinkRoot) ? key.slice(sinkRoot.length) : key.slice(compactedTableRoot(config).length),
    )![1].split('/');
    return (await formatOf(key)!.decode(await storage.get(key))).map((row) =>
      normalize(row, dtPart.split('=')[1], hourPart.split('=')[1], key),
    );
  };

  /** Drops the entries of objects no longer visible (a compacted hour's sink objects, once deleted). */
  const prune = (cache: Map<string, unknown>, visible: { cacheKey: string }[]) => {
    const live = new Set(visible.map((o) => o.cacheKey));
    for (const cacheKey of cache.keys()) if (!live.has(cacheKey)) cache.delete(cacheKey);
  };

  const rowCounts = new Map<string, number>();

  /**
   * Runs `work` on every object with few rows decoded at once: a compacted hour is one object holding every
   * change of that hour (470,000 rows at 150 events/s, about 750 MB as rows), so those go one at a time and the
   * sink's small objects a few at a time.
   */
  const boundedByRows = async <T extends StoredObject>(objects: T[], work: (object: T) => Promise<void>) => {
    const aloneBytes = options.scanAloneBytes ?? SCAN_ALONE_BYTES;
    for (const object of objects.filter((o) => o.size >= aloneBytes)) await work(object);
    await mapWithConcurrency(
      objects.filter((o) => o.size < aloneBytes),
      SCAN_CONCURRENCY,
      work,
    );
  };

  return {
    async read({ objects } = {}) {
      const visible = await visibleObjects();
      const perObject = await mapWithConcurrency(
        visible,
        READ_CONCURRENCY,
        async ({ key, size, cacheKey }) => {
          let rows = decoded.get(cacheKey);
          if (!rows) {
            rows = await decodeObject(key);
            decoded.set(cacheKey, rows);
          }
          objects?.push({ key, size, rows: rows.length });
          return rows;
        },
      );
      prune(decoded, visible);
      return perObject.flat();
    },

    async count() {
      const visible = await visibleObjects();
      let total = 0;
      await boundedByRows(visible, async ({ key, cacheKey }) => {
        let rows = rowCounts.get(cacheKey);
        if (rows === undefined) {
          rows = (await decodeObject(key)).length;
          rowCounts.set(cacheKey, rows);
        }
        total += rows;
      });
      prune(rowCounts, visible);
      return total;
    },

    async scan(visit, endOfHour) {
      let total = 0;
      for (const { hour, objects } of await visibleHours()) {
        await boundedByRows(objects, async ({ key }) => {
          const rows = await decodeObject(key);
          for (const row of rows) visit(row);
          total += rows.length;
        });
        endOfHour?.(hour);
      }
      return total;
    },
  };
}

/**
 * Reads the lake once (see createLakeReader).
 *
 * @example
 *   const rows = await readLakeRecords(aws.s3, config);
 */
export async function readLakeRecords(
  s3: S3Client,
  config: Pick<Config, 'lake' | 'logLevel'>,
  options: LakeReaderOptions & { objects?: LakeObjectSummary[] } = {},
): Promise<LakeRecord[]> {
  return createLakeReader(s3, config, options).read({ objects: options.objects });
}
