/**
 * Reads a data file into validated columns for training, scoring or pushing a dataset version.
 *
 * Every value is checked against the config's feature schema on the way in, with errors that name the
 * row and column (`row 1043, column "distance": "abc" is not a number`). Nothing half-read is ever
 * returned: either the whole file is valid, or an InputError lists the first problems found.
 */
import type { DriftlineConfig, FeatureSpec, Task } from '../config/schema.ts';
import { type ErrorDetail, InputError } from '../errors.ts';
import type { RawColumn } from '../train/encoding.ts';
import { isMissingCell, parseNumericCell } from './missing.ts';
import { type DataFormat, openRecords } from './records.ts';

/** Stop reading after this many bad values: enough to see a pattern, bounded for a huge bad file. */
const MAX_REPORTED_ERRORS = 20;

/** The target column as read: class labels (as text) or numeric values; rows without one are dropped. */
export type TargetColumn =
  | { readonly kind: 'classes'; readonly values: readonly string[] }
  | { readonly kind: 'values'; readonly values: Float64Array };

/** A validated data file, column-major, in the config's feature order. */
export interface DataTable {
  readonly file: string;
  readonly format: DataFormat;
  readonly rows: number;
  readonly features: readonly RawColumn[];
  /** Present when the target was read. */
  readonly target?: TargetColumn;
  /** Milliseconds since the epoch, when the config names a time column and the file has it. */
  readonly time?: Float64Array;
  /** Rows dropped because their target was missing. */
  readonly droppedRows: number;
}

/** Whether the target column must be present. */
export type TargetMode = 'required' | 'ignore';

type Cell = { ok: true; value: number | string | null } | { ok: false; message: string };

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isAbsent(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && isMissingCell(value));
}

function numericCell(value: unknown): Cell {
  if (isAbsent(value)) return { ok: true, value: null };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { ok: true, value: null };
    return Number.isFinite(value)
      ? { ok: true, value }
      : { ok: false, message: `${value} is not a finite number` };
  }
  if (typeof value === 'bigint') return { ok: true, value: Number(value) };
  if (typeof value === 'string') {
    const parsed = parseNumericCell(value);
    return parsed === undefined
      ? { ok: false, message: `${show(value)} is not a number` }
      : { ok: true, value: parsed };
  }
  return { ok: false, message: `${show(value)} is not a number` };
}

function categoricalCell(value: unknown): Cell {
  if (isAbsent(value)) return { ok: true, value: null };
  if (typeof value === 'string') return { ok: true, value };
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return { ok: true, value: String(value) };
  }
  return { ok: false, message: `${show(value)} is not a category (expected text)` };
}

function timeCell(value: unknown): Cell {
  if (isAbsent(value)) return { ok: false, message: 'missing time value' };
  if (value instanceof Date) return { ok: true, value: value.getTime() };
  if (typeof value === 'number') return { ok: true, value };
  if (typeof value === 'bigint') return { ok: true, value: Number(value) };
  if (typeof value === 'string') {
    const ms = Date.parse(value.trim().replace(/^(\d{4})\/(\d{2})\/(\d{2})/, '$1-$2-$3'));
    if (!Number.isNaN(ms)) return { ok: true, value: ms };
  }
  return { ok: false, message: `${show(value)} is not a date or time` };
}

/** Growable Float64 storage (rows are not known up front when streaming). */
class FloatColumn {
  private data = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length] = value;
    this.length += 1;
  }
  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/** What a file is read and checked against: the features, the target and the optional time column. */
export interface TableSchema {
  readonly features: readonly FeatureSpec[];
  readonly task: Task;
  readonly target: string;
  readonly timeColumn?: string | undefined;
}

/** The table schema a config describes. */
export function tableSchemaOf(config: DriftlineConfig): TableSchema {
  return {
    features: config.features,
    task: config.task,
    target: config.target,
    timeColumn: config.training.split.timeColumn,
  };
}

/** One validated row: per-feature values (number, string, or null when missing), label and time. */
export interface ValidRow {
  readonly row: number;
  readonly values: readonly (number | string | null)[];
  /** The target (regression: number; classification: text); only with target mode `required`. */
  readonly label: number | string | null;
  /** Milliseconds since the epoch; NaN without a time column. */
  readonly time: number;
}

/** What a full validation pass saw. */
export interface ValidationSummary {
  readonly format: DataFormat;
  readonly rows: number;
  readonly droppedRows: number;
  readonly hasTime: boolean;
  /** Distinct classes of the target (classification with target `required`). */
  readonly classes: readonly string[];
}

/**
 * Streams the validated rows of `file`, checking every value against `schema`. The generator throws at
 * the end of the pass (or once 20 bad values are found), so a consumer must not act on the rows until
 * the generator has returned its summary.
 * @param target `required`: the target column must exist, rows with a missing target are dropped;
 *   `ignore`: the target is not read (scoring)
 * @throws InputError naming the row and column of each bad value (up to 20), an absent column, an empty
 *   file, a feature that is missing in every row, or a target with a single class
 */
