/**
 * Keeps the local stack's logs (`DATA_DIR/logs/*.log`) bounded while `npm start` runs for days: a log past
 * `maxBytes` is copied to `<name>.log.1` (replacing the previous copy) and truncated, so each service holds at most
 * about twice `maxBytes` of log. Copy-and-truncate rather than rename: every service writes its log through a
 * descriptor opened for appending (os-processes.ts spawnDetached), which keeps writing at the file's new end after
 * the truncation; a renamed file would go on growing under its new name. Lines written between the copy and the
 * truncation are lost (logrotate's copytruncate has the same window).
 */
import { copyFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';

export interface RotatedLog {
  file: string;
  bytes: number;
}

/** One pass over `logDir`: every `*.log` past `maxBytes` moves to `*.log.1` and starts again empty. */
export async function rotateLogs(logDir: string, maxBytes: number): Promise<RotatedLog[]> {
  let names: string[];
  try {
    names = await readdir(logDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rotated: RotatedLog[] = [];
  for (const name of names.filter((n) => n.endsWith('.log'))) {
    const file = join(logDir, name);
    const { size, isFile } = await stat(file).then(
      (s) => ({ size: s.size, isFile: s.isFile() }),
      () => ({ size: 0, isFile: false }),
    );
    if (!isFile || size <= maxBytes) continue;
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
    rotated.push({ file, bytes: size });
  }
  return rotated;
}

/**
 * Rotates every `intervalMs` until stopped.
 *
 * @example
 *   const stop = startLogRotation(paths.logDir, 64 * 1024 ** 2, { onError: (e) => logger.warn({ err: e }) });
 */
export function startLogRotation(
  logDir: string,
  maxBytes: number,
  { intervalMs = 60_000, onError }: { intervalMs?: number; onError: (error: unknown) => void },
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    rotateLogs(logDir, maxBytes)
      .catch(onError)
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
