/**
 * A differential fuzz of the two-part validation of a CSV file (`validateWithStats` with `split`,
 * `csv-split.ts`): a few hundred seeded files, most of them small, each built so that the middle byte
 * — where the split is looked for — lands on a chosen byte of a chosen line: inside a quoted value
 * holding line breaks, doubled quotes or commas, on a multi-byte character, on an empty line, on a
 * malformed record or next to one; with every line ending (and `\r\n` rows in a `\n` file), a byte
 * order mark, a last line with or without a line break, bad values and dropped rows on either side of
 * the split (0, 19, 20, 21 or 40 problems), classes and categories first seen after it, and the
 * whole-file rules. Each file is validated in two parts and in one pass on one thread, and the two
 * must agree: the same summary, or the same refusal (message, details, hint, malformed record and
 * line); the same statistics but the numeric samples (which must still be values of the column) and
 * the rounding of the mean and standard deviation.
 *
 * Whether a file is split is worked out here, from its bytes and from what the generator put where:
 * it is validated in two parts exactly when the first record delimiter at or after the middle byte
 * ends a record, and the pass over the first part neither stopped at 20 problems nor met a malformed
 * record on the way. That is checked against the pass itself, so the fuzz cannot pass by never
 * splitting.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import { type TableSchema, tableSchemaOf } from '../../../pipelines/data/table.ts';
import { validateWithStats } from '../../../pipelines/datasets/column-stats.ts';
import type { ColumnStats } from '../../../pipelines/datasets/stats.ts';
import { type Prng, shuffleInPlace } from '../../../pipelines/train/gbdt/prng.ts';
import { prngFor, writeCsv } from '../../helpers/push-csv-gen.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { expectSameStats, numericValues, outcome, shown, stepwise } from '../../helpers/two-part.ts';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-two-part-fuzz-');
});

// ---------------------------------------------------------------------------------------------------
// The schemas

type Variant = 'multiclass' | 'binary' | 'regression' | 'timed';

const FEATURES = [
  { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
  { name: 'income', type: 'numeric', nullable: false },
  { name: 'city', type: 'categorical', nullable: true },
  { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'plus', 'pro'] },
];

function schemaOf(variant: Variant): TableSchema {
  return tableSchemaOf(
    parseConfig({
      project: { name: 'two-part-fuzz' },
      task: variant === 'timed' ? 'multiclass' : variant,
      target: 'outcome',
      features: FEATURES,
      ...(variant === 'timed' ? { training: { split: { timeColumn: 't' } } } : {}),
    }),
  );
}

const SCHEMAS: Record<Variant, TableSchema> = {
  multiclass: schemaOf('multiclass'),
  binary: schemaOf('binary'),
  regression: schemaOf('regression'),
  timed: schemaOf('timed'),
};

// ---------------------------------------------------------------------------------------------------
// The files

type EolKind = 'lf' | 'crlf' | 'cr' | 'mixed';
const EOLS: Record<EolKind, string> = { lf: '\n', crlf: '\r\n', cr: '\r', mixed: '\n' };

/** How a record is broken (`spaces`: a line of spaces, one field). */
type Malformation =
  | 'extra'
  | 'extra-quoted'
  | 'missing'
  | 'stray-quote'
  | 'closing-quote'
  | 'unclosed'
  | 'spaces';
const MALFORMATIONS: readonly Malformation[] = [
  'extra',
  'extra-quoted',
  'missing',
  'stray-quote',
  'closing-quote',
  'unclosed',
  'spaces',
];

/** One line of a file after the header: a row, an empty line, a broken record. */
interface Item {
  readonly kind: 'row' | 'blank' | 'malformed';
  /** The cells of a row (or of the row a broken record was made from) as written, by column. */
  readonly cells?: Record<string, string>;
  readonly way?: Malformation;
  /** A row of a mixed file that ends with `\r\n` (then its last cell reads with a `\r`). */
  readonly crlf?: boolean;
  /** Problems one pass records for the row (0 when its target is missing: it is dropped). */
  readonly errors: number;
}

/** What kind of file, for the test names and the count of files by kind. */
type Kind =
  | 'quoted-middle'
  | 'malformed-middle'
  | 'errors'
  | 'multibyte-middle'
  | 'blank-middle'
  | 'stray-breaks'
  | 'first-seen-in-second'
  | 'verdicts'
  | 'edge'
  | 'large'
  | 'many-categories'
  | 'chunked';

/** A generated file and what is expected of it. */
interface FuzzFile {
  readonly name: string;
  readonly kind: Kind;
  readonly variant: Variant;
  readonly eol: EolKind;
  readonly bom: boolean;
  readonly finalEol: boolean;
  readonly bytes: Buffer;
  /** Parts the file is validated in (see the module comment). */
  readonly parts: 1 | 2;
  /**
   * Problems the generator put before the split (those one pass reads before stopping) and after it
   * (all of them after it when there is no split).
   */
  readonly errors: readonly [number, number];
}

