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
    // Without a socket timeout a request to a hung endpoint waits forever (and so does its caller); with one
    // it fails after this long and the SDK retries it.
    requestHandler: { requestTimeout: config.aws.requestTimeoutMs, connectionTimeout: 5_000 },
  };
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

export function createAwsClients(config: Config): AwsClients {
  return {
    dynamodb: new DynamoDBClient(clientConfig(config, 'dynamodb')),
    dynamodbStreams: new DynamoDBStreamsClient(clientConfig(config, 'dynamodbStreams')),
    s3: createS3Client(config),
    glue: new GlueClient(clientConfig(config, 'glue')),
    athena: new AthenaClient(clientConfig(config, 'athena')),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}
