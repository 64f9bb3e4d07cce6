/**
 * Temporary folders owned by a process: named `<prefix><pid>-<random>` under the OS temp directory, so a later
 * process can remove the folders of one that died without cleaning up (kill -9) and leave a live one's alone.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from './process-liveness';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Removes the folders of `prefix` whose process is gone (best effort: a folder left behind costs only disk). */
export function removeOrphanedTempDirs(prefix: string): void {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}(\\d+)-`);
  try {
    for (const name of readdirSync(tmpdir())) {
      const pid = Number(pattern.exec(name)?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid))
        rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  } catch {
    // best effort
  }
}

/** A new folder of this process under `prefix`, after removing those of dead processes. */
export function createProcessTempDir(prefix: string): string {
  removeOrphanedTempDirs(prefix);
  return mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`));
}
