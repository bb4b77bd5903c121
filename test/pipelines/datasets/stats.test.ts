/**
 * The faster accumulators keep the manifest statistics exactly as they were: the sample draws the
 * same numbers (the same generator, the same bounded draws), and counting categories by code counts what adding them one by one counted — the
 * distinct-value cap included.
 */
import { describe, expect, it } from 'vitest';
import { categoricalAccumulator, numericAccumulator } from '../../../pipelines/datasets/stats.ts';
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
