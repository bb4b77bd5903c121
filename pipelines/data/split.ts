/**
 * The deterministic train / validation / test split. The same rows, config and seed always give the
 * same split, so a run can be reproduced and two models can be compared on the same holdout.
 *
 * - With a time column: rows are ordered by time (ties by file order); the oldest train, the next
 *   `validationFraction` validate and the newest `testFraction` test — the way a model meets the future.
 * - Otherwise at random with the seed, stratified by class for classification so that every split keeps
 *   the class balance (a rare class does not vanish from a small test set).
 */
import { InputError } from '../errors.ts';
import { createPrng, deriveSeed, shuffleInPlace } from '../train/gbdt/prng.ts';

/** Row indices of each part, ascending within a part. */
export interface RowSplit {
  readonly method: 'time' | 'random' | 'stratified';
  readonly train: Uint32Array;
  readonly validation: Uint32Array;
  readonly test: Uint32Array;
}

/** What the split needs from the config. */
export interface SplitOptions {
  readonly seed: number;
  readonly validationFraction: number;
  readonly testFraction: number;
}

/** The sub-stream of the seed used for splitting (trainers use others). */
const SPLIT_STREAM = 1_000;

function shuffle(indices: Uint32Array, seed: number): void {
  shuffleInPlace(indices, createPrng(seed));
}

function sorted(values: number[]): Uint32Array {
  return Uint32Array.from(values).sort();
}

/**
 * Splits `rows` rows.
 * @param time per-row timestamps; when given the split is by time
 * @param classes per-row class index for a stratified random split (classification)
 * @throws InputError when there are too few rows to give every part at least one row
 */
export function splitRows(
  rows: number,
  options: SplitOptions,
  time?: Float64Array,
  classes?: Float64Array,
): RowSplit {
  const nTest = Math.max(1, Math.round(rows * options.testFraction));
  const nValid = Math.max(1, Math.round(rows * options.validationFraction));
  if (rows - nTest - nValid < 1) {
    throw new InputError(`${rows} rows are too few to split into train, validation and test`, {
      hint: 'use a larger file (a few hundred rows at least)',
    });
  }
  if (time !== undefined) {
    const order = Array.from({ length: rows }, (_, i) => i).sort(
      (a, b) => (time[a] as number) - (time[b] as number) || a - b,
    );
    const nTrain = rows - nTest - nValid;
    return {
      method: 'time',
      train: sorted(order.slice(0, nTrain)),
      validation: sorted(order.slice(nTrain, nTrain + nValid)),
      test: sorted(order.slice(nTrain + nValid)),
    };
  }
  const seed = deriveSeed(options.seed, SPLIT_STREAM);
  if (classes === undefined) {
    const all = Uint32Array.from({ length: rows }, (_, i) => i);
    shuffle(all, seed);
    return {
      method: 'random',
      test: all.slice(0, nTest).sort(),
      validation: all.slice(nTest, nTest + nValid).sort(),
      train: all.slice(nTest + nValid).sort(),
    };
  }
  // Stratified: split each class in the same proportions.
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < rows; i += 1) {
    const c = classes[i] as number;
    const list = byClass.get(c);
    if (list === undefined) byClass.set(c, [i]);
    else list.push(i);
  }
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = Uint32Array.from(byClass.get(c) ?? []);
    shuffle(members, deriveSeed(seed, c));
    const t = Math.round(members.length * options.testFraction);
    const v = Math.round(members.length * options.validationFraction);
    test.push(...members.subarray(0, t));
    validation.push(...members.subarray(t, t + v));
    train.push(...members.subarray(t + v));
  }
  if (test.length === 0 || validation.length === 0 || train.length === 0) {
    throw new InputError(`${rows} rows are too few to split into train, validation and test`, {
      hint: 'use a larger file (a few hundred rows at least)',
    });
  }
  return { method: 'stratified', train: sorted(train), validation: sorted(validation), test: sorted(test) };
}
