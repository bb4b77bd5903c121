/**
 * Per-column statistics of a dataset version, accumulated in one streaming pass with bounded memory,
 * for its manifest and for `data diff`.
 */

import type { FeatureType } from '../config/schema.ts';
import { createPrng, deriveSeed } from '../train/gbdt/prng.ts';

/** Values kept per numeric column for quantiles and drift between versions. */
export const SAMPLE_SIZE = 1000;
/** Categories listed individually in a manifest; the rest are counted together. */
export const TOP_CATEGORIES = 50;
/** Distinct categories counted exactly per column; beyond this the count is a lower bound. */
const DISTINCT_CAP = 100_000;

/** Statistics of a numeric column. */
export interface NumericColumnStats {
  readonly type: 'numeric';
  readonly count: number;
  readonly missing: number;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  readonly std: number | null;
  /** Deciles (10 %, 20 % … 90 %) of the sample. */
  readonly deciles: number[];
  /** A uniform sample of the values (sorted), for drift between versions. */
  readonly sample: number[];
}

/** Statistics of a categorical column. */
export interface CategoricalColumnStats {
  readonly type: 'categorical';
  readonly count: number;
  readonly missing: number;
  /** Distinct values (a lower bound when `distinctCapped`). */
  readonly distinct: number;
  readonly distinctCapped: boolean;
  /** Counts of the most frequent values, most frequent first. */
  readonly top: Record<string, number>;
  /** Rows holding any other value. */
  readonly otherCount: number;
}

export type ColumnStats = NumericColumnStats | CategoricalColumnStats;

/** Accumulates statistics for one column. */
export interface ColumnAccumulator {
  add(value: number | string | null): void;
  finish(): ColumnStats;
}

class NumericAccumulator implements ColumnAccumulator {
  #count = 0;
  #missing = 0;
  #n = 0;
  #mean = 0;
  #m2 = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  readonly #sample: number[] = [];
  readonly #prng;

  constructor(seed: number) {
    this.#prng = createPrng(seed);
  }

  add(value: number | string | null): void {
    this.#count += 1;
    if (value === null || typeof value !== 'number' || Number.isNaN(value)) {
      this.#missing += 1;
      return;
    }
    // Welford's update: numerically stable mean and variance in one pass.
    this.#n += 1;
    const delta = value - this.#mean;
    this.#mean += delta / this.#n;
    this.#m2 += delta * (value - this.#mean);
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (this.#sample.length < SAMPLE_SIZE) this.#sample.push(value);
    else {
      const j = this.#prng.nextInt(this.#n);
      if (j < SAMPLE_SIZE) this.#sample[j] = value;
    }
  }

  finish(): NumericColumnStats {
    const sample = [...this.#sample].sort((a, b) => a - b);
    const present = this.#n > 0;
    return {
      type: 'numeric',
      count: this.#count,
      missing: this.#missing,
      min: present ? this.#min : null,
      max: present ? this.#max : null,
      mean: present ? this.#mean : null,
      std: present ? Math.sqrt(this.#m2 / this.#n) : null,
      deciles: present
        ? [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => sample[Math.floor((sample.length - 1) * (d / 10))] as number)
        : [],
      sample,
    };
  }
}

class CategoricalAccumulator implements ColumnAccumulator {
  #count = 0;
  #missing = 0;
  #capped = false;
  readonly #counts = new Map<string, number>();

  add(value: number | string | null): void {
    this.#count += 1;
    if (value === null) {
      this.#missing += 1;
      return;
    }
    const key = String(value);
    const seen = this.#counts.get(key);
    if (seen !== undefined) this.#counts.set(key, seen + 1);
    else if (this.#counts.size < DISTINCT_CAP) this.#counts.set(key, 1);
    else this.#capped = true;
  }

  finish(): CategoricalColumnStats {
    const ranked = [...this.#counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const top = Object.fromEntries(ranked.slice(0, TOP_CATEGORIES));
    const listed = ranked.slice(0, TOP_CATEGORIES).reduce((s, [, c]) => s + c, 0);
    return {
      type: 'categorical',
      count: this.#count,
      missing: this.#missing,
      distinct: this.#counts.size,
      distinctCapped: this.#capped,
      top,
      otherCount: this.#count - this.#missing - listed,
    };
  }
}

/** A new accumulator for a column of `type`; `seed` makes the numeric sample reproducible. */
export function columnAccumulator(type: FeatureType, seed: number, column: number): ColumnAccumulator {
  return type === 'numeric' ? new NumericAccumulator(deriveSeed(seed, column)) : new CategoricalAccumulator();
}
