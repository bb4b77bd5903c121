import { describe, expect, it } from 'vitest';
import { InputError } from '../../../pipelines/errors.ts';
import type { FeatureEncoding } from '../../../pipelines/model/types.ts';
import {
  encodeColumns,
  fitEncodings,
  MIN_CATEGORY_COUNT,
  type RawColumn,
} from '../../../pipelines/train/encoding.ts';

/** `count` copies of `value` with label `label`, as parallel arrays. */
function rows(spec: [value: string | null, count: number, positives: number][]): {
  values: (string | null)[];
  labels: number[];
} {
  const values: (string | null)[] = [];
  const labels: number[] = [];
  for (const [value, count, positives] of spec) {
    for (let i = 0; i < count; i++) {
      values.push(value);
      labels.push(i < positives ? 1 : 0);
    }
  }
  return { values, labels };
}

function categorical(encoding: FeatureEncoding | undefined) {
  if (encoding?.type !== 'categorical') throw new Error('expected a categorical encoding');
  return encoding;
}

function codeOf(encoding: FeatureEncoding | undefined, category: string): number {
  const e = categorical(encoding);
  const i = e.categories.indexOf(category);
  if (i < 0) throw new Error(`no code for ${category}`);
  return e.codes[i] as number;
}

describe('fitEncodings, target ordering', () => {
  it('orders binary categories by positive rate and pools rare ones into the unknown code', () => {
    // Prepare: rates lo 0.1, mid 0.5, hi 0.6; two rare categories that are all positive.
    const { values, labels } = rows([
      ['mid', 40, 20],
      ['hi', 30, 18],
      ['lo', 50, 5],
      ['rare1', MIN_CATEGORY_COUNT - 1, MIN_CATEGORY_COUNT - 1],
      ['rare2', 2, 2],
      [null, 10, 3],
    ]);

    // Act
    const [encoding] = fitEncodings(
      [{ name: 'c', type: 'categorical' }],
      [{ type: 'categorical', values }],
      Float64Array.from(labels),
      'binary',
      2,
      'target',
    );

    // Assess: kept categories only, codes are ranks of the smoothed rate (prior 52/136); the
    // all-positive rare pool ranks highest: (6 + 10·prior)/16 = 0.61 beats hi's (18 + 10·prior)/40 = 0.55.
    const e = categorical(encoding);
    expect([...e.categories].sort()).toEqual(['hi', 'lo', 'mid']);
    expect(codeOf(e, 'lo')).toBe(0);
    expect(codeOf(e, 'mid')).toBe(1);
    expect(codeOf(e, 'hi')).toBe(2);
    expect(e.unknownCode).toBe(3);
  });

  it('ranks the unknown code at the prior when no category is rare', () => {
    const { values, labels } = rows([
      ['a', 20, 2],
      ['b', 20, 18],
    ]);
    const [encoding] = fitEncodings(
      [{ name: 'c', type: 'categorical' }],
      [{ type: 'categorical', values }],
      Float64Array.from(labels),
      'binary',
      2,
      'target',
    );
    // prior 0.5 lies between a (0.1) and b (0.9).
    expect(codeOf(encoding, 'a')).toBe(0);
    expect(categorical(encoding).unknownCode).toBe(1);
    expect(codeOf(encoding, 'b')).toBe(2);
  });

  it('orders regression categories by their mean target', () => {
    const values = ['x', 'y', 'z'].flatMap((v) => Array<string>(10).fill(v));
    const means: Record<string, number> = { x: 5, y: -3, z: 1 };
    const labels = Float64Array.from(values, (v) => means[v] as number);
    const [encoding] = fitEncodings(
      [{ name: 'c', type: 'categorical' }],
      [{ type: 'categorical', values }],
      labels,
      'regression',
      0,
      'target',
    );
    expect(codeOf(encoding, 'y')).toBeLessThan(codeOf(encoding, 'z'));
    expect(codeOf(encoding, 'z')).toBeLessThan(codeOf(encoding, 'x'));
  });

  it('orders multiclass categories along their class mix (first principal component)', () => {
    // Prepare: A is mostly class 0, C mostly class 2, B half and half: B must sit between A and C.
    const values: string[] = [];
    const labels: number[] = [];
    const add = (v: string, counts: number[]) => {
      counts.forEach((n, c) => {
        for (let i = 0; i < n; i++) {
          values.push(v);
          labels.push(c);
        }
      });
    };
    add('C', [2, 2, 36]);
    add('A', [36, 2, 2]);
    add('B', [19, 2, 19]);

    // Act
    const [encoding] = fitEncodings(
      [{ name: 'c', type: 'categorical' }],
      [{ type: 'categorical', values }],
      Float64Array.from(labels),
      'multiclass',
      3,
      'target',
    );

    // Assess
    const a = codeOf(encoding, 'A');
    const b = codeOf(encoding, 'B');
    const c = codeOf(encoding, 'C');
    expect(Math.min(a, c)).toBeLessThan(b);
    expect(b).toBeLessThan(Math.max(a, c));
  });

  it('is deterministic: the same input gives the same codes', () => {
    const { values, labels } = rows([
      ['p', 10, 5],
      ['q', 10, 5],
      ['r', 12, 6],
    ]);
    const encode = () =>
      fitEncodings(
        [{ name: 'c', type: 'categorical' }],
        [{ type: 'categorical', values }],
        Float64Array.from(labels),
        'binary',
        2,
        'target',
      );
    expect(encode()).toEqual(encode());
  });
});

