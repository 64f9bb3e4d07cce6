/**
 * The S3 sink's memory cap. When the bytes buffered over all partitions (open segments and sealed ones not yet
 * uploaded) exceed S3_SINK_MAX_BUFFER_BYTES, fetching pauses and the largest writers are flushed early until the
 * buffer is at half the cap; then it resumes.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from '../../observability/logger';
import type { S3SinkMetrics } from './metrics';
import type { TopicPartitionWriter } from './topic-partition-writer';

export interface BufferCapOptions {
  cap: number;
  topic: string;
  consumer: Pick<Consumer, 'pause' | 'resume'>;
  /** The writers whose buffers count against the cap. */
  writers: () => Iterable<TopicPartitionWriter>;
  /** A stopping sink keeps fetching paused. */
  isStopping: () => boolean;
  metrics: S3SinkMetrics;
  logger: Logger;
}

export interface BufferCap {
  /** Reports the bytes buffered now (the buffered-bytes gauge). */
  update(): void;
  /** Over the cap: pauses fetching and cuts the largest segments until half the cap is left, then resumes. */
  relieve(heartbeat: () => Promise<void>): Promise<void>;
}

export function createBufferCap(options: BufferCapOptions): BufferCap {
  const { cap, topic, consumer, metrics, logger: log } = options;
  let relieving: Promise<void> | undefined;

  const totalBuffered = () => {
    let total = 0;
    for (const writer of options.writers()) total += writer.bufferedBytes();
    return total;
  };
  const update = () => metrics.bufferedBytes(totalBuffered());

  const relieve = async (heartbeat: () => Promise<void>) => {
    consumer.pause([{ topic }]);
    metrics.fetchPaused(true);
    log.info({ bufferedBytes: totalBuffered(), cap }, 'buffer cap reached: fetching paused');
    try {
      const candidates = [...options.writers()].sort((a, b) => b.bufferedBytes() - a.bufferedBytes());
      for (const writer of candidates) {
        if (totalBuffered() <= cap / 2) break;
        await writer.flush('memory', heartbeat);
        update();
      }
    } finally {
      if (!options.isStopping()) consumer.resume([{ topic }]);
      metrics.fetchPaused(false);
      relieving = undefined;
    }
  };

  return {
    update,
    async relieve(heartbeat) {
      if (totalBuffered() <= cap) return;
      relieving ??= relieve(heartbeat);
      return relieving;
    },
  };
}