/** Quoted, with quotes doubled. */
function q(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.nextInt(items.length)] as T;
}

function chance(prng: Prng, p: number): boolean {
  return prng.nextFloat() < p;
}

/** Quoted values holding what ends records elsewhere: line breaks, doubled quotes, commas. */
const AWKWARD = [
  'x\ny',
  'a\r\nb',
  '\n',
  '\r\n',
  '\r',
  'he said "hi"',
  '"',
  '""',
  'a,b,c',
  ',',
  'ü\n日本',
  '🙂\r\n🙂',
  'end\n',
  '\nstart',
  'cr\ronly',
  'lf,\n,"q",\r\n',
  'Zürich "ZH", CH',
  '',
];
/** Values with multi-byte UTF-8 characters. */
const MULTIBYTE = ['日本語', '🙂🙂', 'Zürich', 'naïve', 'São Paulo', 'üüüüü', '€', 'Ελλάδα', 'x🙂y'];
const CITIES = ['lisbon', 'porto', 'faro', 'Zürich', 'São Paulo', '日本', 'naïve', '', 'NA', 'None'];
const SECOND_ONLY_CITIES = [
  'braga',
  '🙂',
  'évora',
  'a-city-name-well-over-sixty-four-bytes-long-so-it-gets-no-code-at-all',
];
/**
 * Unquoted line breaks that are not the record delimiter, so ordinary bytes of a value (and lines of
 * the file): never a `\r` before a `\n` in a `\r\n` file.
 */
const STRAY: Record<EolKind, readonly string[]> = {
  lf: ['a\rb', 'x\r', '\rz'],
  mixed: ['a\rb', '\rz'],
  crlf: ['a\nb', 'a\rb', '\nz', 'z\n'],
  cr: ['a\nb', 'z\n'],
};

/** Bad cells, by column: each is one problem in a row that is not dropped. */
const BAD: Record<string, readonly string[]> = {
  age: ['130', '-1', '121', 'old', '12a', '1e400', q('1,5')],
  income: ['abc', '', 'NA', '1.2.3', '--1', q('12,5'), '?'],
  plan: ['gold', 'Basic', '', 'NA', q('pro '), 'plüs'],
  t: ['yesterday', '', '2001-13-45'],
  outcome: ['abc', q('1,5'), '1e999'],
};

/** A file being generated: its columns, line ending, lines, and where its middle byte is. */
class Builder {
  readonly prng: Prng;
  readonly variant: Variant;
  readonly eolKind: EolKind;
  /** The record delimiter: the header's line break. */
  readonly eol: string;
  readonly columns: string[];
  /** The header's names as written, by column (quoted, spaced, with a line break …). */
  readonly names: Record<string, string> = {};
  readonly bom: boolean;
  /** Whether the header and the last line have a line break. */
  headerEol = true;
  finalEol: boolean;
  readonly items: Item[] = [];
  /** Classes of the rows up to the split and after it; cities after it. */
  classesA: readonly string[];
  classesB: readonly string[];
  citiesB: readonly string[] = CITIES;
  /** Incomes negative (and zeros of both signs), so the maximum can be a zero. */
  readonly negative: boolean;
  /** Chance of an unquoted stray line break in a city. */
  stray = 0;

  constructor(prng: Prng, options: { variant?: Variant; eol?: EolKind } = {}) {
    this.prng = prng;
    this.variant =
      options.variant ??
      pick<Variant>(prng, ['multiclass', 'multiclass', 'binary', 'binary', 'regression', 'timed']);
    this.eolKind = options.eol ?? pick<EolKind>(prng, ['lf', 'lf', 'crlf', 'crlf', 'cr', 'mixed']);
    this.eol = EOLS[this.eolKind];
    this.bom = chance(prng, 0.2);
    this.finalEol = chance(prng, 0.8);
    this.negative = chance(prng, 0.15);
    const columns = ['age', 'income', 'city', 'plan', 'outcome', 'pad'];
    if (this.variant === 'timed') columns.push('t');
    shuffleInPlace(columns, prng);
    // The note (never read) holds most awkward values; in a mixed file it is last, to take the `\r`
    // of the rows that end with `\r\n`.
    if (this.eolKind === 'mixed') columns.push('note');
    else columns.splice(prng.nextInt(columns.length + 1), 0, 'note');
    this.columns = columns;
    for (const c of columns) {
      const r = prng.nextFloat();
      this.names[c] = r < 0.1 ? q(c) : r < 0.15 ? ` ${c} ` : c;
    }
    if (chance(prng, 0.1)) this.names.note = q('no\nte');
    const multi = this.variant === 'multiclass' || this.variant === 'timed';
    this.classesA = multi ? ['stay', 'churn', 'gone'] : ['yes', 'no'];
    this.classesB = this.classesA;
  }

