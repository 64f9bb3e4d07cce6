/**
 * Waiting for the pipeline to drain at the end of a bounded run: each consumer group has committed up to the
 * end of its topic (offsets are committed only after the effect is durable, so that means "done"), and the
 * relay has published every change of the table's stream.
 */
import type { Admin } from 'kafkajs';
import { waitFor, WaitTimeoutError } from '../../support/timing';
import { CliError } from '../shared/cli-error';

export class DrainTimeoutError extends CliError {
  override readonly name = 'DrainTimeoutError';
}

/** Messages in a topic: the sum over partitions of high watermark - low watermark. */
export async function topicMessageCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + (Number(p.high) - Number(p.low)), 0);
}

/** Messages of `topic` the group has not committed yet. */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, [committed]] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  let lag = 0;
  for (const end of ends) {
    const done = committed.partitions.find((p) => p.partition === end.partition);
    const position = done && Number(done.offset) >= 0 ? Number(done.offset) : Number(end.low);
    lag += Math.max(0, Number(end.high) - position);
  }
  return lag;
}

/**
 * Polls `check` until it reports done, passing each new detail to `onProgress`; after `timeoutMs` throws a
 * {@link DrainTimeoutError} naming the last detail. An error from the check ends the wait at once.
 */
export async function waitForDrain(
  what: string,
  check: () => Promise<{ done: boolean; detail: string }>,
  options: { timeoutMs: number; intervalMs?: number; onProgress?: (detail: string) => void },
): Promise<void> {
  let last = '';
  try {
    await waitFor(
      what,
      async () => {
        const { done, detail } = await check();
        if (!done && detail !== last) options.onProgress?.(`${what}: ${detail}`);
        last = detail;
        return done;
      },
      {
        timeoutMs: options.timeoutMs,
        intervalMs: options.intervalMs ?? 1000,
        // A slow check (listing the lake) may use the whole time-out: the check decides, not the clock.
        checkTimeoutMs: options.timeoutMs,
        retryErrors: false,
      },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    throw new DrainTimeoutError(
      `timed out after ${options.timeoutMs / 1000} s waiting for ${what} (${last})`,
    );
  }
}
