/**
 * Random CSV files for the equivalence tests of the fast CSV path: random schemas, and cells drawn
 * from everything a data file holds in practice — numbers in every notation the rules accept or
 * refuse, missing tokens, spaces, quotes, commas and line breaks inside quoted values, any line ending,
 * a byte order mark, empty lines — and, on request, broken structure.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureSpec, Task } from '../../pipelines/config/schema.ts';
import type { TableSchema } from '../../pipelines/data/table.ts';
import { createPrng, type Prng, shuffleInPlace } from '../../pipelines/train/gbdt/prng.ts';

const NUMBERS = [
  '0',
  '1',
  '-1',
  '42',
  '007',
  '3.25',
  '-0',
  '-0.0',
  '+5',
  '.5',
  '5.',
  '-.5',
  '+.5',
  '1e5',
  '1E-3',
  '2.5e+10',
  '-7.125e-2',
  '5.e3',
  '.5e1',
  '1e400',
  '-1e400',
  '1e-400',
  '0x1F',
  '0b101',
  '1_000',
  '12345678901234567890',
  '0.1234567890123456789',
  '9007199254740993',
  '900719925474099.3',
  '9007199254740992',
  '123456789012345.6',
  '1.7976931348623157e308',
  '4.9e-324',
  ' 7',
  '7 ',
  '\t3',
  '\u00a05',
  '1 2',
  'NaN',
  'Infinity',
  '-Infinity',
  'abc',
  '1.2.3',
  '--1',
  '.',
  'e5',
  '1e',
  '1e+',
  '+',
  '-',
  '\u0663',
  '1,5',
  '0.000001',
  '100000000000000000000000',
  '1.5E+300',
  '6.02214076e23',
];
const MISSING = ['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', 'None', '?', ' NA ', '  ', '\tnull'];
const WORDS = [
  'lisbon',
  'porto',
  'faro',
  'Zürich',
  'São Paulo',
  'new york',
  'a,b',
  'say "hi"',
  'multi\nline',
  'x\r\ny',
  '日本',
  '🙂',
  'A',
  'a',
  ' A',
  'A ',
  '12',
  '1.0',
  'true',
  "o'neil",
  'tab\there',
  'a-very-long-category-name-that-goes-well-beyond-sixty-four-bytes-of-utf8-text',
];
const TIMES = [
  '2001-01-02T10:00',
  '2001-01-01',
  '2001/01/03 08:00',
  '2020-02-30',
  'yesterday',
  '',
  '1999-12-31T23:59:59Z',
];

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.nextInt(items.length)] as T;
}

/** A random schema of 1 to 4 features (names f0 …), a target `y` and sometimes a time column `t`. */
export function randomSchema(prng: Prng): TableSchema {
  const task = pick<Task>(prng, ['binary', 'multiclass', 'regression']);
  const features: FeatureSpec[] = Array.from({ length: 1 + prng.nextInt(4) }, (_, j) => {
    const numeric = prng.nextFloat() < 0.5;
    const nullable = prng.nextFloat() < 0.7;
    const spec: FeatureSpec = { name: `f${j}`, type: numeric ? 'numeric' : 'categorical', nullable };
    if (numeric && prng.nextFloat() < 0.25) return { ...spec, range: { min: 0, max: 900 } };
    if (!numeric && prng.nextFloat() < 0.2) return { ...spec, values: ['lisbon', 'porto', 'faro', 'A'] };
    return spec;
  });
  return { features, task, target: 'y', timeColumn: prng.nextFloat() < 0.2 ? 't' : undefined };
}

/** Options of {@link randomCsv}. */
export interface RandomCsvOptions {
  readonly rows: number;
  /** Chance of a cell drawn from the awkward lists rather than a clean value. @default 0.15 */
  readonly awkward?: number;
  /** Break the structure once (unclosed quote, stray quote, bad closing quote, wrong field count). */
  readonly broken?: boolean;
  /** Distinct clean categories per column (beyond the cache of codes when large). @default 6 */
  readonly categories?: number;
}

