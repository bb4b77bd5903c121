/**
 * Per-column statistics of a dataset version, accumulated in one streaming pass with bounded memory,
 * for its manifest and for `data diff`.
 */

import type { FeatureType } from '../config/schema.ts';
import { CATEGORY_CODES } from '../data/csv-cells.ts';
import { deriveSeed } from '../train/gbdt/prng.ts';

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

/**
 * The next number of the mulberry32 stream whose state is `state` — the generator of `Prng` (see
 * `train/gbdt/prng.ts`), written out here so the per-value sampling loop runs without a call per
 * draw. Returns the new state and the number through `out`.
 */
function mulberry32(state: number, out: Uint32Array): number {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  out[0] = (t ^ (t >>> 14)) >>> 0;
  return next;
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
  /** The sampling generator's state (mulberry32, seeded like `createPrng(seed)`). */
  #state: number;
  readonly #draw = new Uint32Array(1);

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  add(value: number | string | null): void {
    if (typeof value !== 'number') {
      this.#count += 1;
      this.#missing += 1;
      return;
    }
    this.#addNumber(value);
  }

  /**
   * Adds `values[base + r]` for each row r < `count` with `keep[r]` 1, in order (NaN: missing) — the
   * same as calling {@link add} for each, in one loop.
   */
  addColumn(values: Float64Array, base: number, count: number, keep: Uint8Array): void {
    for (let r = 0; r < count; r += 1) {
      if (keep[r] === 1) this.#addNumber(values[base + r] as number);
    }
  }

  #addNumber(value: number): void {
    this.#count += 1;
    if (Number.isNaN(value)) {
      this.#missing += 1;
      return;
    }
    // Welford's update: numerically stable mean and variance in one pass.
    const n = this.#n + 1;
    this.#n = n;
    const delta = value - this.#mean;
    const mean = this.#mean + delta / n;
    this.#mean = mean;
    this.#m2 += delta * (value - mean);
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    // Reservoir sampling (algorithm R) with the seeded generator: the same values give the same sample.
    if (n <= SAMPLE_SIZE) this.#sample.push(value);
    else {
      const j = this.#drawBelow(n);
      if (j < SAMPLE_SIZE) this.#sample[j] = value;
    }
  }

  /**
   * An integer in [0, n): exactly the draw `Prng.nextInt(n)` makes (rejection sampling above the
   * largest multiple of n), in 32-bit integer arithmetic — the floating-point remainders of the
   * general version would dominate the cost of a push, which draws once per numeric value.
   */
  #drawBelow(n: number): number {
    const m = n >>> 0;
    const draw = this.#draw;
    for (;;) {
      this.#state = mulberry32(this.#state, draw);
      const x = draw[0] as number;
      // 2^32 mod m < m, so anything below 2^32 - m is under the rejection limit; only the top m values
      // need the exact limit 2^32 - (2^32 mod m), where 2^32 mod m = (2^32 - m) mod m.
      if (x < 4294967296 - m || x < 4294967296 - ((-m >>> 0) % m)) return (x % m) >>> 0;
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

/** What a categorical accumulator knows of a value code (see `CellBatch.codes`); 0: not seen yet. */
const CODE_COUNTED = 1;
const CODE_NOT_COUNTED = 2;
const CODE_MISSING = 3;

class CategoricalAccumulator implements ColumnAccumulator {
  #count = 0;
  #missing = 0;
  #capped = false;
  /** Counts in a box per value: one map lookup per value instead of a get and a set. */
  readonly #counts = new Map<string, { n: number }>();
  /** Per value code: what the code stands for, and the occurrences not yet added to `#counts`. */
  #codeState: Uint8Array | undefined;
  #pending: Float64Array | undefined;
  readonly #codeValue = new Map<number, string>();

  add(value: number | string | null): void {
    this.#count += 1;
    if (value === null) {
      this.#missing += 1;
      return;
    }
    const key = typeof value === 'string' ? value : String(value);
    const seen = this.#counts.get(key);
    if (seen !== undefined) seen.n += 1;
    else if (this.#counts.size < DISTINCT_CAP) this.#counts.set(key, { n: 1 });
    else this.#capped = true;
  }

  /**
   * Adds, for each row r < `count` with `keep[r]` 1 and in order, the value coded `codes[base + r]`
   * (`value(code)`), or `text(r)` for a row without a code — the same as {@link addCoded} for each, in
   * one loop that touches only counters for values already seen.
   */
  addCodes(
    codes: Int32Array,
    base: number,
    count: number,
    keep: Uint8Array,
    value: (code: number) => string | null,
    text: (r: number) => string | null,
  ): void {
    this.#codeState ??= new Uint8Array(CATEGORY_CODES);
    this.#pending ??= new Float64Array(CATEGORY_CODES);
    const codeState = this.#codeState;
    const pending = this.#pending;
    for (let r = 0; r < count; r += 1) {
      if (keep[r] === 0) continue;
      const code = codes[base + r] as number;
      if (code >= 0 && codeState[code] === CODE_COUNTED) {
        this.#count += 1;
        pending[code] = (pending[code] as number) + 1;
      } else if (code >= 0) this.addCoded(code, value(code));
      else this.add(text(r));
    }
  }

  /**
   * Adds a value known by its code (-1: none, then it is {@link add}): the first occurrence of a code
   * goes through `add`, the later ones only bump a counter, added to the value's count at the end —
   * the same counts, since whether a value is counted is settled at its first occurrence.
   */
  addCoded(code: number, value: string | null): void {
    if (code < 0) {
      this.add(value);
      return;
    }
    this.#codeState ??= new Uint8Array(CATEGORY_CODES);
    this.#pending ??= new Float64Array(CATEGORY_CODES);
    const state = this.#codeState[code];
    if (state === CODE_COUNTED) {
      this.#count += 1;
      this.#pending[code] = (this.#pending[code] as number) + 1;
    } else if (state === CODE_MISSING) {
      this.#count += 1;
      this.#missing += 1;
    } else if (state === CODE_NOT_COUNTED) {
      this.#count += 1;
    } else {
      this.add(value);
      if (value === null) this.#codeState[code] = CODE_MISSING;
      else if (this.#counts.has(value)) {
        this.#codeState[code] = CODE_COUNTED;
        this.#codeValue.set(code, value);
      } else this.#codeState[code] = CODE_NOT_COUNTED;
    }
  }

  finish(): CategoricalColumnStats {
    for (const [code, value] of this.#codeValue) {
      const box = this.#counts.get(value);
      if (box !== undefined) box.n += this.#pending?.[code] ?? 0;
      if (this.#pending !== undefined) this.#pending[code] = 0;
    }
    const ranked = [...this.#counts]
      .map(([key, { n }]): [string, number] => [key, n])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
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

export type { CategoricalAccumulator, NumericAccumulator };

/** A new accumulator for a column of `type`; `seed` makes the numeric sample reproducible. */
export function columnAccumulator(type: FeatureType, seed: number, column: number): ColumnAccumulator {
  return type === 'numeric' ? numericAccumulator(seed, column) : categoricalAccumulator();
}

/** A new accumulator for numeric column `column`; `seed` makes its sample reproducible. */
export function numericAccumulator(seed: number, column: number): NumericAccumulator {
  return new NumericAccumulator(deriveSeed(seed, column));
}

/** A new accumulator for a categorical column. */
export function categoricalAccumulator(): CategoricalAccumulator {
  return new CategoricalAccumulator();
}
