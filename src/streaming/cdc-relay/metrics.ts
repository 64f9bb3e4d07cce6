/** Prometheus metrics of the CDC relay, plus the same counts as plain numbers for tests and benchmarks. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface CdcRelayStats {
  published: number;
  checkpoints: number;
  leasesTaken: number;
  leasesLost: number;
  expiredIterators: number;
  trimmedResumes: number;
  publishRetries: number;
  deadLetters: number;
}

export function createCdcRelayMetrics(registry: Registry) {
  const stats: CdcRelayStats = {
    published: 0,
    checkpoints: 0,
    leasesTaken: 0,
    leasesLost: 0,
    expiredIterators: 0,
    trimmedResumes: 0,
    publishRetries: 0,
    deadLetters: 0,
  };
  const published = new Counter({
    name: 'cdc_relay_records_published_total',
    help: 'Changes published to the CDC topic (committed transactions)',
    labelNames: ['op'],
    registers: [registry],
  });
  const recordsIn = new Counter({
    name: 'cdc_relay_records_in_total',
    help: 'Stream records read',
    registers: [registry],
  });
  const checkpoints = new Counter({
    name: 'cdc_relay_checkpoints_total',
    help: 'Checkpoints written to the lease table',
    registers: [registry],
  });
  const leases = new Gauge({
    name: 'cdc_relay_leases_held',
    help: 'Shard leases held by this instance',
    registers: [registry],
  });
  const leaseEvents = new Counter({
    name: 'cdc_relay_lease_events_total',
    help: 'Leases taken and lost by this instance',
    labelNames: ['event'],
    registers: [registry],
  });
  const iteratorEvents = new Counter({
    name: 'cdc_relay_iterator_events_total',
    help: 'Expired iterators re-acquired and trimmed-data resumes from TRIM_HORIZON',
    labelNames: ['event'],
    registers: [registry],
  });
  const lagMs = new Gauge({
    name: 'cdc_relay_iterator_age_ms',
    help: 'Age of the last change relayed per shard (now - approximate creation time)',
    labelNames: ['shard'],
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: 'cdc_relay_batch_seconds',
    help: 'Time to publish one GetRecords page and checkpoint it',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'cdc_relay_publish_retries_total',
    help: 'Publishes retried after an aborted transaction',
    registers: [registry],
  });

  const deadLetters = new Counter({
    name: 'cdc_relay_dead_letters_total',
    help: 'Stream records that could not be converted, sent to the CDC dead-letter topic (committed transactions)',
    registers: [registry],
  });

  return {
    stats,
    recordsIn: (n: number) => recordsIn.inc(n),
    published(ops: string[]) {
      stats.published += ops.length;
      for (const op of ops) published.inc({ op });
    },
    checkpoint() {
      stats.checkpoints += 1;
      checkpoints.inc();
    },
    leasesHeld: (n: number) => leases.set(n),
    leaseTaken() {
      stats.leasesTaken += 1;
      leaseEvents.inc({ event: 'taken' });
    },
    leaseLost() {
      stats.leasesLost += 1;
      leaseEvents.inc({ event: 'lost' });
    },
    expiredIterator() {
      stats.expiredIterators += 1;
      iteratorEvents.inc({ event: 'expired' });
    },
    trimmed() {
      stats.trimmedResumes += 1;
      iteratorEvents.inc({ event: 'trimmed' });
    },
    deadLettered(n: number) {
      stats.deadLetters += n;
      deadLetters.inc(n);
    },
    publishRetry() {
      stats.publishRetries += 1;
      retries.inc();
    },
    age: (shardId: string, changeTime: string) =>
      lagMs.set({ shard: shardId }, Math.max(0, Date.now() - Date.parse(changeTime))),
    batchTimer: () => batchSeconds.startTimer(),
  };
}

export type CdcRelayMetrics = ReturnType<typeof createCdcRelayMetrics>;
