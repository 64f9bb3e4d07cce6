/** Idempotently ensures the data-lake bucket. */
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isS3NotFound } from '../aws/errors';
import type { Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';

export async function ensureBucket(
  s3: S3Client,
  config: Config,
  bucket = config.lake.bucket,
): Promise<EnsureOutcome> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return { kind: 's3-bucket', name: bucket, action: 'exists' };
  } catch (error) {
    if (!isS3NotFound(error)) throw error;
  }
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // us-east-1 is the one region that rejects an explicit location constraint.
        ...(config.aws.region !== 'us-east-1'
          ? { CreateBucketConfiguration: { LocationConstraint: config.aws.region as never } }
          : {}),
      }),
    );
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  return { kind: 's3-bucket', name: bucket, action: 'created' };
}
