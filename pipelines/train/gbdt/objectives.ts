/**
 * Training objectives: the loss each boosting round descends, as per-row gradients and hessians of
 * the raw scores, plus the starting score and the loss reported per round (and used for early
 * stopping).
 *
 * Raw scores are row-major `rows × outputs` (the layout of `predictRaw`); gradients and hessians are
 * output-major (`outputs × rows`), so the tree of output k reads one contiguous block.
 *
 * The hessians follow XGBoost (`binary:logistic`, `multi:softprob`, `reg:squarederror`), including the
 * factor 2 of its softmax hessian, so `minChildWeight` and `lambda` mean the same as there.
 */
import type { Task } from '../../config/schema.ts';

/** Hessians never go below this, so a confidently right row still counts towards minChildWeight sums. */
const MIN_HESSIAN = 1e-16;
/** Probabilities are floored at ε in log losses, so one confident mistake gives a finite loss. */
const PROB_EPS = 1e-15;
/** Base scores come from rates clamped to [ε, 1−ε], so a class absent from training is not −∞. */
const RATE_EPS = 1e-6;
/**
 * Log losses multiply the rows' probabilities and take one logarithm whenever the product falls
 * below this (and at the end), instead of one `Math.log` per row: the logarithm was a third of the
 * training time on narrow data. Each factor is at least PROB_EPS, so the product never underflows,
 * and a run of a few hundred products loses under 1e-13 relative precision.
 */
const FOLD_BELOW = 1e-200;

/** One loss function with what the boosting loop needs of it. */
export interface Objective {
  /** Raw scores per row: 1, or K for multiclass. */
  readonly outputs: number;
  /** Name of the per-round loss in the history (`logloss`, `mlogloss`, `rmse`). */
  readonly lossName: string;
  /** The constant raw score every row starts from (one per output), already rounded to float32. */
  baseScore(labels: Float64Array): number[];
  /**
   * Fills `grad` and `hess` (outputs × rows) at the raw scores `raw` (rows × outputs) and returns the
   * mean loss there: both need the same link values, so one pass computes them.
   */
  gradients(raw: Float64Array, labels: Float64Array, grad: Float64Array, hess: Float64Array): number;
  /** The mean loss at the raw scores. */
  loss(raw: Float64Array, labels: Float64Array): number;
}

/** The objective of a task: binary logloss, multiclass softmax over `numClasses`, or squared error. */
export function objectiveFor(task: Task, numClasses: number): Objective {
  if (task === 'binary') return binaryLogistic;
  if (task === 'multiclass') return softmax(numClasses);
  return squaredError;
}

/** The logistic function. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const binaryLogistic: Objective = {
  outputs: 1,
  lossName: 'logloss',
  baseScore(labels) {
    let positives = 0;
    for (let i = 0; i < labels.length; i++) positives += labels[i] as number;
    const rate = clamp(positives / labels.length, RATE_EPS, 1 - RATE_EPS);
    return [Math.fround(Math.log(rate / (1 - rate)))];
  },
  gradients(raw, labels, grad, hess) {
    let logSum = 0;
    let product = 1;
    for (let i = 0; i < labels.length; i++) {
      const p = 1 / (1 + Math.exp(-(raw[i] as number)));
      const y = labels[i] as number;
      grad[i] = p - y;
      hess[i] = Math.max(p * (1 - p), MIN_HESSIAN);
      const q = y === 1 ? p : 1 - p;
      product *= Math.max(q, PROB_EPS);
      if (product < FOLD_BELOW) {
        logSum += Math.log(product);
        product = 1;
      }
    }
    return -(logSum + Math.log(product)) / labels.length;
  },
  loss(raw, labels) {
    let logSum = 0;
    let product = 1;
    for (let i = 0; i < labels.length; i++) {
      const p = 1 / (1 + Math.exp(-(raw[i] as number)));
      const q = (labels[i] as number) === 1 ? p : 1 - p;
      product *= Math.max(q, PROB_EPS);
      if (product < FOLD_BELOW) {
        logSum += Math.log(product);
        product = 1;
      }
    }
    return -(logSum + Math.log(product)) / labels.length;
  },
};

const squaredError: Objective = {
  outputs: 1,
  lossName: 'rmse',
  baseScore(labels) {
    let sum = 0;
    for (let i = 0; i < labels.length; i++) sum += labels[i] as number;
    return [Math.fround(sum / labels.length)];
  },
  gradients(raw, labels, grad, hess) {
    let sum = 0;
    for (let i = 0; i < labels.length; i++) {
      const d = (raw[i] as number) - (labels[i] as number);
      grad[i] = d;
      hess[i] = 1;
      sum += d * d;
    }
    return Math.sqrt(sum / labels.length);
  },
  loss(raw, labels) {
    let sum = 0;
    for (let i = 0; i < labels.length; i++) {
      const d = (raw[i] as number) - (labels[i] as number);
      sum += d * d;
    }
    return Math.sqrt(sum / labels.length);
  },
};

function softmax(k: number): Objective {
  const p = new Float64Array(k);
  /** Softmax of row i's raw scores into `p` (max-shifted, so large scores do not overflow). */
  const probabilities = (raw: Float64Array, i: number): void => {
    const base = i * k;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) max = Math.max(max, raw[base + c] as number);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((raw[base + c] as number) - max);
      p[c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) p[c] = (p[c] as number) / sum;
  };
  return {
    outputs: k,
    lossName: 'mlogloss',
    baseScore(labels) {
      const counts = new Float64Array(k);
      for (let i = 0; i < labels.length; i++)
        counts[labels[i] as number] = (counts[labels[i] as number] as number) + 1;
      return Array.from(counts, (c) => Math.fround(Math.log(clamp(c / labels.length, RATE_EPS, 1))));
    },
    gradients(raw, labels, grad, hess) {
      const n = labels.length;
      let logSum = 0;
      let product = 1;
      for (let i = 0; i < n; i++) {
        probabilities(raw, i);
        const y = labels[i] as number;
        for (let c = 0; c < k; c++) {
          const pc = p[c] as number;
          grad[c * n + i] = c === y ? pc - 1 : pc;
          hess[c * n + i] = Math.max(2 * pc * (1 - pc), MIN_HESSIAN);
        }
        const q = p[y] as number;
        product *= Math.max(q, PROB_EPS);
        if (product < FOLD_BELOW) {
          logSum += Math.log(product);
          product = 1;
        }
      }
      return -(logSum + Math.log(product)) / n;
    },
    loss(raw, labels) {
      let logSum = 0;
      let product = 1;
      for (let i = 0; i < labels.length; i++) {
        probabilities(raw, i);
        const q = p[labels[i] as number] as number;
        product *= Math.max(q, PROB_EPS);
        if (product < FOLD_BELOW) {
          logSum += Math.log(product);
          product = 1;
        }
      }
      return -(logSum + Math.log(product)) / labels.length;
    },
  };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}
