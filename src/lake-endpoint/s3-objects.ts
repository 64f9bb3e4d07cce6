/**
 * The endpoint's only S3 access (through the project's S3 client, never httpfs): list a prefix, read an
 * object or a byte range, write a result (in parts when it is large). Crawler and query engine share it.
 */
import {
  type _Object as S3Object,
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
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

/** Deletes an object; one that is not there is no error (S3's DeleteObject is idempotent). */
export async function deleteObject(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

export interface ObjectUpload {
  /** Appends to the object; resolves once the bytes are buffered or uploaded (a full part waits for S3). */
  write(data: string | Uint8Array): Promise<void>;
  /** Makes the object visible; returns its size in bytes. */
  finish(): Promise<number>;
  /** Drops what was uploaded so far (no object appears). */
  abort(): Promise<void>;
}

/** S3's minimum size of every part but the last is 5 MiB; 8 MiB keeps the part count low for large results. */
const UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/**
 * An object written as it is produced, holding at most one part in memory: a single PUT when it stays under
 * one part, a multipart upload otherwise.
 *
 * @example
 *   const upload = createObjectUpload(s3, 'results', 'q.csv', 'text/csv');
 *   await upload.write('"a"\n');
 *   const bytes = await upload.finish();
 */
export function createObjectUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  contentType: string,
  signal?: AbortSignal,
): ObjectUpload {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let totalBytes = 0;
  let uploadId: string | undefined;
  const parts: { ETag: string | undefined; PartNumber: number }[] = [];

  const uploadPart = async () => {
    const body = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    uploadId ??= (
      await s3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
        {
          abortSignal: signal,
        },
      )
    ).UploadId;
    const PartNumber = parts.length + 1;
    const { ETag } = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: body }),
      { abortSignal: signal },
    );
    parts.push({ ETag, PartNumber });
  };

  return {
    async write(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
      pending.push(bytes);
      pendingBytes += bytes.length;
      totalBytes += bytes.length;
      if (pendingBytes >= UPLOAD_PART_BYTES) await uploadPart();
    },
    async finish() {
      if (uploadId === undefined) {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: Buffer.concat(pending, pendingBytes),
            ContentType: contentType,
          }),
          { abortSignal: signal },
        );
      } else {
        if (pendingBytes > 0) await uploadPart();
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
          { abortSignal: signal },
        );
      }
      pending = [];
      return totalBytes;
    },
    async abort() {
      pending = [];
      if (uploadId === undefined) return;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    },
  };
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
