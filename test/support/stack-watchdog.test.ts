/** The test runner's stack watchdog against real sockets: it stays quiet while a service answers and reports it
 * lost after the allowed number of refused checks once it stops. */
import { createServer, type Server } from 'node:net';
import { waitFor } from '../../src/support/timing';
import { watchStack, type WatchedEndpoint } from '../../src/local/stack-watchdog';

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      resolve({ server, port: address.port });
    });
  });
}

test('reports a service lost only after it stops answering, naming it', async () => {
  const kafka = await listen();
  const moto = await listen();
  const lost: { endpoint: WatchedEndpoint; detail: string }[] = [];
  let checks = 0;
  const watchdog = watchStack(
    [
      { name: 'kafka', host: '127.0.0.1', port: kafka.port },
      { name: 'moto', host: '127.0.0.1', port: moto.port },
    ],
    {
      intervalMs: 50,
      failuresAllowed: 3,
      onLost: (endpoint, detail) => lost.push({ endpoint, detail }),
      onCheck: () => checks++,
    },
  );
  try {
    await waitFor('five passing checks', async () => checks >= 5, { timeoutMs: 10_000, intervalMs: 10 });
    expect(lost).toEqual([]);

    await new Promise<void>((resolve) => moto.server.close(() => resolve()));
    await waitFor('the watchdog to report moto lost', async () => lost.length > 0, {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    expect(lost).toHaveLength(1);
    expect(lost[0].endpoint.name).toBe('moto');
    expect(lost[0].detail).toMatch(/^moto at 127\.0\.0\.1:\d+ refused 3 checks in a row/);
  } finally {
    watchdog.stop();
    kafka.server.close();
  }
});