function quoteIfNeeded(prng: Prng, cell: string): string {
  const must = /[",\r\n]/.test(cell) || cell.startsWith('\ufeff');
  if (!must && prng.nextFloat() > 0.05) return cell;
  return `"${cell.replaceAll('"', '""')}"`;
}

/** The text of a random CSV file for `schema`, with an extra column `extra` nobody reads. */
export function randomCsv(prng: Prng, schema: TableSchema, options: RandomCsvOptions): string {
  const awkward = options.awkward ?? 0.15;
  const categories = options.categories ?? 6;
  const columns: { name: string; kind: string; values?: readonly string[] | undefined }[] = [
    ...schema.features.map((f) => ({ name: f.name, kind: f.type as string, values: f.values })),
    { name: schema.target, kind: schema.task === 'regression' ? 'numeric-target' : 'class' },
    ...(schema.timeColumn === undefined ? [] : [{ name: schema.timeColumn, kind: 'time' }]),
    { name: 'extra', kind: 'extra' },
  ];
  // Column order in the file is shuffled, so the pass cannot rely on it.
  shuffleInPlace(columns, prng);
  const cell = (kind: string, row: number, values: readonly string[] | undefined): string => {
    const odd = prng.nextFloat() < awkward;
    switch (kind) {
      case 'numeric':
        if (odd) return prng.nextFloat() < 0.5 ? pick(prng, NUMBERS) : pick(prng, MISSING);
        return prng.nextFloat() < 0.5
          ? String(prng.nextInt(1000))
          : (prng.nextFloat() * 1000 - 100).toFixed(prng.nextInt(4));
      case 'categorical':
        if (odd) return prng.nextFloat() < 0.5 ? pick(prng, WORDS) : pick(prng, MISSING);
        return values === undefined ? `c${prng.nextInt(categories)}` : pick(prng, values);
      case 'numeric-target':
        if (odd) return prng.nextFloat() < 0.7 ? '' : pick(prng, NUMBERS);
        return (prng.nextFloat() * 10).toFixed(3);
      case 'class':
        if (odd) return prng.nextFloat() < 0.7 ? '' : pick(prng, [...WORDS, ...MISSING]);
        return schema.task === 'binary' ? pick(prng, ['yes', 'no']) : pick(prng, ['low', 'mid', 'high']);
      case 'time':
        return odd ? pick(prng, TIMES) : `2001-01-${String(1 + (row % 28)).padStart(2, '0')}`;
      default:
        return odd ? pick(prng, [...WORDS, ...NUMBERS]) : String(row);
    }
  };
  const eol = pick(prng, ['\n', '\n', '\r\n', '\r']);
  const lines = [columns.map((c) => quoteIfNeeded(prng, c.name)).join(',')];
  for (let row = 0; row < options.rows; row += 1) {
    if (prng.nextFloat() < 0.02) lines.push('');
    lines.push(columns.map((c) => quoteIfNeeded(prng, cell(c.kind, row, c.values))).join(','));
  }
  if (options.broken === true && lines.length > 1) {
    const at = 1 + prng.nextInt(lines.length - 1);
    const line = lines[at] ?? '';
    lines[at] = pick(prng, [
      `${line},"unclosed`,
      `${line}x"y`,
      `"ab"c,${line}`,
      `${line},more`,
      line.slice(0, line.lastIndexOf(',')),
      `${line}"`,
    ]);
  }
  const bom = prng.nextFloat() < 0.1 ? '\ufeff' : '';
  const end = prng.nextFloat() < 0.8 ? eol : '';
  return `${bom}${lines.join(eol)}${end}`;
}

/** Writes `text` to `dir/name` and returns the path. */
export async function writeCsv(dir: string, name: string, text: string | Uint8Array): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** A seeded generator for a test case. */
export function prngFor(seed: number): Prng {
  return createPrng(seed);
}
