/**
 * The project's one bounded-concurrency pool.
 *
 * Runs `fn` over `items` with at most `limit` in flight and returns the results in input order. After the first
 * error no new item is started, every item already in flight is allowed to settle, and then the first error is
 * thrown: a caller that retries the batch never races its own in-flight work. Once `signal` is aborted no new
 * item starts either (work in flight sees the same signal).
 *
 * @example const sizes = await mapWithConcurrency(keys, 16, (key) => headSize(key), signal);
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        signal?.throwIfAborted();
        results[index] = await fn(items[index], index);
      } catch (error) {
        failure ??= { error }; // the other workers stop picking up items
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
