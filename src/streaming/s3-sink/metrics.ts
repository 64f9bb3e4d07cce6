/**
 * The S3 sink's Prometheus metrics, plus the same figures as a plain snapshot (tests and the benchmark read
 * the snapshot; Prometheus scrapes the registry).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RotationReason } from './open-segment';

export interface S3SinkStats {
  recordsIn: number;
  rowsOut: number;
  duplicatesSkipped: number;
  deadLetters: number;
  objectsWritten: number;
  bytesWritten: number;
  flushes: Record<string, number>;
  bufferedBytes: number;
  maxBufferedBytes: number;
  fetchPauses: number;
  paused: boolean;
  lag: Record<number, number>;
}

export interface S3SinkMetrics {
  recordsIn(count: number): void;
  rowsOut(count: number): void;
  duplicateSkipped(): void;
  deadLetter(reason: string): void;
  objectWritten(bytes: number): void;
  flushed(reason: RotationReason, seconds: number): void;
  bufferedBytes(bytes: number): void;
  lag(partition: number, lag: number): void;
  fetchPaused(paused: boolean): void;
  snapshot(): S3SinkStats;
}

export function createS3SinkMetrics(registry: Registry): S3SinkMetrics {
  const registers = [registry];
  const recordsIn = new Counter({
    name: 's3_sink_records_in_total',
    help: 'Kafka records consumed',
    registers,
  });
  const rowsOut = new Counter({
    name: 's3_sink_records_out_total',
    help: 'Rows written to S3 objects',
    registers,
  });
  const duplicates = new Counter({
    name: 's3_sink_duplicates_skipped_total',
    help: 'Changes skipped because the same shardId+sequenceNumber was seen recently in the partition',
    registers,
  });
  const dlq = new Counter({
    name: 's3_sink_dlq_total',
    help: 'Records sent to the dead-letter topic',
    labelNames: ['reason'],
    registers,
  });
  const objects = new Counter({
    name: 's3_sink_objects_written_total',
    help: 'Objects written to S3',
    registers,
  });
  const bytes = new Counter({ name: 's3_sink_bytes_written_total', help: 'Bytes written to S3', registers });
  const flushSeconds = new Histogram({
    name: 's3_sink_flush_seconds',
    help: 'Latency of a segment flush (encode, upload, commit)',
    labelNames: ['reason'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const buffered = new Gauge({
    name: 's3_sink_buffered_bytes',
    help: 'Bytes buffered over all partitions',
    registers,
  });
  const lagGauge = new Gauge({
    name: 's3_sink_consumer_lag',
    help: 'High watermark minus the next offset to process, per partition',
    labelNames: ['partition'],
    registers,
  });
  const pauses = new Counter({
    name: 's3_sink_fetch_pauses_total',
    help: 'Times fetching paused on the buffer cap',
    registers,
  });
  const pausedGauge = new Gauge({
    name: 's3_sink_fetch_paused',
    help: '1 while fetching is paused on the buffer cap',
    registers,
  });

  const stats: S3SinkStats = {
    recordsIn: 0,
    rowsOut: 0,
    duplicatesSkipped: 0,
    deadLetters: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    flushes: {},
    bufferedBytes: 0,
    maxBufferedBytes: 0,
    fetchPauses: 0,
    paused: false,
    lag: {},
  };

  return {
    recordsIn(count) {
      recordsIn.inc(count);
      stats.recordsIn += count;
    },
    rowsOut(count) {
      rowsOut.inc(count);
      stats.rowsOut += count;
    },
    duplicateSkipped() {
      duplicates.inc();
      stats.duplicatesSkipped += 1;
    },
    deadLetter(reason) {
      dlq.inc({ reason });
      stats.deadLetters += 1;
    },
    objectWritten(size) {
      objects.inc();
      bytes.inc(size);
      stats.objectsWritten += 1;
      stats.bytesWritten += size;
    },
    flushed(reason, seconds) {
      flushSeconds.observe({ reason }, seconds);
      stats.flushes[reason] = (stats.flushes[reason] ?? 0) + 1;
    },
    bufferedBytes(size) {
      buffered.set(size);
      stats.bufferedBytes = size;
      stats.maxBufferedBytes = Math.max(stats.maxBufferedBytes, size);
    },
    lag(partition, value) {
      lagGauge.set({ partition: String(partition) }, value);
      stats.lag[partition] = value;
    },
    fetchPaused(paused) {
      pausedGauge.set(paused ? 1 : 0);
      if (paused && !stats.paused) {
        pauses.inc();
        stats.fetchPauses += 1;
      }
      stats.paused = paused;
    },
    snapshot: () => ({ ...stats, flushes: { ...stats.flushes }, lag: { ...stats.lag } }),
  };
}
