/**
 * Scores raw rows with onnxruntime-node, through the same feed builder the serving code uses, and
 * returns predictions shaped like the JS reference's, so tests compare the two directly.
 */
import * as ort from 'onnxruntime-node';
import type { ClassPrediction, Prediction } from '../../pipelines/model/predict.ts';
import type { RawRow } from '../../pipelines/model/raw.ts';
import type { FeatureEncoding } from '../../pipelines/model/types.ts';
import { onnxFeeds } from '../../pipelines/onnx/inputs.ts';

/** The raw output tensors of one run. */
export interface OnnxOutputs {
  readonly label?: string[];
  readonly probabilities?: Float32Array;
  readonly variable?: Float32Array;
  readonly dims: Record<string, readonly number[]>;
}

/** Runs the model once over `rows` and returns its outputs. */
export async function runOnnx(
  bytes: Uint8Array,
  features: readonly FeatureEncoding[],
  rows: readonly RawRow[],
): Promise<OnnxOutputs> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(onnxFeeds(features, rows))) {
      feeds[name] = new ort.Tensor(feed.type, feed.data, [...feed.dims]);
    }
    const result = await session.run(feeds);
    const dims: Record<string, readonly number[]> = {};
    for (const [name, tensor] of Object.entries(result)) dims[name] = tensor.dims;
    const out: { -readonly [K in keyof OnnxOutputs]: OnnxOutputs[K] } = { dims };
    if (result.label !== undefined) out.label = result.label.data as string[];
    if (result.probabilities !== undefined) out.probabilities = result.probabilities.data as Float32Array;
    if (result.variable !== undefined) out.variable = result.variable.data as Float32Array;
    return out;
  } finally {
    await session.release();
  }
}

/** Runs the model and reshapes its outputs into one {@link Prediction} per row. */
export async function predictOnnx(
  bytes: Uint8Array,
  features: readonly FeatureEncoding[],
  rows: readonly RawRow[],
  classes: readonly string[],
): Promise<Prediction[]> {
  const out = await runOnnx(bytes, features, rows);
  if (out.variable !== undefined) return Array.from(out.variable, (value) => ({ value }));
  const labels = out.label ?? [];
  const probabilities = out.probabilities ?? new Float32Array();
  const c = classes.length;
  return labels.map(
    (label, i): ClassPrediction => ({
      label,
      probabilities: Array.from(probabilities.subarray(i * c, (i + 1) * c)),
    }),
  );
}
