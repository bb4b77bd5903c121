/**
 * The reference the fast CSV path is tested against: CSV reading and validation as Driftline did it
 * before the byte scanner — csv-parse records, the per-value rules applied to each cell's text, the
 * row rules, and the manifest statistics accumulated value by value — kept here, slow and simple, so
 * the tests can prove that the production path accepts the same rows, computes the same statistics
 * and reports the same errors.
 */
import { readFile } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse/sync';
import type { FeatureType } from '../../pipelines/config/schema.ts';
import { isMissingCell, parseNumericCell } from '../../pipelines/data/missing.ts';
import type { TableSchema } from '../../pipelines/data/table.ts';
import type {
  CategoricalColumnStats,
  ColumnStats,
  NumericColumnStats,
} from '../../pipelines/datasets/stats.ts';
import { type ErrorDetail, InputError } from '../../pipelines/errors.ts';
import { createPrng, deriveSeed } from '../../pipelines/train/gbdt/prng.ts';

const MAX_REPORTED_ERRORS = 20;
const SAMPLE_SIZE = 1000;
const TOP_CATEGORIES = 50;
const DISTINCT_CAP = 100_000;
const STATS_SEED = 20_011;

type Cell = { ok: true; value: number | string | null } | { ok: false; message: string };

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function numericCell(value: string | undefined): Cell {
  if (value === undefined || isMissingCell(value)) return { ok: true, value: null };
  const parsed = parseNumericCell(value);
  return parsed === undefined
    ? { ok: false, message: `${show(value)} is not a number` }
    : { ok: true, value: parsed };
}

function categoricalCell(value: string | undefined): Cell {
  if (value === undefined || isMissingCell(value)) return { ok: true, value: null };
  return { ok: true, value };
}

function timeCell(value: string | undefined): Cell {
  if (value === undefined || isMissingCell(value)) return { ok: false, message: 'missing time value' };
  const ms = Date.parse(value.trim().replace(/^(\d{4})\/(\d{2})\/(\d{2})/, '$1-$2-$3'));
  if (!Number.isNaN(ms)) return { ok: true, value: ms };
  return { ok: false, message: `${show(value)} is not a date or time` };
}

/** The structural error csv-parse reports, as the reader used to name it. */
export interface ReferenceCsvProblem {
  readonly code: string;
  readonly line: number | undefined;
}

/**
 * Every record csv-parse reads from `file` with Driftline's options, in order, up to the error it
 * stops with (if any).
 */
export async function referenceRecords(
  file: string,
): Promise<{ records: string[][]; problem: ReferenceCsvProblem | undefined }> {
  const records: string[][] = [];
  try {
    parse(await readFile(file), {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: false,
      on_record: (record: string[]) => {
        records.push(record);
        return null;
      },
    });
    return { records, problem: undefined };
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    return { records, problem: { code: error.code, line: (error as CsvError & { lines?: number }).lines } };
  }
}

/** A validated row as the reference yields it. */
export interface ReferenceRow {
  readonly row: number;
  readonly values: readonly (number | string | null)[];
  readonly label: number | string | null;
  readonly time: number;
}

/** What the reference validation of a CSV file gives: its rows and summary, or its error. */
export type ReferenceOutcome =
  | {
      readonly ok: true;
      readonly rows: ReferenceRow[];
      readonly summary: { rows: number; droppedRows: number; hasTime: boolean; classes: string[] };
    }
  | { readonly ok: false; readonly error: InputError | ReferenceCsvProblem };

/**
 * The reference validation of a CSV file (target `required`): csv-parse records, then the original
 * row loop. A structural CSV error is returned as csv-parse's code and line.
 */
