/**
 * Per-column statistics of a dataset version, accumulated in one streaming pass with bounded memory,
 * for its manifest and for `data diff`.
 *
 * A file validated in two parts at once has each part's statistics accumulated on its own thread
 * (a batch at a time, see {@link NumericUpdate}); their states ({@link ColumnState}) are then merged
 * into those of the whole file ({@link mergeColumnStates}): the counts, extremes and categories
 * exactly (the distinct-value cap aside), the mean and variance by Chan's parallel formula, and the
 * numeric sample drawn from the two samples so that it is still a uniform sample of every value.
 */

import type { FeatureType } from '../config/schema.ts';
import { CATEGORY_CODES } from '../data/csv-cells.ts';
import { createPrng, deriveSeed, type Prng } from '../train/gbdt/prng.ts';

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

/**
 * Where a numeric accumulator is: what merging it with another needs. `n` values were present, with
 * mean `mean` and sum of squared deviations `m2`; `sample` is its reservoir (a uniform sample of them).
 */
export interface NumericState {
  readonly type: 'numeric';
  readonly count: number;
  readonly missing: number;
  readonly n: number;
  readonly mean: number;
  readonly m2: number;
  readonly min: number;
  readonly max: number;
  readonly sample: readonly number[];
}

/** Where a categorical accumulator is: the counts of the values it counts, in first-seen order. */
export interface CategoricalState {
  readonly type: 'categorical';
  readonly count: number;
  readonly missing: number;
  readonly capped: boolean;
  readonly counts: readonly (readonly [string, number])[];
}

/** Where a column's accumulator is, in plain data (it can be posted between threads). */
export type ColumnState = NumericState | CategoricalState;

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

/**
 * How a numeric accumulator takes a column of values ({@link NumericAccumulator.addColumn}):
 * - `per-value`: Welford's update of the mean and variance and a reservoir draw (algorithm R) for
 *   every value — the manifest's figures as they have always been;
 * - `per-batch`: each batch's own moments (its sum, then its squared deviations) merged in by Chan's
 *   formula, and a reservoir that skips ahead to the next value it takes (Li's algorithm L) — the same
 *   statistics up to rounding and another, as uniform, sample, in half the time: no division per value
 *   on one long chain, and a few thousand draws instead of one per value. For the parts of a file
 *   validated in two parts, whose samples are merged anyway.
 */
