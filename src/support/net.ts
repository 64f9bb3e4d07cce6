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
