/**
 * The Temporal connection by Temporal's conventions (src/config/temporal-binding.ts, src/temporal/connection.ts):
 * options from the TEMPORAL_* variables and from a TOML profile, and real connections through the module, in
 * plaintext to the local dev server and over mTLS to a TLS endpoint in front of it (the dev server itself has no
 * TLS options, so the test terminates TLS with its own certificates and forwards the gRPC bytes).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { configToEnv, ConfigError, loadConfig } from '../../src/config';
import {
  connectClient,
  connectWorkerConnection,
  temporalConnectionOptions,
} from '../../src/temporal/connection';
import { createTestPki, type TestPki } from '../support/certificates';

jest.setTimeout(60_000);

const AWS = { PIPELINE_MODE: 'aws', AWS_REGION: 'eu-west-1' };

let pki: TestPki;
let dir: string;

beforeAll(() => {
  pki = createTestPki(['temporal.test']);
  dir = mkdtempSync(join(tmpdir(), 'temporal-config-'));
});

afterAll(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

const toml = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('Temporal options from the environment', () => {
  it('API key: TLS on with the system CAs, the key passed to the connection', () => {
    const config = loadConfig({
      ...AWS,
      TEMPORAL_ADDRESS: 'orders.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'orders.a1b2c',
      TEMPORAL_API_KEY: 'secret-api-key',
    });
    expect(config.temporal.namespace).toBe('orders.a1b2c');
    expect(temporalConnectionOptions(config)).toEqual({
      address: 'orders.a1b2c.tmprl.cloud:7233',
      apiKey: 'secret-api-key',
      tls: true,
      metadata: undefined,
    });
  });

  it('mTLS: CA, server name, client certificate and key read from their files', () => {
    const config = loadConfig({
      ...AWS,
      TEMPORAL_ADDRESS: '10.0.0.5:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    });
    const { tls, apiKey } = temporalConnectionOptions(config);
    expect(apiKey).toBeUndefined();
    expect(tls).toEqual({
      serverNameOverride: 'temporal.test',
      serverRootCACertificate: Uint8Array.from(readFileSync(pki.caCert)),
      clientCertPair: {
        crt: Uint8Array.from(readFileSync(pki.clientCert)),
        key: Uint8Array.from(readFileSync(pki.clientKey)),
      },
    });
  });

  it('local mode: the local stack in plaintext, with no config file read', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.config', 'temporalio'), { recursive: true });
    writeFileSync(
      join(home, '.config', 'temporalio', 'temporal.toml'),
      '[profile.default]\naddress = "cloud.example:7233"\napi_key = "from-default-file"\n',
    );
    const local = loadConfig({ HOME: home, XDG_CONFIG_HOME: join(home, '.config') });
    expect(temporalConnectionOptions(local)).toEqual({
      address: '127.0.0.1:7233',
      apiKey: undefined,
      tls: undefined,
      metadata: undefined,
    });
    // AWS mode follows Temporal's conventions: the user's default profile applies.
    const aws = loadConfig({ ...AWS, HOME: home, XDG_CONFIG_HOME: join(home, '.config') });
    expect(temporalConnectionOptions(aws)).toMatchObject({
      address: 'cloud.example:7233',
      apiKey: 'from-default-file',
    });
  });

  it('AWS mode without an address anywhere fails, naming the variable', () => {
    expect(() => loadConfig({ ...AWS, HOME: dir, XDG_CONFIG_HOME: dir })).toThrow(
      new ConfigError(
        'TEMPORAL_ADDRESS is not set and the Temporal profile has no address (AWS mode has no default)',
      ),
    );
  });

  it('a TEMPORAL_CONFIG_FILE that does not exist fails, naming it', () => {
    expect(() => loadConfig({ ...AWS, TEMPORAL_CONFIG_FILE: join(dir, 'missing.toml') })).toThrow(
      `TEMPORAL_CONFIG_FILE: no such file "${join(dir, 'missing.toml')}"`,
    );
  });
});

describe('Temporal options from a TOML profile', () => {
  const profiles = () =>
    toml(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "127.0.0.1:7233"',
        '',
        '[profile.prod]',
        'address = "prod.a1b2c.tmprl.cloud:7233"',
        'namespace = "prod.a1b2c"',
        '',
        '[profile.prod.tls]',
        `client_cert_path = "${pki.clientCert}"`,
        `client_key_path = "${pki.clientKey}"`,
        `server_ca_cert_path = "${pki.caCert}"`,
        '',
        '[profile.prod.grpc_meta]',
        'x-team = "orders"',
        '',
      ].join('\n'),
    );

  it('TEMPORAL_PROFILE selects the profile; its address, namespace, TLS and metadata are used', () => {
    const config = loadConfig({ ...AWS, TEMPORAL_CONFIG_FILE: profiles(), TEMPORAL_PROFILE: 'prod' });
    expect(config.temporal).toMatchObject({
      address: 'prod.a1b2c.tmprl.cloud:7233',
      namespace: 'prod.a1b2c',
    });
    const options = temporalConnectionOptions(config);
    expect(options).toMatchObject({
      address: 'prod.a1b2c.tmprl.cloud:7233',
      metadata: { 'x-team': 'orders' },
    });
    expect(options.tls).toMatchObject({
      serverRootCACertificate: Uint8Array.from(readFileSync(pki.caCert)),
      clientCertPair: { crt: Uint8Array.from(readFileSync(pki.clientCert)) },
    });
  });

  it('variables override the profile, as in the temporal CLI', () => {
    const config = loadConfig({
      ...AWS,
      TEMPORAL_CONFIG_FILE: profiles(),
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'staging.a1b2c',
      TEMPORAL_TLS: 'false',
    });
    expect(config.temporal.namespace).toBe('staging.a1b2c');
    expect(temporalConnectionOptions(config).tls).toBe(false);
  });

  it('a profile that is not in the file fails, naming it', () => {
    expect(() => loadConfig({ ...AWS, TEMPORAL_CONFIG_FILE: profiles(), TEMPORAL_PROFILE: 'qa' })).toThrow(
      "Temporal client configuration: Profile 'qa' not found in config data",
    );
  });

  it('a child process given configToEnv(config) connects the same way', () => {
    const config = loadConfig({ ...AWS, TEMPORAL_CONFIG_FILE: profiles(), TEMPORAL_PROFILE: 'prod' });
    const child = loadConfig({ ...configToEnv(config) });
    expect(temporalConnectionOptions(child)).toEqual({
      ...temporalConnectionOptions(config),
      // gRPC metadata reaches a child through the inherited TEMPORAL_GRPC_META_* variables or the profile.
      metadata: undefined,
    });
  });
});

describe('real connections through the module', () => {
  it('reaches the local dev server in plaintext', async () => {
    const temporal = await connectClient(loadConfig());
    try {
      const info = await temporal.connection.workflowService.getSystemInfo({});
      expect(info.capabilities?.signalAndQueryHeader).toBe(true);
    } finally {
      await temporal.close();
    }
  });

  describe('over mTLS', () => {
    let proxy: TlsServer;
    let port: number;
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      // TLS ends here (client certificate required); the gRPC stream goes on to the dev server unchanged.
      const dev = loadConfig().temporal.address.split(':');
      proxy = createTlsServer(
        {
          key: readFileSync(pki.serverKey),
          cert: readFileSync(pki.serverCert),
          ca: readFileSync(pki.caCert),
          requestCert: true,
          rejectUnauthorized: true,
          ALPNProtocols: ['h2'],
        },
        (client) => {
          const upstream = connectTcp(Number(dev[1]), dev[0]);
          for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.once('close', () => sockets.delete(socket));
            socket.on('error', () => undefined);
          }
          client.pipe(upstream).pipe(client);
        },
      );
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      port = (proxy.address() as { port: number }).port;
    });

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    });

    const mtlsEnv = () => ({
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    });

    it('the client connection verifies the server by name and presents its certificate', async () => {
      const temporal = await connectClient(loadConfig(mtlsEnv()));
      try {
        const info = await temporal.connection.workflowService.getSystemInfo({});
        expect(info.capabilities?.signalAndQueryHeader).toBe(true);
      } finally {
        await temporal.close();
      }
    });

    it("the worker's native connection too", async () => {
      const connection = await connectWorkerConnection(loadConfig(mtlsEnv()));
      try {
        const info = await connection.workflowService.getSystemInfo({});
        expect(info.capabilities?.signalAndQueryHeader).toBe(true);
      } finally {
        await connection.close();
      }
    });

    it('without the client certificate the endpoint refuses the connection', async () => {
      const serverOnly: Record<string, string> = mtlsEnv();
      delete serverOnly.TEMPORAL_TLS_CLIENT_CERT_PATH;
      delete serverOnly.TEMPORAL_TLS_CLIENT_KEY_PATH;
      await expect(connectClient(loadConfig(serverOnly), { connectTimeout: '5 seconds' })).rejects.toThrow();
    });
  });
});