export type NumericUpdate = 'per-value' | 'per-batch';

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
  readonly #byBatch: boolean;
  /** `per-batch`: the count of values at which the reservoir takes the next one, and Li's W. */
  #nextTaken = 1;
  #w = 1;

  constructor(seed: number, update: NumericUpdate) {
    this.#state = seed >>> 0;
    this.#byBatch = update === 'per-batch';
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
   * same as calling {@link add} for each, in one loop (`per-batch`: see {@link NumericUpdate}).
   */
  addColumn(values: Float64Array, base: number, count: number, keep: Uint8Array): void {
    if (this.#byBatch) {
      this.#addBatch(values, base, count, keep);
      return;
    }
    for (let r = 0; r < count; r += 1) {
      if (keep[r] === 1) this.#addNumber(values[base + r] as number);
    }
  }

  /** {@link addColumn}, `per-batch`. */
  #addBatch(values: Float64Array, base: number, count: number, keep: Uint8Array): void {
    const before = this.#n;
    let kept = 0;
    let present = 0;
    let sum = 0;
    let min = this.#min;
    let max = this.#max;
    let nextTaken = this.#nextTaken;
    for (let r = 0; r < count; r += 1) {
      if (keep[r] !== 1) continue;
      kept += 1;
      const value = values[base + r] as number;
      if (Number.isNaN(value)) continue;
      present += 1;
      sum += value;
      if (value < min) min = value;
      if (value > max) max = value;
      if (before + present === nextTaken) nextTaken = this.#take(value, nextTaken);
    }
    this.#count += kept;
    this.#missing += kept - present;
    this.#min = min;
    this.#max = max;
    if (present === 0) return;
    const mean = sum / present;
    let m2 = 0;
    for (let r = 0; r < count; r += 1) {
      if (keep[r] !== 1) continue;
      const deviation = (values[base + r] as number) - mean;
      if (!Number.isNaN(deviation)) m2 += deviation * deviation;
    }
    const merged = mergeMoments(before, this.#mean, this.#m2, present, mean, m2);
    this.#n = before + present;
    this.#mean = merged.mean;
    this.#m2 = merged.m2;
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
    if (this.#byBatch) {
      if (n === this.#nextTaken) this.#take(value, n);
      return;
    }
    // Reservoir sampling (algorithm R) with the seeded generator: the same values give the same sample.
    if (n <= SAMPLE_SIZE) this.#sample.push(value);
    else {
      const j = this.#drawBelow(n);
      if (j < SAMPLE_SIZE) this.#sample[j] = value;
    }
  }

  /**
   * `per-batch`: puts the `n`th present value (1-based) in the reservoir — the first SAMPLE_SIZE in
   * turn, then in a random slot — and returns which to take next (Li's algorithm L: the gap to it
   * follows a geometric law whose parameter W shrinks with every value taken).
   */
  #take(value: number, n: number): number {
    if (n <= SAMPLE_SIZE) this.#sample.push(value);
    else {
      this.#sample[this.#drawBelow(SAMPLE_SIZE)] = value;
      this.#w *= Math.exp(Math.log(this.#uniform()) / SAMPLE_SIZE);
    }
    if (n < SAMPLE_SIZE) this.#nextTaken = n + 1;
    else {
      if (n === SAMPLE_SIZE) this.#w = Math.exp(Math.log(this.#uniform()) / SAMPLE_SIZE);
      this.#nextTaken = n + Math.floor(Math.log(this.#uniform()) / Math.log(1 - this.#w)) + 1;
    }
    return this.#nextTaken;
  }

  /** A number in (0, 1) from the sampling generator. */
  #uniform(): number {
    this.#state = mulberry32(this.#state, this.#draw);
    return ((this.#draw[0] as number) + 0.5) / 4294967296;
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

  /** Where the accumulator is (see {@link mergeColumnStates}). */
  state(): NumericState {
    return {
      type: 'numeric',
      count: this.#count,
      missing: this.#missing,
      n: this.#n,
      mean: this.#mean,
      m2: this.#m2,
      min: this.#min,
      max: this.#max,
      sample: [...this.#sample],
    };
  }

  finish(): NumericColumnStats {
    return finishNumeric(this.state());
  }
}

function finishNumeric(state: NumericState): NumericColumnStats {
  const sample = [...state.sample].sort((a, b) => a - b);
  const present = state.n > 0;
  return {
    type: 'numeric',
    count: state.count,
    missing: state.missing,
    min: present ? state.min : null,
    max: present ? state.max : null,
    mean: present ? state.mean : null,
    std: present ? Math.sqrt(state.m2 / state.n) : null,
    deciles: present
      ? [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => sample[Math.floor((sample.length - 1) * (d / 10))] as number)
      : [],
    sample,
  };
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

  /** Where the accumulator is (see {@link mergeColumnStates}). */
  state(): CategoricalState {
    // The occurrences counted by code go into their values' counts first.
    for (const [code, value] of this.#codeValue) {
      const box = this.#counts.get(value);
      if (box !== undefined) box.n += this.#pending?.[code] ?? 0;
      if (this.#pending !== undefined) this.#pending[code] = 0;
    }
    return {
      type: 'categorical',
      count: this.#count,
      missing: this.#missing,
      capped: this.#capped,
      counts: [...this.#counts].map(([key, { n }]): [string, number] => [key, n]),
    };
  }

  finish(): CategoricalColumnStats {
    return finishCategorical(this.state());
  }
}

function finishCategorical(state: CategoricalState): CategoricalColumnStats {
  const ranked = [...state.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = Object.fromEntries(ranked.slice(0, TOP_CATEGORIES));
  const listed = ranked.slice(0, TOP_CATEGORIES).reduce((s, [, c]) => s + c, 0);
  return {
    type: 'categorical',
    count: state.count,
    missing: state.missing,
    distinct: state.counts.length,
    distinctCapped: state.capped,
    top,
    otherCount: state.count - state.missing - listed,
  };
}

export type { CategoricalAccumulator, NumericAccumulator };

/** A new accumulator for a column of `type`; `seed` makes the numeric sample reproducible. */
export function columnAccumulator(type: FeatureType, seed: number, column: number): ColumnAccumulator {
  return type === 'numeric' ? numericAccumulator(seed, column) : categoricalAccumulator();
}

/**
 * A new accumulator for numeric column `column`; `seed` makes its sample reproducible.
 * @param update see {@link NumericUpdate}
 */
export function numericAccumulator(
  seed: number,
  column: number,
  update: NumericUpdate = 'per-value',
): NumericAccumulator {
  return new NumericAccumulator(deriveSeed(seed, column), update);
}

/** A new accumulator for a categorical column. */
export function categoricalAccumulator(): CategoricalAccumulator {
  return new CategoricalAccumulator();
}

/** The statistics of a column whose accumulator is at `state`. */
export function finishColumnState(state: ColumnState): ColumnStats {
  return state.type === 'numeric' ? finishNumeric(state) : finishCategorical(state);
}

/**
 * The state of one accumulator fed the values of `first` then those of `second`: exactly, but for
 * the rounding of the mean and variance (Chan's parallel formula), the numeric sample — a uniform
 * sample of both columns' values drawn from their samples with a generator seeded by `seed` — and the
 * distinct-value cap (past it, counts of values first seen in `second` are a lower bound).
 */
export function mergeColumnStates(first: ColumnState, second: ColumnState, seed: number): ColumnState {
  if (first.type === 'numeric' && second.type === 'numeric') return mergeNumeric(first, second, seed);
  if (first.type === 'categorical' && second.type === 'categorical') return mergeCategorical(first, second);
  throw new TypeError('cannot merge a numeric and a categorical column');
}

/**
 * The mean and sum of squared deviations of two sets of values (`n`, `mean`, `m2` each) together:
 * Chan, Golub and LeVeque's parallel formula.
 */
function mergeMoments(
  n1: number,
  mean1: number,
  m21: number,
  n2: number,
  mean2: number,
  m22: number,
): { mean: number; m2: number } {
  if (n1 === 0 || n2 === 0) return { mean: n1 === 0 ? mean2 : mean1, m2: m21 + m22 };
  const n = n1 + n2;
  const delta = mean2 - mean1;
  return { mean: mean1 + delta * (n2 / n), m2: m21 + m22 + delta * delta * ((n1 * n2) / n) };
}

function mergeNumeric(a: NumericState, b: NumericState, seed: number): NumericState {
  // The extremes as one pass updates them (`if (value < min) min = value`): the first part's stands
  // unless the second goes strictly beyond it — Math.min(0, -0) is -0 where one pass keeps a first 0.
  let { min, max } = a;
  if (b.min < min) min = b.min;
  if (b.max > max) max = b.max;
  return {
    type: 'numeric',
    count: a.count + b.count,
    missing: a.missing + b.missing,
    n: a.n + b.n,
    ...mergeMoments(a.n, a.mean, a.m2, b.n, b.mean, b.m2),
    min,
    max,
    sample: mergeSamples(a, b, createPrng(seed)),
  };
}

/**
 * A uniform sample of the union of two columns' present values from their uniform samples. Each slot
 * is drawn from the first column with the chance its remaining values have among all remaining —
 * so how many come from each is hypergeometric, as for a sample of the union — then as a uniform
 * draw without replacement from that column's sample (which holds enough: a column gives at most
 * its number of values, and at most SAMPLE_SIZE).
 */
function mergeSamples(a: NumericState, b: NumericState, prng: Prng): number[] {
  if (a.n + b.n <= SAMPLE_SIZE) return [...a.sample, ...b.sample];
  const poolA = [...a.sample];
  const poolB = [...b.sample];
  let restA = a.n;
  let restB = b.n;
  const merged: number[] = [];
  for (let slot = 0; slot < SAMPLE_SIZE; slot += 1) {
    const fromA = drawBelow(prng, restA + restB) < restA;
    const pool = fromA ? poolA : poolB;
    const j = prng.nextInt(pool.length);
    merged.push(pool[j] as number);
    pool[j] = pool[pool.length - 1] as number;
    pool.pop();
    if (fromA) restA -= 1;
    else restB -= 1;
  }
  return merged;
}

/** A uniform integer in [0, n) (beyond 2^32, at the generator's resolution). */
function drawBelow(prng: Prng, n: number): number {
  return n <= 4294967296 ? prng.nextInt(n) : Math.floor(prng.nextFloat() * n);
}

function mergeCategorical(a: CategoricalState, b: CategoricalState): CategoricalState {
  const counts = new Map(a.counts);
  let capped = a.capped || b.capped;
  for (const [key, n] of b.counts) {
    const seen = counts.get(key);
    if (seen !== undefined) counts.set(key, seen + n);
    else if (counts.size < DISTINCT_CAP) counts.set(key, n);
    else capped = true;
  }
  return {
    type: 'categorical',
    count: a.count + b.count,
    missing: a.missing + b.missing,
    capped,
    counts: [...counts],
  };
}
