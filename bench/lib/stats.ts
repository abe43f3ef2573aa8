/** Order statistics for latency samples (nearest-rank percentiles, no interpolation). */
export interface Summary {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly mean: number | null;
  readonly max: number | null;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, p50: null, p99: null, mean: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  return {
    count: arr.length,
    p50: round(percentile(arr, 50)!),
    p99: round(percentile(arr, 99)!),
    mean: round(arr.reduce((a, b) => a + b, 0) / arr.length),
    max: round(arr[arr.length - 1]),
  };
}

export const median = (values: readonly number[]): number | null => percentile([...values].sort((a, b) => a - b), 50);

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** a / b rounded, or null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0) return null;
  return round(a / b, 2);
}