  /** A good row's cells; `i` is its index among the rows, `second` whether it comes after the split. */
  good(i: number, second: boolean): Record<string, string> {
    const prng = this.prng;
    const age =
      prng.nextFloat() < 0.8
        ? String(18 + prng.nextInt(70))
        : pick(prng, ['', 'NA', '-0', '0', '0.0', '-0.0', q('42'), ' 35 ', '120', '7.', '.5']);
    const amount = (100 + prng.nextFloat() * 5000).toFixed(prng.nextInt(3));
    let income = chance(prng, 0.9) ? amount : pick(prng, ['1e3', '+5', '.5', '0', '-0.0', q('12.5'), '7.']);
    if (this.negative) income = chance(prng, 0.1) ? pick(prng, ['0', '-0', '0.0', '-0.0']) : `-${amount}`;
    const r = prng.nextFloat();
    const city =
      r < 0.08
        ? q(pick(prng, AWKWARD))
        : r < 0.08 + this.stray
          ? pick(prng, STRAY[this.eolKind])
          : pick(prng, second ? this.citiesB : CITIES);
    const plan = pick(prng, ['basic', 'plus', 'pro']);
    const outcome =
      this.variant === 'regression'
        ? chance(prng, 0.9)
          ? (prng.nextFloat() * 100 - 20).toFixed(3)
          : pick(prng, ['0', '-0', '12', q('3.5'), '1e2'])
        : pick(prng, second ? this.classesB : this.classesA);
    const day = String(1 + (i % 28)).padStart(2, '0');
    const t = chance(prng, 0.8) ? `2001-01-${day}` : `2001/02/${day} 08:30`;
    const note = chance(prng, 0.12) ? q(pick(prng, AWKWARD)) : chance(prng, 0.1) ? '' : `n${i}`;
    return { age, income, city, plan: chance(prng, 0.05) ? q(plan) : plan, outcome, t, note, pad: '' };
  }

  /** Makes `cells` bad in `count` different columns; returns the problems made. */
  spoil(cells: Record<string, string>, count: number): number {
    const columns = ['age', 'income', 'plan'];
    if (this.variant === 'timed') columns.push('t');
    if (this.variant === 'regression') columns.push('outcome');
    let made = 0;
    for (; made < count && columns.length > 0; made += 1) {
      const column = columns.splice(this.prng.nextInt(columns.length), 1)[0] as string;
      cells[column] = pick(this.prng, BAD[column] as readonly string[]);
    }
    return made;
  }

  row(cells: Record<string, string>, errors = 0): Item {
    return { kind: 'row', cells, errors, crlf: this.eolKind === 'mixed' && chance(this.prng, 0.3) };
  }

  blank(): Item {
    return { kind: 'blank', errors: 0 };
  }

  malformed(cells: Record<string, string>, way = pick(this.prng, MALFORMATIONS)): Item {
    return { kind: 'malformed', cells, way, errors: 0 };
  }

  /** The text of `item`, line break excluded. */
  text(item: Item): string {
    if (item.kind === 'blank') return '';
    if (item.way === 'spaces') return '  ';
    const cells = { ...(item.cells as Record<string, string>) };
    if (item.way === 'stray-quote') cells.city = 'ab"c';
    if (item.way === 'closing-quote') cells.city = '"ab"c';
    if (item.way === 'unclosed') cells.city = '"unclosed';
    const line = this.columns
      .filter((c) => item.way !== 'missing' || c !== 'note')
      .map((c) => cells[c])
      .join(',');
    if (item.way === 'extra') return `${line},extra`;
    if (item.way === 'extra-quoted') return `${line},${q('x\ny')}`;
    return line;
  }

  /**
   * The line break `item` ends with: the file's, or `\r\n` for a row of a mixed file so marked —
   * unless its last value is quoted (a `\r` after the closing quote would break the record).
   */
  eolOf(item: Item): string {
    if (item.crlf !== true) return this.eol;
    const last = item.cells?.[this.columns[this.columns.length - 1] as string] ?? '';
    return last.startsWith('"') ? this.eol : '\r\n';
  }

