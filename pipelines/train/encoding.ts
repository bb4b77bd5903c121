/**
 * Feature encoding: raw columns (numbers and strings) → the float matrix the trainers see, plus the
 * {@link FeatureEncoding} records the ONNX exporter turns into the graph's own encoding step, so a
 * served model takes raw values.
 *
 * ## Numeric features
 * Kept as they are (converted to float32, the precision the ONNX model evaluates); missing is NaN.
 *
 * ## Categorical features
 * - A category must appear in at least {@link MIN_CATEGORY_COUNT} training rows to get its own code;
 *   at most {@link MAX_CATEGORIES} (the most frequent) are kept. Rarer categories and every value never
 *   seen in training share the reserved `unknownCode`: a single code learnt from the pooled rare rows
 *   generalises better than one code per handful of rows, and gives unseen values at serving time a
 *   trained place to go.
 * - Missing (`null`) stays NaN, so the trees learn a direction for it like for a numeric feature.
 * - `ordering: 'target'` (for the trees): codes are ranks `0..K` of a smoothed target statistic
 *   `(sum + m·prior) / (count + m)` with `m =` {@link TARGET_SMOOTHING}; the unknown code is ranked
 *   among them with the statistic of the pooled rare rows (the prior when there are none). For binary
 *   (positive rate) and regression (mean) the best binary partition of categories is a prefix of this
 *   order (Fisher 1958; Breiman et al. 1984), so a tree split `code < t` can find it. For multiclass the
 *   statistic is the projection of each category's smoothed class-rate vector on their first principal
 *   component (count-weighted), the one direction that separates the categories' class mixes best.
 *   Ties are broken by higher frequency, then by the category string, so the codes are deterministic.
 * - `ordering: 'index'` (for the linear model's one-hot inputs): codes `0..K−1` by descending frequency
 *   (ties by the category string); `unknownCode` is −1, which the one-hot expansion maps to all zeros.
 */
import type { FeatureType, Task } from '../config/schema.ts';
import { InputError } from '../errors.ts';
import type { FeatureEncoding, FeatureMatrix } from '../model/types.ts';
import { checkLabels } from './labels.ts';

/** One raw input column, as read from the data file: numbers (NaN = missing) or strings (null = missing). */
export type RawColumn =
  | { readonly type: 'numeric'; readonly values: Float64Array /* NaN = missing */ }
  | { readonly type: 'categorical'; readonly values: readonly (string | null)[] };

/** The name and type of one feature, in matrix column order. */
export interface EncodingSpec {
  readonly name: string;
  readonly type: FeatureType;
}

/** A category needs this many training rows to get its own code; rarer ones share `unknownCode`. */
export const MIN_CATEGORY_COUNT = 5;

/** At most this many categories (the most frequent) per feature get their own code. */
export const MAX_CATEGORIES = 1000;

/** Pseudo-count `m` pulling a category's target statistic towards the prior (target ordering). */
export const TARGET_SMOOTHING = 10;

/** Which code layout to produce: target-ordered ranks for trees, frequency-ordered indices for one-hot. */
export type CategoryOrdering = 'target' | 'index';

/**
 * Learns how each column is encoded, from the training rows only.
 *
 * @param specs the features in matrix column order.
 * @param columns one raw column per spec, all with one value per training row.
 * @param labels the training labels (0/1 binary, class index multiclass, value regression); read only
 *   for `ordering: 'target'`.
 * @param numClasses the number of classes for multiclass (ignored otherwise).
 * @param ordering `'target'` for the tree trainer, `'index'` for the linear model (see the module doc).
 * @throws InputError when the columns do not match the specs or each other, or a label does not fit
 *   the task.
 */
export function fitEncodings(
  specs: readonly EncodingSpec[],
  columns: readonly RawColumn[],
  labels: Float64Array,
  task: Task,
  numClasses: number,
  ordering: CategoryOrdering,
): FeatureEncoding[] {
  checkColumns(specs, columns);
  const rows = columns[0]?.values.length ?? 0;
  if (ordering === 'target') {
    if (labels.length !== rows) {
      throw new InputError(`got ${labels.length} labels for ${rows} rows; expected one label per row`);
    }
    checkLabels(labels, task, numClasses, 'labels');
  }
  return specs.map((spec, j): FeatureEncoding => {
    const column = columns[j] as RawColumn;
    if (column.type === 'numeric') return { name: spec.name, type: 'numeric' };
    const kept = keptCategories(column.values);
    if (ordering === 'index') {
      return {
        name: spec.name,
        type: 'categorical',
        categories: kept.map((c) => c.value),
        codes: kept.map((_, i) => i),
        unknownCode: -1,
      };
    }
    return targetOrdered(spec.name, column.values, kept, labels, task, numClasses);
  });
}

