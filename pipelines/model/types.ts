/**
 * The in-memory model shapes shared by the trainers (`pipelines/train/`), the ONNX exporter
 * (`pipelines/onnx/`) and the JS reference predictor. A trained model is plain data: everything the
 * exporter needs to build a self-contained ONNX graph (raw feature values in, prediction out).
 */
import type { FeatureType, Task } from '../config/schema.ts';

/**
 * How one raw input column becomes the float column the trainer saw.
 *
 * - numeric: the float value itself; missing → NaN.
 * - categorical: the string is looked up in `categories`; category `categories[i]` has float code
 *   `codes[i]`; a string not in the list (unseen at training, or too rare to keep) gets `unknownCode`,
 *   the reserved code; a missing value gets NaN.
 */
export type FeatureEncoding =
  | { readonly name: string; readonly type: Extract<FeatureType, 'numeric'> }
  | {
      readonly name: string;
      readonly type: Extract<FeatureType, 'categorical'>;
      readonly categories: readonly string[];
      readonly codes: readonly number[];
      readonly unknownCode: number;
    };

/**
 * Encoded training data, column-major: `columns[j][i]` is feature j of row i after
 * {@link FeatureEncoding}; NaN means missing.
 */
export interface FeatureMatrix {
  readonly rows: number;
  readonly columns: readonly Float32Array[];
}

/**
 * Labels: for binary 0/1, for multiclass the class index 0..K-1, for regression the value.
 */
export type Labels = Float64Array;

/**
 * One regression tree in flat arrays (node 0 is the root).
 * An internal node sends a row left when `x[featureIndex] < threshold`, right otherwise; a missing
 * value (NaN) goes left when `missingGoesLeft` is 1. A leaf has `left === -1` and contributes
 * `leafValue` (already multiplied by the learning rate).
 */
export interface Tree {
  readonly featureIndex: Int32Array;
  readonly threshold: Float32Array;
  readonly missingGoesLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly leafValue: Float64Array;
}

/**
 * A gradient-boosted tree ensemble.
 * Raw score of output k = baseScore[k] + Σ leaf values of the trees with `treeOutput[t] === k`.
 * binary: one output, probability = sigmoid(raw); multiclass: K outputs, softmax;
 * regression: one output, the prediction itself.
 */
export interface TreeEnsembleModel {
  readonly kind: 'gbdt';
  readonly task: Task;
  readonly features: readonly FeatureEncoding[];
  /** Class labels as strings, in output order (binary: [negative, positive]); empty for regression. */
  readonly classes: readonly string[];
  readonly baseScore: readonly number[];
  readonly trees: readonly Tree[];
  readonly treeOutput: Int32Array;
}

/**
 * A linear model over standardised inputs.
 * Inputs are built per feature: numeric → (x − mean) / scale, with missing replaced by the mean (so
 * it standardises to 0); categorical → one indicator per category code 0..K−1 (unknown and missing →
 * all zeros). `inputMean`/`inputScale`/`weights` are indexed by that expanded input vector, in feature order.
 * Raw score of output k = bias[k] + Σ_j weights[k][j] · input[j]; link as for the tree ensemble
 * (binary sigmoid of one output, multiclass softmax of K, regression identity).
 */
export interface LinearModel {
  readonly kind: 'linear';
  readonly task: Task;
  readonly features: readonly FeatureEncoding[];
  readonly classes: readonly string[];
  readonly inputMean: Float64Array;
  readonly inputScale: Float64Array;
  readonly weights: readonly Float64Array[];
  readonly bias: readonly number[];
}

export type TrainedModel = TreeEnsembleModel | LinearModel;
