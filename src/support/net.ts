import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago (the OS picked it). Another process may take it before the
 * caller binds it: use it for a child that binds at once, and bind port 0 yourself where you can.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A free port whose next port is free too (same caveat as freePort): the local Kafka broker takes its KRaft
 * controller's port as the broker's port + 1.
 */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await freePort(host);
    if (port < 65535 && (await portIsFree(port + 1, host))) return port;
  }
}
