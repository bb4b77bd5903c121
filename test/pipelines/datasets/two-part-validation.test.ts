/**
 * A CSV file validated in two parts at once — the first on this thread, the second on a worker —
 * against the same file validated in one pass on one thread: the same rows, dropped rows, classes and
 * missing counts, the same errors with the same row numbers in the same order and the same stop after
 * 20, the same malformed-record errors with the same lines, the same whole-file verdicts; and the same
 * statistics but for the numeric samples, which must still be samples of the column, and the rounding
 * of the mean and variance. Files whose split falls inside a quoted field, or cannot be split, are read
 * in one part with the same result.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TableSchema } from '../../../pipelines/data/table.ts';
import { validateWithStats } from '../../../pipelines/datasets/column-stats.ts';
import type { ColumnStats } from '../../../pipelines/datasets/stats.ts';
import { prngFor, randomCsv, randomSchema, writeCsv } from '../../helpers/push-csv-gen.ts';
import { tempDir } from '../../helpers/tmp.ts';
import {
  expectSameStats,
  numericValues,
  type Outcome,
  outcome,
  shown,
  stepwise,
} from '../../helpers/two-part.ts';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-two-parts-');
});

const schema: TableSchema = {
  features: [
    { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
    { name: 'income', type: 'numeric', nullable: false },
    { name: 'city', type: 'categorical', nullable: true },
    { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'plus', 'pro'] },
  ],
  task: 'multiclass',
  target: 'outcome',
};
const HEADER = 'age,income,city,plan,outcome';

/** `n` indexes: `from`, `from + step` … */
function range(n: number, step = 1, from = 0): number[] {
  return Array.from({ length: n }, (_, k) => from + k * step);
}

/** A good row of `schema` for row index i (ages, incomes and cities vary; a few ages missing). */
function goodRow(i: number, cities = ['lisbon', 'porto', 'faro'], classes = ['stay', 'churn']): string {
  const age = i % 11 === 0 ? '' : String(18 + ((i * 7) % 70));
  const income = (800 + ((i * 7919) % 400_000) / 100).toFixed(2);
  return `${age},${income},${cities[i % cities.length]},${['basic', 'plus', 'pro'][i % 3]},${classes[i % classes.length]}`;
}

/** `n` good rows from index `from`. */
function goodRows(n: number, from = 0, cities?: string[], classes?: string[]): string[] {
  return Array.from({ length: n }, (_, k) => goodRow(from + k, cities, classes));
}

/**
 * Validates `file` in one pass and in two parts, and checks the two agree; returns the parts the
 * two-part pass used (for a refused file: whether the first part paused at the split).
 */
async function compare(file: string, s: TableSchema = schema): Promise<{ parts: 1 | 2; one: Outcome }> {
  const one = await outcome(validateWithStats(file, s, { bytes: 0, threads: 1 }));
  const two = await outcome(validateWithStats(file, s, { bytes: 0, threads: 2, split: true }));
  if (!one.ok) {
    expect(two.ok).toBe(false);
    if (!two.ok) expect(shown(two.error)).toEqual(shown(one.error));
    const joined = await stepwise(file, s);
    if (joined?.error !== undefined) expect(shown(joined.error)).toEqual(shown(one.error));
    return { parts: joined?.paused ? 2 : 1, one };
  }
  if (!two.ok) throw two.error;
  expect(two.value.summary).toEqual(one.value.summary);
  const values = await numericValues(file, s);
  expect(Object.keys(two.value.stats)).toEqual(Object.keys(one.value.stats));
  for (const [name, stats] of Object.entries(one.value.stats)) {
    expectSameStats(expect, name, two.value.stats[name] as ColumnStats, stats, values.get(name));
  }
  return { parts: two.value.parts, one };
}

async function file(name: string, lines: readonly string[], eol = '\n', end = eol): Promise<string> {
  return writeCsv(dir, name, `${lines.join(eol)}${end}`);
}

