import { describe, expect, it } from 'vitest';
import type { FeatureMatrix } from '../../../../pipelines/model/types.ts';
import { encodeColumns, fitEncodings } from '../../../../pipelines/train/encoding.ts';
import { predictProba, predictRaw, predictValue, trainGbdt } from '../../../../pipelines/train/gbdt/index.ts';
import { createPrng } from '../../../../pipelines/train/gbdt/prng.ts';
import { logloss, matrix, modelJson, numericFeatures, params, randomColumns } from './helpers.ts';

const NaN32 = Number.NaN;

/** Predictions to 6 decimals: base scores and leaf values are float32, so exact values carry ~1e-8 noise. */
function rounded(values: Float64Array): number[] {
  return Array.from(values, (v) => Math.round(v * 1e6) / 1e6 + 0);
}

describe('trainGbdt: one split, checked by hand', () => {
  it('finds the single best split and the exact leaf weights −G/(H+λ)·η', () => {
    // Prepare: regression, y jumps from 0 to 1 between x = 4 and x = 5. Base score = mean = 0.5, so
    // every gradient is ±0.5 and every hessian 1: left G = 4·0.5 = 2, H = 4.
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const y = Float64Array.from([0, 0, 0, 0, 1, 1, 1, 1]);

    // Act
    const { model } = trainGbdt({
      task: 'regression',
      features: numericFeatures(1),
      classes: [],
      train: matrix(x),
      trainLabels: y,
      params: params({ nEstimators: 1, maxDepth: 1, learningRate: 0.5, lambda: 1, minChildWeight: 0 }),
      seed: 1,
    });

    // Assess: the cut is halfway between 4 and 5; leaves −2/(4+1)·0.5 = −0.2 and +0.2.
    expect(model.baseScore).toEqual([0.5]);
    const tree = model.trees[0];
    expect(tree).toBeDefined();
    expect([...(tree?.featureIndex ?? [])]).toEqual([0, -1, -1]);
    expect(tree?.threshold[0]).toBe(4.5);
    expect(tree?.leafValue[tree.left[0] as number]).toBe(Math.fround(-0.2));
    expect(tree?.leafValue[tree.right[0] as number]).toBe(Math.fround(0.2));
    expect([...predictValue(model, matrix([4, 4.5, 5]))]).toEqual([
      0.5 + Math.fround(-0.2),
      0.5 + Math.fround(0.2),
      0.5 + Math.fround(0.2),
    ]);
  });

  it('splits between adjacent float32 values exactly as the float32 comparison does', () => {
    // Prepare: two float32 neighbours (no float32 lies between them).
    const a = Math.fround(1 / 3);
    const b = new Float32Array(
      new Uint32Array([(new Uint32Array(Float32Array.of(a).buffer)[0] as number) + 1]).buffer,
    )[0] as number;
    const train = matrix([a, a, a, b, b, b]);

    // Act
    const { model } = trainGbdt({
      task: 'regression',
      features: numericFeatures(1),
      classes: [],
      train,
      trainLabels: Float64Array.from([0, 0, 0, 10, 10, 10]),
      params: params({ nEstimators: 1, maxDepth: 1, learningRate: 1, lambda: 0, minChildWeight: 0 }),
      seed: 1,
    });

    // Assess: the JS reference (float32 `x < threshold`) separates them perfectly.
    expect(model.trees[0]?.threshold[0]).toBe(b);
    expect([...predictValue(model, train)]).toEqual([0, 0, 0, 10, 10, 10]);
  });
});

