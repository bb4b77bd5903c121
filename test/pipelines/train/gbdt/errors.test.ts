import { describe, expect, it } from 'vitest';
import { ConfigError, InputError } from '../../../../pipelines/errors.ts';
import { trainGbdt } from '../../../../pipelines/train/gbdt/index.ts';
import type { GbdtTrainingInput } from '../../../../pipelines/train/gbdt/inputs.ts';
import { matrix, numericFeatures, params } from './helpers.ts';

function input(overrides: Partial<GbdtTrainingInput> = {}): GbdtTrainingInput {
  return {
    task: 'binary',
    features: numericFeatures(2),
    classes: ['0', '1'],
    train: matrix([1, 2, 3], [4, 5, 6]),
    trainLabels: Float64Array.from([0, 1, 0]),
    params: params(),
    seed: 1,
    ...overrides,
  };
}

describe('trainGbdt input errors', () => {
  it('accepts the baseline input', () => {
    expect(() => trainGbdt(input())).not.toThrow();
  });

  it.each([
    [
      'a binary label other than 0/1',
      { trainLabels: Float64Array.from([0, 1, 2]) },
      /training labels: row 2 has label 2; expected 0 or 1/,
    ],
    [
      'a class index out of range',
      { task: 'multiclass' as const, classes: ['a', 'b', 'c'], trainLabels: Float64Array.from([0, 3, 1]) },
      /row 1 has label 3; expected an integer class index in \[0, 2\]/,
    ],
    [
      'a fractional class index',
      { task: 'multiclass' as const, classes: ['a', 'b'], trainLabels: Float64Array.from([0, 0.5, 1]) },
      /row 1 has label 0.5/,
    ],
    [
      'a non-finite regression target',
      { task: 'regression' as const, classes: [], trainLabels: Float64Array.from([0, Number.NaN, 1]) },
      /row 1 has label NaN; expected a finite number/,
    ],
    [
      'an empty matrix',
      { train: matrix([], []), trainLabels: new Float64Array(0) },
      /training matrix is empty/,
    ],
    [
      'fewer labels than rows',
      { trainLabels: Float64Array.from([0, 1]) },
      /got 2 training labels for 3 rows/,
    ],
    [
      'a short column',
      { train: { rows: 3, columns: [Float32Array.of(1, 2, 3), Float32Array.of(1, 2)] } },
      /column 1 of the training matrix has 2 values; expected 3 rows/,
    ],
    [
      'a column count that differs from the features',
      { features: numericFeatures(3) },
      /training matrix has 2 columns for 3 features/,
    ],
    ['binary with three classes', { classes: ['a', 'b', 'c'] }, /exactly 2 classes/],
    [
      'regression with classes',
      { task: 'regression' as const, classes: ['a'] },
      /a regression task has no classes/,
    ],
    ['validation rows without labels', { valid: matrix([1], [2]) }, /pass both valid and validLabels/],
    [
      'a validation matrix with the wrong width',
      { valid: matrix([1]), validLabels: Float64Array.of(0) },
      /validation matrix has 1 columns for 2 features/,
    ],
    [
      'a bad validation label',
      { valid: matrix([1], [2]), validLabels: Float64Array.of(7) },
      /validation labels: row 0 has label 7/,
    ],
  ])('rejects %s with an InputError', (_name, overrides, message) => {
    const run = () => trainGbdt(input(overrides));
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
  });

  it.each([
    ['maxBins', { maxBins: 256 }, /training\.params\.maxBins is 256; expected an integer in 2\.\.255/],
    ['subsample', { subsample: 0 }, /training\.params\.subsample is 0; expected a number in \(0, 1\]/],
    ['maxDepth', { maxDepth: 0 }, /training\.params\.maxDepth is 0/],
    ['nEstimators', { nEstimators: 1.5 }, /training\.params\.nEstimators is 1.5/],
  ])('rejects an out-of-range %s with a ConfigError', (_name, overrides, message) => {
    const run = () => trainGbdt(input({ params: params(overrides) }));
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });
});