  /** The file's bytes, where the records start, and where each item starts and ends. */
  render(): { bytes: Buffer; dataStart: number; starts: number[]; ends: number[] } {
    const header = `${this.bom ? '\ufeff' : ''}${this.columns.map((c) => this.names[c]).join(',')}`;
    const parts = [`${header}${this.headerEol ? this.eol : ''}`];
    const dataStart = Buffer.byteLength(parts[0] as string);
    const starts: number[] = [];
    const ends: number[] = [];
    let at = dataStart;
    this.items.forEach((item, k) => {
      const last = k === this.items.length - 1;
      const text = `${this.text(item)}${last && !this.finalEol ? '' : this.eolOf(item)}`;
      starts.push(at);
      at += Buffer.byteLength(text);
      ends.push(at);
      parts.push(text);
    });
    return { bytes: Buffer.from(parts.join('')), dataStart, starts, ends };
  }

  /**
   * Pads the first and last lines (their `pad` column, never read) so that the middle byte of the
   * file is byte `offset` of item `target`, its line break included: padding the last line by 2d
   * moves the middle d bytes on; padding the first by 2d moves the item d bytes further than the middle.
   */
  aim(target: number, offset: number): void {
    const first = this.items[0]?.cells;
    const last = this.items[this.items.length - 1]?.cells;
    if (first === undefined || last === undefined || target < 1 || target >= this.items.length - 1) {
      throw new Error('aim needs the target between a first and a last line with cells');
    }
    const { bytes, starts } = this.render();
    const excess = Math.floor(bytes.length / 2) - ((starts[target] as number) + offset);
    const padded = excess > 0 ? first : last;
    padded.pad = `${padded.pad}${'x'.repeat(2 * Math.abs(excess))}`;
    const after = this.render();
    if (Math.floor(after.bytes.length / 2) !== (after.starts[target] as number) + offset) {
      throw new Error('the middle byte missed its target');
    }
  }

  /**
   * Aims the middle byte at item `k`: at one of its line breaks, quotes, commas or multi-byte
   * characters (those `filter` keeps, if any), its first byte or just past it, or a byte next to one.
   */
  aimAt(k: number, filter?: (bytes: Buffer, i: number) => boolean): void {
    const item = this.items[k] as Item;
    const bytes = Buffer.from(`${this.text(item)}${this.eolOf(item)}`);
    const all: number[] = [0, bytes.length];
    bytes.forEach((b, i) => {
      if (b === 0x0a || b === 0x0d || b === 0x22 || b === 0x2c || b >= 0x80) all.push(i, i + 1);
    });
    const kept = all.filter((i) => filter === undefined || filter(bytes, i));
    const shift = pick(this.prng, [0, 0, 0, -1, 1]);
    const offset = pick(this.prng, kept.length > 0 ? kept : all) + shift;
    this.aim(k, Math.min(bytes.length, Math.max(0, offset)));
  }

  /** The file, with the parts it is expected to be validated in (see the module comment). */
  finish(kind: Kind, name: string): FuzzFile {
    const { bytes, dataStart, ends } = this.render();
    const size = bytes.length;
    // As `splitOffset` finds it.
    const found = bytes.indexOf(this.eol, Math.max(dataStart, Math.floor(size / 2)));
    const start =
      !this.headerEol || found < 0 || found + this.eol.length >= size ? undefined : found + this.eol.length;
    // Records end after each line's line break (in a mixed file, after `\r\n` too), up to an
    // unclosed quote.
    const boundaries = new Set<number>();
    for (const [k, item] of this.items.entries()) {
      if (item.way === 'unclosed') break;
      boundaries.add(ends[k] as number);
    }
    let before = 0;
    let after = 0;
    let stops = false;
    for (const [k, item] of this.items.entries()) {
      if (start !== undefined && (ends[k] as number) <= start) {
        if (item.kind === 'malformed') stops = true;
        if (!stops) before += item.errors;
        if (before >= 20) stops = true;
      } else after += item.errors;
    }
    const parts = start !== undefined && boundaries.has(start) && !stops ? 2 : 1;
    const { variant, eolKind: eol, bom, finalEol } = this;
    return { name, kind, variant, eol, bom, finalEol, bytes, parts, errors: [before, after] };
  }
}

/**
 * Rows `0 … n-1`, the first `s + 1` before the split: problems on the rows listed in `errors` (a row
 * listed twice gets two), missing targets on `dropped` rows without problems.
 */
function rows(b: Builder, n: number, s: number, plan: { errors?: readonly number[]; dropped?: number } = {}) {
  const prng = b.prng;
  const cells = Array.from({ length: n }, (_, i) => b.good(i, i > s));
  const wanted = new Array<number>(n).fill(0);
  for (const at of plan.errors ?? []) wanted[at] = (wanted[at] as number) + 1;
  const made = wanted.map((count, i) => (count > 0 ? b.spoil(cells[i] as Record<string, string>, count) : 0));
  for (let d = 0; d < (plan.dropped ?? 0); d += 1) {
    const i = 1 + prng.nextInt(n - 2);
    if (made[i] === 0) (cells[i] as Record<string, string>).outcome = pick(prng, ['', 'NA', ' ']);
  }
  return cells.map((c, i) => b.row(c, made[i]));
}