describe('a file validated in two parts gives what one pass gives', () => {
  it('a clean file, with dropped rows in both parts and categories and classes first seen in the second', async () => {
    const rows = [
      ...goodRows(3000),
      ...goodRows(3000, 3000, ['lisbon', 'porto', 'faro', 'braga', 'NA'], ['stay', 'churn', 'gone']),
    ].map((row, i) => (i % 97 === 3 ? row.replace(/,[a-z]+$/, ',') : row));

    const { parts, one } = await compare(await file('clean.csv', [HEADER, ...rows]));

    expect(parts).toBe(2);
    expect(one.ok && one.value.summary.droppedRows).toBeGreaterThan(50);
    expect(one.ok && one.value.summary.classes).toEqual(['churn', 'gone', 'stay']);
  });

  it('a regression target and a time column', async () => {
    const timed: TableSchema = {
      features: [{ name: 'x', type: 'numeric', nullable: true }],
      task: 'regression',
      target: 'y',
      timeColumn: 't',
    };
    const rows = Array.from(
      { length: 5000 },
      (_, i) =>
        `${i % 13 ? i / 3 : 'NA'},2001-02-${String(1 + (i % 28)).padStart(2, '0')},${(i * 37) % 1001}`,
    );

    const { parts, one } = await compare(await file('timed.csv', ['x,t,y', ...rows]), timed);

    expect(parts).toBe(2);
    expect(one.ok && one.value.summary.hasTime).toBe(true);
  });

  it.each([
    ['in the first part only', [100, 900], [], 2],
    ['in the second part only', [], [10, 2500], 2],
    ['in both parts', [5, 2999], [0, 1, 2999], 2],
    ['more than 20 in each part (the first part stops)', range(30, 50), range(30, 40), 1],
    ['more than 20 in the second part', [7], range(40, 1, 100), 2],
    ['19 in the first part, then a row with three', range(19, 3), [-5], 2],
  ])('errors %s', async (_, first, second, expected) => {
    // Row k of a part is made bad at the listed indices; -5 makes the 5th row bad in three columns.
    const bad = (part: number[], k: number): string | undefined => {
      if (part.includes(-5) && k === 5) return '130,lots,porto,gold,stay';
      if (!part.includes(k)) return undefined;
      return k % 3 === 0
        ? '200,10,porto,pro,stay'
        : k % 3 === 1
          ? '30,,porto,basic,churn'
          : '30,abc,faro,basic,stay';
    };
    const a = goodRows(3000).map((row, k) => bad(first, k) ?? row);
    const b = goodRows(3000, 3000).map((row, k) => bad(second, k) ?? row);
    const { parts, one } = await compare(
      await file(`bad-${first.length}-${second.length}.csv`, [HEADER, ...a, ...b]),
    );

    expect(one.ok).toBe(false);
    expect(parts).toBe(expected);
  });

  it('numbers errors after the first part’s empty lines, dropped rows and multi-line values as one pass does', async () => {
    const a = goodRows(3000).flatMap((row, k) =>
      k % 200 === 0
        ? ['', row.replace('lisbon', '"lis\nbon"')]
        : [row.replace(/,[a-z]+$/, k % 7 === 0 ? ',' : '$&')],
    );
    const b = goodRows(3000, 3000).map((row, k) => (k === 2000 ? row.replace('pro', 'premium') : row));

    const { parts, one } = await compare(await file('numbering.csv', [HEADER, ...a, ...b]));

    expect(parts).toBe(2);
    expect(one.ok).toBe(false);
    expect(shown(!one.ok && one.error)).toMatchObject({ message: /row 5001, column "plan"/ });
  });

  it.each([
    ['fields', (row: string) => `${row},extra`],
    ['unclosed', (row: string) => `${row.replace(/,[a-z]+$/, ',"stay')}`],
    ['quote', (row: string) => row.replace(/,([a-z]+),/, ',$1"x,')],
  ])('a malformed record in the second part (%s), with its line in the file', async (name, breakRow) => {
    const a = goodRows(3000).flatMap((row, k) =>
      k % 300 === 0 ? ['', row.replace('faro', '"fa\nro"')] : [row],
    );
    const b = goodRows(3000, 3000).map((row, k) => (k === 1500 ? breakRow(row) : row));

    const { parts, one } = await compare(await file(`malformed-${name}.csv`, [HEADER, ...a, ...b]));

    expect(parts).toBe(2);
    expect(one.ok).toBe(false);
    expect(shown(!one.ok && one.error)).toMatchObject({ syntax: { line: expect.any(Number) } });
  });

  it('a malformed record in the second part after bad values in the first', async () => {
    const withErrors = (n: number) =>
      goodRows(3000).map((row, k) => (k < n ? row.replace('basic', 'gold').replace('plus', 'gold') : row));
    const b = goodRows(3000, 3000).map((row, k) => (k === 10 ? `${row},extra` : row));
    for (const [n, expected] of [
      [3, 2],
      [60, 1],
    ]) {
      const { parts, one } = await compare(
        await file(`malformed-after-${n}.csv`, [HEADER, ...withErrors(n as number), ...b]),
      );
      expect(one.ok).toBe(false);
      expect(parts).toBe(expected);
    }
  });

  it('the whole-file rules on the two parts together', async () => {
    const rows = (n: number, from: number, edit: (row: string) => string) =>
      goodRows(n, from).map((row) => edit(row));
    const noAge = (row: string) => row.replace(/^\d*,/, ',');
    const stay = (row: string) => row.replace(/,[a-z]+$/, ',stay');
    const churn = (row: string) => row.replace(/,[a-z]+$/, ',churn');
    const noTarget = (row: string) => row.replace(/,[a-z]+$/, ',');
    const cases: [string, string[]][] = [
      ['age-missing-everywhere', [...rows(3000, 0, noAge), ...rows(3000, 3000, noAge)]],
      ['age-missing-in-first', [...rows(3000, 0, noAge), ...rows(3000, 3000, (r) => r)]],
      ['one-class', [...rows(3000, 0, stay), ...rows(3000, 3000, stay)]],
      ['one-class-per-part', [...rows(3000, 0, stay), ...rows(3000, 3000, churn)]],
      ['no-target', [...rows(3000, 0, noTarget), ...rows(3000, 3000, noTarget)]],
      ['no-rows', ['', '', ...Array.from({ length: 3000 }, () => '')]],
    ];
    const verdicts: [boolean, number][] = [];
    for (const [name, lines] of cases) {
      const { parts, one } = await compare(await file(`${name}.csv`, [HEADER, ...lines]));
      verdicts.push([one.ok, parts]);
    }
    expect(verdicts).toEqual([
      [false, 2],
      [true, 2],
      [false, 2],
      [true, 2],
      [false, 2],
      [false, 2],
    ]);
  });
});

