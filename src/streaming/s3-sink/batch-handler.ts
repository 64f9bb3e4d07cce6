/**
 * The S3 sink's kafkajs batch handler. The consumer's thread only decodes and validates each record
 * (cdc-record.ts, change-line.ts) and hands it to its partition's writer: Parquet is encoded by DuckDB on its own
 * thread, and cut segments upload in the background while records keep coming. An invalid message becomes a
 * dead letter carried by the segment holding its offset: it goes out with that segment's final commit
 * (dlq.ts createSourceCommitter), never before its segment is in S3; the valid ones behind it carry on.
 */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { changeId, decodeCdcChange, InvalidCdcRecordError } from '../../lake-format/cdc-record';
import { changeLine } from '../../lake-format/change-line';
import type { Logger } from '../../observability/logger';
import { sleep } from '../../support/timing';
import { deadLetterOf } from '../dlq';
import type { BufferCap } from './buffer-cap';
import type { S3SinkMetrics } from './metrics';
import type { SinkRecord } from './open-segment';
import { PartitionRevokedError } from './partition-offsets';
import type { TopicPartitionWriter } from './topic-partition-writer';

export interface BatchHandlerOptions {
  topic: string;
  writerFor: (partition: number) => Promise<TopicPartitionWriter>;
  bufferCap: BufferCap;
  /** A stopping sink takes no more batches and leaves the one in hand between chunks. */
  isStopping: () => boolean;
  metrics: S3SinkMetrics;
  logger: Logger;
}

export interface BatchHandler {
  eachBatch(payload: EachBatchPayload): Promise<void>;
  /** Waits until no batch is in hand, or `timeoutMs` has passed. */
  settle(timeoutMs: number): Promise<void>;
}

/** Records decoded and buffered between two checks of the buffer cap. */
const BATCH_CHUNK = 250;

function decode(topic: string, partition: number, message: KafkaMessage): SinkRecord {
  const offset = Number(message.offset);
  const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
  try {
    const { event, changeMs } = decodeCdcChange(message.value);
    const line = changeLine(message.value!, event);
    return { offset, line, changeMs, changeId: changeId(event), bytes };
  } catch (error) {
    if (!(error instanceof InvalidCdcRecordError)) throw error;
    return { offset, bytes: 0, letter: deadLetterOf(topic, partition, message, error.message) };
  }
}

export function createBatchHandler(options: BatchHandlerOptions): BatchHandler {
  const { topic, writerFor, bufferCap, isStopping, metrics, logger: log } = options;
  let activeBatches = 0;

  return {
    async eachBatch({ batch, heartbeat, isRunning, isStale }) {
      if (isStopping() || !isRunning() || isStale() || batch.messages.length === 0) return;
      activeBatches++;
      try {
        const { partition } = batch;
        const writer = await writerFor(partition);
        // In chunks, so the buffer cap is checked every few hundred records however large the fetched batch is.
        for (let i = 0; i < batch.messages.length; i += BATCH_CHUNK) {
          if (isStopping() || writer.closed) return;
          const chunk = batch.messages.slice(i, i + BATCH_CHUNK);
          metrics.recordsIn(chunk.length);
          await writer.write(
            chunk.map((message) => decode(topic, partition, message)),
            heartbeat,
          );
          bufferCap.update();
          await bufferCap.relieve(heartbeat);
          await heartbeat();
          // A turn of the event loop between chunks: a fetch's batches would otherwise be processed in one go
          // (all microtasks), holding back the I/O of the uploads behind them.
          await yieldToEventLoop();
        }
        metrics.lag(partition, Math.max(0, Number(batch.highWatermark) - (Number(batch.lastOffset()) + 1)));
      } catch (error) {
        // Losing the partition mid-batch is normal during a rebalance: its new owner replays.
        if (error instanceof PartitionRevokedError) {
          log.info(
            { partition: batch.partition, reason: error.message },
            'batch abandoned: partition revoked',
          );
          return;
        }
        throw error;
      } finally {
        activeBatches--;
      }
    },
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (activeBatches > 0 && Date.now() < deadline) await sleep(20);
    },
  };
}
