import { describe, expect, it } from 'vitest';
import { InputError } from '../../../pipelines/errors.ts';
import { encodeRows } from '../../../pipelines/model/predict.ts';
import type { FeatureEncoding } from '../../../pipelines/model/types.ts';
import { onnxFeeds } from '../../../pipelines/onnx/inputs.ts';

const FEATURES: FeatureEncoding[] = [
  { name: 'n', type: 'numeric' },
  { name: 'c', type: 'categorical', categories: ['a', 'b'], codes: [1, 0], unknownCode: 2 },
];

describe('onnxFeeds', () => {
  it('builds one [N,1] feed per feature: float32 numerics, NaN and "" for missing', () => {
    // Act
    const feeds = onnxFeeds(FEATURES, [
      { n: 1.1, c: 'a' },
      { n: null, c: null },
      {},
      { n: Number.NaN, c: 7 },
    ]);
    // Assess
    expect(feeds.n?.type).toBe('float32');
    expect(Array.from(feeds.n?.data as Float32Array)).toEqual([
      Math.fround(1.1),
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ]);
    expect(feeds.c).toEqual({ type: 'string', data: ['a', '', '', '7'], dims: [4, 1] });
    expect(feeds.n?.dims).toEqual([4, 1]);
  });

  it('ignores inherited properties: a feature called "constructor" absent from a row is missing', () => {
    const feeds = onnxFeeds([{ name: 'constructor', type: 'categorical' }], [{}]);
    expect(feeds.constructor).toEqual({ type: 'string', data: [''], dims: [1, 1] });
  });

  it('keeps a feature called "__proto__" as a feed of its own', () => {
    const name = '__proto__';
    // A row as JSON.parse makes one: "__proto__" an own key.
    const row = JSON.parse('{"__proto__":"q"}') as Record<string, string>;
    const feeds = onnxFeeds([{ name, type: 'categorical' }], [row]);
    expect(Object.keys(feeds)).toEqual([name]);
    expect(Object.getOwnPropertyDescriptor(feeds, name)?.value).toEqual({
      type: 'string',
      data: ['q'],
      dims: [1, 1],
    });
  });

  it('rejects a string sent for a numeric feature, naming the row and feature', () => {
    expect(() => onnxFeeds(FEATURES, [{ n: 1 }, { n: '2' }])).toThrow(InputError);
    expect(() => onnxFeeds(FEATURES, [{ n: 1 }, { n: '2' }])).toThrow(/row 1: feature "n" is numeric/);
  });
});

describe('encodeRows (the reference encoding)', () => {
  it('maps categories to codes, unseen to unknownCode and missing ("", null, absent) to NaN', () => {
    const matrix = encodeRows(FEATURES, [{ c: 'a' }, { c: 'b' }, { c: 'z' }, { c: '' }, { c: null }, {}]);
    expect(Array.from(matrix.columns[1] as Float32Array)).toEqual([
      1,
      0,
      2,
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ]);
  });
});
