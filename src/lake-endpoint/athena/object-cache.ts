/**
 * Local copies of S3 objects for DuckDB to read (its httpfs is not available offline), keyed by bucket, key
 * and ETag: an object that changed in S3 gets a new file, an unchanged one is never downloaded twice.
 * Gzip JSON is stored decompressed so the reader never depends on file extensions.
 *
 * Files are written to a temp name and renamed, so a reader never sees half a file. The cache holds at most
 * `maxBytes`: the least recently used files go first, except those a running query holds (`fetch` pins them
 * until `release`), so a query that needs more than the cap still runs and the excess goes when it ends.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetMetadataAsync, parquetSchema } from 'hyparquet';
import { mapWithConcurrency } from '../../support/concurrency';
import type { Logger } from '../logger';
import { getObjectBytes, type S3ObjectInfo } from '../s3-objects';
import { writeFileAtomic } from '../state-file';
import type { TableFormat } from './table-views';

export interface ParquetFileSchema {
  /** Lower-case top-level column names. */
  columns: string[];
  /** Identical for files DuckDB can read together without union_by_name. */
  signature: string;
}

export interface CachedObjects {
  /** Local paths of the objects, in order. */
  paths: string[];
  /** Lets the cache evict these files again; call once the query no longer reads them. */
  release(): void;
}

export interface ObjectCache {
  dir: string;
  /** Downloads what is missing and holds the files until `release()`. */
  fetch(objects: S3ObjectInfo[], format: TableFormat, signal?: AbortSignal): Promise<CachedObjects>;
  /** The schema of a cached Parquet file, from its footer (memoized: cache files never change). */
  parquetSchemaOf(path: string): Promise<ParquetFileSchema>;
  /** Bytes of the files in the cache now. */
  size(): Promise<number>;
}

/** Default cap of the cache (`--object-cache-mb`). */
export const DEFAULT_OBJECT_CACHE_BYTES = 2 * 1024 ** 3;

const SCHEMA_MEMO_LIMIT = 100_000;

export function createObjectCache(deps: {
  s3: S3Client;
  dir: string;
  maxBytes: number;
  logger: Logger;
  concurrency?: number;
}): ObjectCache {
  const inFlight = new Map<string, Promise<void>>();
  const schemas = new Map<string, Promise<ParquetFileSchema>>();
  /** Cached files and their sizes, least recently used first (a use moves a file to the end). */
  const files = new Map<string, number>();
  const pins = new Map<string, number>();
  let totalBytes = 0;
  let loaded: Promise<void> | undefined;

  // Files left by an earlier run count against the cap too, oldest first.
  const load = () =>
    (loaded ??= (async () => {
      const entries = await readdir(deps.dir, { recursive: true, withFileTypes: true }).catch(() => []);
      const found: { path: string; size: number; mtimeMs: number }[] = [];
      for (const entry of entries) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath, entry.name);
        const info = await stat(path).catch(() => undefined);
        if (info) found.push({ path, size: info.size, mtimeMs: info.mtimeMs });
      }
      found.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const f of found) add(f.path, f.size);
    })());

  const add = (path: string, size: number) => {
    totalBytes -= files.get(path) ?? 0;
    files.delete(path);
    files.set(path, size);
    totalBytes += size;
  };

  const evict = async () => {
    for (const [path, size] of files) {
      if (totalBytes <= deps.maxBytes) break;
      if (pins.has(path)) continue;
      files.delete(path);
      totalBytes -= size;
      schemas.delete(path);
      await unlink(path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          deps.logger.warn({ path, error: (error as Error).message }, 'cache file not removed');
      });
    }
  };

  const readSchema = async (path: string): Promise<ParquetFileSchema> => {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = {
        byteLength: size,
        slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
          const bytes = Buffer.alloc((end ?? size) - start);
          await handle.read(bytes, 0, bytes.length, start);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        },
      };
      const metadata = await parquetMetadataAsync(buffer, { initialFetchSize: Math.min(size, 64 * 1024) });
      const tree = parquetSchema(metadata);
      return {
        columns: tree.children.map((c) => c.element.name.toLowerCase()),
        signature: JSON.stringify(metadata.schema, (_key, value: unknown) =>
          typeof value === 'bigint' ? String(value) : value,
        ),
      };
    } finally {
      await handle.close();
    }
  };

  const pathOf = (o: S3ObjectInfo, format: string) => {
    const id = createHash('sha256').update(`${o.bucket}/${o.key}`).digest('hex').slice(0, 24);
    const etag = o.etag.replace(/[^A-Za-z0-9-]/g, '') || 'noetag';
    return join(deps.dir, id.slice(0, 2), `${id}-${etag}.${format}`);
  };

  const download = async (o: S3ObjectInfo, path: string, format: string) => {
    let bytes = await getObjectBytes(deps.s3, o.bucket, o.key);
    // Text formats may be gzip-compressed (the crawler detects it by content too); Parquet compresses inside.
    if (format !== 'parquet' && bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)
      bytes = gunzipSync(bytes);
    await writeFileAtomic(path, bytes);
    add(path, bytes.length);
  };

  const pin = (path: string) => pins.set(path, (pins.get(path) ?? 0) + 1);
  const unpin = (path: string) => {
    const count = (pins.get(path) ?? 0) - 1;
    if (count > 0) pins.set(path, count);
    else pins.delete(path);
  };

  return {
    dir: deps.dir,
    parquetSchemaOf(path) {
      let pending = schemas.get(path);
      if (!pending) {
        if (schemas.size >= SCHEMA_MEMO_LIMIT) schemas.clear();
        pending = readSchema(path);
        pending.catch(() => schemas.delete(path));
        schemas.set(path, pending);
      }
      return pending;
    },
    async fetch(objects, format, signal) {
      await load();
      const held: string[] = [];
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held.forEach(unpin);
        void evict();
      };
      try {
        const paths = await mapWithConcurrency(
          objects,
          deps.concurrency ?? 8,
          async (o) => {
            const path = pathOf(o, format);
            // Pinned before anything awaits, so a concurrent eviction cannot remove it under this query.
            pin(path);
            held.push(path);
            const size = files.get(path);
            if (size !== undefined) {
              add(path, size);
              return path;
            }
            let pending = inFlight.get(path);
            if (!pending) {
              // Shared by every query that needs the object: one query's stop must not fail the others' fetch
              // (mapWithConcurrency stops the stopped query from starting more).
              pending = download(o, path, format).finally(() => inFlight.delete(path));
              inFlight.set(path, pending);
            }
            await pending;
            return path;
          },
          signal,
        );
        await evict();
        return { paths, release };
      } catch (error) {
        release();
        throw error;
      }
    },
    async size() {
      await load();
      return totalBytes;
    },
  };
}
