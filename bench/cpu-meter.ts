/**
 * The CPU time a piece of work costs: this process (all its threads, DuckDB's and V8's included) and the local
 * services it talks to (the Kafka broker, moto as S3 and DynamoDB), from the kernel's per-process counters (pidusage).
 * On a machine with few cores a consumer's throughput is bounded by what all of them spend per record, so the
 * benchmark shows this beside the rates: it tells a target the machine cannot reach from one the code misses.
 *
 * @example
 *   const meter = await createCpuMeter(config);
 *   const before = await meter.snapshot();
 *   await drain();
 *   const perRecord = meter.perRecordMicros(before, await meter.snapshot(), records);
 */
import { availableParallelism } from 'node:os';
import pidusage from 'pidusage';
import type { Config } from '../src/config';
import { stackEndpoints, type Endpoint } from '../src/local/ports';
import { findPortOwner } from '../src/local/os-processes';

/** The party of the measuring process itself. */
export const OWN_PROCESS = 'this process';

export interface CpuParty {
  name: string;
  pid: number;
}

/** CPU seconds of each party, by name. */
export type CpuSnapshot = Map<string, number>;

export interface CpuMeter {
  readonly parties: CpuParty[];
  readonly cores: number;
  snapshot(): Promise<CpuSnapshot>;
  /** µs of CPU per record between two snapshots, by party, plus their `total`. */
  perRecordMicros(before: CpuSnapshot, after: CpuSnapshot, records: number): Map<string, number>;
  close(): void;
}

/** The process serving a local endpoint, when it is the service itself (not a container's port proxy). */
async function localService(
  name: string,
  at: Endpoint | undefined,
  command: RegExp,
): Promise<CpuParty | undefined> {
  if (!at?.local) return undefined;
  const owner = await findPortOwner(at.port);
  return owner && command.test(owner.command) ? { name, pid: owner.pid } : undefined;
}

export async function createCpuMeter(config: Config): Promise<CpuMeter> {
  const { kafka, moto } = stackEndpoints(config);
  const services = await Promise.all([
    localService('Kafka broker', kafka, /kafka/i),
    localService('moto (S3, DynamoDB)', moto, /moto/i),
  ]);
  const parties: CpuParty[] = [
    { name: OWN_PROCESS, pid: process.pid },
    ...services.filter((p) => p !== undefined),
  ];
  return {
    parties,
    cores: availableParallelism(),
    async snapshot() {
      const stats = await pidusage(parties.map((party) => party.pid));
      return new Map(parties.map((party) => [party.name, stats[party.pid].ctime / 1000]));
    },
    perRecordMicros(before, after, records) {
      const micros = new Map<string, number>();
      let total = 0;
      for (const { name } of parties) {
        const value = ((after.get(name)! - before.get(name)!) / records) * 1e6;
        micros.set(name, value);
        total += value;
      }
      micros.set('total', total);
      return micros;
    },
    close: () => pidusage.clear(),
  };
}
