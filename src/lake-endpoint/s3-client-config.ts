/**
 * The S3 the endpoint reads (crawl targets, query data) and writes (query results), configured the way the
 * AWS SDK's standard variables describe it:
 * - `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`): a custom endpoint such as moto; unset means AWS S3;
 * - `AWS_REGION` (default `us-east-1`);
 * - credentials from the SDK's provider chain; against a custom endpoint with none in the environment, dummy
 *   ones (a local S3 accepts any).
 *
 * @example
 *   const s3 = new S3Client(s3ClientConfigFromEnv({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:5000' }, { requestTimeoutMs: 30_000 }));
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';

const DEFAULT_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function s3ClientConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  { requestTimeoutMs }: { requestTimeoutMs: number },
): S3ClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  return {
    region: env.AWS_REGION || DEFAULT_REGION,
    maxAttempts: 5,
    // Without a request timeout a request to a hung S3 waits forever (and so does the crawl or query behind it);
    // the SDK's handler only logs a warning when it passes unless told to throw (then the SDK retries).
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: 5_000,
      throwOnRequestTimeout: true,
    },
    ...(endpoint
      ? {
          endpoint,
          // A local S3 (moto) wants path-style addressing and does not speak the SDK's default CRC32 checksums.
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          ...(hasCredentials ? {} : { credentials: LOCAL_CREDENTIALS }),
        }
      : {}),
  };
}
