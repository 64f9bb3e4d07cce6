/**
 * A throwaway PKI for TLS tests, made with openssl: a CA, a server certificate for 127.0.0.1 / localhost (plus
 * extra DNS names) and a client certificate, as PEM files in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  /** PKCS#8, unencrypted. */
  serverKey: string;
  /** Key and certificate in one file (a Kafka PEM keystore). */
  serverKeystore: string;
  clientCert: string;
  clientKey: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function signed(dir: string, name: string, subject: string, extensions: string): void {
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`], dir);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

export function createTestPki(serverNames: string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key'], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '2',
      '-subj',
      '/CN=pipeline test CA',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  const altNames = ['IP:127.0.0.1', 'DNS:localhost', ...serverNames.map((name) => `DNS:${name}`)].join(',');
  signed(dir, 'server', '/CN=localhost', `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\n`);
  signed(dir, 'client', '/CN=pipeline-client', 'extendedKeyUsage=clientAuth\n');
  const path = (file: string) => join(dir, file);
  writeFileSync(
    path('server.keystore.pem'),
    readFileSync(path('server.key'), 'utf8') + readFileSync(path('server.crt'), 'utf8'),
  );
  return {
    dir,
    caCert: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    serverKeystore: path('server.keystore.pem'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
