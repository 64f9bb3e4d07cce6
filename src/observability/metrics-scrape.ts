/**
 * Reads a process's Prometheus endpoint: the main job's live status is built from the same metrics an
 * operator would scrape, not from a side channel.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** Metric name → value summed over its label sets (histograms and summaries give their count). */
export type MetricTotals = Map<string, number>;

export function totalsFromText(text: string): MetricTotals {
  const totals: MetricTotals = new Map();
  for (const family of parsePrometheusTextFormat(text)) {
    let sum = 0;
    for (const sample of family.metrics) {
      const raw = sample.value ?? sample.count;
      const value = raw === undefined ? Number.NaN : Number(raw);
      if (!Number.isNaN(value)) sum += value;
    }
    totals.set(family.name, sum);
  }
  return totals;
}

export async function scrapeMetrics(url: string, timeoutMs = 2000): Promise<MetricTotals | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    return totalsFromText(await response.text());
  } catch {
    // A process that is starting or restarting has no endpoint yet: the status shows it as down.
    return undefined;
  }
}
