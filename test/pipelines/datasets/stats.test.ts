/**
 * The faster accumulators keep the manifest statistics exactly as they were: the sample draws the
 * same numbers (the same generator, the same bounded draws), and counting categories by code counts what adding them one by one counted — the
 * distinct-value cap included.
 */
import { describe, expect, it } from 'vitest';
import {
  type CategoricalColumnStats,
  categoricalAccumulator,
  finishColumnState,
  mergeColumnStates,
  type NumericColumnStats,
  numericAccumulator,
  SAMPLE_SIZE,
} from '../../../pipelines/datasets/stats.ts';
import { createPrng, deriveSeed } from '../../../pipelines/train/gbdt/prng.ts';
import { CategoricalReference, NumericReference } from '../../helpers/push-reference.ts';

describe('numeric statistics', () => {
  it('are the reference statistics — the same moments and the same sample — value by value or by column', () => {
    // Prepare: enough values for millions of sample draws' worth of rejection-sampling bounds.
    const prng = createPrng(5);
    const values = Float64Array.from({ length: 300_000 }, (_, i) =>
      i % 17 === 0 ? Number.NaN : (prng.nextFloat() - 0.3) * 10 ** (prng.nextInt(12) - 4),
    );
    const reference = new NumericReference(deriveSeed(20_011, 3));
    const one = numericAccumulator(20_011, 3);
    const columns = numericAccumulator(20_011, 3);
    const keep = new Uint8Array(1000).fill(1);

    // Act
    for (const v of values) {
      reference.add(Number.isNaN(v) ? null : v);
      one.add(Number.isNaN(v) ? null : v);
    }
    for (let i = 0; i < values.length; i += 1000)
      columns.addColumn(values, i, Math.min(1000, values.length - i), keep);

    // Assess
    const expected = reference.finish();
    expect(one.finish()).toEqual(expected);
    expect(columns.finish()).toEqual(expected);
  });
});

describe('categorical statistics by code', () => {
  it('count what adding every value counts, past the distinct-value cap', () => {
    // Prepare: 120,000 distinct values (the cap is 100,000), some repeated, some missing; codes for a
    // few hundred of them, given at their first and later occurrences, as the CSV reader gives them.
    const reference = new CategoricalReference();
    const coded = categoricalAccumulator();
    const prng = createPrng(3);
    const codeOf = new Map<string, number>();
    const feed = (value: string | null) => {
      reference.add(value);
      const code = value === null ? 4000 : (codeOf.get(value) ?? -1);
      coded.addCoded(code, value);
    };
    for (let i = 0; i < 300; i += 1) codeOf.set(`hot${i}`, i);

    // Act
    for (let i = 0; i < 120_000; i += 1) {
      feed(`v${i}`);
      if (prng.nextFloat() < 0.2) feed(`hot${prng.nextInt(300)}`);
      if (prng.nextFloat() < 0.05) feed(null);
      if (i > 100_500 && i % 7 === 0) feed(`late${i % 5}`);
    }
    for (let i = 0; i < 300; i += 1) feed(`hot${i}`);

    // Assess
    expect(coded.finish()).toEqual(reference.finish());
  });
});

/**
 * The statistics of `values` accumulated in two parts (split at `at`, different seeds, a batch at a
 * time as the parts of a push are) and merged.
 */
function mergedNumeric(values: readonly number[], at: number, seed = 7): NumericColumnStats {
  const first = numericAccumulator(20_011, 1, 'per-batch');
  const second = numericAccumulator(99, 1, 'per-batch');
  const keep = new Uint8Array(values.length).fill(1);
  const column = Float64Array.from(values);
  for (let i = 0; i < values.length; i += 777) {
    const end = Math.min(values.length, i + 777);
    if (i < at) first.addColumn(column, i, Math.min(end, at) - i, keep);
    if (end > at) second.addColumn(column, Math.max(i, at), end - Math.max(i, at), keep);
  }
  return finishColumnState(mergeColumnStates(first.state(), second.state(), seed)) as NumericColumnStats;
}

