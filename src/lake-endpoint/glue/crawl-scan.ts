/**
 * The first, asynchronous and abortable phase of a crawl: list each S3 target, drop exclusions, hidden files
 * and (CRAWL_NEW_FOLDERS_ONLY) folders an earlier crawl saw, and classify each object (Parquet footer / JSON
 * records), sampling per folder when the target has a SampleSize.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { mapWithConcurrency } from '../../support/concurrency';
import { CrawlError } from '../errors';
import type { CrawlerRecord } from '../lake-state';
import type { Logger } from '../logger';
import {
  describeS3Error,
  globToRegExp,
  isHiddenOrMarker,
  listObjects,
  parseS3Folder,
  type S3ObjectInfo,
  s3Url,
  S3UrlError,
} from '../s3-objects';
import { type Classification, type ClassifiedObject, classifyObject } from './classify';

/**
 * An object's classification depends only on its bytes, so one keyed by ETag can be reused by the next crawl:
 * a re-crawl reads only new or changed objects (the catalog it writes is the same as with a full re-read).
 */
export type ClassificationCache = Map<string, Omit<ClassifiedObject, keyof S3ObjectInfo>>;

const CLASSIFICATION_CACHE_LIMIT = 200_000;

export interface ScanDeps {
  s3: S3Client;
  logger: Logger;
  /** Objects classified at the same time. */
  concurrency?: number;
  /** Classifications of unchanged objects (same bucket, key and ETag) from earlier crawls. */
  classificationCache?: ClassificationCache;
}

export interface ScannedTarget {
  bucket: string;
  prefix: string;
  files: ClassifiedObject[];
}

export interface CrawlScan {
  targets: ScannedTarget[];
  /** Leaf folders seen by this crawl and the earlier ones it continues (for CRAWL_NEW_FOLDERS_ONLY next time). */
  crawledFolders: string[];
  /** Objects that could not be classified (left out of the catalog). */
  unclassified: number;
}

const folderOf = (o: S3ObjectInfo) => s3Url(o.bucket, o.key.slice(0, o.key.lastIndexOf('/') + 1));

/**
 * @example
 *   const scan = await scanTargets(deps, crawler, state.crawledFolders.get(crawler.Name), signal);
 */
export async function scanTargets(
  deps: ScanDeps,
  crawler: CrawlerRecord,
  /** Set for CRAWL_NEW_FOLDERS_ONLY: the folders earlier crawls saw, whose objects are skipped. */
  previousFolders: string[] | undefined,
  signal: AbortSignal,
): Promise<CrawlScan> {
  const seenFolders = new Set(previousFolders ?? []);
  const knownFolders = new Set(previousFolders ?? []);
  const targets: ScannedTarget[] = [];
  let unclassified = 0;
  for (const target of crawler.Targets.S3Targets ?? []) {
    let location;
    try {
      location = parseS3Folder(target.Path);
    } catch (error) {
      if (error instanceof S3UrlError) throw new CrawlError(error.message);
      throw error;
    }
    let objects: S3ObjectInfo[];
    try {
      objects = await listObjects(deps.s3, location, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new CrawlError(`Crawl of ${target.Path} failed: ${describeS3Error(error)}`);
    }
    const exclusions = (target.Exclusions ?? []).map(globToRegExp);
    objects = objects.filter(
      (o) =>
        o.size > 0 &&
        !isHiddenOrMarker(o.key) &&
        !exclusions.some((re) => re.test(o.key.slice(location.prefix.length))),
    );
    for (const o of objects) seenFolders.add(folderOf(o));
    if (previousFolders) objects = objects.filter((o) => !knownFolders.has(folderOf(o)));

    const sampled = sampleObjects(objects, target.SampleSize);
    const classifications = await mapWithConcurrency(
      sampled.classify,
      deps.concurrency ?? 16,
      async (o) => {
        try {
          return await classifyCached(deps, o, signal);
        } catch (error) {
          if (signal.aborted) throw error;
          throw new CrawlError(
            `Crawl of ${target.Path} failed reading s3://${o.bucket}/${o.key}: ${describeS3Error(error)}`,
          );
        }
      },
      signal,
    );
    const files: ClassifiedObject[] = [];
    for (const c of classifications) {
      if (c.ok) files.push(c.object);
      else {
        unclassified++;
        deps.logger.warn(
          { crawler: crawler.Name, key: c.key, reason: c.reason },
          'object not classified, left out of the catalog',
        );
      }
    }
    files.push(...inheritFromSamples(sampled.skipped, files));
    targets.push({ bucket: location.bucket, prefix: location.prefix, files });
  }
  signal.throwIfAborted();
  return { targets, crawledFolders: [...seenFolders], unclassified };
}

async function classifyCached(deps: ScanDeps, o: S3ObjectInfo, signal: AbortSignal): Promise<Classification> {
  const cache = deps.classificationCache;
  const key = o.etag ? `${o.bucket}/${o.key}@${o.etag}` : undefined;
  const hit = key ? cache?.get(key) : undefined;
  if (hit) return { ok: true, object: { ...o, ...hit } };
  const result = await classifyObject(deps.s3, o, signal);
  if (result.ok && key && cache) {
    if (cache.size >= CLASSIFICATION_CACHE_LIMIT) cache.clear();
    const { format, compression, columns, recordCount } = result.object;
    cache.set(key, { format, compression, columns, recordCount });
  }
  return result;
}

/** SampleSize: classify only the first N files of each leaf folder; the others take their folder's schema. */
function sampleObjects(
  objects: S3ObjectInfo[],
  sampleSize: number | undefined,
): { classify: S3ObjectInfo[]; skipped: S3ObjectInfo[] } {
  if (!sampleSize || sampleSize <= 0) return { classify: objects, skipped: [] };
  const perFolder = new Map<string, number>();
  const classify: S3ObjectInfo[] = [];
  const skipped: S3ObjectInfo[] = [];
  for (const o of objects) {
    const folder = folderOf(o);
    const n = perFolder.get(folder) ?? 0;
    perFolder.set(folder, n + 1);
    (n < sampleSize ? classify : skipped).push(o);
  }
  return { classify, skipped };
}

function inheritFromSamples(skipped: S3ObjectInfo[], classified: ClassifiedObject[]): ClassifiedObject[] {
  const byFolder = new Map<string, ClassifiedObject>();
  for (const c of classified) if (!byFolder.has(folderOf(c))) byFolder.set(folderOf(c), c);
  const out: ClassifiedObject[] = [];
  for (const o of skipped) {
    const sample = byFolder.get(folderOf(o));
    if (!sample) continue;
    const recordCount = sample.size > 0 ? Math.round((sample.recordCount * o.size) / sample.size) : 0;
    out.push({
      ...o,
      format: sample.format,
      compression: sample.compression,
      columns: sample.columns,
      recordCount,
    });
  }
  return out;
}
