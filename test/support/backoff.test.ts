/** Pure logic: the retry delay schedule (exponential backoff with full jitter) and the relay's use of it. */
import { READ_RETRY_BACKOFF } from '../../src/streaming/cdc-relay/shard-reader';
import { backoffDelayMs } from '../../src/support/timing';

const highest = () => 1 - Number.EPSILON;

describe('backoffDelayMs', () => {
  it('doubles the ceiling with each failure in a row, up to the maximum', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) =>
      backoffDelayMs(attempt, { baseMs: 100, maxMs: 10_000 }, highest),
    );
    expect(ceilings).toEqual([99, 199, 399, 799, 1599, 3199, 6399, 9999, 9999]);
  });

  it('draws the delay at random between zero and the ceiling (jitter)', () => {
    const backoff = { baseMs: 100, maxMs: 10_000 };
    expect(backoffDelayMs(3, backoff, () => 0)).toBe(0);
    expect(backoffDelayMs(3, backoff, () => 0.5)).toBe(200);
    const delays = Array.from({ length: 200 }, () => backoffDelayMs(4, backoff));
    expect(delays.every((d) => d >= 0 && d < 800)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('stays at the maximum after any number of failures (no overflow, no NaN)', () => {
    expect(backoffDelayMs(5_000, { baseMs: 100, maxMs: 10_000 }, highest)).toBe(9999);
    expect(backoffDelayMs(0, { baseMs: 100, maxMs: 10_000 }, highest)).toBe(99);
  });

  it("bounds the relay's read retries: the first within 100 ms, none beyond 10 s", () => {
    expect(backoffDelayMs(1, READ_RETRY_BACKOFF, highest)).toBeLessThan(100);
    expect(backoffDelayMs(50, READ_RETRY_BACKOFF, highest)).toBeLessThan(10_000);
  });
});
