/** Prometheus metrics of the DynamoDB sink, plus the same counts as plain numbers for tests and benchmarks. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface DynamoSinkStats {
  recordsIn: number;
  applied: number;
  /** Writes refused by the version condition (duplicates, out-of-order). */
  staleSkips: number;
  /** Events dropped before writing because a newer event of the same order was in the same chunk. */
  superseded: number;
  deadLettered: number;
  writeRetries: number;
  chunks: number;
}

export function createDynamoSinkMetrics(registry: Registry) {
  const stats: DynamoSinkStats = {
    recordsIn: 0,
    applied: 0,
    staleSkips: 0,
    superseded: 0,
    deadLettered: 0,
    writeRetries: 0,
    chunks: 0,
  };
  const recordsIn = new Counter({
    name: 'dynamo_sink_records_in_total',
    help: 'Messages consumed',
    registers: [registry],
  });
  const applied = new Counter({
    name: 'dynamo_sink_applied_total',
    help: 'Orders written (newer seq)',
    registers: [registry],
  });
  const stale = new Counter({
    name: 'dynamo_sink_stale_skips_total',
    help: 'Events skipped as not newer than the stored version (condition) or than another event in the chunk (superseded)',
    labelNames: ['why'],
    registers: [registry],
  });
  const dlq = new Counter({
    name: 'dynamo_sink_dlq_total',
    help: 'Messages sent to the dead-letter topic, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'dynamo_sink_write_retries_total',
    help: 'Write attempts retried',
    registers: [registry],
  });
  const chunkSeconds = new Histogram({
    name: 'dynamo_sink_batch_seconds',
    help: 'Time to apply one chunk of a fetched batch (decode, write, dead-letter, commit)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'dynamo_sink_consumer_lag',
    help: 'Messages behind the partition high watermark after the last applied chunk',
    labelNames: ['topic', 'partition'],
    registers: [registry],
  });

  return {
    stats,
    recordsIn(n: number) {
      stats.recordsIn += n;
      recordsIn.inc(n);
    },
    applied() {
      stats.applied += 1;
      applied.inc();
    },
    stale(n = 1) {
      stats.staleSkips += n;
      stale.inc({ why: 'condition' }, n);
    },
    superseded(n: number) {
      if (n === 0) return;
      stats.superseded += n;
      stale.inc({ why: 'superseded' }, n);
    },
    deadLettered(reason: string) {
      stats.deadLettered += 1;
      dlq.inc({ reason });
    },
    retry() {
      stats.writeRetries += 1;
      retries.inc();
    },
    chunkTimer() {
      stats.chunks += 1;
      return chunkSeconds.startTimer();
    },
    lag(topic: string, partition: number, value: number) {
      lag.set({ topic, partition: String(partition) }, value);
    },
  };
}

export type DynamoSinkMetrics = ReturnType<typeof createDynamoSinkMetrics>;
