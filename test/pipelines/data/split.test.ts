import { describe, expect, it } from 'vitest';
import { splitRows } from '../../../pipelines/data/split.ts';

const options = { seed: 42, validationFraction: 0.15, testFraction: 0.15 };

function union(...parts: Uint32Array[]): number[] {
  return parts.flatMap((p) => [...p]).sort((a, b) => a - b);
}

describe('splitRows', () => {
  it('a random split is a deterministic partition of every row', () => {
    const a = splitRows(1000, options);
    const b = splitRows(1000, options);
    expect(a.method).toBe('random');
    expect([a.train.length, a.validation.length, a.test.length]).toEqual([700, 150, 150]);
    expect(union(a.train, a.validation, a.test)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(b).toEqual(a);
    expect(splitRows(1000, { ...options, seed: 7 }).test).not.toEqual(a.test);
  });

  it('a time split puts the oldest rows in train and the newest in test', () => {
    // Rows are in reverse time order in the file.
    const time = Float64Array.from({ length: 100 }, (_, i) => 1000 - i);
    const split = splitRows(100, options, time);
    expect(split.method).toBe('time');
    expect([...split.test]).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect([...split.validation]).toEqual(Array.from({ length: 15 }, (_, i) => 15 + i));
    expect(Math.min(...split.train)).toBe(30);
  });

  it('a stratified split keeps the share of a rare class in every part', () => {
    const classes = Float64Array.from({ length: 1000 }, (_, i) => (i % 20 === 0 ? 1 : 0));
    const split = splitRows(1000, options, undefined, classes);
    expect(split.method).toBe('stratified');
    const positives = (part: Uint32Array) => [...part].filter((i) => classes[i] === 1).length;
    expect([positives(split.train), positives(split.validation), positives(split.test)]).toEqual([34, 8, 8]);
    expect(union(split.train, split.validation, split.test)).toHaveLength(1000);
  });

  it('refuses too few rows', () => {
    expect(() => splitRows(2, options)).toThrow(/2 rows are too few to split/);
  });
});
