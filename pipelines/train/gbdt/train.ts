/**
 * The boosting loop: histogram gradient-boosted trees, the Driftline equivalent of XGBoost's
 * `tree_method=hist` with depth-wise growth.
 *
 * Per round: gradients and hessians of the objective at the current raw scores, then one tree per
 * output (one for binary and regression, one per class for multiclass, all from the same round's
 * gradients). Each tree sees a Bernoulli sample of rows (`subsample`) and a sample of
 * `max(1, ⌊colsampleByTree × features⌋)` columns, both drawn from seeded generators, so the same data,
 * parameters and seed always give the same model.
 *
 * Categorical features arrive already encoded (see `../encoding.ts`): target-ordered integer codes, so
 * an ordinary `code < t` split is a partition of categories, and the rare/unseen pool has its own code.
 * Missing values are NaN in the matrix, get their own histogram bin (see `binning.ts`), and every
 * split learns which way they go (see `split.ts`).
 *
 * Early stopping: with a validation set and `earlyStoppingRounds > 0`, training stops once the
 * validation loss has not improved for that many rounds, and the model keeps the trees up to the best
 * round. Without a validation set every round is kept.
 *
 * Threads: on enough data, histograms are built on worker threads too (`histogram-threads.ts`); each
 * feature is still summed by one thread in row order, so the model is the same on any thread count.
 */

import { availableParallelism } from 'node:os';
import type { Tree, TreeEnsembleModel } from '../../model/types.ts';
import { binColumns } from './binning.ts';
import { createWorkspace, type GrowWorkspace, growTree } from './grow.ts';
import { checkTrainingInput, type GbdtTrainingInput, outputCount, threadCount } from './inputs.ts';
import { type Objective, objectiveFor } from './objectives.ts';
import { addTreeScores, leafOf } from './predict.ts';
import { createPrng, deriveSeed, type Prng } from './prng.ts';

/** One boosting round's losses (the objective's loss: logloss, mlogloss or RMSE). */
export interface GbdtRound {
  /** 0-based round number. */
  readonly round: number;
  readonly trainLoss: number;
  readonly validLoss?: number;
}

/** A trained ensemble and how training went. */
export interface GbdtTrainingResult {
  readonly model: TreeEnsembleModel;
  /** The 0-based round whose trees end the model (the best validation round under early stopping). */
  readonly bestIteration: number;
  /** Every round that was trained, including those after the best one. */
  readonly history: GbdtRound[];
}

/** Seed streams: one per purpose, so a change in one never shifts the draws of another. */
const STREAM_BINS = 0;
const STREAM_ROWS = 1;
const STREAM_COLUMNS = 2;

/**
 * Trains a gradient-boosted tree ensemble.
 *
 * @throws InputError for inconsistent matrices or labels, ConfigError for parameters out of range.
 */
export function trainGbdt(input: GbdtTrainingInput): GbdtTrainingResult {
  checkTrainingInput(input);
  const { task, classes, train, params, seed } = input;
  const outputs = outputCount(task, classes);
  const objective = objectiveFor(task, outputs);
  const n = train.rows;
  const featureCount = train.columns.length;

  const columnCount = Math.max(1, Math.floor(params.colsampleByTree * featureCount));
  const threads = threadCount(input.threads, n, columnCount, availableParallelism());
  const binned = binColumns(train.columns, n, params.maxBins, deriveSeed(seed, STREAM_BINS), threads > 1);
  const ws = createWorkspace(binned, outputs, params.maxDepth, threads);
  try {
    return boost(input, ws, objective, outputs, columnCount);
  } finally {
    ws.builder.close();
  }
}

