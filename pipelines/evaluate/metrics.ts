/**
 * Holdout metrics. Computed from the predictions of the exported ONNX model (not the trainer's own
 * arithmetic), so they describe the artifact that will be served.
 */
import type { MetricName, Task } from '../config/schema.ts';

/** Metric values by name; which names are present depends on the task (see TASK_METRICS). */
export type Metrics = Partial<Record<MetricName, number>>;

/** Probabilities are clipped to [ε, 1−ε] for logloss, as scikit-learn and XGBoost do. */
const LOGLOSS_EPSILON = 1e-15;

/**
 * Area under the ROC curve from positive-class scores: the probability that a random positive scores
 * above a random negative, ties counting one half (Mann–Whitney U with average ranks).
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j += 1;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k += 1) {
      if (labels[order[k] as number] === 1) {
        positives += 1;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood of the true class; `probabilities` is row-major n × k. */
export function logLoss(labels: ArrayLike<number>, probabilities: ArrayLike<number>, k: number): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i += 1) {
    const p = probabilities[i * k + (labels[i] as number)] as number;
    sum -= Math.log(Math.min(1 - LOGLOSS_EPSILON, Math.max(LOGLOSS_EPSILON, p)));
  }
  return sum / labels.length;
}

/** Per-class precision, recall and F1 from true and predicted class indices. */
export function perClassScores(labels: ArrayLike<number>, predicted: ArrayLike<number>, k: number) {
  const tp = new Float64Array(k);
  const fp = new Float64Array(k);
  const fn = new Float64Array(k);
  for (let i = 0; i < labels.length; i += 1) {
    const y = labels[i] as number;
    const p = predicted[i] as number;
    if (y === p) tp[y] = (tp[y] as number) + 1;
    else {
      fp[p] = (fp[p] as number) + 1;
      fn[y] = (fn[y] as number) + 1;
    }
  }
  return Array.from({ length: k }, (_, c) => {
    const t = tp[c] as number;
    // An undefined ratio (no predictions / no members of the class) counts as 0, as scikit-learn does.
    const precision = t + (fp[c] as number) === 0 ? 0 : t / (t + (fp[c] as number));
    const recall = t + (fn[c] as number) === 0 ? 0 : t / (t + (fn[c] as number));
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1 };
  });
}

function argmaxRows(probabilities: ArrayLike<number>, n: number, k: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i += 1) {
    let best = 0;
    for (let c = 1; c < k; c += 1)
      if ((probabilities[i * k + c] as number) > (probabilities[i * k + best] as number)) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Classification metrics from class-index labels and row-major probabilities (n × k).
 * Binary (k = 2, class 1 positive): auc, logloss, accuracy, macroF1, precision, recall.
 * Multiclass: accuracy, macroF1, logloss.
 */
export function classificationMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  k: number,
): Metrics {
  const n = labels.length;
  const predicted = argmaxRows(probabilities, n, k);
  let correct = 0;
  for (let i = 0; i < n; i += 1) if (predicted[i] === labels[i]) correct += 1;
  const scores = perClassScores(labels, predicted, k);
  const macroF1 = scores.reduce((s, c) => s + c.f1, 0) / k;
  const base = { accuracy: correct / n, macroF1, logloss: logLoss(labels, probabilities, k) };
  if (k !== 2) return base;
  const positive = Float64Array.from({ length: n }, (_, i) => probabilities[i * 2 + 1] as number);
  const positiveScores = scores[1] ?? { precision: 0, recall: 0 };
  return {
    auc: rocAuc(labels, positive),
    ...base,
    precision: positiveScores.precision,
    recall: positiveScores.recall,
  };
}

/** Regression metrics: rmse, mae and r2 (1 − SSE/SST). */
export function regressionMetrics(labels: ArrayLike<number>, predictions: ArrayLike<number>): Metrics {
  const n = labels.length;
  let mean = 0;
  for (let i = 0; i < n; i += 1) mean += labels[i] as number;
  mean /= n;
  let sse = 0;
  let sae = 0;
  let sst = 0;
  for (let i = 0; i < n; i += 1) {
    const e = (labels[i] as number) - (predictions[i] as number);
    sse += e * e;
    sae += Math.abs(e);
    sst += ((labels[i] as number) - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / n), mae: sae / n, r2: sst === 0 ? Number.NaN : 1 - sse / sst };
}

/** The metrics of a task from its predictions (probabilities n × k, or values n). */
export function taskMetrics(
  task: Task,
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  k: number,
): Metrics {
  return task === 'regression'
    ? regressionMetrics(labels, predictions)
    : classificationMetrics(labels, predictions, k);
}
