/**
 * Kafka security against a real broker: this file starts its own Kafka (KRaft, combined mode, the stack's
 * installed jars) on free ports with four listeners — PLAINTEXT for setup, SSL requiring a client certificate
 * (mTLS), SASL_SSL with SCRAM-SHA-512 (user created at format time) and SASL_PLAINTEXT with OAUTHBEARER and
 * Kafka's default unsecured-JWT validator — and checks that the pipeline's own createKafka(config) produces and
 * consumes through each, and that bad credentials fail clearly. The OAuth token endpoint is a real local HTTP
 * server. MSK IAM cannot be reached here: the token provider is checked without AWS (the signer signs locally).
 */
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { createKafka, kafkaSasl } from '../../src/kafka/client';
import { cachedTokenProvider, mskIamToken, type ExpiringToken } from '../../src/kafka/sasl-tokens';
import { KAFKA_LOG4J2_YAML, kafkaLibsDir } from '../../src/local/installer';
import { logTail, spawnDetached, stopGroup, type SpawnedProcess } from '../../src/local/os-processes';
import { stackPaths } from '../../src/local/paths';
import { freePort } from '../../src/support/net';
import { waitFor } from '../../src/support/timing';
import { createTestPki, type TestPki } from '../support/certificates';

jest.setTimeout(180_000);

const HOST = '127.0.0.1';
const SCRAM_USER = 'pipeline';
const SCRAM_PASSWORD = 'scram-secret';
const OAUTH_CLIENT = 'pipeline-client';
const OAUTH_SECRET = 'oauth-secret';
const OAUTH_SCOPE = 'kafka';

interface Ports {
  plain: number;
  controller: number;
  mtls: number;
  scram: number;
  oauth: number;
}