/** The rounds of boosting on a prepared workspace. */
function boost(
  input: GbdtTrainingInput,
  ws: GrowWorkspace,
  objective: Objective,
  outputs: number,
  columnCount: number,
): GbdtTrainingResult {
  const { task, features, classes, train, trainLabels, valid, validLabels, params, seed } = input;
  const n = train.rows;
  const featureCount = train.columns.length;
  const baseScore = objective.baseScore(trainLabels);
  const raw = startingScores(baseScore, n);
  const validRaw = valid === undefined ? null : startingScores(baseScore, valid.rows);
  const { grad, hess } = ws;
  const rowRng = createPrng(deriveSeed(seed, STREAM_ROWS));
  const columnRng = createPrng(deriveSeed(seed, STREAM_COLUMNS));
  const unsampled = params.subsample < 1 ? new Uint32Array(n) : null;
  const earlyStopping = validRaw !== null && params.earlyStoppingRounds > 0;

  const trees: Tree[] = [];
  const history: GbdtRound[] = [];
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestRound = -1;
  const rowIndex = ws.rowIndex;
  objective.gradients(raw, trainLabels, grad, hess);
  for (let round = 0; round < params.nEstimators; round++) {
    for (let k = 0; k < outputs; k++) {
      const rowCount = sampleRows(rowIndex, unsampled, n, params.subsample, rowRng);
      const chosen = sampleColumns(featureCount, columnCount, columnRng);
      const gradK = grad.subarray(k * n, (k + 1) * n);
      const hessK = hess.subarray(k * n, (k + 1) * n);
      const { tree, leafRanges } = growTree(ws, rowCount, gradK, hessK, chosen, params);
      const leafValue = tree.leafValue;
      addLeafValues(raw, rowIndex, leafRanges, leafValue, outputs, k);
      if (unsampled !== null) {
        for (let i = 0; i < n - rowCount; i++) {
          const row = unsampled[i] as number;
          const at = row * outputs + k;
          raw[at] = (raw[at] as number) + (leafValue[leafOf(tree, train.columns, row)] as number);
        }
      }
      if (valid !== undefined && validRaw !== null) {
        addTreeScores(tree, valid.columns, valid.rows, validRaw, outputs, k);
      }
      trees.push(tree);
    }
    // The next round's gradients come with the loss at the current scores; the last round needs only the loss.
    const trainLoss =
      round + 1 < params.nEstimators
        ? objective.gradients(raw, trainLabels, grad, hess)
        : objective.loss(raw, trainLabels);
    if (validRaw === null || validLabels === undefined) {
      history.push({ round, trainLoss });
      continue;
    }
    const validLoss = objective.loss(validRaw, validLabels);
    history.push({ round, trainLoss, validLoss });
    if (validLoss < bestLoss) {
      bestLoss = validLoss;
      bestRound = round;
    } else if (earlyStopping && round - bestRound >= params.earlyStoppingRounds) {
      break;
    }
  }

  const bestIteration = earlyStopping ? Math.max(bestRound, 0) : history.length - 1;
  const kept = trees.slice(0, (bestIteration + 1) * outputs);
  const treeOutput = new Int32Array(kept.length);
  for (let t = 0; t < kept.length; t++) treeOutput[t] = t % outputs;
  return {
    model: {
      kind: 'gbdt',
      task,
      features: [...features],
      classes: [...classes],
      baseScore,
      trees: kept,
      treeOutput,
    },
    bestIteration,
    history,
  };
}

/**
 * Adds the new tree's leaf values to the raw scores of the rows it was grown on: each leaf owns a
 * range of `rowIndex`, so no traversal is needed.
 */
function addLeafValues(
  raw: Float64Array,
  rowIndex: Uint32Array,
  leafRanges: Int32Array,
  leafValue: Float64Array,
  outputs: number,
  output: number,
): void {
  for (let t = 0; t < leafRanges.length; t += 3) {
    const value = leafValue[leafRanges[t] as number] as number;
    const end = leafRanges[t + 2] as number;
    for (let i = leafRanges[t + 1] as number; i < end; i++) {
      const at = (rowIndex[i] as number) * outputs + output;
      raw[at] = (raw[at] as number) + value;
    }
  }
}

/** Raw scores of `rows` rows, all at the base score (row-major, one column per output). */
function startingScores(baseScore: readonly number[], rows: number): Float64Array {
  const k = baseScore.length;
  const out = new Float64Array(rows * k);
  for (let row = 0; row < rows; row++) for (let c = 0; c < k; c++) out[row * k + c] = baseScore[c] as number;
  return out;
}

/**
 * Fills `rowIndex` with this tree's rows in increasing order and returns how many: every row when
 * `subsample` is 1, else each row with probability `subsample` (XGBoost's Bernoulli sampling). The
 * rows left out go to `unsampled`, to receive the tree's score by traversal.
 */
function sampleRows(
  rowIndex: Uint32Array,
  unsampled: Uint32Array | null,
  rows: number,
  subsample: number,
  rng: Prng,
): number {
  if (unsampled === null) {
    for (let i = 0; i < rows; i++) rowIndex[i] = i;
    return rows;
  }
  let inCount = 0;
  let outCount = 0;
  for (let i = 0; i < rows; i++) {
    if (rng.nextFloat() < subsample) rowIndex[inCount++] = i;
    else unsampled[outCount++] = i;
  }
  return inCount;
}

/** `count` distinct feature indices of `total`, in increasing order (partial Fisher–Yates). */
function sampleColumns(total: number, count: number, rng: Prng): Int32Array {
  const all = new Int32Array(total);
  for (let j = 0; j < total; j++) all[j] = j;
  if (count >= total) return all;
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(total - i);
    const t = all[i] as number;
    all[i] = all[j] as number;
    all[j] = t;
  }
  return all.subarray(0, count).sort();
}
