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
