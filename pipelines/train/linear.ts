/**
 * The linear trainer: logistic regression (binary), softmax regression (multiclass) and ridge
 * regression, over the expanded, standardised inputs of {@link LinearModel}.
 *
 * ## Inputs
 * The matrix comes encoded with `fitEncodings(..., 'index')`: numeric columns as values (NaN =
 * missing), categorical columns as category indices `0..K−1` (−1 = unknown/rare, NaN = missing).
 * - numeric: mean and standard deviation over the training rows that have a value (population
 *   deviation; scale 1 when it is 0); a missing value is replaced by the mean, so it standardises to 0.
 * - categorical: one 0/1 indicator per index, left unstandardised (mean 0, scale 1), so an unknown or
 *   missing value (all indicators 0) contributes nothing and the row scores like an average category.
 *
 * ## Objective
 * Mean loss over the training rows plus `l2/2 · ‖w‖²` on the weights (the biases are not penalised):
 * log-loss for binary and multiclass, half squared error for regression. In scikit-learn terms:
 * `LogisticRegression(C = 1 / (n · l2))` and `Ridge(alpha = n · l2)` on the same standardised inputs.
 *
 * ## Solvers
 * Ridge in closed form (centred normal equations, Cholesky). Logistic and softmax by L-BFGS until the
 * largest gradient component is below `tolerance`, or `maxIterations`. Deterministic: no randomness,
 * sequential sums.
 */
import type { LinearParams, Task } from '../config/schema.ts';
import { InputError } from '../errors.ts';
import type { FeatureEncoding, FeatureMatrix, LinearModel } from '../model/types.ts';
import { checkLabels } from './labels.ts';
import { minimiseLbfgs, solveCholesky } from './linear-solve.ts';

/** What {@link trainLinear} needs. */
export interface LinearTrainingInput {
  readonly task: Task;
  /** The 'index' encodings the matrix was built with, in column order. */
  readonly features: readonly FeatureEncoding[];
  /** Class names in label order (binary: [negative, positive]); empty for regression. */
  readonly classes: readonly string[];
  readonly train: FeatureMatrix;
  /** 0/1 (binary), class index (multiclass) or value (regression) per training row. */
  readonly trainLabels: Float64Array;
  readonly params: LinearParams;
}

/** The trained model and how the optimisation went. */
export interface LinearTrainingResult {
  readonly model: LinearModel;
  /** L-BFGS iterations (0 for ridge, which is solved directly). */
  readonly iterations: number;
  /** Whether the optimiser reached `tolerance` (always true for ridge). */
  readonly converged: boolean;
  /** The objective (mean loss + penalty) at the returned weights. */
  readonly objective: number;
}

/**
 * The expanded inputs, stored compactly: numeric columns standardised (missing → 0), categorical
 * columns as the index of their one hot indicator (−1 for none).
 */
interface Design {
  readonly rows: number;
  readonly width: number;
  readonly numeric: readonly { readonly offset: number; readonly values: Float64Array }[];
  readonly categorical: readonly { readonly offset: number; readonly index: Int32Array }[];
  readonly mean: Float64Array;
  readonly scale: Float64Array;
}

/**
 * Trains a linear model.
 *
 * @throws InputError when the matrix, encodings, classes or labels do not fit together or the task.
 */
export function trainLinear(input: LinearTrainingInput): LinearTrainingResult {
  const { task, features, classes, train, trainLabels, params } = input;
  checkInput(input);
  checkLabels(trainLabels, task, classes.length, 'training labels');
  const design = buildDesign(features, train);

  let weights: Float64Array[];
  let bias: number[];
  let iterations = 0;
  let converged = true;
  let objective: number;
  if (task === 'regression') {
    ({ weights, bias, objective } = fitRidge(design, trainLabels, params.l2));
  } else {
    const outputs = task === 'binary' ? 1 : classes.length;
    const result = fitLogistic(design, trainLabels, outputs, params);
    ({ weights, bias, iterations, converged, objective } = result);
  }
  const model: LinearModel = {
    kind: 'linear',
    task,
    features: [...features],
    classes: [...classes],
    inputMean: design.mean,
    inputScale: design.scale,
    weights,
    bias,
  };
  return { model, iterations, converged, objective };
}

