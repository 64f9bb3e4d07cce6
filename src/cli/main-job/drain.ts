/**
 * Waiting for the pipeline to drain at the end of a bounded run: each consumer group has committed up to the
 * end of its topic (offsets are committed only after the effect is durable, so that means "done"), and the
 * relay has published every change of the table's stream.
 */
import type { Admin } from 'kafkajs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class DrainTimeoutError extends Error {
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

export async function waitFor(
  what: string,
  check: () => Promise<{ done: boolean; detail: string }>,
  options: { timeoutMs: number; intervalMs?: number; onProgress?: (detail: string) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const { done, detail } = await check();
    if (done) return;
    if (detail !== last) options.onProgress?.(`${what}: ${detail}`);
    last = detail;
    if (Date.now() > deadline)
      throw new DrainTimeoutError(
        `timed out after ${options.timeoutMs / 1000} s waiting for ${what} (${detail})`,
      );
    await sleep(options.intervalMs ?? 1000);
  }
}
