/** Small builders shared by the tree trainer's tests. */
import type { GbdtParams } from '../../../../pipelines/config/schema.ts';
import type { FeatureEncoding, FeatureMatrix, TreeEnsembleModel } from '../../../../pipelines/model/types.ts';
import { createPrng } from '../../../../pipelines/train/gbdt/prng.ts';

/** Parameters with XGBoost-like defaults, no early stopping, overridable. */
export function params(overrides: Partial<GbdtParams> = {}): GbdtParams {
  return {
    nEstimators: 20,
    learningRate: 0.3,
    maxDepth: 3,
    minChildWeight: 1,
    lambda: 1,
    subsample: 1,
    colsampleByTree: 1,
    maxBins: 255,
    earlyStoppingRounds: 0,
    ...overrides,
  };
}

/** A float32 matrix from plain columns. */
export function matrix(...columns: number[][]): FeatureMatrix {
  return { rows: columns[0]?.length ?? 0, columns: columns.map((c) => Float32Array.from(c)) };
}

/** Numeric feature encodings x0..x(n−1). */
export function numericFeatures(n: number): FeatureEncoding[] {
  return Array.from({ length: n }, (_, j) => ({ name: `x${j}`, type: 'numeric' as const }));
}

/** The model as JSON text, typed arrays written as plain arrays (what a byte-identical check compares). */
export function modelJson(model: TreeEnsembleModel): string {
  return JSON.stringify(model, (_key, value: unknown) =>
    ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as Float64Array) : value,
  );
}

/** `rows` rows of `features` standard-normal-ish columns (sum of uniforms) from a seed. */
export function randomColumns(rows: number, features: number, seed: number): number[][] {
  const rng = createPrng(seed);
  return Array.from({ length: features }, () =>
    Array.from({ length: rows }, () => rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5),
  );
}

/** Mean binary logloss of probabilities. */
export function logloss(labels: Float64Array, p: (i: number) => number): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const q = Math.min(Math.max(p(i), 1e-15), 1 - 1e-15);
    sum -= labels[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return sum / labels.length;
}
