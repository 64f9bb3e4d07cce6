/** Idempotently ensures the data-lake bucket and its lifecycle rules. */
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isS3NotFound } from '../aws/errors';
import type { Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';

/**
 * Athena results and reports are re-creatable outputs: they expire, as the data does not. The rules are the whole
 * lifecycle configuration of the bucket (S3 replaces it as a whole), so putting them again is idempotent.
 */
export function lakeLifecycleRules(config: Pick<Config, 'lake' | 'retention'>): LifecycleRule[] {
  const expire = (id: string, prefix: string, days: number): LifecycleRule => ({
    ID: id,
    Filter: { Prefix: `${prefix}/` },
    Status: 'Enabled',
    Expiration: { Days: days },
  });
  return [
    expire('athena-results-expire', config.lake.athenaResultsPrefix, config.retention.athenaResultsDays),
    expire('reports-expire', config.lake.reportsPrefix, config.retention.reportsDays),
  ];
}

async function putLifecycle(s3: S3Client, config: Config, bucket: string): Promise<void> {
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: { Rules: lakeLifecycleRules(config) },
    }),
  );
}

export async function ensureBucket(
  s3: S3Client,
  config: Config,
  bucket = config.lake.bucket,
): Promise<EnsureOutcome> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    await putLifecycle(s3, config, bucket);
    return { kind: 's3-bucket', name: bucket, action: 'exists' };
  } catch (error) {
    if (!isS3NotFound(error)) throw error;
  }
  try {
    await s3.send(
      // No CreateBucketConfiguration: the S3 client fills in its own resolved region (AWS_REGION or the
      // profile's), except for us-east-1, which rejects an explicit location constraint.
      new CreateBucketCommand({ Bucket: bucket }),
    );
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  await putLifecycle(s3, config, bucket);
  return { kind: 's3-bucket', name: bucket, action: 'created' };
}
