/**
 * The JavaScript reference predictor of a {@link TreeEnsembleModel}: exactly the `Tree` semantics of
 * the ONNX TreeEnsemble the model is exported to (float32 inputs, `x < threshold` goes left, NaN goes
 * the way `missingGoesLeft` says), so the exporter's tests can compare onnxruntime against it.
 */
import { InputError } from '../../errors.ts';
import type { FeatureMatrix, Tree, TreeEnsembleModel } from '../../model/types.ts';
import { sigmoid } from './objectives.ts';

/**
 * The leaf of `tree` that row `row` of `columns` reaches. The columns hold float32 values and the
 * thresholds are float32, so the float64 comparison below is the float32 comparison the ONNX runtime
 * makes.
 */
export function leafOf(tree: Tree, columns: readonly Float32Array[], row: number): number {
  const { featureIndex, threshold, missingGoesLeft, left, right } = tree;
  let node = 0;
  let next = left[0] as number;
  while (next !== -1) {
    const x = (columns[featureIndex[node] as number] as Float32Array)[row] as number;
    // NaN fails every comparison: route it by the learned default direction.
    const goLeft = Number.isNaN(x) ? missingGoesLeft[node] === 1 : x < (threshold[node] as number);
    node = goLeft ? next : (right[node] as number);
    next = left[node] as number;
  }
  return node;
}

/** Adds one tree's leaf value into `out[row * stride + output]` for every row of `columns`. */
export function addTreeScores(
  tree: Tree,
  columns: readonly Float32Array[],
  rows: number,
  out: Float64Array,
  stride: number,
  output: number,
): void {
  const values = tree.leafValue;
  for (let row = 0; row < rows; row++) {
    const k = row * stride + output;
    out[k] = (out[k] as number) + (values[leafOf(tree, columns, row)] as number);
  }
}

/**
 * Raw scores (before the link): row-major `rows × outputs`, one output for binary and regression,
 * one per class for multiclass.
 *
 * @throws InputError when the matrix does not have one column per model feature of `rows` values.
 */
export function predictRaw(model: TreeEnsembleModel, matrix: FeatureMatrix): Float64Array {
  checkMatrix(model, matrix);
  const outputs = model.baseScore.length;
  const out = new Float64Array(matrix.rows * outputs);
  for (let row = 0; row < matrix.rows; row++) {
    for (let k = 0; k < outputs; k++) out[row * outputs + k] = model.baseScore[k] as number;
  }
  model.trees.forEach((tree, t) => {
    addTreeScores(tree, matrix.columns, matrix.rows, out, outputs, model.treeOutput[t] as number);
  });
  return out;
}

/**
 * Class probabilities, row-major `rows × classes`: binary gives `[1 − p, p]` per row (sigmoid of the
 * raw score), multiclass the softmax of the K raw scores.
 *
 * @throws InputError for a regression model or a matrix that does not fit the model.
 */
export function predictProba(model: TreeEnsembleModel, matrix: FeatureMatrix): Float64Array {
  if (model.task === 'regression') {
    throw new InputError('predictProba needs a classification model; use predictValue for regression');
  }
  const raw = predictRaw(model, matrix);
  if (model.task === 'binary') {
    const out = new Float64Array(matrix.rows * 2);
    for (let row = 0; row < matrix.rows; row++) {
      const p = sigmoid(raw[row] as number);
      out[2 * row] = 1 - p;
      out[2 * row + 1] = p;
    }
    return out;
  }
  const k = model.baseScore.length;
  for (let row = 0; row < matrix.rows; row++) {
    const base = row * k;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) max = Math.max(max, raw[base + c] as number);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((raw[base + c] as number) - max);
      raw[base + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) raw[base + c] = (raw[base + c] as number) / sum;
  }
  return raw;
}

/**
 * Predicted values of a regression model (the identity link: the raw score).
 *
 * @throws InputError for a classification model or a matrix that does not fit the model.
 */
export function predictValue(model: TreeEnsembleModel, matrix: FeatureMatrix): Float64Array {
  if (model.task !== 'regression') {
    throw new InputError(
      `predictValue needs a regression model; this one is ${model.task}, use predictProba`,
    );
  }
  return predictRaw(model, matrix);
}

function checkMatrix(model: TreeEnsembleModel, matrix: FeatureMatrix): void {
  if (matrix.columns.length !== model.features.length) {
    throw new InputError(
      `the matrix has ${matrix.columns.length} columns but the model has ${model.features.length} features`,
    );
  }
  matrix.columns.forEach((column, j) => {
    if (column.length !== matrix.rows) {
      throw new InputError(
        `column ${j} ("${model.features[j]?.name}") has ${column.length} values; expected ${matrix.rows} rows`,
      );
    }
  });
}