function brokerProperties(ports: Ports, pki: TestPki, logDir: string): string {
  const listeners = {
    PLAINTEXT: ports.plain,
    MTLS: ports.mtls,
    SCRAM: ports.scram,
    OAUTH: ports.oauth,
  };
  const advertised = Object.entries(listeners).map(([name, port]) => `${name}://${HOST}:${port}`);
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${HOST}:${ports.controller}`,
    `listeners=${[...advertised, `CONTROLLER://${HOST}:${ports.controller}`].join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,MTLS:SSL,SCRAM:SASL_SSL,OAUTH:SASL_PLAINTEXT',
    `log.dirs=${logDir}`,
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // One server certificate (PEM keystore) for both TLS listeners; only MTLS demands a client certificate.
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${pki.serverKeystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${pki.caCert}`,
    'listener.name.mtls.ssl.client.auth=required',
    'listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-512',
    'listener.name.scram.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    // Without a server callback handler Kafka validates unsecured JWTs (alg "none"): fine for a test broker.
    'listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER',
    'listener.name.oauth.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";',
    '',
  ].join('\n');
}

/** An unsecured JWT (RFC 7519 §6), what Kafka's default OAUTHBEARER validator accepts. */
function unsecuredJwt(subject: string, lifetimeSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub: subject, iat: now, exp: now + lifetimeSeconds, scope: OAUTH_SCOPE })}.`;
}

interface TokenRequest {
  authorization: string | undefined;
  body: URLSearchParams;
}

/** A client-credentials token endpoint: one client, Basic authentication, unsecured JWTs valid for an hour. */
function startTokenEndpoint(requests: TokenRequest[]): Promise<Server> {
  const expected = `Basic ${Buffer.from(`${OAUTH_CLIENT}:${OAUTH_SECRET}`).toString('base64')}`;
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      const body = new URLSearchParams(text);
      requests.push({ authorization: request.headers.authorization, body });
      response.setHeader('content-type', 'application/json');
      if (request.headers.authorization !== expected) {
        response.statusCode = 401;
        response.end(
          JSON.stringify({ error: 'invalid_client', error_description: 'bad client credentials' }),
        );
        return;
      }
      response.end(
        JSON.stringify({
          access_token: unsecuredJwt(OAUTH_CLIENT, 3600),
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(server)));
}

let pki: TestPki;
let home: string;
let broker: SpawnedProcess;
let ports: Ports;
let tokenServer: Server;
const tokenRequests: TokenRequest[] = [];
let tokenUrl: string;
const topic = `security-${randomUUID()}`;

/** Local-mode config for one listener; `env` adds the listener's security variables. */
function configFor(port: number, env: Record<string, string>): Config {
  return loadConfig({ KAFKA_BROKERS: `${HOST}:${port}`, LOG_LEVEL: 'silent', ...env });
}

/** Produces one record through `config`'s client and consumes it back with a new consumer group. */
async function roundTrip(config: Config): Promise<string> {
  const kafka = createKafka(config, 'security-test');
  const value = randomUUID();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `security-${randomUUID()}` });
  try {
    await producer.connect();
    await producer.send({ topic, messages: [{ value }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Set<string>();
    await consumer.run({
      eachMessage: async ({ message }) => void seen.add(message.value?.toString() ?? ''),
    });
    return await waitFor(`record ${value} consumed`, async () => seen.has(value) && value, {
      timeoutMs: 60_000,
    });
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
  }
}

/** What connecting a producer with `config` fails with. */
async function connectError(config: Config): Promise<Error> {
  const producer = createKafka(config, 'security-test').producer({ retry: { retries: 0 } });
  try {
    await producer.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await producer.disconnect();
  }
  throw new Error('connected although it should not have');
}

beforeAll(async () => {
  pki = createTestPki();
  home = mkdtempSync(join(tmpdir(), 'kafka-security-'));
  ports = {
    plain: await freePort(),
    controller: await freePort(),
    mtls: await freePort(),
    scram: await freePort(),
    oauth: await freePort(),
  };
  const propertiesFile = join(home, 'server.properties');
  const log4jFile = join(home, 'log4j2.yaml');
  writeFileSync(propertiesFile, brokerProperties(ports, pki, join(home, 'data')));
  writeFileSync(log4jFile, KAFKA_LOG4J2_YAML);
  const classpath = `${kafkaLibsDir(stackPaths(loadConfig()))}/*`;
  const storageTool = (args: string[]) =>
    execFileSync(
      'java',
      [`-Dlog4j2.configurationFile=${log4jFile}`, '-cp', classpath, 'kafka.tools.StorageTool', ...args],
      { cwd: home, encoding: 'utf8' },
    );
  const clusterId = storageTool(['random-uuid']).trim();
  storageTool([
    'format',
    '--standalone',
    '-t',
    clusterId,
    '-c',
    propertiesFile,
    '--add-scram',
    `SCRAM-SHA-512=[name=${SCRAM_USER},password=${SCRAM_PASSWORD}]`,
  ]);
  broker = spawnDetached({
    command: 'java',
    args: [
      '-Xmx384m',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propertiesFile,
    ],
    cwd: home,
    env: process.env,
    logFile: join(home, 'kafka.log'),
  });
  tokenServer = await startTokenEndpoint(tokenRequests);
  tokenUrl = `http://${HOST}:${(tokenServer.address() as AddressInfo).port}/oauth2/token`;

  const admin = createKafka(configFor(ports.plain, {}), 'security-setup').admin();
  try {
    await waitFor(
      'the test broker',
      async () => {
        await admin.connect();
        return admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${logTail(join(home, 'kafka.log'))}`);
    });
  } finally {
    await admin.disconnect();
  }
});

afterAll(async () => {
  if (broker) await stopGroup(broker.pid, 20_000);
  await new Promise((resolve) => tokenServer?.close(resolve));
  if (home) rmSync(home, { recursive: true, force: true });
  pki?.remove();
});

describe('mTLS (SSL listener requiring a client certificate)', () => {
  it('produces and consumes with the CA bundle and the client certificate', async () => {
    const config = configFor(ports.mtls, {
      KAFKA_SSL_CA_PATH: pki.caCert,
      KAFKA_SSL_CERT_PATH: pki.clientCert,
      KAFKA_SSL_KEY_PATH: pki.clientKey,
    });
    await expect(roundTrip(config)).resolves.toEqual(expect.any(String));
  });

  it('fails to connect without a client certificate', async () => {
    const error = await connectError(configFor(ports.mtls, { KAFKA_SSL_CA_PATH: pki.caCert }));
    // The broker rejects the handshake; kafkajs gives up after its retries with the TLS alert as the reason.
    expect(error.message).toContain('alert bad certificate');
  });

  it('names the variable whose file cannot be read', () => {
    const config = configFor(ports.mtls, { KAFKA_SSL_CA_PATH: join(home, 'missing-ca.pem') });
    expect(() => createKafka(config)).toThrow(/^KAFKA_SSL_CA_PATH: cannot read ".*missing-ca\.pem"/);
  });
});

describe('SASL_SSL with SCRAM-SHA-512', () => {
  const scram = (password: string) => ({
    KAFKA_SSL_CA_PATH: pki.caCert,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: SCRAM_USER,
    KAFKA_SASL_PASSWORD: password,
  });

  it('produces and consumes with the right password', async () => {
    await expect(roundTrip(configFor(ports.scram, scram(SCRAM_PASSWORD)))).resolves.toEqual(
      expect.any(String),
    );
  });

  it('fails with an authentication error on a wrong password', async () => {
    const error = await connectError(configFor(ports.scram, scram('wrong-password')));
    expect(error.name).toBe('KafkaJSSASLAuthenticationError');
    expect(error.message).toMatch(/SCRAM SHA512 authentication failed.*invalid credentials/);
  });
});

describe('SASL_PLAINTEXT with OAUTHBEARER (client-credentials grant)', () => {
  const oauth = (secret: string) => ({
    KAFKA_SASL_MECHANISM: 'oauthbearer',
    KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: tokenUrl,
    KAFKA_SASL_OAUTHBEARER_CLIENT_ID: OAUTH_CLIENT,
    KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: secret,
    KAFKA_SASL_OAUTHBEARER_SCOPE: OAUTH_SCOPE,
  });

  it('produces and consumes with a token from the endpoint, fetched once for all connections', async () => {
    tokenRequests.length = 0;
    await expect(roundTrip(configFor(ports.oauth, oauth(OAUTH_SECRET)))).resolves.toEqual(expect.any(String));
    expect(tokenRequests).toHaveLength(1);
    expect(Object.fromEntries(tokenRequests[0]!.body)).toEqual({
      grant_type: 'client_credentials',
      scope: OAUTH_SCOPE,
    });
  });

  it('fails with the endpoint’s reason when the client secret is wrong', async () => {
    const error = await connectError(configFor(ports.oauth, oauth('wrong-secret')));
    const chain = [error, error.cause, (error as { originalError?: unknown }).originalError]
      .map(String)
      .join('\n');
    expect(chain).toContain(
      `refused client "${OAUTH_CLIENT}" (HTTP 401): invalid_client: bad client credentials`,
    );
    expect(chain).not.toContain('wrong-secret');
  });
});

describe('MSK IAM token provider (no AWS: the signer signs locally)', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  /** The presigned URL inside an MSK IAM token. */
  function decode(token: string) {
    const url = new URL(Buffer.from(token, 'base64url').toString('utf8'));
    const params = url.searchParams;
    return {
      host: url.host,
      action: params.get('Action'),
      credentialRegion: params.get('X-Amz-Credential')?.split('/')[2],
      expiresSeconds: Number(params.get('X-Amz-Expires')),
    };
  }

  it('signs for KAFKA_SASL_AWS_REGION through the client’s oauthbearer provider', async () => {
    const sasl = kafkaSasl(
      loadConfig({ KAFKA_SASL_MECHANISM: 'aws-msk-iam', KAFKA_SASL_AWS_REGION: 'eu-west-3' }).kafka,
    );
    expect(sasl).toMatchObject({ mechanism: 'oauthbearer' });
    const { value } = await (
      sasl as { oauthBearerProvider: () => Promise<{ value: string }> }
    ).oauthBearerProvider();
    expect(decode(value)).toEqual({
      host: 'kafka.eu-west-3.amazonaws.com',
      action: 'kafka-cluster:Connect',
      credentialRegion: 'eu-west-3',
      expiresSeconds: 900,
    });
  });

  it('takes the region from the SDK’s region chain when KAFKA_SASL_AWS_REGION is unset', async () => {
    process.env.AWS_REGION = 'ap-southeast-2';
    const token = await mskIamToken('')();
    expect(decode(token.value).host).toBe('kafka.ap-southeast-2.amazonaws.com');
  });

  it('hands out the cached token and signs a new one once 80 % of its lifetime has passed', async () => {
    let clock = Date.now();
    const signed: ExpiringToken[] = [];
    const sign = mskIamToken('eu-west-3');
    const provider = cachedTokenProvider(
      async () => {
        const token = await sign();
        signed.push(token);
        return token;
      },
      () => clock,
    );
    await provider();
    const lifetime = signed[0]!.expiresAt - clock;
    expect(lifetime).toBeGreaterThan(800_000);
    clock += lifetime * 0.79;
    await provider();
    expect(signed).toHaveLength(1);
    clock += lifetime * 0.02;
    await provider();
    expect(signed).toHaveLength(2);
  });
});

describe('configuration', () => {
  it('names the variables a SASL mechanism is missing', () => {
    expect(() =>
      loadConfig({ KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'x' }),
    ).toThrow(
      'KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET',
    );
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      'KAFKA_SASL_MECHANISM=scram-sha-512 needs KAFKA_SASL_PASSWORD',
    );
  });

  it('refuses a client certificate without its key', () => {
    expect(() => loadConfig({ KAFKA_SSL_CERT_PATH: '/etc/kafka/client.crt' })).toThrow(
      'KAFKA_SSL_CERT_PATH and KAFKA_SSL_KEY_PATH go together',
    );
  });
});
