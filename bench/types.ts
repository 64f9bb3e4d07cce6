/** One line of the benchmark table: a measured figure beside its baseline measured in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "DynamoDB sink items/s". */
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
  /** value / baseline (or the inverse where smaller is better; say so in the name). */
  ratio?: number;
  /** The target the issue sets, e.g. ">= 0.8". */
  target?: string;
  note?: string;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** BENCH_SCALE, the runner's knob for a quick look (bench/run.ts): data sets are multiplied by it (default 1). */
export function benchScale(): number {
  const value = Number(process.env.BENCH_SCALE ?? '1');
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/** A section run on its own (`npx tsx bench/<section>-bench.ts`): one JSON line per row, exit 1 on failure. */
export function runStandalone(run: () => Promise<BenchRow[]>): void {
  run()
    .then((rows) => {
      for (const row of rows) console.log(JSON.stringify(row));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
