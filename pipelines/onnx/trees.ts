/**
 * The graph part of a gradient-boosted tree ensemble: raw feature inputs → the float matrix the
 * trainer saw → raw scores `[N, outputs]`.
 *
 * The ensemble is a `TreeEnsembleRegressor` for every task, with the link (sigmoid / softmax) applied
 * by the shared classification head, not by `TreeEnsembleClassifier`'s `post_transform`: for a binary
 * model onnxruntime's classifier skips the logistic when every leaf weight happens to be ≥ 0 (it then
 * takes the raw score for a probability), which a small or very imbalanced model can hit. Raw scores
 * plus explicit Sigmoid/Softmax nodes mean the same thing in every runtime.
 */
import { InputError } from '../errors.ts';
import { scoreWidth } from '../model/predict.ts';
import { checkCategories, MISSING_CATEGORY } from '../model/raw.ts';
import type { FeatureEncoding, Tree, TreeEnsembleModel } from '../model/types.ts';
import { attr, type GraphBuilder, ML_DOMAIN } from './graph.ts';

/**
 * Appends the nodes that turn the feature inputs into the encoded `[N, F]` float matrix: numeric
 * inputs pass through (NaN stays missing); a categorical input goes through a LabelEncoder mapping each
 * category to its code, {@link MISSING_CATEGORY} to NaN and anything else to `unknownCode`.
 *
 * @returns the name of the `[N, F]` matrix.
 */
export function encodedMatrix(g: GraphBuilder, features: readonly FeatureEncoding[]): string {
  const columns = features.map((feature) => {
    if (feature.type === 'numeric') return feature.name;
    checkCategories(feature.name, feature.categories);
    return g.op(
      'LabelEncoder',
      [feature.name],
      {
        keys_strings: attr.strings([...feature.categories, MISSING_CATEGORY]),
        values_floats: attr.floats([...feature.codes, Number.NaN]),
        default_float: attr.float(feature.unknownCode),
      },
      ML_DOMAIN,
    );
  });
  return columns.length === 1 ? (columns[0] as string) : g.op('Concat', columns, { axis: attr.int(1) });
}

/**
 * Appends the TreeEnsembleRegressor computing `baseScore[k] + Σ leaf values` per output k.
 *
 * @param output the name to give the `[N, outputs]` raw score tensor.
 */
export function treeEnsembleScores(g: GraphBuilder, model: TreeEnsembleModel, output: string): void {
  checkEnsemble(model);
  const matrix = encodedMatrix(g, model.features);

  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const modes: string[] = [];
  const values: number[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const targetTreeIds: number[] = [];
  const targetNodeIds: number[] = [];
  const targetIds: number[] = [];
  const targetWeights: number[] = [];

  // An output without trees (e.g. an ensemble that stopped before its first round) still has its
  // base score, but onnxruntime leaves the base value off an output no leaf writes to: give each
  // such output one leaf of weight 0.
  const outputs = scoreWidth(model);
  const trees = [...model.trees];
  const treeOutput = Array.from(model.treeOutput);
  for (let k = 0; k < outputs; k++) {
    if (!treeOutput.includes(k)) {
      trees.push(EMPTY_TREE);
      treeOutput.push(k);
    }
  }
  trees.forEach((tree, t) => {
    const target = treeOutput[t] as number;
    for (let n = 0; n < tree.left.length; n++) {
      treeIds.push(t);
      nodeIds.push(n);
      const left = tree.left[n] as number;
      if (left === -1) {
        featureIds.push(0);
        modes.push('LEAF');
        values.push(0);
        trueIds.push(0);
        falseIds.push(0);
        missingTrue.push(0);
        targetTreeIds.push(t);
        targetNodeIds.push(n);
        targetIds.push(target);
        targetWeights.push(tree.leafValue[n] as number);
      } else {
        // BRANCH_LT sends x < threshold to the true branch: exactly the Tree rule with left = true.
        featureIds.push(tree.featureIndex[n] as number);
        modes.push('BRANCH_LT');
        values.push(tree.threshold[n] as number);
        trueIds.push(left);
        falseIds.push(tree.right[n] as number);
        missingTrue.push(tree.missingGoesLeft[n] === 1 ? 1 : 0);
      }
    }
  });

  g.node(
    'TreeEnsembleRegressor',
    [matrix],
    [output],
    {
      aggregate_function: attr.string('SUM'),
      base_values: attr.floats(model.baseScore),
      n_targets: attr.int(outputs),
      nodes_falsenodeids: attr.ints(falseIds),
      nodes_featureids: attr.ints(featureIds),
      nodes_missing_value_tracks_true: attr.ints(missingTrue),
      nodes_modes: attr.strings(modes),
      nodes_nodeids: attr.ints(nodeIds),
      nodes_treeids: attr.ints(treeIds),
      nodes_truenodeids: attr.ints(trueIds),
      nodes_values: attr.floats(values),
      post_transform: attr.string('NONE'),
      target_ids: attr.ints(targetIds),
      target_nodeids: attr.ints(targetNodeIds),
      target_treeids: attr.ints(targetTreeIds),
      target_weights: attr.floats(targetWeights),
    },
    ML_DOMAIN,
  );
}

const EMPTY_TREE: Tree = {
  featureIndex: Int32Array.of(0),
  threshold: Float32Array.of(0),
  missingGoesLeft: Uint8Array.of(0),
  left: Int32Array.of(-1),
  right: Int32Array.of(-1),
  leafValue: Float64Array.of(0),
};

/** Rejects an ensemble whose arrays disagree, so a broken model fails here and not inside a runtime. */
function checkEnsemble(model: TreeEnsembleModel): void {
  const outputs = scoreWidth(model);
  const features = model.features.length;
  const fail = (message: string): never => {
    throw new InputError(`cannot export the tree ensemble: ${message}`);
  };
  if (model.baseScore.length !== outputs)
    fail(`baseScore has ${model.baseScore.length} values, expected ${outputs}`);
  if (model.treeOutput.length !== model.trees.length) fail('treeOutput must have one entry per tree');
  model.trees.forEach((tree, t) => {
    const n = tree.left.length;
    const target = model.treeOutput[t] as number;
    if (!(target >= 0 && target < outputs))
      fail(`tree ${t} feeds output ${target}, expected 0..${outputs - 1}`);
    if (n === 0) fail(`tree ${t} has no nodes`);
    for (const array of [
      tree.right,
      tree.featureIndex,
      tree.threshold,
      tree.missingGoesLeft,
      tree.leafValue,
    ]) {
      if (array.length !== n) fail(`tree ${t} has arrays of different lengths`);
    }
    for (let i = 0; i < n; i++) {
      const left = tree.left[i] as number;
      if (left === -1) continue;
      const right = tree.right[i] as number;
      const feature = tree.featureIndex[i] as number;
      // Children after their parent: no cycles, so every walk ends at a leaf.
      if (!(left > i && left < n && right > i && right < n))
        fail(`tree ${t} node ${i} has a child out of order`);
      if (!(feature >= 0 && feature < features)) fail(`tree ${t} node ${i} splits on feature ${feature}`);
    }
  });
}
