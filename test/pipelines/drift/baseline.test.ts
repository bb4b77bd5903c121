import { describe, expect, it } from 'vitest';
import {
  binIndex,
  buildBaseline,
  categoricalBaseline,
  numericBaseline,
  RESERVOIR_SIZE,
} from '../../../pipelines/drift/baseline.ts';

describe('numeric baseline', () => {
  it('decile edges with open ends and equal reference shares', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    const b = numericBaseline(values, 1);
    expect(b.edges).toHaveLength(9);
    expect(b.edges[0]).toBe(100);
    expect(b.shares).toHaveLength(10);
    for (const s of b.shares) expect(Math.abs(s - 0.1)).toBeLessThanOrEqual(0.002);
    expect(b.shares.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 12);
    expect(b).toMatchObject({ count: 1000, nullRate: 0, min: 1, max: 1000, mean: 500.5 });
    expect(b.std).toBeCloseTo(Math.sqrt((1000 * 1000 - 1) / 12), 8);
  });

  it('missing values count in the null rate, not in the bins', () => {
    const b = numericBaseline([1, Number.NaN, 3, Number.NaN], 1);
    expect(b.nullRate).toBe(0.5);
    expect(b.shares.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 12);
  });

  it('a discrete feature gets distinct edges only', () => {
    const b = numericBaseline(
      Float64Array.from({ length: 100 }, (_, i) => i % 2),
      1,
    );
    expect(b.edges).toEqual([0, 1]);
    expect(b.shares).toEqual([0, 0.5, 0.5]);
  });

  it('the reservoir sample is bounded, sorted and reproducible', () => {
    const values = Float64Array.from({ length: 20_000 }, (_, i) => i);
    const a = numericBaseline(values, 7);
    expect(a.sample).toHaveLength(RESERVOIR_SIZE);
    expect([...a.sample].sort((x, y) => x - y)).toEqual(a.sample);
    expect(numericBaseline(values, 7).sample).toEqual(a.sample);
    expect(numericBaseline(values, 8).sample).not.toEqual(a.sample);
    // A uniform sample of 0..19999 has a mean near 10000.
    expect(Math.abs(a.sample.reduce((s, v) => s + v, 0) / RESERVOIR_SIZE - 10_000)).toBeLessThan(400);
  });

  it('binIndex places values on edges into the upper bin', () => {
    expect([
      binIndex([1, 2], 0.5),
      binIndex([1, 2], 1),
      binIndex([1, 2], 1.5),
      binIndex([1, 2], 2),
      binIndex([1, 2], 9),
    ]).toEqual([0, 1, 1, 2, 2]);
  });
});

describe('categorical baseline', () => {
  it('top categories, __other__, the domain and the null rate', () => {
    const values: (string | null)[] = [];
    for (let c = 0; c < 25; c += 1)
      for (let k = 0; k <= c; k += 1) values.push(`c${String(c).padStart(2, '0')}`);
    values.push(null);
    const b = categoricalBaseline(values);
    const n = values.length - 1;
    expect(Object.keys(b.shares)).toHaveLength(21);
    expect(b.shares.c24).toBeCloseTo(25 / n, 12);
    expect(b.shares.__other__).toBeCloseTo((1 + 2 + 3 + 4 + 5) / n, 12);
    expect(b.domain).toHaveLength(25);
    expect(b.nullRate).toBeCloseTo(1 / values.length, 12);
  });
});

describe('buildBaseline', () => {
  it('covers every feature and prediction column', () => {
    const b = buildBaseline(
      {
        x: { type: 'numeric', values: Float64Array.of(1, 2, 3) },
        c: { type: 'categorical', values: ['a', 'b', 'a'] },
      },
      {
        'probability:yes': { type: 'numeric', values: Float64Array.of(0.2, 0.9) },
        label: { type: 'categorical', values: ['no', 'yes'] },
      },
      3,
      42,
    );
    expect(Object.keys(b.features)).toEqual(['x', 'c']);
    expect(Object.keys(b.predictions)).toEqual(['probability:yes', 'label']);
    expect(b.predictions.label).toMatchObject({ type: 'categorical', shares: { no: 0.5, yes: 0.5 } });
  });
});
