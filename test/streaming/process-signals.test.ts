/**
 * How a streaming process meets its signals, as a real child process: it is one process (the pid a supervisor
 * signals is the script's own, so a SIGTERM drains instead of being relayed and escalated), and a SIGTERM that
 * arrives while it is still starting (here: its broker does not answer yet) ends in a clean exit 0.
 */
import { createServer } from 'node:net';
import { withOverrides } from '../../src/config';
import { waitFor } from '../../src/support/timing';
import { freshConfig } from '../support/fresh-config';
import { ChildProcesses, logLines } from './helpers';

/** A port nothing listens on: bound once to learn a free one, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a streaming process and its signals', () => {
  const children = new ChildProcesses(() => config);
  let config = freshConfig('signals');

  afterEach(async () => {
    await children.killAll();
  });

  it.each([
    ['cdc-relay', 'src/streaming/cdc-relay/main.ts'],
    ['dynamo-sink', 'src/streaming/dynamo-sink/main.ts'],
  ])(
    '%s: one process; SIGTERM while it still waits for its broker exits 0',
    async (name, entry) => {
      config = withOverrides(freshConfig(`signals-${name}`), {
        kafka: { brokers: [`127.0.0.1:${await closedPort()}`] },
        logLevel: 'info',
      });
      const child = children.start(name, entry);
      const starting = await waitFor(
        `${name} to log that it is starting`,
        async () => logLines(child.output()).find((line) => line.msg === 'starting'),
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      // The pid it logs is the one we spawned: nothing sits between a supervisor's signal and the script.
      expect(starting.pid).toBe(child.child.pid);
      expect(await child.terminate(20_000)).toBe(0);
      expect(child.child.signalCode).toBeNull();
      const messages = logLines(child.output()).map((line) => line.msg);
      expect(messages).toContain('stopped before start-up finished');
      expect(messages).not.toContain('started');
    },
    90_000,
  );
});
