/**
 * Storage: the only code of the lake format that talks to S3 (the S3 sink writes through it, the lake reader
 * reads through it). Small objects go up with one PutObject; large
 * ones with a multipart upload (parts uploaded a few at a time, aborted on failure so no orphaned parts
 * are billed). A PUT of an existing key replaces it atomically, which is what makes replays idempotent.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createWriteStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isS3NotFound } from '../aws/errors';
import type { Logger } from '../observability/logger';
import { mapWithConcurrency } from '../support/concurrency';
import { LakeFormatError } from './errors';

/** S3 requires parts of at least 5 MiB (except the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const PART_CONCURRENCY = 4;

export class StorageError extends LakeFormatError {
  override readonly name = 'StorageError';
  /** S3 errors that survive the SDK's own retries are usually an outage: the caller keeps its buffer and retries. */
  readonly retriable = true;
}

export interface StoredObject {
  key: string;
  size: number;
}

export interface ObjectHead {
  size: number;
  /** User metadata (x-amz-meta-*), keys lower-case. */
  metadata: Record<string, string>;
}

export interface LakeStorage {
  bucket: string;
  put(key: string, body: Buffer, contentType: string, metadata?: Record<string, string>): Promise<void>;
  /** Uploads a local file, a part at a time when it is large: the body is never in memory whole. */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /** Streams the object into a local file. */
  download(key: string, path: string): Promise<void>;
  /** The object's size and user metadata, or undefined when there is no such object. */
  head(key: string): Promise<ObjectHead | undefined>;
  get(key: string): Promise<Uint8Array>;
  /** Every object under a prefix, in key order. */
  list(prefix: string): Promise<StoredObject[]>;
}

export interface S3StorageOptions {
  s3: S3Client;
  bucket: string;
  logger: Logger;
  /** Bodies at least this large use a multipart upload. */
  multipartThresholdBytes?: number;
  partBytes?: number;
}

/**
 * @example
 *   const storage = createS3Storage({ s3, bucket: config.lake.bucket, logger });
 *   await storage.put('lake/orders_cdc/dt=2024-05-01/hour=09/orders.cdc+0+0000000000.parquet', body, 'application/vnd.apache.parquet');
 */
export function createS3Storage(options: S3StorageOptions): LakeStorage {
  const { s3, bucket } = options;
  const threshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD;
  const partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? DEFAULT_PART_BYTES);
  const log = options.logger.child({ component: 's3-storage', bucket });

  /** `readPart(start, end)` returns those bytes of the body: from memory, or from a file a slice at a time. */
  const putMultipart = async (
    key: string,
    size: number,
    readPart: (start: number, end: number) => Promise<Buffer>,
    contentType: string,
    metadata?: Record<string, string>,
  ) => {
    const created = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: contentType,
        Metadata: metadata,
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new StorageError(`CreateMultipartUpload for ${key} returned no UploadId`);
    try {
      const count = Math.ceil(size / partBytes);
      const partNumbers = Array.from({ length: count }, (_, index) => index + 1);
      // Every part in flight settles before the abort below, so none is left behind it.
      const etags = await mapWithConcurrency(partNumbers, PART_CONCURRENCY, async (partNumber) => {
        const part = await readPart((partNumber - 1) * partBytes, Math.min(size, partNumber * partBytes));
        const uploaded = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: part,
          }),
        );
        if (!uploaded.ETag) throw new StorageError(`UploadPart ${partNumber} of ${key} returned no ETag`);
        return uploaded.ETag;
      });
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      log.debug({ key, bytes: size, parts: count }, 'multipart upload completed');
    } catch (error) {
      await s3
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch((abortError: Error) =>
          log.warn({ key, uploadId, err: abortError }, 'abort of a failed multipart upload failed'),
        );
      throw error;
    }
  };

  return {
    bucket,
    async put(key, body, contentType, metadata) {
      try {
        if (body.length >= threshold)
          await putMultipart(
            key,
            body.length,
            async (start, end) => body.subarray(start, end),
            contentType,
            metadata,
          );
        else
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              ContentType: contentType,
              Metadata: metadata,
            }),
          );
      } catch (error) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`could not write s3://${bucket}/${key}: ${(error as Error).message}`, error);
      }
    },
    async putFile(key, path, contentType) {
      try {
        const { size } = await stat(path);
        if (size < threshold) {
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: await readFile(path),
              ContentType: contentType,
            }),
          );
          return;
        }
        const file = await open(path, 'r');
        try {
          await putMultipart(
            key,
            size,
            async (start, end) => {
              const part = Buffer.allocUnsafe(end - start);
              const { bytesRead } = await file.read(part, 0, part.length, start);
              if (bytesRead !== part.length)
                throw new StorageError(
                  `${path} ended at byte ${start + bytesRead} of ${size} while uploading ${key}`,
                );
              return part;
            },
            contentType,
          );
        } finally {
          await file.close();
        }
      } catch (error) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(
          `could not write s3://${bucket}/${key} from ${path}: ${(error as Error).message}`,
          error,
        );
      }
    },
    async download(key, path) {
      try {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!response.Body) throw new StorageError(`s3://${bucket}/${key} has no body`);
        await pipeline(response.Body as Readable, createWriteStream(path));
      } catch (error) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(
          `could not download s3://${bucket}/${key}: ${(error as Error).message}`,
          error,
        );
      }
    },
    async head(key) {
      try {
        const response = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { size: response.ContentLength ?? 0, metadata: response.Metadata ?? {} };
      } catch (error) {
        if (isS3NotFound(error)) return undefined;
        throw new StorageError(
          `could not read the head of s3://${bucket}/${key}: ${(error as Error).message}`,
          error,
        );
      }
    },
    async get(key) {
      try {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!response.Body) throw new StorageError(`s3://${bucket}/${key} has no body`);
        return await response.Body.transformToByteArray();
      } catch (error) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`could not read s3://${bucket}/${key}: ${(error as Error).message}`, error);
      }
    },
    async list(prefix) {
      const objects: StoredObject[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const item of page.Contents ?? []) {
            if (item.Key) objects.push({ key: item.Key, size: item.Size ?? 0 });
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } catch (error) {
        throw new StorageError(`could not list s3://${bucket}/${prefix}: ${(error as Error).message}`, error);
      }
      return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
  };
}