export async function referenceValidate(file: string, schema: TableSchema): Promise<ReferenceOutcome> {
  const { records, problem } = await referenceRecords(file);
  const { features, task, timeColumn } = schema;
  const header = (records[0] ?? []).map((h) => h.trim());
  if (records.length === 0) {
    if (problem !== undefined) return { ok: false, error: problem };
    return { ok: false, error: new InputError(`${file} is empty`) };
  }
  const wanted = [
    ...features.map((f) => f.name),
    schema.target,
    ...(timeColumn === undefined ? [] : [timeColumn]),
  ];
  const absent = wanted.filter((c) => !header.includes(c));
  if (absent.length > 0) return { ok: false, error: new InputError(`${file} has no column "${absent[0]}"`) };
  const index = wanted.map((c) => header.indexOf(c));
  const hasTime = timeColumn !== undefined;
  const missingCount = new Array<number>(features.length).fill(0);
  const classes = new Set<string>();
  const errors: ErrorDetail[] = [];
  const rows: ReferenceRow[] = [];
  let count = 0;
  let dropped = 0;
  const fail = (row: number, column: string, message: string) => {
    errors.push({ path: `row ${row}, column "${column}"`, message });
  };
  let stopped = false;
  for (let k = 1; k < records.length; k += 1) {
    const cells = records[k] as string[];
    const row = k;
    const raw = (i: number) => cells[index[i] as number];
    let label: string | number | null = null;
    const target =
      task === 'regression' ? numericCell(raw(features.length)) : categoricalCell(raw(features.length));
    if (!target.ok) fail(row, schema.target, target.message);
    else if (target.value === null) {
      dropped += 1;
      continue;
    } else label = target.value;
    let rowTime = Number.NaN;
    if (hasTime) {
      const cell = timeCell(raw(features.length + 1));
      if (!cell.ok) fail(row, timeColumn, cell.message);
      else rowTime = cell.value as number;
    }
    const values = features.map((f, j): number | string | null => {
      const cell = f.type === 'numeric' ? numericCell(raw(j)) : categoricalCell(raw(j));
      if (!cell.ok) {
        fail(row, f.name, cell.message);
        return null;
      }
      const value = cell.value;
      if (value === null) {
        missingCount[j] = (missingCount[j] ?? 0) + 1;
        if (!f.nullable) fail(row, f.name, 'missing value, but the feature is not nullable');
        return null;
      }
      if (typeof value === 'number') {
        if (f.range?.min !== undefined && value < f.range.min) {
          fail(row, f.name, `${value} is below the minimum ${f.range.min}`);
        } else if (f.range?.max !== undefined && value > f.range.max) {
          fail(row, f.name, `${value} is above the maximum ${f.range.max}`);
        }
      } else if (f.values !== undefined && !f.values.includes(value)) {
        fail(row, f.name, `${show(value)} is not one of the allowed values ${f.values.map(show).join(', ')}`);
      }
      return value;
    });
    if (errors.length >= MAX_REPORTED_ERRORS) {
      stopped = true;
      break;
    }
    if (typeof label === 'string') classes.add(label);
    count += 1;
    if (errors.length === 0) rows.push({ row, values, label, time: rowTime });
  }
  // csv-parse stops at a malformed record: unless 20 bad values stopped the reading before it.
  if (problem !== undefined && !stopped) return { ok: false, error: problem };
  if (errors.length > 0) {
    const first = errors[0] as ErrorDetail;
    const more =
      errors.length > 1
        ? ` (and ${errors.length - 1} more${errors.length >= MAX_REPORTED_ERRORS ? '; reading stopped' : ''})`
        : '';
    return {
      ok: false,
      error: new InputError(`${file}: ${first.path}: ${first.message}${more}`, { details: errors }),
    };
  }
  if (count === 0) {
    return {
      ok: false,
      error: new InputError(
        dropped > 0
          ? `${file}: every row is missing the target "${schema.target}"`
          : `${file} has no data rows`,
      ),
    };
  }
  for (const [j, f] of features.entries()) {
    if (missingCount[j] === count) {
      return { ok: false, error: new InputError(`${file}: feature "${f.name}" is missing in every row`) };
    }
  }
  if (task !== 'regression' && classes.size < 2) {
    return {
      ok: false,
      error: new InputError(`${file}: the target "${schema.target}" has a single class "${[...classes][0]}"`),
    };
  }
  return {
    ok: true,
    rows,
    summary: { rows: count, droppedRows: dropped, hasTime, classes: [...classes].sort() },
  };
}