describe('trainGbdt: missing values', () => {
  const x = [1, 2, 3, 4, 5, 6, NaN32, NaN32, NaN32];
  const trainWith = (labels: number[]) =>
    trainGbdt({
      task: 'regression',
      features: numericFeatures(1),
      classes: [],
      train: matrix(x),
      trainLabels: Float64Array.from(labels),
      params: params({ nEstimators: 1, maxDepth: 1, learningRate: 1, lambda: 0, minChildWeight: 0 }),
      seed: 1,
    }).model;

  it('sends missing values right when they behave like the high values', () => {
    const model = trainWith([0, 0, 0, 1, 1, 1, 1, 1, 1]);
    expect(model.trees[0]?.threshold[0]).toBe(3.5);
    expect(model.trees[0]?.missingGoesLeft[0]).toBe(0);
    expect(rounded(predictValue(model, matrix([NaN32, 1, 6])))).toEqual([1, 0, 1]);
  });

  it('sends missing values left when they behave like the low values', () => {
    const model = trainWith([0, 0, 0, 1, 1, 1, 0, 0, 0]);
    expect(model.trees[0]?.threshold[0]).toBe(3.5);
    expect(model.trees[0]?.missingGoesLeft[0]).toBe(1);
    expect(rounded(predictValue(model, matrix([NaN32, 1, 6])))).toEqual([0, 0, 1]);
  });

  it('splits missing against present when missingness itself is the signal', () => {
    const model = trainWith([0, 0, 0, 0, 0, 0, 5, 5, 5]);
    expect(model.trees[0]?.threshold[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(model.trees[0]?.missingGoesLeft[0]).toBe(1);
    expect(rounded(predictValue(model, matrix([NaN32, -1e30, 3])))).toEqual([5, 0, 0]);
  });

  it('sends missing values never seen in training to the heavier child', () => {
    // 3 rows left of the cut, 7 right: a missing value at serving time goes right.
    const model = trainGbdt({
      task: 'regression',
      features: numericFeatures(1),
      classes: [],
      train: matrix([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      trainLabels: Float64Array.from([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]),
      params: params({ nEstimators: 1, maxDepth: 1, learningRate: 1, lambda: 0, minChildWeight: 0 }),
      seed: 1,
    }).model;
    expect(model.trees[0]?.missingGoesLeft[0]).toBe(0);
    expect(rounded(predictValue(model, matrix([NaN32])))).toEqual([1]);
  });
});

/** Logistic data: P(y=1) = σ(2·x0 − x1 + x2·x3). */
function binaryData(rows: number, seed: number): { x: FeatureMatrix; y: Float64Array } {
  const cols = randomColumns(rows, 5, seed);
  const rng = createPrng(seed + 100);
  const y = Float64Array.from({ length: rows }, (_, i) => {
    const v = (j: number) => (cols[j] as number[])[i] as number;
    const f = 4 * v(0) - 2 * v(1) + 3 * v(2) * v(3);
    return rng.nextFloat() < 1 / (1 + Math.exp(-f)) ? 1 : 0;
  });
  return { x: matrix(...cols), y };
}

describe('trainGbdt: objectives converge', () => {
  it('binary logloss: base score is the logit of the positive rate, loss falls each round', () => {
    // Prepare
    const { x, y } = binaryData(3000, 1);
    const rate = y.reduce((s, v) => s + v, 0) / y.length;

    // Act
    const { model, history } = trainGbdt({
      task: 'binary',
      features: numericFeatures(5),
      classes: ['no', 'yes'],
      train: x,
      trainLabels: y,
      params: params({ nEstimators: 30 }),
      seed: 1,
    });

    // Assess
    expect(model.baseScore[0]).toBeCloseTo(Math.log(rate / (1 - rate)), 6);
    expect(model.classes).toEqual(['no', 'yes']);
    for (let r = 1; r < history.length; r++) {
      expect(history[r]?.trainLoss).toBeLessThan(history[r - 1]?.trainLoss as number);
    }
    const p = predictProba(model, x);
    const loss = logloss(y, (i) => p[2 * i + 1] as number);
    expect(loss).toBeCloseTo(history.at(-1)?.trainLoss as number, 9);
    expect(loss).toBeLessThan(0.75 * logloss(y, () => rate));
    expect(p[0] as number).toBeCloseTo(1 - (p[1] as number), 12);
  });

  it('multiclass softmax: one tree per class per round, accurate probabilities that sum to 1', () => {
    // Prepare: the class is the third of x0's range, blurred by x1.
    const cols = randomColumns(2000, 3, 2);
    const y = Float64Array.from(
      (cols[0] as number[]).map((v, i) => {
        const s = v + 0.2 * ((cols[1] as number[])[i] as number);
        return s < -0.4 ? 0 : s < 0.4 ? 1 : 2;
      }),
    );

    // Act
    const { model, history } = trainGbdt({
      task: 'multiclass',
      features: numericFeatures(3),
      classes: ['low', 'mid', 'high'],
      train: matrix(...cols),
      trainLabels: y,
      params: params({ nEstimators: 15 }),
      seed: 1,
    });

    // Assess
    expect(model.trees).toHaveLength(45);
    expect([...model.treeOutput.slice(0, 6)]).toEqual([0, 1, 2, 0, 1, 2]);
    expect(history.at(-1)?.trainLoss).toBeLessThan(0.3 * (history[0]?.trainLoss as number));
    const p = predictProba(model, matrix(...cols));
    let right = 0;
    for (let i = 0; i < y.length; i++) {
      const row = [p[3 * i] as number, p[3 * i + 1] as number, p[3 * i + 2] as number];
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      if (row.indexOf(Math.max(...row)) === y[i]) right++;
    }
    expect(right / y.length).toBeGreaterThan(0.9);
  });

  it('squared error: base score is the mean, RMSE falls well below the spread of y', () => {
    const cols = randomColumns(3000, 4, 3);
    const y = Float64Array.from(
      (cols[0] as number[]).map((v, i) => 3 * Math.sin(3 * v) + ((cols[1] as number[])[i] as number) ** 2),
    );
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const sd = Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length);

    const { model, history } = trainGbdt({
      task: 'regression',
      features: numericFeatures(4),
      classes: [],
      train: matrix(...cols),
      trainLabels: y,
      params: params({ nEstimators: 40, maxDepth: 4 }),
      seed: 1,
    });

    expect(model.baseScore[0]).toBeCloseTo(mean, 5);
    expect(history[0]?.trainLoss).toBeLessThan(sd);
    expect(history.at(-1)?.trainLoss).toBeLessThan(0.15 * sd);
    const pred = predictValue(model, matrix(...cols));
    const rmse = Math.sqrt(pred.reduce((s, p, i) => s + (p - (y[i] as number)) ** 2, 0) / y.length);
    expect(rmse).toBeCloseTo(history.at(-1)?.trainLoss as number, 9);
  });
});

describe('trainGbdt: early stopping', () => {
  it('stops earlyStoppingRounds after the best validation round and keeps the trees up to it', () => {
    // Prepare: few noisy rows and deep, fast trees, so validation loss soon turns up.
    const train = binaryData(300, 4);
    const valid = binaryData(300, 5);

    // Act
    const { model, bestIteration, history } = trainGbdt({
      task: 'binary',
      features: numericFeatures(5),
      classes: ['0', '1'],
      train: train.x,
      trainLabels: train.y,
      valid: valid.x,
      validLabels: valid.y,
      params: params({
        nEstimators: 200,
        maxDepth: 6,
        learningRate: 0.5,
        minChildWeight: 0,
        earlyStoppingRounds: 5,
      }),
      seed: 1,
    });

    // Assess
    const losses = history.map((h) => h.validLoss as number);
    const best = losses.indexOf(Math.min(...losses));
    expect(bestIteration).toBe(best);
    expect(history.length).toBe(best + 1 + 5);
    expect(history.length).toBeLessThan(200);
    expect(model.trees).toHaveLength(best + 1);
    const p = predictProba(model, valid.x);
    expect(logloss(valid.y, (i) => p[2 * i + 1] as number)).toBeCloseTo(losses[best] as number, 9);
  });

  it('keeps every round when earlyStoppingRounds is 0, still reporting the validation loss', () => {
    const train = binaryData(300, 4);
    const valid = binaryData(300, 5);
    const { model, bestIteration, history } = trainGbdt({
      task: 'binary',
      features: numericFeatures(5),
      classes: ['0', '1'],
      train: train.x,
      trainLabels: train.y,
      valid: valid.x,
      validLabels: valid.y,
      params: params({ nEstimators: 12, earlyStoppingRounds: 0 }),
      seed: 1,
    });
    expect(bestIteration).toBe(11);
    expect(model.trees).toHaveLength(12);
    expect(history.every((h) => typeof h.validLoss === 'number')).toBe(true);
  });
});

describe('trainGbdt: determinism with row and column sampling', () => {
  const { x, y } = binaryData(1000, 6);
  const trainWith = (seed: number) =>
    trainGbdt({
      task: 'binary',
      features: numericFeatures(5),
      classes: ['0', '1'],
      train: x,
      trainLabels: y,
      params: params({ nEstimators: 10, subsample: 0.6, colsampleByTree: 0.4 }),
      seed,
    });

  it('gives a byte-identical model for the same seed', () => {
    expect(modelJson(trainWith(7).model)).toBe(modelJson(trainWith(7).model));
  });

  it('gives a different model for a different seed', () => {
    expect(modelJson(trainWith(7).model)).not.toBe(modelJson(trainWith(8).model));
  });

  it('samples columns: with colsampleByTree 0.4 of 5 features each tree uses at most 2', () => {
    for (const tree of trainWith(7).model.trees) {
      expect(new Set([...tree.featureIndex].filter((f) => f >= 0)).size).toBeLessThanOrEqual(2);
    }
  });

  it('scores rows left out of a tree by traversal: the training loss matches the model', () => {
    const { model, history } = trainWith(7);
    const p = predictProba(model, x);
    expect(logloss(y, (i) => p[2 * i + 1] as number)).toBeCloseTo(history.at(-1)?.trainLoss as number, 9);
  });

  it('is deterministic for multiclass too', () => {
    const cols = randomColumns(600, 4, 9);
    const labels = Float64Array.from(cols[0] as number[], (v) => (v < -0.3 ? 0 : v < 0.3 ? 1 : 2));
    const run = (seed: number) =>
      modelJson(
        trainGbdt({
          task: 'multiclass',
          features: numericFeatures(4),
          classes: ['a', 'b', 'c'],
          train: matrix(...cols),
          trainLabels: labels,
          params: params({ nEstimators: 5, subsample: 0.7, colsampleByTree: 0.5 }),
          seed,
        }).model,
      );
    expect(run(3)).toBe(run(3));
    expect(run(3)).not.toBe(run(4));
  });
});

describe('trainGbdt on worker threads', () => {
  it('gives the same model on 1 and 2 threads (each feature is summed by one thread, in row order)', () => {
    // Prepare: enough rows × features that the root and the first levels are split across threads.
    const cols = randomColumns(6000, 8, 11);
    const y = Float64Array.from(cols[0] as number[], (v, i) =>
      v + ((cols[3] as number[])[i] as number) > 0 ? 1 : 0,
    );
    const run = (threads: number) =>
      trainGbdt({
        task: 'binary',
        features: numericFeatures(8),
        classes: ['0', '1'],
        train: matrix(...cols),
        trainLabels: y,
        params: params({ nEstimators: 8, maxDepth: 5, subsample: 0.8 }),
        seed: 5,
        threads,
      });

    // Act
    const one = run(1);
    const two = run(2);

    // Assess
    expect(modelJson(two.model)).toBe(modelJson(one.model));
    expect(two.history).toEqual(one.history);
  });

  it('rejects a thread count that is not a positive integer', () => {
    const { x, y } = binaryData(10, 1);
    expect(() =>
      trainGbdt({
        task: 'binary',
        features: numericFeatures(5),
        classes: ['0', '1'],
        train: x,
        trainLabels: y,
        params: params(),
        seed: 1,
        threads: 0,
      }),
    ).toThrow(/threads is 0; expected an integer in 1\.\.64/);
  });
});

describe('trainGbdt with target-encoded categoricals', () => {
  it('separates a non-contiguous set of categories with one split', () => {
    // Prepare: positives are b, d and f — interleaved in alphabetical order.
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const positive = new Set(['b', 'd', 'f']);
    const values = Array.from({ length: 600 }, (_, i) => names[i % 6] as string);
    const labels = Float64Array.from(values, (v) => (positive.has(v) ? 1 : 0));
    const specs = [{ name: 'city', type: 'categorical' as const }];
    const raw = [{ type: 'categorical' as const, values }];
    const features = fitEncodings(specs, raw, labels, 'binary', 2, 'target');

    // Act
    const { model } = trainGbdt({
      task: 'binary',
      features,
      classes: ['0', '1'],
      train: encodeColumns(features, raw),
      trainLabels: labels,
      params: params({ nEstimators: 1, maxDepth: 1, learningRate: 1, minChildWeight: 0 }),
      seed: 1,
    });

    // Assess: every positive category scores above every negative one.
    expect(model.features).toEqual(features);
    const raw6 = predictRaw(model, encodeColumns(features, [{ type: 'categorical', values: names }]));
    const pos = names.flatMap((n, i) => (positive.has(n) ? [raw6[i] as number] : []));
    const neg = names.flatMap((n, i) => (positive.has(n) ? [] : [raw6[i] as number]));
    expect(Math.min(...pos)).toBeGreaterThan(Math.max(...neg));
  });
});
