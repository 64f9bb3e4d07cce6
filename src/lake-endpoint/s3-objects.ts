/**
 * The endpoint's only S3 access (through the project's S3 client, never httpfs): list a prefix, read an
 * object or a byte range, write a result. Crawler and query engine share it.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  type _Object as S3Object,
} from '@aws-sdk/client-s3';

export interface S3Location {
  bucket: string;
  /** Key prefix without a leading slash; '' for the whole bucket, otherwise ending in '/'. */
  prefix: string;
}

export interface S3ObjectInfo {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  lastModified?: number;
}

export class S3UrlError extends Error {
  override readonly name = 'S3UrlError';
}

/**
 * Parses `s3://bucket/some/prefix` as a folder (the prefix gets a trailing slash).
 *
 * @example parseS3Folder('s3://lake/orders_cdc') // { bucket: 'lake', prefix: 'orders_cdc/' }
 */
export function parseS3Folder(url: string): S3Location {
  const { bucket, key } = parseS3Url(url);
  return { bucket, prefix: key === '' || key.endsWith('/') ? key : `${key}/` };
}

export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3a?n?:\/\/([^/]+)\/?(.*)$/i.exec(url.trim());
  if (!match || !match[1]) throw new S3UrlError(`not an S3 URL: "${url}" (expected s3://bucket/prefix)`);
  return { bucket: match[1], key: match[2] };
}

export const s3Url = (bucket: string, key: string) => `s3://${bucket}/${key}`;

/** The SDK error's code (`NoSuchBucket`, …) and message in one line, for crawl and query failures. */
export function describeS3Error(error: unknown): string {
  const e = error as { name?: string; Code?: string; message?: string };
  const code = e.Code ?? e.name ?? 'Error';
  return `${code}: ${e.message ?? String(error)}`;
}

/** Every object under a prefix (all pages). */
export async function listObjects(
  s3: S3Client,
  location: S3Location,
  signal?: AbortSignal,
): Promise<S3ObjectInfo[]> {
  const out: S3ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: location.bucket,
        Prefix: location.prefix || undefined,
        ContinuationToken: token,
      }),
      { abortSignal: signal },
    );
    for (const object of page.Contents ?? []) out.push(toInfo(location.bucket, object));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

function toInfo(bucket: string, object: S3Object): S3ObjectInfo {
  return {
    bucket,
    key: object.Key ?? '',
    size: object.Size ?? 0,
    etag: (object.ETag ?? '').replace(/"/g, ''),
    lastModified: object.LastModified ? object.LastModified.getTime() / 1000 : undefined,
  };
}

/** Whether Hive/Athena/Glue skip this key: folder markers and files whose name starts with `_` or `.`. */
export function isHiddenOrMarker(key: string): boolean {
  if (key.endsWith('/') || key.endsWith('_$folder$')) return true;
  const name = key.slice(key.lastIndexOf('/') + 1);
  return name.startsWith('_') || name.startsWith('.');
}

/** Reads an object, or the bytes [start, end) of it. */
export async function getObjectBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  range?: { start: number; end: number },
  signal?: AbortSignal,
): Promise<Buffer> {
  const response = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
    }),
    { abortSignal: signal },
  );
  if (!response.Body) return Buffer.alloc(0);
  return Buffer.from(await response.Body.transformToByteArray());
}

export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array,
  contentType: string,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/**
 * A Glue exclusion glob as a RegExp over keys relative to the include path: `*` stays within a folder,
 * `**` crosses folders, `?` is one character, `[abc]`/`[!abc]` classes, `{a,b}` alternatives.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let i = 0;
  let braces = 0;
  while (i < glob.length) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        // `**/` also matches zero folders
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 3;
        } else {
          out += '.*';
          i += 2;
        }
        continue;
      }
      out += '[^/]*';
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close === -1) {
        out += '\\[';
      } else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        out += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (ch === '{') {
      braces++;
      out += '(?:';
    } else if (ch === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (ch === ',' && braces > 0) {
      out += '|';
    } else {
      out += ch.replace(/[.+^${}()|\\]/g, '\\$&');
    }
    i++;
  }
  return new RegExp(`^${out}$`);
}