/**
 * Rows for `count` problems, on distinct rows of `[from, to)` (a row may take two or three), spilling
 * over to the rows around while `[from, to)` is full, within `[1, limit)`.
 */
function problemRows(prng: Prng, count: number, from: number, to: number, limit: number): number[] {
  const out: number[] = [];
  const used = new Set<number>();
  let [lo, hi] = [from, to];
  for (let left = count; left > 0; ) {
    if (used.size >= hi - lo) [lo, hi] = [Math.max(1, lo - 3), Math.min(limit, hi + 3)];
    const row = lo + prng.nextInt(hi - lo);
    if (used.has(row)) continue;
    used.add(row);
    const many = Math.min(left, chance(prng, 0.2) ? 2 + prng.nextInt(2) : 1);
    for (let k = 0; k < many; k += 1) out.push(row);
    left -= many;
  }
  return out;
}

/** Blank lines now and then between the rows (never first or last). */
function sprinkleBlanks(b: Builder, p: number): void {
  for (let i = b.items.length - 2; i >= 1; i -= 1) if (chance(b.prng, p)) b.items.splice(i, 0, b.blank());
}

/** The `k`th file of `kind`, from its own seed. */
function fileFor(kind: Kind, k: number, seed: number): FuzzFile {
  const prng = prngFor(seed);
  const name = `${kind}-${k}`;
  switch (kind) {
    case 'quoted-middle': {
      const b = new Builder(prng);
      const n = 20 + prng.nextInt(200);
      const s = Math.floor(n / 2) + prng.nextInt(5) - 2;
      const errors = chance(prng, 0.3) ? problemRows(prng, 1 + prng.nextInt(3), 1, n - 1, n - 1) : [];
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(4), errors }));
      // The row at the middle holds an awkward quoted value, and its neighbours may.
      for (let d = -1; d <= 1; d += 1) {
        const cells = (b.items[s + d] as Item).cells as Record<string, string>;
        if (d === 0 || chance(prng, 0.5)) cells.note = q(pick(prng, AWKWARD.slice(0, -1)));
        if (chance(prng, 0.3)) cells.city = q(pick(prng, AWKWARD));
      }
      if (chance(prng, 0.3)) sprinkleBlanks(b, 0.02);
      const target = b.items.findIndex((item) => item.cells === (rowsOf(b)[s] as Item).cells);
      b.aimAt(target + pick(prng, [0, 0, 0, -1, 1]), (bytes, i) => bytes[i] !== 0x2c);
      return b.finish(kind, name);
    }
    case 'malformed-middle': {
      const b = new Builder(prng);
      const n = 20 + prng.nextInt(200);
      const s = Math.floor(n / 2);
      const count = pick(prng, [0, 0, 1, 19, 20]);
      b.items.push(
        ...rows(b, n, s, { dropped: prng.nextInt(3), errors: problemRows(prng, count, 1, s, n - 1) }),
      );
      const at = s + pick(prng, [-1, 0, 1, 2]);
      const broken = b.malformed(b.good(at, at > s));
      if (chance(prng, 0.5)) b.items.splice(at, 0, broken);
      else b.items[at] = broken;
      // A second one, or the last line broken (with or without its line break).
      if (chance(prng, 0.25)) {
        const last = b.items[b.items.length - 1] as Item;
        b.items[b.items.length - 1] = b.malformed(
          last.cells as Record<string, string>,
          pick(prng, ['extra', 'missing', 'closing-quote', 'unclosed']),
        );
      } else if (chance(prng, 0.3)) b.items.splice(at + 2 + prng.nextInt(5), 0, b.malformed(b.good(0, true)));
      b.aimAt(s + pick(prng, [-1, 0, 0, 1]));
      return b.finish(kind, name);
    }
    case 'errors': {
      // k runs over every count and placement.
      const count = [0, 19, 20, 21, 40][k % 5] as number;
      const placement = ['first', 'second', 'both', 'middle'][Math.floor(k / 5) % 4] as string;
      const b = new Builder(prng);
      const n = 120 + prng.nextInt(200);
      const s = Math.floor(n / 2);
      let errors: number[];
      if (placement === 'first') errors = problemRows(prng, count, 1, s + 1, s + 1);
      else if (placement === 'second') errors = problemRows(prng, count, s + 1, n - 1, n - 1);
      else if (placement === 'middle') errors = problemRows(prng, count, s - 3, s + 4, n - 1);
      else {
        const a = count === 0 ? 0 : prng.nextInt(count + 1);
        errors = [
          ...problemRows(prng, a, 1, s + 1, s + 1),
          ...problemRows(prng, count - a, s + 1, n - 1, n - 1),
        ];
      }
      b.items.push(...rows(b, n, s, { errors, dropped: prng.nextInt(6) }));
      if (chance(prng, 0.3)) sprinkleBlanks(b, 0.02);
      b.aimAt(b.items.findIndex((item) => item.cells === (rowsOf(b)[s] as Item).cells));
      return b.finish(kind, `${name}-${count}-${placement}`);
    }
    case 'multibyte-middle': {
      const b = new Builder(prng);
      const n = 20 + prng.nextInt(150);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(3) }));
      for (let d = -1; d <= 1; d += 1) {
        const cells = (b.items[s + d] as Item).cells as Record<string, string>;
        cells.city = pick(prng, MULTIBYTE);
        if (chance(prng, 0.5)) {
          cells.note = chance(prng, 0.5)
            ? q(`${pick(prng, MULTIBYTE)}${b.eol}${pick(prng, MULTIBYTE)}`)
            : pick(prng, MULTIBYTE);
        }
      }
      // On a byte of a character that is not its first.
      b.aimAt(s, (bytes, i) => ((bytes[i] ?? 0) & 0xc0) === 0x80);
      return b.finish(kind, name);
    }
    case 'blank-middle': {
      const b = new Builder(prng, { eol: pick<EolKind>(prng, ['lf', 'crlf', 'cr']) });
      const n = 20 + prng.nextInt(150);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(3) }));
      const blanks = 1 + prng.nextInt(3);
      const at = s + pick(prng, [0, 1]);
      b.items.splice(at, 0, ...Array.from({ length: blanks }, () => b.blank()));
      if (chance(prng, 0.5))
        b.items.splice(at + blanks + 1 + prng.nextInt(3), 0, b.malformed(b.good(0, true), 'spaces'));
      b.aimAt(at + prng.nextInt(blanks + 1) - prng.nextInt(2));
      return b.finish(kind, name);
    }
    case 'stray-breaks': {
      // Line breaks that are not the record delimiter, unquoted: ordinary bytes that still count as
      // lines, right at the middle; and now and then a header name with a quoted line break.
      const b = new Builder(prng, { eol: pick<EolKind>(prng, ['lf', 'crlf', 'cr', 'mixed']) });
      b.stray = 0.1;
      const n = 20 + prng.nextInt(150);
      const s = Math.floor(n / 2);
      const errors = problemRows(prng, pick(prng, [0, 1, 5]), s + 1, n - 1, n - 1);
      b.items.push(...rows(b, n, s, { errors, dropped: prng.nextInt(3) }));
      for (let d = -1; d <= 1; d += 1) {
        ((b.items[s + d] as Item).cells as Record<string, string>).city = pick(prng, STRAY[b.eolKind]);
      }
      if (chance(prng, 0.4))
        b.items.splice(s + 2 + prng.nextInt(5), 0, b.malformed(b.good(0, true), 'extra'));
      b.aimAt(s, (bytes, i) => bytes[i] === 0x0a || bytes[i] === 0x0d);
      return b.finish(kind, name);
    }
    case 'first-seen-in-second': {
      const b = new Builder(prng);
      if (b.variant !== 'regression') {
        b.classesA = pick(prng, [[b.classesA[0] as string], b.classesA.slice(0, 2)]);
        b.classesB = [...b.classesA].reverse().concat(b.variant === 'binary' ? ['no'] : ['gone', 'left']);
      }
      b.citiesB = [...SECOND_ONLY_CITIES, ...CITIES];
      const n = 30 + prng.nextInt(200);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(10) }));
      b.aimAt(s);
      return b.finish(kind, name);
    }
    case 'verdicts': {
      const b = new Builder(prng);
      const n = 20 + prng.nextInt(100);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s));
      const rule = k % 6;
      b.items.forEach((item, i) => {
        const cells = item.cells as Record<string, string>;
        // A feature missing in every row, or in every row of one part; one class, or one per part;
        // every target missing.
        if (rule === 0 || (rule === 4 && i <= s) || (rule === 5 && i > s))
          cells.age = pick(prng, ['', 'NA', ' ']);
        if (rule === 1 && b.variant !== 'regression') cells.outcome = i > s ? 'other' : 'one';
        if (rule === 2 && b.variant !== 'regression') cells.outcome = 'one';
        if (rule === 3) cells.outcome = pick(prng, ['', 'NA']);
      });
      b.aimAt(s);
      return b.finish(kind, name);
    }
    case 'edge':
      return edgeFile(prng, k, name);
    case 'large': {
      const b = new Builder(prng);
      const n = 1100 + prng.nextInt(1500);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(30) }));
      b.aimAt(s + prng.nextInt(3) - 1);
      return b.finish(kind, name);
    }
    case 'many-categories': {
      // More distinct cities and classes than the caches of codes hold, many first seen after the split.
      const b = new Builder(prng, { variant: 'multiclass' });
      const n = 5000 + prng.nextInt(1000);
      const s = Math.floor(n / 2);
      b.items.push(...rows(b, n, s, { dropped: prng.nextInt(20) }));
      b.items.forEach((item, i) => {
        const cells = item.cells as Record<string, string>;
        cells.city = `c${prng.nextInt(i > s ? 6000 : 3000)}`;
        cells.outcome = `k${prng.nextInt(i > s ? 5000 : 2500)}`;
      });
      b.aimAt(s);
      return b.finish(kind, name);
    }
    case 'chunked': {
      // Two to three megabytes: each part fills its buffer more than once, the first part's last fill
      // stops at the split; awkward quoted values around the first buffer's end.
      const b = new Builder(prng, { eol: pick<EolKind>(prng, ['lf', 'crlf']) });
      const n = 40_000 + prng.nextInt(15_000);
      const s = Math.floor(n / 2);
      const late = k % 3 === 1 ? problemRows(prng, 3, n - 500, n - 1, n - 1) : [];
      b.items.push(...rows(b, n, s, { errors: late, dropped: prng.nextInt(40) }));
      let at = 0;
      b.items.forEach((item) => {
        const cells = item.cells as Record<string, string>;
        at += Buffer.byteLength(b.text(item)) + 1;
        if (Math.abs(at - (1 << 20)) < 4000) cells.note = q(`${pick(prng, MULTIBYTE)}${pick(prng, AWKWARD)}`);
      });
      if (k % 3 === 2) b.items.splice(n - 300, 0, b.malformed(b.good(0, true), 'extra-quoted'));
      b.aimAt(s);
      return b.finish(kind, name);
    }
  }
}