function checkInput(input: LinearTrainingInput): void {
  const { task, features, classes, train, trainLabels } = input;
  if (features.length === 0) throw new InputError('no features: expected at least one');
  if (train.columns.length !== features.length) {
    throw new InputError(`got ${train.columns.length} columns for ${features.length} features`);
  }
  if (train.rows === 0) throw new InputError('no training rows');
  train.columns.forEach((column, j) => {
    if (column.length !== train.rows) {
      throw new InputError(`column ${j} has ${column.length} values for ${train.rows} rows`);
    }
  });
  if (trainLabels.length !== train.rows) {
    throw new InputError(`got ${trainLabels.length} labels for ${train.rows} rows`);
  }
  const expected = task === 'binary' ? 'exactly 2' : task === 'regression' ? 'no' : 'at least 2';
  const ok =
    task === 'binary'
      ? classes.length === 2
      : task === 'regression'
        ? classes.length === 0
        : classes.length >= 2;
  if (!ok) throw new InputError(`a ${task} task takes ${expected} classes, got ${classes.length}`);
  for (const feature of features) {
    if (feature.type !== 'categorical') continue;
    const k = feature.categories.length;
    const valid =
      feature.codes.length === k &&
      new Set(feature.codes).size === k &&
      feature.codes.every((c) => Number.isInteger(c) && c >= 0 && c < k) &&
      !(feature.unknownCode >= 0 && feature.unknownCode < k);
    if (!valid) {
      throw new InputError(
        `feature "${feature.name}" is not index-encoded (codes 0..${k - 1}, unknown outside)`,
        {
          hint: "encode the linear model's categoricals with fitEncodings(..., 'index')",
        },
      );
    }
  }
}

function buildDesign(features: readonly FeatureEncoding[], train: FeatureMatrix): Design {
  const n = train.rows;
  const numeric: { offset: number; values: Float64Array }[] = [];
  const categorical: { offset: number; index: Int32Array }[] = [];
  const means: number[] = [];
  const scales: number[] = [];
  features.forEach((feature, j) => {
    const column = train.columns[j] as Float32Array;
    const offset = means.length;
    if (feature.type === 'numeric') {
      let count = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const v = column[i] as number;
        if (!Number.isNaN(v)) {
          count++;
          sum += v;
        }
      }
      const mean = count === 0 ? 0 : sum / count;
      let squares = 0;
      for (let i = 0; i < n; i++) {
        const v = column[i] as number;
        if (!Number.isNaN(v)) squares += (v - mean) ** 2;
      }
      const std = count === 0 ? 0 : Math.sqrt(squares / count);
      const scale = std > 0 && Number.isFinite(std) ? std : 1;
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = column[i] as number;
        values[i] = Number.isNaN(v) ? 0 : (v - mean) / scale;
      }
      numeric.push({ offset, values });
      means.push(mean);
      scales.push(scale);
      return;
    }
    const k = feature.categories.length;
    if (k === 0) return;
    const index = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = column[i] as number;
      index[i] = Number.isInteger(v) && v >= 0 && v < k ? v : -1;
    }
    categorical.push({ offset, index });
    for (let c = 0; c < k; c++) {
      means.push(0);
      scales.push(1);
    }
  });
  if (means.length === 0) {
    throw new InputError('no inputs: every categorical feature has no category frequent enough to keep', {
      hint: 'add a numeric feature or more rows per category',
    });
  }
  return {
    rows: n,
    width: means.length,
    numeric,
    categorical,
    mean: Float64Array.from(means),
    scale: Float64Array.from(scales),
  };
}