export async function* validRows(
  file: string,
  schema: TableSchema,
  target: TargetMode,
): AsyncGenerator<ValidRow, ValidationSummary> {
  const { features, task, timeColumn } = schema;
  const targetName = schema.target;
  const wanted = [...features.map((f) => f.name), ...(target === 'required' ? [targetName] : [])];
  const source = await openRecords(file, timeColumn === undefined ? wanted : [...wanted, timeColumn]);
  const hasTime = timeColumn !== undefined && source.columns.includes(timeColumn);
  const missingCount = new Array<number>(features.length).fill(0);
  const classes = new Set<string>();
  const errors: ErrorDetail[] = [];
  let rows = 0;
  let dropped = 0;
  const fail = (row: number, column: string, message: string) => {
    errors.push({ path: `row ${row}, column "${column}"`, message });
  };

  for await (const record of source.records) {
    // The target decides whether the row is used at all.
    let label: string | number | null = null;
    if (target === 'required') {
      const raw = record.values[features.length];
      const cell = task === 'regression' ? numericCell(raw) : categoricalCell(raw);
      if (!cell.ok) fail(record.row, targetName, cell.message);
      else if (cell.value === null) {
        dropped += 1;
        continue;
      } else label = cell.value;
    }
    let rowTime = Number.NaN;
    if (hasTime) {
      const cell = timeCell(record.values[wanted.length]);
      if (!cell.ok) fail(record.row, timeColumn, cell.message);
      else rowTime = cell.value as number;
    }
    const values = features.map((f, j): number | string | null => {
      const raw = record.values[j];
      const cell = f.type === 'numeric' ? numericCell(raw) : categoricalCell(raw);
      if (!cell.ok) {
        fail(record.row, f.name, cell.message);
        return null;
      }
      const value = cell.value;
      if (value === null) {
        missingCount[j] = (missingCount[j] ?? 0) + 1;
        if (!f.nullable) fail(record.row, f.name, 'missing value, but the feature is not nullable');
        return null;
      }
      if (typeof value === 'number') {
        if (f.range?.min !== undefined && value < f.range.min) {
          fail(record.row, f.name, `${value} is below the minimum ${f.range.min}`);
        } else if (f.range?.max !== undefined && value > f.range.max) {
          fail(record.row, f.name, `${value} is above the maximum ${f.range.max}`);
        }
      } else if (f.values !== undefined && !f.values.includes(value)) {
        fail(
          record.row,
          f.name,
          `${show(value)} is not one of the allowed values ${f.values.map(show).join(', ')}`,
        );
      }
      return value;
    });
    if (errors.length >= MAX_REPORTED_ERRORS) break;
    if (typeof label === 'string') classes.add(label);
    rows += 1;
    if (errors.length === 0) yield { row: record.row, values, label, time: rowTime };
  }

  if (errors.length > 0) {
    const first = errors[0] as ErrorDetail;
    const more =
      errors.length > 1
        ? ` (and ${errors.length - 1} more${errors.length >= MAX_REPORTED_ERRORS ? '; reading stopped' : ''})`
        : '';
    throw new InputError(`${file}: ${first.path}: ${first.message}${more}`, {
      details: errors,
      hint: 'fix the data, or the feature definitions in driftline.config.json',
    });
  }
  if (rows === 0) {
    throw new InputError(
      dropped > 0 ? `${file}: every row is missing the target "${targetName}"` : `${file} has no data rows`,
      { hint: 'the file needs at least one row with a value in every required column' },
    );
  }
  features.forEach((f, j) => {
    if (missingCount[j] === rows) {
      throw new InputError(`${file}: feature "${f.name}" is missing in every row`, {
        details: [{ path: `column "${f.name}"`, message: 'entirely missing' }],
        hint: 'fill the column, or remove the feature from driftline.config.json',
      });
    }
  });
  if (target === 'required' && task !== 'regression' && classes.size < 2) {
    throw new InputError(`${file}: the target "${targetName}" has a single class "${[...classes][0]}"`, {
      hint: 'a classifier needs rows of at least two classes',
    });
  }
  return { format: source.format, rows, droppedRows: dropped, hasTime, classes: [...classes].sort() };
}

/**
 * Reads and validates `file` against `schema` (see {@link tableSchemaOf}) into memory, column-major.
 * @throws InputError as {@link validRows}
 */
export async function readTable(file: string, schema: TableSchema, target: TargetMode): Promise<DataTable> {
  const numeric = schema.features.map((f) => (f.type === 'numeric' ? new FloatColumn() : undefined));
  const text = schema.features.map((f) => (f.type === 'categorical' ? ([] as (string | null)[]) : undefined));
  const classes: string[] = [];
  const values = new FloatColumn();
  const time = new FloatColumn();
  const rows = validRows(file, schema, target);
  let next = await rows.next();
  while (next.done !== true) {
    const row = next.value;
    row.values.forEach((v, j) => {
      numeric[j]?.push(v === null ? Number.NaN : (v as number));
      text[j]?.push(v as string | null);
    });
    if (typeof row.label === 'number') values.push(row.label);
    else if (typeof row.label === 'string') classes.push(row.label);
    time.push(row.time);
    next = await rows.next();
  }
  const summary = next.value;
  let targetColumn: TargetColumn | undefined;
  if (target === 'required') {
    targetColumn =
      schema.task === 'regression'
        ? { kind: 'values', values: values.toArray() }
        : { kind: 'classes', values: classes };
  }
  const columns: RawColumn[] = schema.features.map((f, j) =>
    f.type === 'numeric'
      ? { type: 'numeric', values: (numeric[j] as FloatColumn).toArray() }
      : { type: 'categorical', values: text[j] as (string | null)[] },
  );
  return {
    file,
    format: summary.format,
    rows: summary.rows,
    features: columns,
    ...(targetColumn === undefined ? {} : { target: targetColumn }),
    ...(summary.hasTime ? { time: time.toArray() } : {}),
    droppedRows: summary.droppedRows,
  };
}
