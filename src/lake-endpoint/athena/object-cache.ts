/**
 * Local copies of S3 objects for DuckDB to read (its httpfs is not available offline), keyed by bucket, key
 * and ETag: an object that changed in S3 gets a new file, an unchanged one is never downloaded twice.
 * Gzip JSON is stored decompressed so the reader never depends on file extensions.
 *
 * Files are written to a temp name and renamed, so a reader never sees half a file.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetMetadataAsync, parquetSchema } from 'hyparquet';
import { mapWithConcurrency } from '../../support/concurrency';
import { getObjectBytes, type S3ObjectInfo } from '../s3-objects';
import { writeFileAtomic } from '../state-file';

export interface ParquetFileSchema {
  /** Lower-case top-level column names. */
  columns: string[];
  /** Identical for files DuckDB can read together without union_by_name. */
  signature: string;
}

export interface ObjectCache {
  dir: string;
  /** Local paths of the objects, in order; downloads what is missing. */
  fetch(objects: S3ObjectInfo[], format: 'parquet' | 'json', signal?: AbortSignal): Promise<string[]>;
  /** The schema of a cached Parquet file, from its footer (memoized: cache files never change). */
  parquetSchemaOf(path: string): Promise<ParquetFileSchema>;
}

const SCHEMA_MEMO_LIMIT = 100_000;

export function createObjectCache(deps: { s3: S3Client; dir: string; concurrency?: number }): ObjectCache {
  const inFlight = new Map<string, Promise<void>>();
  const schemas = new Map<string, Promise<ParquetFileSchema>>();

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

  const download = async (o: S3ObjectInfo, path: string, format: string, signal?: AbortSignal) => {
    let bytes = await getObjectBytes(deps.s3, o.bucket, o.key, undefined, signal);
    if (format === 'json' && bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)
      bytes = gunzipSync(bytes);
    await writeFileAtomic(path, bytes);
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
      return mapWithConcurrency(
        objects,
        deps.concurrency ?? 8,
        async (o) => {
          const path = pathOf(o, format);
          const exists = await stat(path).then(
            () => true,
            () => false,
          );
          if (exists) return path;
          let pending = inFlight.get(path);
          if (!pending) {
            pending = download(o, path, format, signal).finally(() => inFlight.delete(path));
            inFlight.set(path, pending);
          }
          await pending;
          return path;
        },
        signal,
      );
    },
  };
}