/** scores[i] += Σ_j x_ij · w[base + j] for every row. */
function addProducts(
  d: Design,
  w: Float64Array,
  base: number,
  scores: Float64Array,
  stride: number,
  at: number,
): void {
  for (const { offset, values } of d.numeric) {
    const wj = w[base + offset] as number;
    if (wj === 0) continue;
    for (let i = 0; i < d.rows; i++) {
      const s = i * stride + at;
      scores[s] = (scores[s] as number) + wj * (values[i] as number);
    }
  }
  for (const { offset, index } of d.categorical) {
    for (let i = 0; i < d.rows; i++) {
      const c = index[i] as number;
      if (c < 0) continue;
      const s = i * stride + at;
      scores[s] = (scores[s] as number) + (w[base + offset + c] as number);
    }
  }
}

/** grad[base + j] += factor · Σ_i x_ij · r[i·stride + at]. */
function addTransposed(
  d: Design,
  r: Float64Array,
  stride: number,
  at: number,
  factor: number,
  grad: Float64Array,
  base: number,
): void {
  for (const { offset, values } of d.numeric) {
    let s = 0;
    for (let i = 0; i < d.rows; i++) s += (values[i] as number) * (r[i * stride + at] as number);
    grad[base + offset] = (grad[base + offset] as number) + factor * s;
  }
  for (const { offset, index } of d.categorical) {
    for (let i = 0; i < d.rows; i++) {
      const c = index[i] as number;
      if (c < 0) continue;
      grad[base + offset + c] = (grad[base + offset + c] as number) + factor * (r[i * stride + at] as number);
    }
  }
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * Logistic (outputs = 1) or softmax (outputs = K) regression by L-BFGS. Parameters are laid out as
 * `outputs` weight rows of `width`, then `outputs` biases.
 */
function fitLogistic(
  d: Design,
  labels: Float64Array,
  outputs: number,
  params: LinearParams,
): { weights: Float64Array[]; bias: number[]; iterations: number; converged: boolean; objective: number } {
  const n = d.rows;
  const width = d.width;
  const biasAt = outputs * width;
  const scores = new Float64Array(n * outputs);
  const residual = new Float64Array(n * outputs);

  const objective = (x: Float64Array, grad: Float64Array): number => {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < outputs; k++) scores[i * outputs + k] = x[biasAt + k] as number;
    }
    for (let k = 0; k < outputs; k++) addProducts(d, x, k * width, scores, outputs, k);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const y = labels[i] as number;
      if (outputs === 1) {
        const z = scores[i] as number;
        loss += softplus(z) - y * z;
        // σ(z) − y, computed without overflow.
        residual[i] = (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))) - y;
        continue;
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < outputs; k++) max = Math.max(max, scores[i * outputs + k] as number);
      let sum = 0;
      for (let k = 0; k < outputs; k++) sum += Math.exp((scores[i * outputs + k] as number) - max);
      const logSum = max + Math.log(sum);
      loss += logSum - (scores[i * outputs + y] as number);
      for (let k = 0; k < outputs; k++) {
        residual[i * outputs + k] =
          Math.exp((scores[i * outputs + k] as number) - logSum) - (k === y ? 1 : 0);
      }
    }
    let penalty = 0;
    for (let p = 0; p < biasAt; p++) {
      const w = x[p] as number;
      penalty += w * w;
      grad[p] = params.l2 * w;
    }
    for (let k = 0; k < outputs; k++) {
      addTransposed(d, residual, outputs, k, 1 / n, grad, k * width);
      let s = 0;
      for (let i = 0; i < n; i++) s += residual[i * outputs + k] as number;
      grad[biasAt + k] = s / n;
    }
    return loss / n + (params.l2 / 2) * penalty;
  };

  // Start from the class priors: the best model without inputs, a few iterations closer to the optimum.
  const start = new Float64Array(biasAt + outputs);
  const counts = new Float64Array(Math.max(outputs, 2));
  for (let i = 0; i < n; i++) counts[labels[i] as number] = (counts[labels[i] as number] as number) + 1;
  if (outputs === 1) {
    start[biasAt] = Math.log(((counts[1] as number) + 0.5) / ((counts[0] as number) + 0.5));
  } else {
    let mean = 0;
    for (let k = 0; k < outputs; k++) mean += Math.log((counts[k] as number) + 0.5) / outputs;
    for (let k = 0; k < outputs; k++) start[biasAt + k] = Math.log((counts[k] as number) + 0.5) - mean;
  }

  const found = minimiseLbfgs(objective, start, params);
  const weights = Array.from({ length: outputs }, (_, k) => found.x.slice(k * width, (k + 1) * width));
  const bias = Array.from(found.x.subarray(biasAt));
  if (outputs > 1) {
    // Softmax is unchanged by a common shift of the biases; centre them so the model is canonical.
    const shift = bias.reduce((a, b) => a + b, 0) / outputs;
    for (let k = 0; k < outputs; k++) bias[k] = (bias[k] as number) - shift;
  }
  return { weights, bias, iterations: found.iterations, converged: found.converged, objective: found.value };
}

