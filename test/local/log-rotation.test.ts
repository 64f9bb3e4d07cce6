/**
 * The stack's logs stay bounded while a service keeps writing: a process started as the stack starts its services
 * (spawnDetached, its output appended to its log) writes on, the log past its cap is copied to `.log.1` and
 * truncated, and the process's next lines land at the start of the emptied log, not at its old end (which would
 * leave a sparse file as large as before).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateLogs, startLogRotation } from '../../src/local/log-rotation';
import { spawnDetached, stopGroup } from '../../src/local/os-processes';
import { waitFor } from '../../src/support/timing';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'log-rotation-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

it('moves a log past its cap to .log.1 and empties it; smaller logs and other files stay', async () => {
  writeFileSync(join(dir, 'big.log'), 'a'.repeat(2000));
  writeFileSync(join(dir, 'big.log.1'), 'the previous copy');
  writeFileSync(join(dir, 'small.log'), 'b'.repeat(10));
  writeFileSync(join(dir, 'notes.txt'), 'c'.repeat(5000));

  const rotated = await rotateLogs(dir, 1000);

  expect(rotated).toEqual([{ file: join(dir, 'big.log'), bytes: 2000 }]);
  expect(readFileSync(join(dir, 'big.log.1'), 'utf8')).toBe('a'.repeat(2000));
  expect(statSync(join(dir, 'big.log')).size).toBe(0);
  expect(readFileSync(join(dir, 'small.log'), 'utf8')).toBe('b'.repeat(10));
  expect(statSync(join(dir, 'notes.txt')).size).toBe(5000);
  expect(await rotateLogs(join(dir, 'missing'), 1000)).toEqual([]);
});

it('keeps the log of a service that goes on writing bounded, its new lines at the start of the emptied log', async () => {
  const log = join(dir, 'service.log');
  // A service writing about 20 KB a second to its log, as the stack's services do (stdout appended to the file).
  const service = spawnDetached({
    command: process.execPath,
    args: ['-e', `let i = 0; setInterval(() => console.log('line ' + i++ + ' ' + 'x'.repeat(200)), 10);`],
    cwd: dir,
    env: process.env,
    logFile: log,
  });
  const errors: unknown[] = [];
  const stop = startLogRotation(dir, 8 * 1024, { intervalMs: 100, onError: (e) => errors.push(e) });
  try {
    await waitFor(
      'two rotations',
      async () => existsSync(`${log}.1`) && statSync(`${log}.1`).size > 8 * 1024,
      {
        timeoutMs: 30_000,
      },
    );
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      sizes.push(statSync(log).size);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Bounded: the cap plus what a second's writing adds between two checks, never the whole history.
    expect(Math.max(...sizes)).toBeLessThan(8 * 1024 + 20 * 1024);
    // No hole of zeros where the old content was: the service appends at the new end. Read once the service
    // wrote after the last rotation (a read right after one finds the log empty).
    const text = await waitFor(
      'a line after the last rotation',
      async () => readFileSync(log, 'utf8') || undefined,
      { timeoutMs: 10_000, intervalMs: 5 },
    );
    expect(text.includes('\0')).toBe(false);
    expect(text).toMatch(/^line \d+ x+\n/);
    expect(errors).toEqual([]);
  } finally {
    stop();
    await stopGroup(service.pid, 2000);
  }
}, 60_000);