/** The rows of a file (its items but the empty lines and broken records). */
function rowsOf(b: Builder): Item[] {
  return b.items.filter((item) => item.kind === 'row');
}

/** Tiny files: no rows, one row, a long header, the only line break after the middle the last byte … */
function edgeFile(prng: Prng, k: number, name: string): FuzzFile {
  const b = new Builder(prng);
  const shape = k % 8;
  const good = (i: number) => b.row(b.good(i, false));
  if (shape === 0) b.headerEol = chance(prng, 0.5);
  if (shape === 1) b.items.push(b.blank(), b.blank());
  if (shape === 2) b.items.push(good(0));
  if (shape === 3) b.items.push(good(0), good(1));
  if (shape === 4) {
    // A header longer than the rest: the middle is in it, the split after the first record.
    b.names.note = q(`${'n'.repeat(300)}\n${'m'.repeat(300)}`);
    b.items.push(...[b.blank(), good(0), b.blank(), good(1), good(2)].slice(prng.nextInt(2)));
  }
  if (shape === 5) {
    // A long last row: the only line break after the middle is the last byte, or there is none.
    const last = b.good(2, false);
    last.note = 'z'.repeat(400);
    b.items.push(good(0), good(1), b.row(last));
  }
  if (shape === 6) {
    // A long quoted value with line breaks in the last row: the split falls inside it.
    const last = b.good(2, false);
    last.note = q(Array.from({ length: 60 }, (_, i) => `line ${i}`).join(b.eol));
    b.items.push(good(0), good(1), b.row(last));
  }
  if (shape === 7) b.items.push(good(0), b.malformed(b.good(1, false), 'extra'), good(2));
  return b.finish('edge', `${name}-shape${shape}`);
}