describe('the split and the boundary', () => {
  it('CRLF records, with CRLF and lone LF inside quoted values', async () => {
    const rows = goodRows(6000).map((row, k) =>
      k % 250 === 0 ? row.replace('porto', k % 500 === 0 ? '"por\r\nto"' : '"por\nto"') : row,
    );
    const { parts } = await compare(await file('crlf.csv', [HEADER, ...rows], '\r\n'));
    expect(parts).toBe(2);
  });

  it('CR records', async () => {
    const { parts } = await compare(await file('cr.csv', [HEADER, ...goodRows(6000)], '\r'));
    expect(parts).toBe(2);
  });

  it('a UTF-8 byte order mark', async () => {
    const { parts } = await compare(await file('bom.csv', [`\ufeff${HEADER}`, ...goodRows(6000)]));
    expect(parts).toBe(2);
  });

  it('quoted values with line breaks across the middle: the first part reads on, one pass', async () => {
    // Two equal halves around a long quoted value with line breaks: the middle is inside it, and the
    // first line break after the middle is one of its own.
    for (const eol of ['\n', '\r\n']) {
      const long = `"${range(400)
        .map((k) => `line ${k}`)
        .join(eol)}"`;
      const rows = [...goodRows(3000), goodRow(1).replace('porto', long), ...goodRows(3000)];
      const path = await file(`quoted-middle-${eol.length}.csv`, [HEADER, ...rows], eol);
      const { parts } = await compare(path);
      expect(parts).toBe(1);
    }
  });

  it('the only line break near the middle inside quotes: one pass', async () => {
    const special = `30,10.00,"${'x'.repeat(300)}\ny",basic,stay`;
    const text = `${[HEADER, ...goodRows(3000), special, ...goodRows(3000)].join('\n')}\n`;
    const middle = Math.floor(text.length / 2);
    expect(text.indexOf('\n', middle)).toBe(text.indexOf('\ny"'));

    const { parts } = await compare(await writeCsv(dir, 'inside-quotes.csv', text));

    expect(parts).toBe(1);
  });

  it('quoted line breaks in the record just before the split: two parts', async () => {
    const lines = [HEADER, ...goodRows(6000)];
    const text = `${lines.join('\n')}\n`;
    // The record holding the middle byte, and the one before it, which gets a quoted line break in
    // place of its city (same length, so the split does not move).
    let at = 0;
    let record = 0;
    while (at + (lines[record] as string).length + 1 <= Math.floor(text.length / 2)) {
      at += (lines[record] as string).length + 1;
      record += 1;
    }
    const before = (lines[record - 1] as string).split(',');
    before[2] = `"${'x'.repeat((before[2] as string).length - 3)}\n"`;
    lines[record - 1] = before.join(',');

    const { parts } = await compare(await file('break-before-split.csv', lines));

    expect(parts).toBe(2);
  });

  it('no line break after the middle, or only the last byte: one pass', async () => {
    const long = `"${'x'.repeat(200_000)}"`;
    const rows = [...goodRows(100), goodRow(100).replace('porto', long)];
    const { parts } = await compare(await file('no-break.csv', [HEADER, ...rows], '\n', ''));
    expect(parts).toBe(1);
    const last = await compare(await file('last-byte.csv', [HEADER, ...rows]));
    expect(last.parts).toBe(1);
  });

  it('a UTF-16 file, and a feature that is also the time column: one pass', async () => {
    const text = `${[HEADER, ...goodRows(3000)].join('\n')}\n`;
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect((await compare(await writeCsv(dir, 'utf16.csv', utf16))).parts).toBe(1);
    const shared: TableSchema = {
      features: [{ name: 'day', type: 'categorical', nullable: false }],
      task: 'binary',
      target: 'y',
      timeColumn: 'day',
    };
    const days = Array.from(
      { length: 4000 },
      (_, i) => `2001-01-${String(1 + (i % 28)).padStart(2, '0')},${i % 2}`,
    );
    expect((await compare(await file('shared.csv', ['day,y', ...days]), shared)).parts).toBe(1);
  });

  it('random files: every dialect, quoted line breaks, empty lines, broken records', async () => {
    for (let k = 0; k < 40; k += 1) {
      const prng = prngFor(70_000 + k);
      const s = randomSchema(prng);
      const text = randomCsv(prng, s, {
        rows: 1500 + prng.nextInt(3000),
        awkward: [0, 0.01, 0.05, 0.2][k % 4],
        broken: k % 5 === 0,
        categories: k % 6 === 0 ? 3000 : 6,
      });
      await compare(await writeCsv(dir, `random-${k}.csv`, text), s);
    }
  });

  it('a second part whose worker cannot start: one pass', async () => {
    // A schema that cannot be copied to a worker thread (a function in it) stops the worker at its
    // start; the statistics thread of the one-part pass is given no schema and starts.
    const uncopyable = { ...schema, note: () => 'not cloneable' };
    const path = await file('no-worker.csv', [HEADER, ...goodRows(6000)]);

    const result = await validateWithStats(path, uncopyable, { bytes: 0, threads: 2, split: true });

    expect(result).toMatchObject({ parts: 1, threads: 2 });
    const one = await validateWithStats(path, schema, { bytes: 0, threads: 1 });
    expect({ ...result, threads: 1 }).toEqual(one);
  });

  it('the same bytes give the same statistics, byte for byte', async () => {
    const path = await file('same.csv', [HEADER, ...goodRows(8000)]);
    const first = await validateWithStats(path, schema, { bytes: 0, threads: 2, split: true });
    const again = await validateWithStats(path, schema, { bytes: 0, threads: 2, split: true });
    expect(first.parts).toBe(2);
    expect(JSON.stringify(again.stats)).toBe(JSON.stringify(first.stats));
  });
});
