/**
 * Waiting, in one place: a promise-returning sleep and a poll-until-true with a deadline.
 */
import { RetriableError } from './errors';

/** Resolves after `ms`; rejects with the signal's reason as soon as `signal` is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What a `waitFor` that ran out of time throws: what it waited for, and the last error or state it saw. */
export class WaitTimeoutError extends RetriableError {
  override readonly name = 'WaitTimeoutError';
  /** What was waited for may still happen: waiting again can help. */
  readonly retriable = true;
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly last?: unknown,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${what}` +
        (last instanceof Error ? `: ${last.message}` : last !== undefined ? ` (${String(last)})` : ''),
    );
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /**
   * A check that hangs (a request to a stuck service) must not stall the wait past its deadline: each check is
   * given at most this long (default: the time left, at least 1 s).
   */
  checkTimeoutMs?: number;
  /** Whether an error thrown by the check means "not yet" (the default) or ends the wait at once. */
  retryErrors?: boolean;
}

/**
 * Polls `check` until it returns a value other than `undefined` / `false` and returns that value; after
 * `timeoutMs` throws a {@link WaitTimeoutError} naming the last error the check threw.
 *
 * @example const offsets = await waitFor('the commit', () => committedOffset(group), { timeoutMs: 30_000 });
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250, checkTimeoutMs, retryErrors = true }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const budget = checkTimeoutMs ?? Math.max(1_000, deadline - Date.now());
      const value = await within(budget, `one check of ${what}`, check());
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (!retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) throw new WaitTimeoutError(what, timeoutMs, lastError);
    await sleep(intervalMs);
  }
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface Backoff {
  /** The ceiling of the first retry's delay; each further retry doubles it. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

/**
 * How long to wait before retry number `attempt` (1 for the first): exponential backoff with full jitter, a random
 * delay up to `baseMs × 2^(attempt-1)` capped at `maxMs`, so failing callers neither hammer a service nor retry
 * in lockstep.
 *
 * @example await sleep(backoffDelayMs(failures, { baseMs: 100, maxMs: 10_000 }));
 */
export function backoffDelayMs(attempt: number, { baseMs, maxMs }: Backoff, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