/** The manifest statistics as they were computed: one value at a time. */
interface ReferenceAccumulator {
  add(value: number | string | null): void;
  finish(): ColumnStats;
}

/** The numeric statistics as they were computed (exported to test the sample). */
export class NumericReference implements ReferenceAccumulator {
  #count = 0;
  #missing = 0;
  #n = 0;
  #mean = 0;
  #m2 = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  readonly #sample: number[] = [];
  readonly #prng;

  constructor(seed: number) {
    this.#prng = createPrng(seed);
  }

  add(value: number | string | null): void {
    this.#count += 1;
    if (value === null || typeof value !== 'number' || Number.isNaN(value)) {
      this.#missing += 1;
      return;
    }
    this.#n += 1;
    const delta = value - this.#mean;
    this.#mean += delta / this.#n;
    this.#m2 += delta * (value - this.#mean);
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (this.#sample.length < SAMPLE_SIZE) this.#sample.push(value);
    else {
      const j = this.#prng.nextInt(this.#n);
      if (j < SAMPLE_SIZE) this.#sample[j] = value;
    }
  }

  finish(): NumericColumnStats {
    const sample = [...this.#sample].sort((a, b) => a - b);
    const present = this.#n > 0;
    return {
      type: 'numeric',
      count: this.#count,
      missing: this.#missing,
      min: present ? this.#min : null,
      max: present ? this.#max : null,
      mean: present ? this.#mean : null,
      std: present ? Math.sqrt(this.#m2 / this.#n) : null,
      deciles: present
        ? [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => sample[Math.floor((sample.length - 1) * (d / 10))] as number)
        : [],
      sample,
    };
  }
}

/** The categorical statistics as they were computed (exported to test the distinct-value cap). */
export class CategoricalReference implements ReferenceAccumulator {
  #count = 0;
  #missing = 0;
  #capped = false;
  readonly #counts = new Map<string, number>();

  add(value: number | string | null): void {
    this.#count += 1;
    if (value === null) {
      this.#missing += 1;
      return;
    }
    const key = String(value);
    const seen = this.#counts.get(key);
    if (seen !== undefined) this.#counts.set(key, seen + 1);
    else if (this.#counts.size < DISTINCT_CAP) this.#counts.set(key, 1);
    else this.#capped = true;
  }

  finish(): CategoricalColumnStats {
    const ranked = [...this.#counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const top = Object.fromEntries(ranked.slice(0, TOP_CATEGORIES));
    const listed = ranked.slice(0, TOP_CATEGORIES).reduce((s, [, c]) => s + c, 0);
    return {
      type: 'categorical',
      count: this.#count,
      missing: this.#missing,
      distinct: this.#counts.size,
      distinctCapped: this.#capped,
      top,
      otherCount: this.#count - this.#missing - listed,
    };
  }
}

function referenceAccumulator(type: FeatureType, column: number): ReferenceAccumulator {
  return type === 'numeric'
    ? new NumericReference(deriveSeed(STATS_SEED, column))
    : new CategoricalReference();
}

/** The manifest statistics of the reference rows, by column name (features, then the target). */
export function referenceStats(
  schema: TableSchema,
  rows: readonly ReferenceRow[],
): Record<string, ColumnStats> {
  const n = schema.features.length;
  const accumulators = [
    ...schema.features.map((f, j) => referenceAccumulator(f.type, j)),
    referenceAccumulator(schema.task === 'regression' ? 'numeric' : 'categorical', n),
  ];
  for (const row of rows) {
    row.values.forEach((v, j) => {
      accumulators[j]?.add(v);
    });
    accumulators[n]?.add(row.label);
  }
  const names = [...schema.features.map((f) => f.name), schema.target];
  return Object.fromEntries(
    names.map((name, j) => [name, (accumulators[j] as ReferenceAccumulator).finish()]),
  );
}