describe('fitEncodings, index ordering', () => {
  it('codes categories 0..K−1 by descending frequency with unknownCode −1', () => {
    const { values } = rows([
      ['b', 7, 0],
      ['a', 9, 0],
      ['c', 7, 0],
      ['rare', 1, 0],
    ]);
    const [encoding] = fitEncodings(
      [{ name: 'c', type: 'categorical' }],
      [{ type: 'categorical', values }],
      new Float64Array(0),
      'binary',
      2,
      'index',
    );
    expect(encoding).toEqual({
      name: 'c',
      type: 'categorical',
      categories: ['a', 'b', 'c'],
      codes: [0, 1, 2],
      unknownCode: -1,
    });
  });
});

describe('encodeColumns', () => {
  it('maps categories to codes, rare and unseen values to unknownCode, missing to NaN; numerics to float32', () => {
    // Prepare
    const { values, labels } = rows([
      ['lo', 10, 1],
      ['hi', 10, 9],
      ['rare', 2, 2],
    ]);
    const numeric = Float64Array.from(values, (_, i) => i + 0.1);
    const specs = [
      { name: 'n', type: 'numeric' as const },
      { name: 'c', type: 'categorical' as const },
    ];
    const train: RawColumn[] = [
      { type: 'numeric', values: numeric },
      { type: 'categorical', values },
    ];
    const encodings = fitEncodings(specs, train, Float64Array.from(labels), 'binary', 2, 'target');
    const unknown = categorical(encodings[1]).unknownCode;

    // Act
    const matrix = encodeColumns(encodings, [
      { type: 'numeric', values: Float64Array.from([0.1, Number.NaN, 3, 4]) },
      { type: 'categorical', values: ['hi', 'rare', 'never seen', null] },
    ]);

    // Assess
    expect(matrix.rows).toBe(4);
    expect([...(matrix.columns[0] as Float32Array)]).toEqual([Math.fround(0.1), Number.NaN, 3, 4]);
    expect([...(matrix.columns[1] as Float32Array)]).toEqual([
      codeOf(encodings[1], 'hi'),
      unknown,
      unknown,
      Number.NaN,
    ]);
  });
});

describe('encoding errors', () => {
  const specs = [{ name: 'c', type: 'categorical' as const }];
  const column: RawColumn = { type: 'categorical', values: ['a', 'b'] };

  it('rejects a column count that does not match the specs', () => {
    expect(() => fitEncodings(specs, [], new Float64Array(2), 'binary', 2, 'target')).toThrow(
      /got 0 columns for 1 features/,
    );
  });

  it('rejects a column whose type differs from its spec', () => {
    expect(() =>
      fitEncodings(
        specs,
        [{ type: 'numeric', values: new Float64Array(2) }],
        new Float64Array(2),
        'binary',
        2,
        'target',
      ),
    ).toThrow(/feature "c" is categorical but its column holds numeric values/);
  });

  it('rejects columns of different lengths', () => {
    const two = [
      { name: 'c', type: 'categorical' as const },
      { name: 'n', type: 'numeric' as const },
    ];
    expect(() =>
      encodeColumns(
        [
          { name: 'c', type: 'categorical', categories: [], codes: [], unknownCode: 0 },
          { name: 'n', type: 'numeric' },
        ],
        [column, { type: 'numeric', values: new Float64Array(3) }],
      ),
    ).toThrow(InputError);
    expect(() =>
      fitEncodings(
        two,
        [column, { type: 'numeric', values: new Float64Array(3) }],
        new Float64Array(2),
        'binary',
        2,
        'target',
      ),
    ).toThrow(/feature "n" has 3 values but the first column has 2/);
  });

  it('rejects labels that do not fit the task or the row count (target ordering)', () => {
    expect(() => fitEncodings(specs, [column], Float64Array.from([0, 2]), 'binary', 2, 'target')).toThrow(
      /row 1 has label 2; expected 0 or 1/,
    );
    expect(() => fitEncodings(specs, [column], Float64Array.from([0, 3]), 'multiclass', 3, 'target')).toThrow(
      /expected an integer class index in \[0, 2\]/,
    );
    expect(() => fitEncodings(specs, [column], new Float64Array(5), 'binary', 2, 'target')).toThrow(
      /got 5 labels for 2 rows/,
    );
  });
});