const COUNTS: readonly [Kind, number][] = [
  ['quoted-middle', 40],
  ['malformed-middle', 32],
  ['errors', 40],
  ['multibyte-middle', 16],
  ['blank-middle', 16],
  ['stray-breaks', 12],
  ['first-seen-in-second', 12],
  ['verdicts', 12],
  ['edge', 16],
  ['large', 4],
  ['many-categories', 2],
  ['chunked', 3],
];

const FILES: FuzzFile[] = COUNTS.flatMap(([kind, count], g) =>
  Array.from({ length: count }, (_, k) => fileFor(kind, k, 0x2fa11 + (g * 1000 + k) * 7919)),
);

// ---------------------------------------------------------------------------------------------------
// The comparison

/** What the runs saw, for the check that the corpus covers what it should. */
const seen = { twoParts: 0, accepted: 0, refused: 0, refusedAfterSplit: 0, syntax: 0, stopped: 0 };

/**
 * Validates `f` in two parts and in one pass and checks they agree, and that the two-part path was
 * taken exactly when `f.parts` says.
 */
async function compare(ex: typeof expect, path: string, f: FuzzFile, s = SCHEMAS[f.variant]): Promise<void> {
  const one = await outcome(validateWithStats(path, s, { bytes: 0, threads: 1 }));
  const two = await outcome(validateWithStats(path, s, { bytes: 0, threads: 2, split: true }));
  const steps = await stepwise(path, s);
  ex(steps?.paused ?? false, 'the first part paused at the split').toBe(f.parts === 2);
  if (!one.ok) {
    ex(two.ok, 'two parts refuse the file too').toBe(false);
    if (!two.ok) ex(shown(two.error)).toEqual(shown(one.error));
    if (steps !== undefined) ex(shown(steps.error)).toEqual(shown(one.error));
    seen.refused += 1;
    if (f.parts === 2) seen.refusedAfterSplit += 1;
    if ((shown(one.error) as { syntax?: unknown }).syntax !== undefined) seen.syntax += 1;
    if ((one.error as Error).message.includes('reading stopped')) seen.stopped += 1;
    return;
  }
  if (!two.ok) throw two.error;
  seen.accepted += 1;
  ex(two.value.summary).toEqual(one.value.summary);
  if (steps !== undefined) ex(steps.summary).toEqual(one.value.summary);
  ex(two.value.parts, 'parts').toBe(f.parts);
  // A file read in one part may still have its statistics accumulated on a second thread.
  if (f.parts === 2) {
    ex(two.value.threads, 'threads').toBe(2);
    seen.twoParts += 1;
  }
  const values = await numericValues(path, s);
  ex(Object.keys(two.value.stats)).toEqual(Object.keys(one.value.stats));
  for (const [name, stats] of Object.entries(one.value.stats)) {
    expectSameStats(ex, name, two.value.stats[name] as ColumnStats, stats, values.get(name));
  }
}

