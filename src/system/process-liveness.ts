/**
 * Whether a process is alive, on any POSIX system: signal 0 tests that the pid exists (EPERM: it does, owned by
 * someone else) without delivering anything. A zombie (exited, not yet reaped by its parent) still answers it, so
 * on Linux its state in /proc counts it as dead; where there is no /proc it counts as alive, the safe side for
 * callers that clean up after dead processes.
 */
import { readFileSync } from 'node:fs';

/** Field 3 of /proc/<pid>/stat (R, S, Z, ...), or undefined where there is no such file. */
function procState(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: the state follows the last ')'.
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  // 0 and negative pids address process groups, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procState(pid) !== 'Z';
}