/**
 * Applies fitted encodings to raw columns (training, validation or scoring rows alike).
 *
 * @returns a float32 column-major matrix; NaN marks missing values.
 * @throws InputError when the columns do not match the encodings or differ in length.
 */
export function encodeColumns(
  encodings: readonly FeatureEncoding[],
  columns: readonly RawColumn[],
): FeatureMatrix {
  checkColumns(encodings, columns);
  const rows = columns[0]?.values.length ?? 0;
  const out = encodings.map((encoding, j): Float32Array => {
    const column = columns[j] as RawColumn;
    if (column.type === 'numeric') return Float32Array.from(column.values);
    if (encoding.type !== 'categorical') throw new Error('unreachable: checked by checkColumns');
    const codeOf = new Map<string, number>();
    encoding.categories.forEach((category, i) => {
      codeOf.set(category, encoding.codes[i] as number);
    });
    const values = column.values;
    const encoded = new Float32Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      encoded[i] = v === null || v === undefined ? Number.NaN : (codeOf.get(v) ?? encoding.unknownCode);
    }
    return encoded;
  });
  return { rows, columns: out };
}

/** One kept category with its training-row count. */
interface CategoryCount {
  readonly value: string;
  readonly count: number;
}

function checkColumns(specs: readonly EncodingSpec[], columns: readonly RawColumn[]): void {
  if (specs.length === 0) throw new InputError('no features: expected at least one column');
  if (specs.length !== columns.length) {
    throw new InputError(
      `got ${columns.length} columns for ${specs.length} features; expected one per feature`,
    );
  }
  const rows = (columns[0] as RawColumn).values.length;
  specs.forEach((spec, j) => {
    const column = columns[j] as RawColumn;
    if (column.type !== spec.type) {
      throw new InputError(
        `feature "${spec.name}" is ${spec.type} but its column holds ${column.type} values`,
        {
          details: [
            { path: `columns[${j}].type`, message: `expected ${spec.type}, received ${column.type}` },
          ],
        },
      );
    }
    if (column.values.length !== rows) {
      throw new InputError(
        `feature "${spec.name}" has ${column.values.length} values but the first column has ${rows}; all columns must have the same length`,
        {
          details: [
            { path: `columns[${j}]`, message: `expected ${rows} values, received ${column.values.length}` },
          ],
        },
      );
    }
  });
}

