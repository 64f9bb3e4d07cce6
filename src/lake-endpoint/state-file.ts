/**
 * A JSON document kept durably on disk: every save writes a temp file, fsyncs it and renames it over the
 * old one, so a crash leaves either the old or the new document, never half of one.
 *
 * Saves coalesce: a request that changed the state awaits `flush()` before it answers, and all changes made
 * while a write is running go out together in the next write. That keeps "answered = durable" without
 * rewriting the whole file once per partition of a large BatchCreatePartition burst.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface StateFile {
  markDirty(): void;
  /** Resolves once every change marked before the call is on disk. */
  flush(): Promise<void>;
}

export async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeFileAtomic(path: string, text: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * @example
 *   const file = createStateFile('.data/lake/lake-state.json', () => state);
 *   state.x = 1; file.markDirty(); await file.flush();
 */
export function createStateFile(path: string, snapshot: () => unknown): StateFile {
  let dirty = false;
  let current: Promise<void> | undefined;
  let next: Promise<void> | undefined;

  const flush = (): Promise<void> => {
    if (current) {
      // A write is running; changes marked after its snapshot need one more write after it.
      if (!dirty) return current;
      const retry = () => {
        next = undefined;
        return flush();
      };
      next ??= current.then(retry, retry);
      return next;
    }
    if (!dirty) return Promise.resolve();
    dirty = false;
    const text = JSON.stringify(snapshot());
    current = writeFileAtomic(path, text)
      .catch((error: unknown) => {
        dirty = true; // not on disk: the next flush retries
        throw error;
      })
      .finally(() => {
        current = undefined;
      });
    return current;
  };

  return {
    markDirty: () => {
      dirty = true;
    },
    flush,
  };
}
