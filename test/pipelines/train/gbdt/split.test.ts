import { describe, expect, it } from 'vitest';
import { findBestSplit } from '../../../../pipelines/train/gbdt/split.ts';

/** One feature's histogram: [g, h] per slot, slot 0 = missing. */
function histogram(...slots: [number, number][]): { hist: Float64Array; slots: Int32Array } {
  return { hist: Float64Array.from(slots.flat()), slots: Int32Array.of(slots.length) };
}

const offsets = Int32Array.of(0);
const features = Int32Array.of(0);

describe('findBestSplit', () => {
  it('finds the split with the largest XGBoost gain, computed by hand', () => {
    // Prepare: no missing rows; bins (g, h) = (−2, 2), (−1, 2), (3, 2); G = 0, H = 6, λ = 1.
    // t=1: 4/3 + 4/5 = 2.133…; t=2: 9/5 + 9/3 = 4.8 (minus the parent's 0²/7 = 0).
    const { hist, slots } = histogram([0, 0], [-2, 2], [-1, 2], [3, 2]);

    // Act
    const split = findBestSplit(hist, offsets, slots, features, 0, 6, 1, 0);

    // Assess: bins < 3 go left; with no missing rows, missing follows the heavier child (left, H 4 vs 2).
    expect(split).not.toBeNull();
    expect(split?.bin).toBe(3);
    expect(split?.gain).toBeCloseTo(4.8, 12);
    expect(split).toMatchObject({
      feature: 0,
      missingLeft: true,
      gradLeft: -3,
      hessLeft: 4,
      gradRight: 3,
      hessRight: 2,
    });
  });

  it('respects minChildWeight on both children', () => {
    const { hist, slots } = histogram([0, 0], [-2, 2], [-1, 2], [3, 2]);
    expect(findBestSplit(hist, offsets, slots, features, 0, 6, 1, 2.5)).toBeNull();
  });

  it('learns the direction of missing values: with the low bins when they look alike', () => {
    // Prepare: missing rows (−4, 2) resemble bin 1 (−2, 1); bin 2 is (6, 3). G = 0, H = 6.
    const { hist, slots } = histogram([-4, 2], [-2, 1], [6, 3]);

    // Act
    const split = findBestSplit(hist, offsets, slots, features, 0, 6, 1, 0);

    // Assess: left = missing + bin 1 = (−6, 3), right = (6, 3): gain 36/4 + 36/4 = 18.
    expect(split).toMatchObject({ bin: 2, missingLeft: true, gradLeft: -6, hessLeft: 3 });
    expect(split?.gain).toBeCloseTo(18, 12);
  });

  it('can split missing against present values (bin 1, missing left)', () => {
    const { hist, slots } = histogram([6, 3], [-3, 3]);
    const split = findBestSplit(hist, offsets, slots, features, 3, 6, 1, 0);
    expect(split).toMatchObject({ bin: 1, missingLeft: true, gradLeft: 6, hessLeft: 3 });
  });

  it('returns null when no split gains anything', () => {
    const { hist, slots } = histogram([0, 0], [1, 2], [1, 2]);
    expect(findBestSplit(hist, offsets, slots, features, 2, 4, 1, 0)).toBeNull();
  });
});
