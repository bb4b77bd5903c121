/**
 * The JS reference predictor: raw rows in, predictions out, computing exactly what the exported ONNX
 * graph computes (`pipelines/onnx/`), in float64 where the graph uses float32. Tests hold the two
 * together; the local runtime and the evaluation use this one directly.
 *
 * 1. Encoding (`encodeRows`), as the graph's input stage: numeric values as float32, NaN when missing;
 *    a categorical value → its code, `unknownCode` when not a known category, NaN when missing
 *    (see `raw.ts` for what counts as missing).
 * 2. Raw scores (`rawScores`): for trees the GBDT trainer's own reference walk (`predictRaw`: float32
 *    `x < threshold`, NaN follows `missingGoesLeft`), so there is one copy of it; for a linear model
 *    the score of {@link LinearModel}.
 * 3. Link (`toPredictions`): binary `[1 − σ(s), σ(s)]`, multiclass softmax, regression identity; the
 *    label is the class with the highest probability compared as float32, the first on a tie — the
 *    graph's `ArgMax` over its float32 probabilities.
 */

import { predictRaw } from '../train/gbdt/predict.ts';
import {
  categoricalInput,
  checkCategories,
  MISSING_CATEGORY,
  numericInput,
  type RawRow,
  rawValue,
} from './raw.ts';
import type { FeatureEncoding, FeatureMatrix, LinearModel, TrainedModel } from './types.ts';

/** A classification prediction: the class name and one probability per class, in `model.classes` order. */
export interface ClassPrediction {
  readonly label: string;
  readonly probabilities: readonly number[];
}

/** A regression prediction. */
export interface ValuePrediction {
  readonly value: number;
}

export type Prediction = ClassPrediction | ValuePrediction;

/** Scores raw rows. */
export function predictRows(model: TrainedModel, rows: readonly RawRow[]): Prediction[] {
  return toPredictions(model, rawScores(model, encodeRows(model.features, rows)));
}

/**
 * Encodes raw rows as the graph's input stage does.
 *
 * @throws InputError when a numeric feature holds a non-number.
 */
export function encodeRows(features: readonly FeatureEncoding[], rows: readonly RawRow[]): FeatureMatrix {
  const columns = features.map((feature) => {
    const column = new Float32Array(rows.length);
    if (feature.type === 'numeric') {
      rows.forEach((row, i) => {
        column[i] = numericInput(rawValue(row, feature.name), feature.name, i);
      });
      return column;
    }
    checkCategories(feature.name, feature.categories);
    const codeOf = new Map<string, number>();
    feature.categories.forEach((category, i) => {
      codeOf.set(category, feature.codes[i] as number);
    });
    rows.forEach((row, i) => {
      const value = categoricalInput(rawValue(row, feature.name));
      column[i] = value === MISSING_CATEGORY ? Number.NaN : (codeOf.get(value) ?? feature.unknownCode);
    });
    return column;
  });
  return { rows: rows.length, columns };
}

/** Number of raw score columns: K for multiclass, 1 for binary and regression. */
export function scoreWidth(model: TrainedModel): number {
  return model.task === 'multiclass' ? model.classes.length : 1;
}

/** Raw scores, row-major `rows × scoreWidth(model)`, over an encoded matrix. */
export function rawScores(model: TrainedModel, matrix: FeatureMatrix): Float64Array {
  return model.kind === 'gbdt' ? predictRaw(model, matrix) : linearRawScores(model, matrix);
}

/** Applies the link to raw scores (row-major, `scoreWidth(model)` per row). */
export function toPredictions(model: TrainedModel, scores: Float64Array): Prediction[] {
  const width = scoreWidth(model);
  const rows = scores.length / width;
  const out: Prediction[] = [];
  for (let i = 0; i < rows; i++) {
    if (model.task === 'regression') {
      out.push({ value: scores[i] as number });
      continue;
    }
    let probabilities: number[];
    if (model.task === 'binary') {
      const p = sigmoid(scores[i] as number);
      probabilities = [1 - p, p];
    } else {
      probabilities = softmax(scores.subarray(i * width, (i + 1) * width));
    }
    out.push({ label: model.classes[argmaxFloat32(probabilities)] as string, probabilities });
  }
  return out;
}

/** σ(s), without overflow for large |s|. */
export function sigmoid(s: number): number {
  if (s >= 0) return 1 / (1 + Math.exp(-s));
  const e = Math.exp(s);
  return e / (1 + e);
}

/** softmax(s), shifted by the maximum so no term overflows. */
export function softmax(scores: ArrayLike<number>): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < scores.length; k++) max = Math.max(max, scores[k] as number);
  const out = new Array<number>(scores.length);
  let sum = 0;
  for (let k = 0; k < scores.length; k++) {
    const e = Math.exp((scores[k] as number) - max);
    out[k] = e;
    sum += e;
  }
  for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) / sum;
  return out;
}

/** Index of the largest value compared in float32 (as the graph does), the first on a tie. */
function argmaxFloat32(values: readonly number[]): number {
  let best = 0;
  let bestValue = Math.fround(values[0] as number);
  for (let k = 1; k < values.length; k++) {
    const v = Math.fround(values[k] as number);
    if (v > bestValue) {
      best = k;
      bestValue = v;
    }
  }
  return best;
}

/** Raw linear scores over an encoded matrix (categorical columns hold category indices). */
export function linearRawScores(model: LinearModel, matrix: FeatureMatrix): Float64Array {
  const width = scoreWidth(model);
  const rows = matrix.rows;
  const out = new Float64Array(rows * width);
  const x = new Float64Array(model.inputMean.length);
  for (let i = 0; i < rows; i++) {
    let j = 0;
    model.features.forEach((feature, f) => {
      const v = (matrix.columns[f] as Float32Array)[i] as number;
      if (feature.type === 'numeric') {
        const mean = model.inputMean[j] as number;
        x[j] = ((Number.isNaN(v) ? mean : v) - mean) / (model.inputScale[j] as number);
        j++;
        return;
      }
      const k = feature.categories.length;
      for (let c = 0; c < k; c++) {
        // Indicator c is on when the row's code is c; unknown (−1) and missing (NaN) match none.
        x[j + c] =
          ((v === c ? 1 : 0) - (model.inputMean[j + c] as number)) / (model.inputScale[j + c] as number);
      }
      j += k;
    });
    for (let o = 0; o < width; o++) {
      const w = model.weights[o] as Float64Array;
      let s = model.bias[o] as number;
      for (let d = 0; d < x.length; d++) s += (w[d] as number) * (x[d] as number);
      out[i * width + o] = s;
    }
  }
  return out;
}
