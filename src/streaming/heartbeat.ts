/**
 * Waiting inside a kafkajs batch handler without losing the group membership: kafkajs heartbeats only when the
 * handler asks it to, so a handler that waits on something slow (throttled writes, a store that is down, a
 * dead-letter publish) must keep asking, or the group evicts the member and refuses its commits.
 */

/**
 * Awaits `pending`, calling `heartbeat` every `everyMs` until it settles. A failed heartbeat (the group is
 * rebalancing) rejects at once: the caller must not resolve or commit anything of its batch then.
 *
 * @example
 *   await awaitHeartbeating(applyChunk(chunk), heartbeat, 500);
 */
export async function awaitHeartbeating<T>(
  pending: Promise<T>,
  heartbeat: (() => Promise<void>) | undefined,
  everyMs: number,
): Promise<T> {
  if (!heartbeat) return pending;
  let settled = false;
  const done = pending.finally(() => {
    settled = true;
  });
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, everyMs)))]).catch(
      () => undefined,
    );
    clearTimeout(timer);
    if (!settled) await heartbeat();
  }
  return done;
}