/**
 * Ridge regression in closed form: with centred inputs and target, `(XcᵀXc/n + l2·I) w = Xcᵀyc/n` and
 * `bias = ȳ − x̄ᵀw`. With `l2 = 0` and collinear inputs (e.g. one indicator per category and no
 * missing values) the system is singular; a tiny ridge is then added, which picks the minimum-norm
 * solution in the limit.
 */
function fitRidge(
  d: Design,
  labels: Float64Array,
  l2: number,
): { weights: Float64Array[]; bias: number[]; objective: number } {
  const n = d.rows;
  const p = d.width;
  const gram = new Float64Array(p * p);
  const xMean = new Float64Array(p);
  const xy = new Float64Array(p);
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += labels[i] as number;
  yMean /= n;

  // Σ xᵢxᵢᵀ over the compact layout: each row has one value per numeric and at most one 1 per categorical.
  const active: { at: number; value: number }[] = [];
  for (let i = 0; i < n; i++) {
    active.length = 0;
    for (const { offset, values } of d.numeric) active.push({ at: offset, value: values[i] as number });
    for (const { offset, index } of d.categorical) {
      const c = index[i] as number;
      if (c >= 0) active.push({ at: offset + c, value: 1 });
    }
    const y = labels[i] as number;
    for (const a of active) {
      xMean[a.at] = (xMean[a.at] as number) + a.value;
      xy[a.at] = (xy[a.at] as number) + a.value * y;
      for (const b of active) {
        if (b.at < a.at) continue;
        gram[a.at * p + b.at] = (gram[a.at * p + b.at] as number) + a.value * b.value;
      }
    }
  }
  for (let j = 0; j < p; j++) xMean[j] = (xMean[j] as number) / n;
  const system = new Float64Array(p * p);
  const rhs = new Float64Array(p);
  for (let a = 0; a < p; a++) {
    rhs[a] = (xy[a] as number) / n - (xMean[a] as number) * yMean;
    for (let b = a; b < p; b++) {
      const v = (gram[a * p + b] as number) / n - (xMean[a] as number) * (xMean[b] as number);
      system[a * p + b] = v;
      system[b * p + a] = v;
    }
  }
  let trace = 0;
  for (let j = 0; j < p; j++) trace += system[j * p + j] as number;
  let ridge = l2;
  let w: Float64Array | undefined;
  for (let attempt = 0; attempt < 12 && w === undefined; attempt++) {
    const shifted = Float64Array.from(system);
    for (let j = 0; j < p; j++) shifted[j * p + j] = (shifted[j * p + j] as number) + ridge;
    w = solveCholesky(shifted, rhs);
    ridge = Math.max(ridge * 10, 1e-12 * Math.max(trace / p, Number.MIN_VALUE));
  }
  if (w === undefined) throw new InputError('ridge regression: the inputs are degenerate (no variation)');

  let b = yMean;
  for (let j = 0; j < p; j++) b -= (xMean[j] as number) * (w[j] as number);
  const predictions = new Float64Array(n).fill(b);
  addProducts(d, w, 0, predictions, 1, 0);
  let squares = 0;
  for (let i = 0; i < n; i++) squares += ((labels[i] as number) - (predictions[i] as number)) ** 2;
  let penalty = 0;
  for (let j = 0; j < p; j++) penalty += (w[j] as number) ** 2;
  return { weights: [w], bias: [b], objective: squares / (2 * n) + (l2 / 2) * penalty };
}