describe.concurrent('two parts agree with one pass on fuzzed files', () => {
  it.for(FILES.map((f) => [f.name, f] as const))('%s', async ([, f], { expect: ex }) => {
    await compare(ex, await writeCsv(dir, `${f.name}.csv`, f.bytes), f);
  });
});

describe('the corpus', () => {
  it('splits, refuses and stops as often as it should', () => {
    // Every kind aimed at the middle has files read in two parts and files read in one.
    for (const kind of ['quoted-middle', 'malformed-middle', 'errors', 'multibyte-middle', 'edge']) {
      const files = FILES.filter((f) => f.kind === kind);
      expect(files.some((f) => f.parts === 2) && files.some((f) => f.parts === 1), kind).toBe(true);
    }
    for (const eol of ['lf', 'crlf', 'cr', 'mixed']) {
      expect(FILES.filter((f) => f.eol === eol && f.parts === 2).length, eol).toBeGreaterThan(10);
    }
    expect(FILES.filter((f) => f.bom && f.parts === 2).length).toBeGreaterThan(10);
    expect(FILES.filter((f) => !f.finalEol && f.parts === 2).length).toBeGreaterThan(10);
    expect(seen.twoParts).toBeGreaterThan(60);
    expect(seen.refusedAfterSplit).toBeGreaterThan(30);
    expect(seen.syntax).toBeGreaterThan(20);
    expect(seen.stopped).toBeGreaterThan(10);
  });
});

describe('regressions found by the fuzz', () => {
  it('a 0 in the first part and a -0 in the second: the minimum and maximum one pass finds', async () => {
    // One pass keeps the first of equal extremes: age's minimum is the first part's 0, income's
    // maximum its -0. Merging the parts with Math.min / Math.max gave -0 and 0.
    const text = ['age,income,city,plan,outcome', '0,-0,lisbon,basic,stay', '5,-3,porto,plus,churn']
      .concat(['-0,0,faro,pro,stay', '7,-2,braga,basic,churn'])
      .join('\n');
    const path = await writeCsv(dir, 'signed-zeros.csv', `${text}\n`);
    const s = SCHEMAS.multiclass;

    const one = await validateWithStats(path, s, { bytes: 0, threads: 1 });
    const two = await validateWithStats(path, s, { bytes: 0, threads: 2, split: true });

    expect(two.parts).toBe(2);
    expect(Object.is(one.stats.age?.type === 'numeric' && one.stats.age.min, 0)).toBe(true);
    expect(Object.is(one.stats.income?.type === 'numeric' && one.stats.income.max, -0)).toBe(true);
    expect(two.stats.age).toMatchObject({ min: 0, max: 7 });
    expect(two.stats.income).toMatchObject({ min: -3, max: -0 });
    expect(two.summary).toEqual(one.summary);
  });
});
