/**
 * `baseline.json`: the reference statistics that drift is measured against (see shared/DRIFT.md),
 * written by training next to `model.onnx`.
 *
 * Numeric features get decile bin edges computed once here, so every later window only counts values
 * into fixed bins — exact, deterministic, tiny, and mergeable by addition — plus a reservoir sample for
 * tests that need raw values (KS, Wasserstein). Categorical features get their top categories' shares
 * and the domain seen in training. Predictions get the same treatment: each class probability (or the
 * predicted value) as a numeric column, and the predicted label as a categorical one.
 */

import type { RawColumn } from '../train/encoding.ts';
import { createPrng, deriveSeed } from '../train/gbdt/prng.ts';

/** Values kept in each numeric reservoir sample. */
export const RESERVOIR_SIZE = 5000;
/** Categories whose shares are kept individually; the rest are pooled as `__other__`. */
export const TOP_CATEGORIES = 20;
/** Largest domain recorded per categorical feature. */
export const MAX_DOMAIN = 1000;
export const OTHER_CATEGORY = '__other__';

/** Reference statistics of one numeric column. */
export interface NumericBaseline {
  readonly type: 'numeric';
  readonly count: number;
  readonly nullRate: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** Inner bin edges (ascending, distinct); bins are (−∞, e0), [e0, e1), …, [e_last, +∞). */
  readonly edges: number[];
  /** Share of non-missing values in each bin (edges.length + 1 entries, summing to 1). */
  readonly shares: number[];
  /** A uniform sample of the non-missing values, sorted. */
  readonly sample: number[];
}

/** Reference statistics of one categorical column. */
export interface CategoricalBaseline {
  readonly type: 'categorical';
  readonly count: number;
  readonly nullRate: number;
  /** Shares of non-missing values of the top categories, then `__other__`. */
  readonly shares: Record<string, number>;
  /** Every category seen (up to MAX_DOMAIN), sorted. */
  readonly domain: string[];
  readonly domainTruncated: boolean;
}

export type ColumnBaseline = NumericBaseline | CategoricalBaseline;

/** The whole baseline file. */
export interface Baseline {
  readonly version: 1;
  /** Rows the feature statistics were computed on (the training split). */
  readonly rows: number;
  readonly features: Record<string, ColumnBaseline>;
  /** Prediction statistics on the test split: `probability:<class>` / `value`, and `label`. */
  readonly predictions: Record<string, ColumnBaseline>;
}

function quantileSorted(sorted: Float64Array, q: number): number {
  // An order statistic, not an interpolation: edges are values that occur, so a discrete feature's
  // bins fall exactly between its values.
  return sorted[Math.floor((sorted.length - 1) * q)] as number;
}

/** Index of the bin of `value` for inner `edges` (binary search; bin i covers [edges[i-1], edges[i])). */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= (edges[mid] as number)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Baseline of one numeric column (NaN = missing). */
export function numericBaseline(values: ArrayLike<number>, seed: number): NumericBaseline {
  const present: number[] = [];
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) present.push(v);
  }
  const count = values.length;
  const n = present.length;
  const sorted = Float64Array.from(present).sort();
  let mean = 0;
  for (const v of present) mean += v;
  mean = n === 0 ? Number.NaN : mean / n;
  let ss = 0;
  for (const v of present) ss += (v - mean) ** 2;
  const edges: number[] = [];
  if (n > 0) {
    for (let d = 1; d < 10; d += 1) {
      const e = quantileSorted(sorted, d / 10);
      if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
    }
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of present) {
    const b = binIndex(edges, v);
    counts[b] = (counts[b] as number) + 1;
  }
  // Reservoir sampling (Algorithm R) with the run's seed: a uniform, reproducible sample.
  const prng = createPrng(seed);
  const sample: number[] = [];
  present.forEach((v, i) => {
    if (i < RESERVOIR_SIZE) sample.push(v);
    else {
      const j = prng.nextInt(i + 1);
      if (j < RESERVOIR_SIZE) sample[j] = v;
    }
  });
  return {
    type: 'numeric',
    count,
    nullRate: count === 0 ? 0 : (count - n) / count,
    mean,
    std: n === 0 ? Number.NaN : Math.sqrt(ss / n),
    min: n === 0 ? Number.NaN : (sorted[0] as number),
    max: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    edges,
    shares: counts.map((c) => (n === 0 ? 0 : c / n)),
    sample: sample.sort((a, b) => a - b),
  };
}

/** Baseline of one categorical column (null = missing). */
export function categoricalBaseline(values: readonly (string | null)[]): CategoricalBaseline {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null) missing += 1;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const n = values.length - missing;
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shares: Record<string, number> = {};
  let other = 0;
  ranked.forEach(([category, c], i) => {
    if (i < TOP_CATEGORIES) shares[category] = c / n;
    else other += c;
  });
  if (ranked.length > TOP_CATEGORIES) shares[OTHER_CATEGORY] = other / n;
  const domain = [...counts.keys()].sort();
  return {
    type: 'categorical',
    count: values.length,
    nullRate: values.length === 0 ? 0 : missing / values.length,
    shares,
    domain: domain.slice(0, MAX_DOMAIN),
    domainTruncated: domain.length > MAX_DOMAIN,
  };
}

/** Baseline of a raw column of either type. */
export function columnBaseline(column: RawColumn, seed: number): ColumnBaseline {
  return column.type === 'numeric'
    ? numericBaseline(column.values, seed)
    : categoricalBaseline(column.values);
}

/**
 * Builds the baseline from the training split's raw features and the test split's predictions.
 * @param predictions `probability:<class>` or `value` columns, and `label`
 */
export function buildBaseline(
  features: Readonly<Record<string, RawColumn>>,
  predictions: Readonly<Record<string, RawColumn>>,
  rows: number,
  seed: number,
): Baseline {
  const stats = (columns: Readonly<Record<string, RawColumn>>, stream: number) =>
    Object.fromEntries(
      Object.entries(columns).map(([name, column], i) => [
        name,
        columnBaseline(column, deriveSeed(seed, stream + i)),
      ]),
    );
  return { version: 1, rows, features: stats(features, 10_000), predictions: stats(predictions, 20_000) };
}
