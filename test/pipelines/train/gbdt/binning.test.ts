import { describe, expect, it } from 'vitest';
import { BIN_SAMPLE_ROWS, binColumns, binThreshold } from '../../../../pipelines/train/gbdt/binning.ts';
import { createPrng } from '../../../../pipelines/train/gbdt/prng.ts';

/** Every split `bin < b` must be exactly `x < threshold(b)` in float32, for every row. */
function expectExactThresholds(column: Float32Array, bins: Uint8Array, cuts: Float32Array): void {
  for (let i = 0; i < column.length; i++) {
    if (Number.isNaN(column[i] as number) !== (bins[i] === 0)) throw new Error(`row ${i}: NaN iff bin 0`);
  }
  for (let b = 1; b <= cuts.length + 1; b++) {
    const t = binThreshold(cuts, b);
    expect(Math.fround(t)).toBe(t);
    for (let i = 0; i < column.length; i++) {
      const x = column[i] as number;
      const bin = bins[i] as number;
      if (bin !== 0 && bin < b !== x < t)
        throw new Error(`row ${i}: x=${x} bin=${bin} but threshold(${b})=${t}`);
    }
  }
}

describe('binColumns', () => {
  it('gives each of few distinct values its own bin and missing bin 0', () => {
    const column = Float32Array.from([3, 1, Number.NaN, 2, 1, 3, 3]);
    const { bins, cuts, slots } = binColumns([column], column.length, 255, 1);
    expect([...(cuts[0] as Float32Array)]).toEqual([1.5, 2.5]);
    expect([...(bins[0] as Uint8Array)]).toEqual([3, 1, 0, 2, 1, 3, 3]);
    expect(slots[0]).toBe(4);
  });

  it('reproduces the bin split exactly in float32, even between adjacent float32 values', () => {
    // Prepare: neighbours with no float32 between them, signed zeros, infinities, duplicates, NaN.
    const a = Math.fround(0.1);
    const next = new Float32Array(
      new Uint32Array([(new Uint32Array(Float32Array.of(a).buffer)[0] as number) + 1]).buffer,
    )[0] as number;
    const column = Float32Array.from([
      a,
      next,
      a,
      next,
      -0,
      0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      1e30,
      -1e-30,
    ]);

    // Act
    const { bins, cuts } = binColumns([column], column.length, 255, 1);

    // Assess
    const c = cuts[0] as Float32Array;
    expect(c).toContain(next);
    expectExactThresholds(column, bins[0] as Uint8Array, c);
  });

  it('uses at most maxBins value bins with roughly equal counts, a heavy value taking one bin', () => {
    // Prepare: 40 % zeros, the rest continuous.
    const rng = createPrng(3);
    const column = Float32Array.from({ length: 20_000 }, () =>
      rng.nextFloat() < 0.4 ? 0 : rng.nextFloat() * 100 - 50,
    );

    // Act
    const { bins, cuts, slots } = binColumns([column], column.length, 32, 1);

    // Assess
    expect(slots[0]).toBeLessThanOrEqual(33);
    const counts = new Array<number>(slots[0] as number).fill(0);
    for (const b of bins[0] as Uint8Array) counts[b] = (counts[b] as number) + 1;
    const zeroBin = (bins[0] as Uint8Array)[column.indexOf(0)] as number;
    expect(counts[zeroBin]).toBe(column.filter((x) => x === 0).length);
    const others = counts.filter((_, b) => b !== 0 && b !== zeroBin);
    // The 12 000 non-zero rows over the remaining bins: none more than twice its fair share.
    expect(Math.max(...others)).toBeLessThan((2 * 12_000) / others.length);
    expectExactThresholds(column, bins[0] as Uint8Array, cuts[0] as Float32Array);
  });

  it('places cuts from a row sample on large data and still bins every row exactly', () => {
    const rows = BIN_SAMPLE_ROWS + 50_000;
    const rng = createPrng(4);
    const column = Float32Array.from({ length: rows }, () =>
      rng.nextFloat() < 0.01 ? Number.NaN : rng.nextFloat() ** 3,
    );
    const { bins, cuts } = binColumns([column], rows, 255, 9);
    expect((cuts[0] as Float32Array).length).toBe(254);
    expectExactThresholds(column, bins[0] as Uint8Array, cuts[0] as Float32Array);
  });

  it('gives a constant or all-missing column one value bin', () => {
    const constant = Float32Array.from([5, 5, 5]);
    const missing = Float32Array.from([Number.NaN, Number.NaN, Number.NaN]);
    const { bins, cuts, slots } = binColumns([constant, missing], 3, 255, 1);
    expect([...slots]).toEqual([2, 2]);
    expect(cuts.map((c) => c.length)).toEqual([0, 0]);
    expect([...(bins[0] as Uint8Array)]).toEqual([1, 1, 1]);
    expect([...(bins[1] as Uint8Array)]).toEqual([0, 0, 0]);
  });

  it('rejects more bins than a byte holds', () => {
    expect(() => binColumns([Float32Array.of(1)], 1, 256, 1)).toThrow(
      /maxBins must be an integer in 2\.\.255/,
    );
  });
});
