/**
 * A lock file so two concurrent installs (say `npm test` and `npm start` in two terminals, or two stacks
 * sharing one STACK_DIR) do not write into the same venv or jar folder at once. The file holds the owner's
 * pid and start time; a lock whose owner died is taken over.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep } from '../support/timing';
import { StackLockTimeoutError } from './errors';
import { processStartTime } from './os-processes';

function holderAlive(file: string): { alive: boolean; pid?: number } {
  try {
    const { pid, startTime } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; startTime: string };
    return { alive: processStartTime(pid) === startTime, pid };
  } catch {
    // Unreadable: being written right now, or garbage. Treat a garbage file as stale below via the timeout.
    return { alive: true };
  }
}

/**
 * Runs `fn` while holding the lock file. Waits (polling) up to `timeoutMs` for another holder.
 *
 * @example
 *   await withLock(join(stackDir, '.install.lock'), () => installVenv());
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let unreadableSince: number | undefined;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderAlive(file);
    if (holder.pid === undefined) unreadableSince ??= Date.now();
    else unreadableSince = undefined;
    const staleGarbage = unreadableSince !== undefined && Date.now() - unreadableSince > 5000;
    if (!holder.alive || staleGarbage) {
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new StackLockTimeoutError(
        `${file} is held by pid ${holder.pid ?? '?'} for more than ${Math.round(timeoutMs / 1000)} s ` +
          `(another install running?). If no install is running, delete the file.`,
      );
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