/** The statistics of `values` in one per-value accumulator, one value at a time. */
function oneByOne(
  values: readonly number[],
  update: 'per-value' | 'per-batch' = 'per-value',
): NumericColumnStats {
  const one = numericAccumulator(20_011, 1, update);
  for (const v of values) one.add(Number.isNaN(v) ? null : v);
  return one.finish();
}

/** The statistics of `values` accumulated one value at a time in each part, for the merge alone. */
function mergedByValue(values: readonly number[], at: number, seed = 7): NumericColumnStats {
  const first = numericAccumulator(20_011, 1);
  const second = numericAccumulator(99, 1);
  values.forEach((v, i) => {
    (i < at ? first : second).add(Number.isNaN(v) ? null : v);
  });
  return finishColumnState(mergeColumnStates(first.state(), second.state(), seed)) as NumericColumnStats;
}

function close(actual: number | null, expected: number | null): void {
  expect(actual === null).toBe(expected === null);
  if (actual !== null && expected !== null)
    expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

describe('numeric statistics of two parts, merged', () => {
  it('are those of one accumulator but for the sample, which is a sample of the values', () => {
    const prng = createPrng(11);
    const values = Array.from({ length: 50_000 }, (_, i) =>
      i % 13 === 0 ? Number.NaN : 1e6 + (prng.nextFloat() - 0.5) * 10 ** prng.nextInt(5),
    );
    const present = new Set(values.filter((v) => !Number.isNaN(v)));
    const expected = oneByOne(values);
    for (const at of [0, 1, 500, 999, 1000, 1001, 25_000, 49_000, 49_999, 50_000]) {
      for (const merged of [mergedNumeric(values, at), mergedByValue(values, at)]) {
        const { mean, std, sample, deciles, ...exact } = merged;
        const { mean: mean1, std: std1, sample: _s, deciles: _d, ...exact1 } = expected;
        expect(exact).toEqual(exact1);
        close(mean, mean1);
        close(std, std1);
        expect(sample).toHaveLength(SAMPLE_SIZE);
        expect(sample.every((v) => present.has(v))).toBe(true);
        expect(new Set(sample).size).toBe(SAMPLE_SIZE);
        expect(deciles).toHaveLength(9);
      }
    }
  });

  it('keep every value when there are no more than the sample size, and handle empty parts', () => {
    const values = Array.from({ length: 900 }, (_, i) => (i % 5 === 0 ? Number.NaN : i));
    const { mean, std, ...rest } = mergedNumeric(values, 300);
    const { mean: mean1, std: std1, ...rest1 } = oneByOne(values);
    expect(rest).toEqual(rest1);
    close(mean, mean1);
    close(std, std1);
    const missing = mergedNumeric([Number.NaN, Number.NaN, Number.NaN], 1);
    expect(missing).toMatchObject({ count: 3, missing: 3, min: null, mean: null, std: null, sample: [] });
  });

  it('draw the sample deterministically, in proportion to the parts', () => {
    // 3,000 values in the first part and 1,000 in the second: a uniform sample of the union takes
    // 750 from the first on average (hypergeometric, standard deviation about 12).
    const values = Array.from({ length: 4000 }, (_, i) => i);
    const fromFirst: number[] = [];
    for (let seed = 0; seed < 100; seed += 1) {
      const { sample } = mergedNumeric(values, 3000, seed);
      fromFirst.push(sample.filter((v) => v < 3000).length);
    }
    const mean = fromFirst.reduce((a, b) => a + b, 0) / fromFirst.length;
    expect(Math.abs(mean - 750)).toBeLessThan(6);
    expect(Math.max(...fromFirst) - Math.min(...fromFirst)).toBeGreaterThan(20);
    // Within a part, every value is as likely: the sampled values' mean is the part's.
    const { sample } = mergedNumeric(values, 3000, 1);
    const taken = sample.filter((v) => v < 3000);
    const firstMean = taken.reduce((a, b) => a + b, 0) / taken.length;
    expect(Math.abs(firstMean - 1499.5)).toBeLessThan(120);
    expect(mergedNumeric(values, 3000, 5)).toEqual(mergedNumeric(values, 3000, 5));
  });
});

describe('categorical statistics of two parts, merged', () => {
  it('are those of one accumulator, and a lower bound past the distinct-value cap', () => {
    const prng = createPrng(17);
    const values = Array.from({ length: 30_000 }, () =>
      prng.nextFloat() < 0.1 ? null : `v${Math.floor(prng.nextFloat() ** 3 * 300)}`,
    );
    const merge = (list: readonly (string | null)[], at: number): CategoricalColumnStats => {
      const first = categoricalAccumulator();
      const second = categoricalAccumulator();
      list.forEach((v, i) => {
        (i < at ? first : second).add(v);
      });
      return finishColumnState(mergeColumnStates(first.state(), second.state(), 0)) as CategoricalColumnStats;
    };
    const one = categoricalAccumulator();
    for (const v of values) one.add(v);
    const expected = one.finish();
    for (const at of [0, 10, 15_000, 30_000]) expect(merge(values, at)).toEqual(expected);

    // 120,000 distinct values, 70,000 in each part: the merged count stops at the cap, flagged.
    const many = Array.from({ length: 140_000 }, (_, i) => `d${i < 70_000 ? i : i - 20_000}`);
    const capped = merge(many, 70_000);
    expect(capped).toMatchObject({ count: 140_000, distinct: 100_000, distinctCapped: true });
    const sequential = categoricalAccumulator();
    for (const v of many) sequential.add(v);
    expect(capped.distinct).toBe(sequential.finish().distinct);
  });
});

describe('numeric statistics a batch at a time', () => {
  it('are those of one value at a time but for the rounding and the sample, the same by value or by column', () => {
    const prng = createPrng(23);
    const values = Array.from({ length: 40_000 }, (_, i) =>
      i % 9 === 0 ? Number.NaN : prng.nextFloat() * 1e4,
    );
    const column = Float64Array.from(values);
    const keep = new Uint8Array(1000).map((_, r) => (r % 17 === 0 ? 0 : 1));
    const kept = values.filter((_, i) => keep[i % 1000] === 1);
    const batched = numericAccumulator(20_011, 1, 'per-batch');
    for (let i = 0; i < values.length; i += 1000) batched.addColumn(column, i, 1000, keep);

    const { mean, std, sample, deciles, ...exact } = batched.finish();
    const expected = oneByOne(kept);
    const { mean: mean1, std: std1, sample: _s, deciles: _d, ...exact1 } = expected;
    expect(exact).toEqual(exact1);
    close(mean, mean1);
    close(std, std1);
    expect(sample).toHaveLength(SAMPLE_SIZE);
    const present = new Set(kept);
    expect(sample.every((v) => present.has(v))).toBe(true);
    expect(deciles).toHaveLength(9);
    // One value at a time, the same draws: the same sample.
    expect(oneByOne(kept, 'per-batch').sample).toEqual(sample);
  });

  it('sample every position of the column alike (skipping ahead as Li’s algorithm L does)', () => {
    // 200 columns of 20,000 values, each sampled with another seed: every tenth of the column should
    // hold a tenth of the 200,000 values sampled (a standard deviation of about 0.07 % of them).
    const values = Float64Array.from({ length: 20_000 }, (_, i) => i);
    const keep = new Uint8Array(4096).fill(1);
    const tenths = new Float64Array(10);
    for (let seed = 0; seed < 200; seed += 1) {
      const accumulator = numericAccumulator(seed, 0, 'per-batch');
      for (let i = 0; i < values.length; i += 4096)
        accumulator.addColumn(values, i, Math.min(4096, values.length - i), keep);
      for (const v of accumulator.finish().sample) {
        const tenth = Math.floor(v / 2000);
        tenths[tenth] = (tenths[tenth] ?? 0) + 1;
      }
    }
    for (const n of tenths) expect(Math.abs(n / 200_000 - 0.1)).toBeLessThan(0.004);
  });
});
