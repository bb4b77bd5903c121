/**
 * The categories a model knows, read from its own graph. The model contract puts categorical encoding
 * inside the graph (an `ai.onnx.ml` LabelEncoder on each categorical input, see
 * `pipelines/onnx/trees.ts` and `linear.ts`), so the served model is the one authority on which values
 * are "unknown" — serving reads nothing but the champion pointer and the model bytes.
 */

import { MISSING_CATEGORY } from '../model/raw.ts';
import { ML_DOMAIN, onnxProto } from '../onnx/graph.ts';
import type { SchemaFeature } from '../onnx/metadata.ts';

const utf8 = new TextDecoder();

/**
 * Categorical feature name → the values its LabelEncoder maps to a known code (the missing-value key
 * `""` excluded). A categorical feature with no encoder (a linear model that kept no category) knows
 * no value at all.
 */
export function knownCategories(
  bytes: Uint8Array,
  features: readonly SchemaFeature[],
): ReadonlyMap<string, ReadonlySet<string>> {
  const graph = onnxProto.ModelProto.decode(bytes).graph;
  const known = new Map<string, Set<string>>();
  for (const feature of features) if (feature.type === 'categorical') known.set(feature.name, new Set());
  for (const node of graph?.node ?? []) {
    if (node.opType !== 'LabelEncoder' || node.domain !== ML_DOMAIN) continue;
    const input = node.input?.[0];
    const set = input === undefined ? undefined : known.get(input);
    if (set === undefined) continue;
    for (const attribute of node.attribute ?? []) {
      if (attribute.name !== 'keys_strings') continue;
      for (const key of attribute.strings ?? []) {
        const value = utf8.decode(key);
        if (value !== MISSING_CATEGORY) set.add(value);
      }
    }
  }
  return known;
}
