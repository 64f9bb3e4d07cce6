/** S3 (moto): bucket, put, ListObjectsV2, get, and a multipart upload read back byte for byte. */
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/aws/clients';
import { freshConfig } from '../support/fresh-config';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('S3', () => {
  const config = freshConfig('s3-fnd');
  const Bucket = config.lake.bucket;
  const s3 = createS3Client(config);

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket }));
  });

  afterAll(async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys } }));
    await s3.send(new DeleteBucketCommand({ Bucket }));
    s3.destroy();
  });

  it('puts, lists (v2) and gets objects', async () => {
    const keys = ['lake/dt=2026-01-01/hour=00/a.json', 'lake/dt=2026-01-01/hour=01/b.json', 'reports/r.csv'];
    for (const Key of keys) {
      await s3.send(
        new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}`, ContentType: 'application/json' }),
      );
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'lake/', MaxKeys: 1 }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([keys[0]]);
    expect(listed.IsTruncated).toBe(true);
    const next = await s3.send(
      new ListObjectsV2Command({ Bucket, Prefix: 'lake/', ContinuationToken: listed.NextContinuationToken }),
    );
    expect(next.Contents?.map((o) => o.Key)).toEqual([keys[1]]);
    const folders = await s3.send(
      new ListObjectsV2Command({ Bucket, Prefix: 'lake/dt=2026-01-01/', Delimiter: '/' }),
    );
    expect(folders.CommonPrefixes?.map((p) => p.Prefix)).toEqual([
      'lake/dt=2026-01-01/hour=00/',
      'lake/dt=2026-01-01/hour=01/',
    ]);

    const got = await s3.send(new GetObjectCommand({ Bucket, Key: keys[2] }));
    expect(await got.Body?.transformToString()).toBe(`body of ${keys[2]}`);
  });

  it('assembles a multipart upload', async () => {
    const Key = 'lake/multipart.bin';
    // S3 (and moto) require every part but the last to be at least 5 MiB.
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1024 * 1024 + 17)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const uploaded = [];
    for (const [i, part] of parts.entries()) {
      const { ETag } = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: part }),
      );
      uploaded.push({ ETag, PartNumber: i + 1 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: uploaded } }),
    );

    const whole = Buffer.concat(parts);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentLength).toBe(whole.length);
    // A multipart ETag is "<md5 of part md5s>-<part count>".
    expect(head.ETag).toMatch(/-2"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(
      sha256(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
    ).toBe(sha256(whole));
  });
});
