/**
 * A read throttle for activities that Scan a table page by page (backfill, reconcile): after each page it waits
 * until the items read so far fit the rate, heartbeating through the wait.
 */
import { activityInfo, type Context } from '@temporalio/activity';

/** Heartbeat interval of a throttle wait when the activity has no heartbeat timeout. */
const UNTIMED_HEARTBEAT_MS = 10_000;

/**
 * Waits `ms` in slices of a third of the heartbeat timeout, heartbeating `progress()` after each: a long throttle
 * wait is not silence, so the server does not time the attempt out. Short slices also keep every timer far
 * below setTimeout's 2^31 ms limit, past which Node fires it after 1 ms.
 */
export async function throttleWait(ctx: Context, ms: number, progress: () => unknown): Promise<void> {
  const slice = Math.max(100, Math.floor((activityInfo().heartbeatTimeoutMs ?? UNTIMED_HEARTBEAT_MS) / 3));
  for (let left = ms; left > 0; left -= slice) {
    await ctx.sleep(Math.min(slice, left));
    ctx.heartbeat(progress());
  }
}

/**
 * Paces reads to `itemsPerSecond` since the pacer was made (undefined: no throttle). Call `read(n)` after each
 * page of n items; it resolves once the pace allows the next page.
 */
export function createScanPacer(ctx: Context, itemsPerSecond: number | undefined, progress: () => unknown) {
  const started = Date.now();
  let items = 0;
  return {
    async read(count: number): Promise<void> {
      items += count;
      if (itemsPerSecond === undefined) return;
      const due = (items / itemsPerSecond) * 1000 - (Date.now() - started);
      if (due > 0) await throttleWait(ctx, due, progress);
    },
  };
}
