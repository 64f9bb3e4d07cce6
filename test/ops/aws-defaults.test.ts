/**
 * AWS mode takes the region from the SDK's default chain: with AWS_REGION unset the config carries no region,
 * and the clients resolve the profile's — checked with a real S3 client against the local S3 (moto), whose
 * bucket ends up in the profile's region.
 */
import { GetBucketLocationCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client } from '../../src/aws/clients';
import { loadConfig } from '../../src/config';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { emptyBucket } from '../support/cleanup';
import { uniqueSuffix } from '../support/fresh-config';

const PROFILE_REGION = 'eu-central-1';
const MOTO = 'http://127.0.0.1:5000';

describe('AWS_REGION', () => {
  it('defaults to us-east-1 in local mode and is unset in AWS mode', () => {
    expect(loadConfig({}).aws.region).toBe('us-east-1');
    expect(
      loadConfig({ PIPELINE_MODE: 'aws', TEMPORAL_ADDRESS: 'temporal:7233' }).aws.region,
    ).toBeUndefined();
    expect(
      loadConfig({ PIPELINE_MODE: 'aws', TEMPORAL_ADDRESS: 'temporal:7233', AWS_REGION: 'eu-west-1' }).aws
        .region,
    ).toBe('eu-west-1');
  });
});

describe('AWS mode without AWS_REGION', () => {
  const saved = { ...process.env };
  const dir = mkdtempSync(join(tmpdir(), 'aws-profile-'));
  const bucket = `aws-defaults-${uniqueSuffix()}`;
  const env = {
    PIPELINE_MODE: 'aws',
    TEMPORAL_ADDRESS: 'temporal:7233',
    AWS_ENDPOINT_URL_S3: process.env.AWS_ENDPOINT_URL_S3 ?? MOTO,
    LAKE_BUCKET: bucket,
  };

  beforeAll(() => {
    // The SDK reads the region chain from the process environment: a profile file with a region, no AWS_REGION.
    writeFileSync(join(dir, 'config'), `[default]\nregion = ${PROFILE_REGION}\n`);
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    process.env.AWS_ACCESS_KEY_ID = 'local';
    process.env.AWS_SECRET_ACCESS_KEY = 'local';
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    delete process.env.AWS_PROFILE;
  });

  afterAll(async () => {
    const s3 = createS3Client(loadConfig({ ...process.env, ...env }));
    await emptyBucket(s3, bucket, { deleteBucket: true }).catch(() => undefined);
    s3.destroy();
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the lake bucket in the profile's region", async () => {
    const config = loadConfig({ ...process.env, ...env });
    const s3 = createS3Client(config);
    // Local S3 files a bucket under the request's signing region whatever the body says; AWS refuses a
    // CreateBucket to a regional endpoint without the matching LocationConstraint. So the request itself is
    // checked too.
    const createRequests: unknown[] = [];
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CreateBucketCommand') createRequests.push(args.input);
        return next(args);
      },
      { step: 'initialize' },
    );
    try {
      await expect(s3.config.region()).resolves.toBe(PROFILE_REGION);
      await expect(ensureBucket(s3, config)).resolves.toMatchObject({ action: 'created' });
      const location = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
      expect(location.LocationConstraint).toBe(PROFILE_REGION);
      expect(createRequests).toStrictEqual([
        { Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: PROFILE_REGION } },
      ]);
    } finally {
      s3.destroy();
    }
  });
});
