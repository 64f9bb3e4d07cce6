/**
 * The only place that constructs AWS SDK clients. Everything else receives a ready client.
 *
 * Credentials come from the SDK's default provider chain; only in local mode with no credentials in the
 * environment are dummy static ones used (moto and the local lake endpoint accept any).
 *
 * @example
 *   const aws = createAwsClients(loadConfig());
 *   await aws.s3.send(new ListBucketsCommand({}));
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config';

export interface AwsClients {
  dynamodb: DynamoDBClient;
  dynamodbStreams: DynamoDBStreamsClient;
  s3: S3Client;
  glue: GlueClient;
  athena: AthenaClient;
}

type ServiceName = keyof Config['aws']['endpoints'];

/** The shared part of every client's configuration: region, endpoint override, local credentials. */
export function clientConfig(config: Config, service: ServiceName) {
  return {
    region: config.aws.region,
    endpoint: config.aws.endpoints[service],
    credentials: config.aws.localCredentials,
    maxAttempts: 5,
    // Without a request timeout a request to a hung endpoint waits forever (and so does its caller); with one
    // it fails after this long and the SDK retries it. The handler only logs a warning unless told to throw.
    requestHandler: {
      requestTimeout: config.aws.requestTimeoutMs,
      connectionTimeout: 5_000,
      throwOnRequestTimeout: true,
    },
  };
}

/** Attempts of one lease-table request: a retry, not a siege (the next renewal round comes soon anyway). */
export const LEASE_REQUEST_ATTEMPTS = 2;

/**
 * Timeouts of one attempt of a lease-table request, derived from the lease duration (CDC_LEASE_DURATION_MS): a
 * twelfth of it to answer, a 24th to connect. All attempts together take at most a quarter of the lease, so a
 * renewal that hangs fails before the next round (a third of the lease) instead of outliving the lease itself,
 * as the shared client's AWS_REQUEST_TIMEOUT_MS × 5 attempts would.
 */
export function leaseRequestTimeouts(leaseDurationMs: number) {
  return {
    requestTimeout: Math.max(50, Math.floor(leaseDurationMs / 12)),
    connectionTimeout: Math.max(25, Math.floor(leaseDurationMs / 24)),
    // Without it the SDK's handler only logs a warning when requestTimeout passes, and the request hangs on.
    throwOnRequestTimeout: true,
  };
}

/**
 * The CDC relay's client for its lease table (leases and checkpoints): short timeouts and few attempts.
 *
 * @example
 *   const leases = createLeaseTable(createLeaseDynamoDBClient(config), config.dynamodb.checkpointTable);
 */
export function createLeaseDynamoDBClient(
  config: Config,
  leaseDurationMs = config.cdcRelay.leaseDurationMs,
): DynamoDBClient {
  return new DynamoDBClient({
    ...clientConfig(config, 'dynamodb'),
    maxAttempts: LEASE_REQUEST_ATTEMPTS,
    requestHandler: leaseRequestTimeouts(leaseDurationMs),
  });
}

export function createS3Client(config: Config): S3Client {
  const custom = config.aws.endpoints.s3 !== undefined;
  return new S3Client({
    ...clientConfig(config, 's3'),
    // Local S3 (moto) wants path-style addressing and does not speak the SDK's default CRC32 checksums.
    forcePathStyle: custom,
    ...(custom
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  });
}

export function createGlueClient(config: Config): GlueClient {
  return new GlueClient(clientConfig(config, 'glue'));
}

export function createAwsClients(config: Config): AwsClients {
  return {
    dynamodb: new DynamoDBClient(clientConfig(config, 'dynamodb')),
    dynamodbStreams: new DynamoDBStreamsClient(clientConfig(config, 'dynamodbStreams')),
    s3: createS3Client(config),
    glue: createGlueClient(config),
    athena: new AthenaClient(clientConfig(config, 'athena')),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}
