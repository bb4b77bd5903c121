import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../pipelines/errors.ts';
import type { Tree, TreeEnsembleModel } from '../../../../pipelines/model/types.ts';
import { predictProba, predictRaw, predictValue } from '../../../../pipelines/train/gbdt/predict.ts';
import { matrix, numericFeatures } from './helpers.ts';

/** A stump on `feature`: x < threshold → `low`, else `high`; NaN → low when missingLeft. */
function stump(feature: number, threshold: number, missingLeft: boolean, low: number, high: number): Tree {
  return {
    featureIndex: Int32Array.of(feature, -1, -1),
    threshold: Float32Array.of(threshold, 0, 0),
    missingGoesLeft: Uint8Array.of(missingLeft ? 1 : 0, 0, 0),
    left: Int32Array.of(1, -1, -1),
    right: Int32Array.of(2, -1, -1),
    leafValue: Float64Array.of(0, low, high),
  };
}

function model(
  task: TreeEnsembleModel['task'],
  baseScore: number[],
  trees: Tree[],
  treeOutput: number[],
): TreeEnsembleModel {
  return {
    kind: 'gbdt',
    task,
    features: numericFeatures(2),
    classes: task === 'regression' ? [] : task === 'binary' ? ['n', 'y'] : ['a', 'b'],
    baseScore,
    trees,
    treeOutput: Int32Array.from(treeOutput),
  };
}

describe('predictRaw', () => {
  it('follows the Tree contract: float32 x < threshold goes left, equality right, NaN by missingGoesLeft', () => {
    // Prepare: 0.1 is not a float32; the threshold is fround(0.1), and the input column is float32 too.
    const t = Math.fround(0.1);
    const m = model('regression', [10], [stump(0, t, true, -1, 1), stump(1, 0, false, -100, 100)], [0, 0]);

    // Act
    const raw = predictRaw(m, matrix([0.05, 0.1, 0.2, Number.NaN], [-1, 0, Number.NaN, 1]));

    // Assess: 0.1 as float32 equals the threshold → right.
    expect([...raw]).toEqual([10 - 1 - 100, 10 + 1 + 100, 10 + 1 + 100, 10 - 1 + 100]);
  });

  it('adds each tree to its own output for multiclass, row-major', () => {
    const m = model('multiclass', [0.5, -0.5], [stump(0, 0, false, 1, 2), stump(0, 0, false, 3, 4)], [0, 1]);
    expect([...predictRaw(m, matrix([-1, 1], [0, 0]))]).toEqual([1.5, 2.5, 2.5, 3.5]);
  });
});

describe('links', () => {
  it('binary: [1 − σ(s), σ(s)]', () => {
    const m = model('binary', [0], [stump(0, 0, false, -2, 2)], [0]);
    const p = predictProba(m, matrix([-1, 1], [0, 0]));
    const s = 1 / (1 + Math.exp(2));
    expect(p[0]).toBeCloseTo(1 - s, 15);
    expect(p[1]).toBeCloseTo(s, 15);
    expect(p[3]).toBeCloseTo(1 - s, 15);
  });

  it('multiclass: softmax over the outputs', () => {
    const m = model('multiclass', [0, 0], [stump(0, 0, false, 0, Math.log(3))], [1]);
    expect([...predictProba(m, matrix([-1, 1], [0, 0]))].map((v) => Number(v.toFixed(12)))).toEqual([
      0.5, 0.5, 0.25, 0.75,
    ]);
  });

  it('rejects the wrong helper for the task and a matrix that does not fit', () => {
    const reg = model('regression', [0], [stump(0, 0, false, 0, 1)], [0]);
    const bin = model('binary', [0], [stump(0, 0, false, 0, 1)], [0]);
    expect(() => predictProba(reg, matrix([1], [1]))).toThrow(/use predictValue/);
    expect(() => predictValue(bin, matrix([1], [1]))).toThrow(/use predictProba/);
    expect(() => predictRaw(reg, matrix([1]))).toThrow(InputError);
    expect(() => predictRaw(reg, { rows: 2, columns: [Float32Array.of(1), Float32Array.of(1)] })).toThrow(
      /column 0 \("x0"\) has 1 values; expected 2 rows/,
    );
  });
});
