/**
 * AWS_REQUEST_TIMEOUT_MS against an endpoint that accepts connections and never answers: every attempt fails
 * once the timeout passes, the SDK retries it, and the request ends with a timeout instead of hanging.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { s3ClientConfigFromEnv } from '../../src/lake-endpoint/s3-client-config';
import { within } from '../../src/support/timing';
import { freshConfig } from '../support/fresh-config';

const TIMEOUT_MS = 1_000;
/** Attempts configured for every client (clients.ts, s3-client-config.ts). */
const ATTEMPTS = 5;
/** A functional bound, not a speed target (all attempts and the SDK's backoff fit well within it): a hung request never ends. */
const GIVE_UP_MS = 10 * TIMEOUT_MS;

describe('AWS request timeout', () => {
  let server: Server;
  let url: string;
  const sockets = new Set<Socket>();
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      // Reads the request and never answers.
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    connections = 0;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it(
    'fails a request through createAwsClients with a timeout after retrying it',
    async () => {
      const config = freshConfig('aws-timeout', {
        aws: { endpoints: { dynamodb: url }, requestTimeoutMs: TIMEOUT_MS },
      });
      const aws = createAwsClients(config);
      try {
        const outcome = await within(
          GIVE_UP_MS,
          'a ListTables request to an endpoint that never answers',
          aws.dynamodb.send(new ListTablesCommand({})).then(
            () => 'answered',
            (error: Error) => error,
          ),
        );
        expect(outcome).toMatchObject({ name: 'TimeoutError' });
        expect(connections).toBe(ATTEMPTS);
      } finally {
        destroyAwsClients(aws);
      }
    },
    2 * GIVE_UP_MS,
  );

  it(
    "fails a request of the lake endpoint's S3 client with a timeout after retrying it",
    async () => {
      const s3 = new S3Client(
        s3ClientConfigFromEnv({ AWS_ENDPOINT_URL_S3: url }, { requestTimeoutMs: TIMEOUT_MS }),
      );
      try {
        const outcome = await within(
          GIVE_UP_MS,
          'a ListBuckets request to an endpoint that never answers',
          s3.send(new ListBucketsCommand({})).then(
            () => 'answered',
            (error: Error) => error,
          ),
        );
        expect(outcome).toMatchObject({ name: 'TimeoutError' });
        expect(connections).toBe(ATTEMPTS);
      } finally {
        s3.destroy();
      }
    },
    2 * GIVE_UP_MS,
  );
});
