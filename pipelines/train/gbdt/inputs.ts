/**
 * The tree trainer's inputs and their checks. Every problem a caller can cause (an empty matrix,
 * columns of different lengths, a label that does not fit the task, a parameter out of range) is
 * reported before any work starts, with a message that says what was expected.
 */
import type { GbdtParams, Task } from '../../config/schema.ts';
import { ConfigError, InputError } from '../../errors.ts';
import type { FeatureEncoding, FeatureMatrix } from '../../model/types.ts';
import { checkLabels } from '../labels.ts';

/** What {@link trainGbdt} needs: encoded training (and optionally validation) rows, labels, parameters. */
export interface GbdtTrainingInput {
  readonly task: Task;
  /** How each matrix column was encoded; copied into the model for the exporter. */
  readonly features: readonly FeatureEncoding[];
  /** Class labels in output order (binary: [negative, positive]); empty for regression. */
  readonly classes: readonly string[];
  readonly train: FeatureMatrix;
  /** 0/1 for binary, the class index for multiclass, the value for regression. */
  readonly trainLabels: Float64Array;
  /** Validation rows: their loss is reported per round and drives early stopping. */
  readonly valid?: FeatureMatrix;
  readonly validLabels?: Float64Array;
  readonly params: GbdtParams;
  /** Seeds every random choice (bin sample, row and column subsamples). */
  readonly seed: number;
  /**
   * Threads building histograms (the caller plus worker threads). The model does not depend on it.
   * Default: up to {@link MAX_THREADS} of the available cores for data of at least
   * {@link PARALLEL_MIN_CELLS} rows × features, else 1.
   */
  readonly threads?: number;
}

/** The most threads chosen by default: histogram building is memory-bound beyond a few cores. */
export const MAX_THREADS = 4;

/**
 * Rows × active features from which worker threads are used by default. Measured here: 1M × 50 trains
 * about 1.45× faster on 2 free cores, while at 100k × 20 the gain is within noise: the serial parts
 * (gradients, partitioning) and the worker's start-up (about 40 ms) eat it.
 */
export const PARALLEL_MIN_CELLS = 4_000_000;

/** The thread count to train with: the caller's, or the default for this much data. */
export function threadCount(
  requested: number | undefined,
  rows: number,
  activeFeatures: number,
  cores: number,
): number {
  if (requested !== undefined) return requested;
  return rows * activeFeatures >= PARALLEL_MIN_CELLS ? Math.max(1, Math.min(cores, MAX_THREADS)) : 1;
}

/** The number of raw outputs (trees per round): K for multiclass, else 1. */
export function outputCount(task: Task, classes: readonly string[]): number {
  return task === 'multiclass' ? classes.length : 1;
}

/** Throws an {@link InputError} or {@link ConfigError} describing the first problem with `input`. */
export function checkTrainingInput(input: GbdtTrainingInput): void {
  const { task, features, classes, train, trainLabels, valid, validLabels, params, threads } = input;
  checkParams(params);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
    throw new InputError(`threads is ${threads}; expected an integer in 1..64`);
  }
  if (task === 'binary' && classes.length !== 2) {
    throw new InputError(`a binary task needs exactly 2 classes [negative, positive], got ${classes.length}`);
  }
  if (task === 'multiclass' && classes.length < 2) {
    throw new InputError(`a multiclass task needs at least 2 classes, got ${classes.length}`);
  }
  if (task === 'regression' && classes.length !== 0) {
    throw new InputError(`a regression task has no classes, got ${classes.length}; pass []`);
  }
  if (features.length === 0) throw new InputError('no features: expected at least one column');
  checkMatrix(train, features.length, 'training matrix');
  if (train.rows === 0) throw new InputError('the training matrix is empty: expected at least one row');
  if (trainLabels.length !== train.rows) {
    throw new InputError(
      `got ${trainLabels.length} training labels for ${train.rows} rows; expected one per row`,
    );
  }
  checkLabels(trainLabels, task, classes.length, 'training labels');
  if ((valid === undefined) !== (validLabels === undefined)) {
    throw new InputError('pass both valid and validLabels, or neither');
  }
  if (valid !== undefined && validLabels !== undefined) {
    checkMatrix(valid, features.length, 'validation matrix');
    if (valid.rows === 0) throw new InputError('the validation matrix is empty: expected at least one row');
    if (validLabels.length !== valid.rows) {
      throw new InputError(
        `got ${validLabels.length} validation labels for ${valid.rows} rows; expected one per row`,
      );
    }
    checkLabels(validLabels, task, classes.length, 'validation labels');
  }
}

function checkMatrix(matrix: FeatureMatrix, features: number, what: string): void {
  if (matrix.columns.length !== features) {
    throw new InputError(`the ${what} has ${matrix.columns.length} columns for ${features} features`);
  }
  matrix.columns.forEach((column, j) => {
    if (column.length !== matrix.rows) {
      throw new InputError(
        `column ${j} of the ${what} has ${column.length} values; expected ${matrix.rows} rows`,
      );
    }
  });
}

function checkParams(params: GbdtParams): void {
  const rules: [keyof GbdtParams, boolean, string][] = [
    ['nEstimators', Number.isInteger(params.nEstimators) && params.nEstimators >= 1, 'an integer >= 1'],
    ['learningRate', params.learningRate > 0 && params.learningRate <= 1, 'a number in (0, 1]'],
    ['maxDepth', Number.isInteger(params.maxDepth) && params.maxDepth >= 1, 'an integer >= 1'],
    ['minChildWeight', params.minChildWeight >= 0, 'a number >= 0'],
    ['lambda', params.lambda >= 0, 'a number >= 0'],
    ['subsample', params.subsample > 0 && params.subsample <= 1, 'a number in (0, 1]'],
    ['colsampleByTree', params.colsampleByTree > 0 && params.colsampleByTree <= 1, 'a number in (0, 1]'],
    [
      'maxBins',
      Number.isInteger(params.maxBins) && params.maxBins >= 2 && params.maxBins <= 255,
      'an integer in 2..255',
    ],
    [
      'earlyStoppingRounds',
      Number.isInteger(params.earlyStoppingRounds) && params.earlyStoppingRounds >= 0,
      'an integer >= 0',
    ],
  ];
  for (const [name, ok, expected] of rules) {
    if (!ok) {
      throw new ConfigError(`training.params.${name} is ${String(params[name])}; expected ${expected}`, {
        details: [{ path: `training.params.${name}`, message: `expected ${expected}` }],
      });
    }
  }
}