/** Categories seen at least MIN_CATEGORY_COUNT times, most frequent first (ties by string). */
function keptCategories(values: readonly (string | null)[]): CategoryCount[] {
  const counts = new Map<string, number>();
  for (const v of values) {
    if (v !== null && v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const kept: CategoryCount[] = [];
  for (const [value, count] of counts) if (count >= MIN_CATEGORY_COUNT) kept.push({ value, count });
  kept.sort((a, b) => b.count - a.count || compareStrings(a.value, b.value));
  return kept.slice(0, MAX_CATEGORIES);
}

/** Code-unit order, independent of the locale, so codes never depend on the machine. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Codes ranked by the smoothed target statistic, with the rare/unseen pool ranked among them. */
function targetOrdered(
  name: string,
  values: readonly (string | null)[],
  kept: readonly CategoryCount[],
  labels: Float64Array,
  task: Task,
  numClasses: number,
): FeatureEncoding {
  const k = kept.length;
  const slot = new Map<string, number>();
  kept.forEach((c, i) => {
    slot.set(c.value, i);
  });
  // Group k is the pool of rare (and, at serving time, unseen) values.
  const dims = task === 'multiclass' ? numClasses : 1;
  const sums = new Float64Array((k + 1) * dims);
  const counts = new Float64Array(k + 1);
  const prior = new Float64Array(dims);
  let labelled = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const y = labels[i] as number;
    // Missing rows are not a category, but they still inform the prior.
    if (task === 'multiclass') prior[y] = (prior[y] as number) + 1;
    else prior[0] = (prior[0] as number) + y;
    labelled++;
    if (v === null || v === undefined) continue;
    const g = slot.get(v) ?? k;
    counts[g] = (counts[g] as number) + 1;
    if (task === 'multiclass') sums[g * dims + y] = (sums[g * dims + y] as number) + 1;
    else sums[g] = (sums[g] as number) + y;
  }
  for (let d = 0; d < dims; d++) prior[d] = labelled === 0 ? 0 : (prior[d] as number) / labelled;

  const smoothed = new Float64Array((k + 1) * dims);
  for (let g = 0; g <= k; g++) {
    const n = counts[g] as number;
    for (let d = 0; d < dims; d++) {
      smoothed[g * dims + d] =
        ((sums[g * dims + d] as number) + TARGET_SMOOTHING * (prior[d] as number)) / (n + TARGET_SMOOTHING);
    }
  }
  const statistic = dims === 1 ? smoothed : projectOnPrincipalComponent(smoothed, counts, k + 1, dims);

  const order = Array.from({ length: k + 1 }, (_, g) => g);
  order.sort((a, b) => {
    const byStat = (statistic[a] as number) - (statistic[b] as number);
    if (byStat !== 0) return byStat;
    // The pool sorts after real categories with the same statistic; categories by frequency, then name.
    if (a === k) return 1;
    if (b === k) return -1;
    const ca = kept[a] as CategoryCount;
    const cb = kept[b] as CategoryCount;
    return cb.count - ca.count || compareStrings(ca.value, cb.value);
  });
  const codes = new Array<number>(k).fill(0);
  let unknownCode = 0;
  order.forEach((g, rank) => {
    if (g === k) unknownCode = rank;
    else codes[g] = rank;
  });
  return { name, type: 'categorical', categories: kept.map((c) => c.value), codes, unknownCode };
}

/**
 * The coordinate of each group's class-rate vector along the count-weighted first principal component
 * (power iteration on the K×K weighted covariance). When all groups share one class mix the
 * covariance is zero and every group gets 0, so the ordering falls back to frequency.
 */
function projectOnPrincipalComponent(
  rates: Float64Array,
  weights: Float64Array,
  groups: number,
  dims: number,
): Float64Array {
  let total = 0;
  const mean = new Float64Array(dims);
  for (let g = 0; g < groups; g++) {
    const w = weights[g] as number;
    total += w;
    for (let d = 0; d < dims; d++) mean[d] = (mean[d] as number) + w * (rates[g * dims + d] as number);
  }
  const out = new Float64Array(groups);
  if (total === 0) return out;
  for (let d = 0; d < dims; d++) mean[d] = (mean[d] as number) / total;
  const cov = new Float64Array(dims * dims);
  for (let g = 0; g < groups; g++) {
    const w = (weights[g] as number) / total;
    for (let a = 0; a < dims; a++) {
      const da = (rates[g * dims + a] as number) - (mean[a] as number);
      for (let b = 0; b < dims; b++) {
        cov[a * dims + b] =
          (cov[a * dims + b] as number) + w * da * ((rates[g * dims + b] as number) - (mean[b] as number));
      }
    }
  }
  // Start from the class whose rate varies most: never orthogonal to the top component unless the
  // covariance is degenerate, and it makes the iteration deterministic.
  let start = 0;
  for (let d = 1; d < dims; d++)
    if ((cov[d * dims + d] as number) > (cov[start * dims + start] as number)) start = d;
  if ((cov[start * dims + start] as number) <= 1e-15) return out;
  let v = new Float64Array(dims);
  v[start] = 1;
  for (let iter = 0; iter < 200; iter++) {
    const next = new Float64Array(dims);
    for (let a = 0; a < dims; a++) {
      let s = 0;
      for (let b = 0; b < dims; b++) s += (cov[a * dims + b] as number) * (v[b] as number);
      next[a] = s;
    }
    let norm = 0;
    for (let a = 0; a < dims; a++) norm += (next[a] as number) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    let change = 0;
    for (let a = 0; a < dims; a++) {
      const x = (next[a] as number) / norm;
      change += Math.abs(x - (v[a] as number));
      next[a] = x;
    }
    v = next;
    if (change < 1e-12) break;
  }
  // Fix the sign (an eigenvector's sign is arbitrary): the start class's rate increases with the code.
  const sign = (v[start] as number) < 0 ? -1 : 1;
  for (let g = 0; g < groups; g++) {
    let s = 0;
    for (let d = 0; d < dims; d++)
      s += ((rates[g * dims + d] as number) - (mean[d] as number)) * (v[d] as number);
    out[g] = sign * s;
  }
  return out;
}
