/**
 * The soak's verdict, pure: does a series (a process's RSS, the disk use, a consumer lag) keep growing?
 *
 * A series keeps growing when the least-squares slope of its second half is above a bound. The first half is
 * left out on purpose: JVMs, DuckDB and Node grow their heaps while they warm up, then level off.
 */

export interface Point {
  /** Minutes since the soak started. */
  minute: number;
  value: number;
}

export interface SeriesBound {
  /** What the series is, e.g. `RSS moto (MB)`. */
  name: string;
  /** Unit of the values, e.g. `MB`. */
  unit: string;
  /** The steepest accepted slope, in units per minute. */
  maxSlopePerMinute: number;
  points: Point[];
}

export interface SeriesVerdict {
  name: string;
  unit: string;
  first?: number;
  last?: number;
  /** Least-squares slope over the second half, units per minute; undefined with fewer than 2 points there. */
  slopePerMinute?: number;
  maxSlopePerMinute: number;
  growing: boolean;
}

/**
 * The least-squares slope of `points` (value per minute), undefined with fewer than two distinct minutes.
 *
 * @example
 *   leastSquaresSlope([{ minute: 0, value: 1 }, { minute: 2, value: 5 }]) // 2
 */
export function leastSquaresSlope(points: Point[]): number | undefined {
  if (points.length < 2) return undefined;
  const meanX = points.reduce((sum, p) => sum + p.minute, 0) / points.length;
  const meanY = points.reduce((sum, p) => sum + p.value, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.minute - meanX) * (p.value - meanY);
    variance += (p.minute - meanX) ** 2;
  }
  return variance === 0 ? undefined : covariance / variance;
}

/** The points from the middle of the run's time span on (the first half is warm-up). */
export function secondHalf(points: Point[]): Point[] {
  if (points.length === 0) return [];
  const start = points[0].minute;
  const middle = start + (points[points.length - 1].minute - start) / 2;
  return points.filter((p) => p.minute >= middle);
}

export function judgeSeries(series: SeriesBound): SeriesVerdict {
  const slope = leastSquaresSlope(secondHalf(series.points));
  return {
    name: series.name,
    unit: series.unit,
    first: series.points[0]?.value,
    last: series.points[series.points.length - 1]?.value,
    slopePerMinute: slope,
    maxSlopePerMinute: series.maxSlopePerMinute,
    growing: slope !== undefined && slope > series.maxSlopePerMinute,
  };
}

export interface CountCheck {
  stage: string;
  expected: number;
  actual: number;
}

export interface SoakVerdict {
  series: SeriesVerdict[];
  /** Series that keep growing. */
  growing: SeriesVerdict[];
  /** Count checks whose stores disagree. */
  diverging: CountCheck[];
  /** Too few samples in the second half to judge a slope: the run was too short. */
  tooShort: boolean;
  ok: boolean;
}

/** The whole verdict: every series flat enough, every count check equal, and enough samples to tell. */
export function soakVerdict(series: SeriesBound[], counts: CountCheck[]): SoakVerdict {
  const judged = series.map(judgeSeries);
  const growing = judged.filter((s) => s.growing);
  const diverging = counts.filter((c) => c.expected !== c.actual);
  const tooShort = judged.some((s) => s.slopePerMinute === undefined);
  return {
    series: judged,
    growing,
    diverging,
    tooShort,
    ok: growing.length === 0 && diverging.length === 0 && !tooShort,
  };
}
