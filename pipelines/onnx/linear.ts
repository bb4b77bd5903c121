/**
 * The graph part of a linear model: raw feature inputs → the expanded, standardised input vector of
 * {@link LinearModel} → raw scores `[N, outputs]`.
 *
 * A categorical input becomes its category index through a LabelEncoder (unknown and missing → −1),
 * then one indicator per index through `Equal` against the constant `[0, 1, …, K−1]`: exact, and made of
 * standard operators only. The numeric and indicator columns are concatenated to `[N, D]`; a missing
 * numeric value (NaN) is replaced by its mean (`IsNaN` + `Where`), then the whole row is standardised
 * (`Sub`, `Div`) and multiplied by the weights (`MatMul`, `Add`).
 */
import { InputError } from '../errors.ts';
import { scoreWidth } from '../model/predict.ts';
import { checkCategories } from '../model/raw.ts';
import type { FeatureEncoding, LinearModel } from '../model/types.ts';
import { attr, ElementType, type GraphBuilder, ML_DOMAIN } from './graph.ts';

/** The width of each feature's block in the expanded input: 1 for numeric, K indicators for categorical. */
export function inputWidths(features: readonly FeatureEncoding[]): number[] {
  return features.map((f) => (f.type === 'numeric' ? 1 : f.categories.length));
}

/**
 * Appends the linear scoring nodes.
 *
 * @param output the name to give the `[N, outputs]` raw score tensor.
 */
export function linearScores(g: GraphBuilder, model: LinearModel, output: string): void {
  const width = checkLinear(model);
  const outputs = scoreWidth(model);

  const blocks: string[] = [];
  for (const feature of model.features) {
    if (feature.type === 'numeric') {
      blocks.push(feature.name);
      continue;
    }
    const k = feature.categories.length;
    if (k === 0) continue;
    const index = g.op(
      'LabelEncoder',
      [feature.name],
      {
        keys_strings: attr.strings(feature.categories),
        values_int64s: attr.ints(feature.codes),
        // Unknown and missing ("") alike → −1, which matches no indicator: all zeros.
        default_int64: attr.int(-1),
      },
      ML_DOMAIN,
    );
    const positions = g.int64Constant(
      'category_index',
      [k],
      Array.from({ length: k }, (_, i) => i),
    );
    const hit = g.op('Equal', [index, positions]);
    blocks.push(g.op('Cast', [hit], { to: attr.int(ElementType.float) }));
  }
  const raw = blocks.length === 1 ? (blocks[0] as string) : g.op('Concat', blocks, { axis: attr.int(1) });

  const mean = g.floatConstant('input_mean', [width], model.inputMean);
  const scale = g.floatConstant('input_scale', [width], model.inputScale);
  const imputed = g.op('Where', [g.op('IsNaN', [raw]), mean, raw]);
  const standardised = g.op('Div', [g.op('Sub', [imputed, mean]), scale]);

  // MatMul wants [D, outputs]: the transpose of the model's per-output weight rows.
  const w = new Float64Array(width * outputs);
  model.weights.forEach((row, k) => {
    for (let j = 0; j < width; j++) w[j * outputs + k] = row[j] as number;
  });
  const weights = g.floatConstant('weights', [width, outputs], w);
  const bias = g.floatConstant('bias', [outputs], model.bias);
  g.node('Add', [g.op('MatMul', [standardised, weights]), bias], [output]);
}

/**
 * Rejects a linear model whose arrays disagree with its features, or whose categorical codes are not
 * the indices `0..K−1` the one-hot expansion assumes.
 *
 * @returns the width D of the expanded input.
 */
function checkLinear(model: LinearModel): number {
  const fail = (message: string): never => {
    throw new InputError(`cannot export the linear model: ${message}`);
  };
  for (const feature of model.features) {
    if (feature.type !== 'categorical') continue;
    checkCategories(feature.name, feature.categories);
    const k = feature.categories.length;
    const seen = new Set(feature.codes);
    if (
      feature.codes.length !== k ||
      seen.size !== k ||
      feature.codes.some((c) => !(Number.isInteger(c) && c >= 0 && c < k))
    ) {
      fail(`feature "${feature.name}" needs codes 0..${k - 1} (index encoding), one per category`);
    }
    if (feature.unknownCode >= 0 && feature.unknownCode < k) {
      fail(`feature "${feature.name}" has unknownCode ${feature.unknownCode}, which is a category index`);
    }
  }
  const width = inputWidths(model.features).reduce((a, b) => a + b, 0);
  const outputs = scoreWidth(model);
  if (width === 0) fail('no inputs (every categorical feature has no categories)');
  if (model.inputMean.length !== width || model.inputScale.length !== width) {
    fail(`inputMean and inputScale need ${width} values, one per expanded input`);
  }
  if (model.weights.length !== outputs || model.weights.some((row) => row.length !== width)) {
    fail(`weights need ${outputs} rows of ${width} values`);
  }
  if (model.bias.length !== outputs) fail(`bias needs ${outputs} values`);
  return width;
}
