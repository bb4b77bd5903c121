/**
 * The per-row and per-file rules of the feature schema, applied to cells already read by the cell
 * rules (`cell-rules.ts`): a row without a target is dropped, a missing value needs a nullable
 * feature, numbers stay in their range, categories among the allowed values. Problems are collected
 * with their row and column (`row 1043, column "distance"`) until 20 are found; at the end of the file
 * the whole-file rules apply (some rows, no feature missing in every row, two classes or more).
 *
 * Rows are checked a batch at a time ({@link CellBatch}). A batch without a problem — nearly every
 * batch of a file worth keeping — is checked column by column in tight loops; a batch with any
 * problem is checked again row by row, cell by cell, in file order, which is what gives the errors
 * their order and the stop after 20. Both apply the same rules; the second is the definition.
 *
 * A file validated in two parts at once has each part checked on its own; {@link mergeFindings} joins
 * what they found into what one pass over the whole file finds.
 */
import type { FeatureSpec, Task } from '../config/schema.ts';
import { type ErrorDetail, InputError } from '../errors.ts';
import { CELL_ERROR, CELL_MISSING, CELL_VALUE, type CellBatch } from './cell-batch.ts';
import { CellError, show } from './cell-rules.ts';
import type { DataFormat } from './records.ts';

/** Stop reading after this many bad values: enough to see a pattern, bounded for a huge bad file. */
export const MAX_REPORTED_ERRORS = 20;

/** What a full validation pass saw. */
export interface ValidationSummary {
  readonly format: DataFormat;
  readonly rows: number;
  readonly droppedRows: number;
  readonly hasTime: boolean;
  /** Distinct classes of the target (classification with target `required`). */
  readonly classes: readonly string[];
}

/** A bad value and where it is; `order` ranks it within its row (target, time, then features). */
export interface RowError {
  readonly row: number;
  readonly order: number;
  readonly column: string;
  readonly detail: ErrorDetail;
}

/** The error of a bad value in `column` of row `row` (see {@link RowError}). */
function rowError(row: number, order: number, column: string, message: string): RowError {
  return { row, order, column, detail: { path: `row ${row}, column "${column}"`, message } };
}

/** What a pass found, to be judged by {@link judgeFindings}. */
export interface PassFindings {
  /** The problems, in row and column order, up to the row that brought their count to 20. */
  readonly errors: readonly RowError[];
  readonly rows: number;
  readonly dropped: number;
  /** Per feature: the rows it was missing in. */
  readonly missing: readonly number[];
  /** Classes of the target, in the order they were first seen. */
  readonly classes: readonly string[];
}

/** What the rules are checked against. */
export interface RowSchema {
  readonly features: readonly FeatureSpec[];
  readonly task: Task;
  readonly target: string;
}

/** What a pass reads, in the slots of its batches: feature j in slot j, the target, the time. */
export interface PassLayout {
  readonly readTarget: boolean;
  readonly readTime: boolean;
  /** The time column's name, for messages. */
  readonly timeColumn: string;
}

const TARGET_ORDER = 0;
const TIME_ORDER = 1;
const FEATURE_ORDER = 2;
/** Labels remembered by code, so a row's label is added to the class set only the first time. */
const LABEL_CODES = 4096;
/** Per category code: whether the value is among a feature's allowed values (0: not known yet). */
const ALLOWED = 1;
const NOT_ALLOWED = 2;

/** Checks the rows of one pass over one file, batch after batch. */
export class RowCheck {
  /** Per row of the last batch checked: 1 when it is a valid row to hand on. */
  readonly keep: Uint8Array;
  /** True once 20 problems are found: the reader stops. */
  stopped = false;

  readonly #features: readonly FeatureSpec[];
  readonly #task: Task;
  readonly #target: string;
  readonly #timeColumn: string;
  readonly #readTarget: boolean;
  readonly #readTime: boolean;
  readonly #nullable: readonly boolean[];
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #allowed: readonly (ReadonlySet<string> | undefined)[];
  /** Per categorical feature with allowed values: ALLOWED / NOT_ALLOWED per category code. */
  readonly #allowedCodes: readonly (Uint8Array | undefined)[];
  readonly #missing: Float64Array;
  readonly #batchMissing: Float64Array;
  readonly #classes = new Set<string>();
  readonly #labelSeen = new Uint8Array(LABEL_CODES);
  readonly #errors: RowError[] = [];
  #rows = 0;
  #dropped = 0;
  #row = 0;

  /** @param capacity the capacity of the batches to check */
  constructor(schema: RowSchema, layout: PassLayout, capacity: number) {
    const { features } = schema;
    this.#features = features;
    this.#task = schema.task;
    this.#target = schema.target;
    this.#timeColumn = layout.timeColumn;
    this.#readTarget = layout.readTarget;
    this.#readTime = layout.readTime;
    this.keep = new Uint8Array(capacity);
    this.#nullable = features.map((f) => f.nullable);
    this.#min = Float64Array.from(features, (f) => f.range?.min ?? Number.NEGATIVE_INFINITY);
    this.#max = Float64Array.from(features, (f) => f.range?.max ?? Number.POSITIVE_INFINITY);
    this.#allowed = features.map((f) => (f.values === undefined ? undefined : new Set(f.values)));
    this.#allowedCodes = features.map((f) =>
      f.values === undefined ? undefined : new Uint8Array(LABEL_CODES),
    );
    this.#missing = new Float64Array(features.length);
    this.#batchMissing = new Float64Array(features.length);
  }

  /**
   * Checks the rows of `batch` and marks in {@link RowCheck.keep} the ones to hand on.
   * @returns true when rows may be handed on: no problem has been found so far
   */
  checkBatch(batch: CellBatch): boolean {
    if (this.stopped) return false;
    if (this.#clean(batch)) return this.#errors.length === 0;
    this.keep.fill(0, 0, batch.count);
    for (let r = 0; r < batch.count && !this.stopped; r += 1) this.#checkRow(batch, r);
    return false;
  }

  /**
   * The column-by-column check of a batch: true, with the counters updated and `keep` set, when no
   * row of it has a problem; false, with nothing changed, otherwise.
   */
  #clean(batch: CellBatch): boolean {
    const { count, capacity, status, numbers, codes } = batch;
    const keep = this.keep;
    const n = this.#features.length;
    let kept = count;
    if (this.#readTarget) {
      const base = n * capacity;
      for (let r = 0; r < count; r += 1) {
        const state = status[base + r];
        if (state === CELL_MISSING) {
          keep[r] = 0;
          kept -= 1;
        } else {
          if (state === CELL_ERROR) return false;
          keep[r] = 1;
        }
      }
    } else keep.fill(1, 0, count);
    if (this.#readTime) {
      const base = (n + 1) * capacity;
      for (let r = 0; r < count; r += 1) if (keep[r] === 1 && status[base + r] === CELL_ERROR) return false;
    }
    const batchMissing = this.#batchMissing;
    for (let j = 0; j < n; j += 1) {
      const base = j * capacity;
      const nullable = this.#nullable[j] === true;
      let missing = 0;
      if (this.#features[j]?.type === 'numeric') {
        const min = this.#min[j] as number;
        const max = this.#max[j] as number;
        for (let r = 0; r < count; r += 1) {
          if (keep[r] === 0) continue;
          const state = status[base + r];
          if (state === CELL_VALUE) {
            const value = numbers[base + r] as number;
            if (value < min || value > max) return false;
          } else if (state === CELL_MISSING) missing += 1;
          else return false;
        }
      } else {
        const allowedCodes = this.#allowedCodes[j];
        for (let r = 0; r < count; r += 1) {
          if (keep[r] === 0) continue;
          const state = status[base + r];
          if (state === CELL_MISSING) missing += 1;
          else if (state !== CELL_VALUE) return false;
          else if (allowedCodes !== undefined && !this.#isAllowed(batch, j, base + r, allowedCodes))
            return false;
        }
      }
      if (missing > 0 && !nullable) return false;
      batchMissing[j] = missing;
    }
    // No problem: count what the row-by-row check would have counted.
    for (let j = 0; j < n; j += 1) {
      this.#missing[j] = (this.#missing[j] as number) + (batchMissing[j] as number);
    }
    this.#rows += kept;
    this.#dropped += count - kept;
    this.#row = batch.firstRow + count - 1;
    if (this.#readTarget && this.#task !== 'regression') {
      const base = n * capacity;
      for (let r = 0; r < count; r += 1) {
        if (keep[r] === 1) this.#addClass(codes[base + r] as number, batch.category(base + r, n) ?? '');
      }
    }
    return true;
  }

  #isAllowed(batch: CellBatch, j: number, cell: number, allowedCodes: Uint8Array): boolean {
    const code = batch.codes[cell] as number;
    if (code >= 0 && code < allowedCodes.length) {
      const known = allowedCodes[code];
      if (known === ALLOWED) return true;
      if (known === NOT_ALLOWED) return false;
    }
    const allowed = this.#allowed[j]?.has(batch.category(cell, j) ?? '') === true;
    if (code >= 0 && code < allowedCodes.length) allowedCodes[code] = allowed ? ALLOWED : NOT_ALLOWED;
    return allowed;
  }

  /** Row r of `batch`, cell by cell in file order: the definition the column check follows. */
  #checkRow(batch: CellBatch, r: number): void {
    const n = this.#features.length;
    const { capacity, status } = batch;
    const row = batch.firstRow + r;
    this.#row = row;
    let label: number | string | null = null;
    let labelCode = -1;
    if (this.#readTarget) {
      const cell = n * capacity + r;
      const state = status[cell];
      if (state === CELL_MISSING) {
        this.#dropped += 1;
        return;
      }
      if (state === CELL_ERROR) {
        this.#fail(TARGET_ORDER, this.#target, this.#message(batch, cell));
      } else if (this.#task === 'regression') label = batch.numbers[cell] as number;
      else {
        label = batch.category(cell, n);
        labelCode = batch.codes[cell] as number;
      }
    }
    if (this.#readTime) {
      const cell = (n + 1) * capacity + r;
      if (status[cell] === CELL_ERROR) {
        this.#fail(TIME_ORDER, this.#timeColumn, this.#message(batch, cell));
      }
    }
    for (let j = 0; j < n; j += 1) {
      const cell = j * capacity + r;
      const state = status[cell];
      if (state === CELL_ERROR) this.#fail(FEATURE_ORDER + j, this.#name(j), this.#message(batch, cell));
      else if (state === CELL_MISSING) {
        this.#missing[j] = (this.#missing[j] as number) + 1;
        if (this.#nullable[j] !== true) {
          this.#fail(FEATURE_ORDER + j, this.#name(j), 'missing value, but the feature is not nullable');
        }
      } else if (this.#features[j]?.type === 'numeric') {
        const value = batch.numbers[cell] as number;
        if (value < (this.#min[j] as number)) {
          this.#fail(
            FEATURE_ORDER + j,
            this.#name(j),
            `${value} is below the minimum ${this.#features[j]?.range?.min}`,
          );
        } else if (value > (this.#max[j] as number)) {
          this.#fail(
            FEATURE_ORDER + j,
            this.#name(j),
            `${value} is above the maximum ${this.#features[j]?.range?.max}`,
          );
        }
      } else {
        const value = batch.category(cell, j) ?? '';
        const allowed = this.#allowed[j];
        if (allowed !== undefined && !allowed.has(value)) {
          const values = this.#features[j]?.values ?? [];
          this.#fail(
            FEATURE_ORDER + j,
            this.#name(j),
            `${show(value)} is not one of the allowed values ${values.map(show).join(', ')}`,
          );
        }
      }
    }
    if (this.#errors.length >= MAX_REPORTED_ERRORS) {
      this.stopped = true;
      return;
    }
    if (typeof label === 'string') this.#addClass(labelCode, label);
    this.#rows += 1;
    this.keep[r] = this.#errors.length === 0 ? 1 : 0;
  }

  #addClass(code: number, label: string): void {
    if (code < 0 || code >= LABEL_CODES) this.#classes.add(label);
    else if (this.#labelSeen[code] === 0) {
      this.#labelSeen[code] = 1;
      this.#classes.add(label);
    }
  }

  /** What this pass found. */
  findings(): PassFindings {
    return {
      errors: this.#errors,
      rows: this.#rows,
      dropped: this.#dropped,
      missing: [...this.#missing],
      classes: [...this.#classes],
    };
  }

  #message(batch: CellBatch, cell: number): string {
    return (batch.errors.get(cell) ?? new CellError('invalid value')).message;
  }

  #name(j: number): string {
    return this.#features[j]?.name ?? '';
  }

  #fail(order: number, column: string, message: string): void {
    this.#errors.push(rowError(this.#row, order, column, message));
  }
}

/**
 * What one pass over a file finds, from what two passes found over its two parts: `first`, which did
 * not stop at 20 problems, then `second`, whose rows come after the `rowsBefore` rows of the first.
 * Its problems follow the first's, renumbered, up to the row that brings their count to 20 (where one
 * pass would have stopped); the counts add up and the classes keep the order they were first seen in.
 */
export function mergeFindings(first: PassFindings, second: PassFindings, rowsBefore: number): PassFindings {
  const errors = [...first.errors];
  const later = second.errors;
  let i = 0;
  while (i < later.length && errors.length < MAX_REPORTED_ERRORS) {
    // A row's problems all, as the row-by-row check records them before it stops.
    const row = (later[i] as RowError).row;
    for (; i < later.length && (later[i] as RowError).row === row; i += 1) {
      const e = later[i] as RowError;
      errors.push(rowError(e.row + rowsBefore, e.order, e.column, e.detail.message));
    }
  }
  return {
    errors,
    rows: first.rows + second.rows,
    dropped: first.dropped + second.dropped,
    missing: first.missing.map((m, j) => m + (second.missing[j] ?? 0)),
    classes: [...new Set([...first.classes, ...second.classes])],
  };
}

/**
 * Judges what a pass over one file found: its problems, the malformed record that stopped it (if
 * any), then the whole-file rules. A pass stopped by a malformed record (`failure`) fails the file
 * with that error, unless the pass had already stopped at 20 bad values before reaching it.
 * @throws InputError naming the row and column of each bad value (up to 20), the failure, or a
 *   whole-file problem
 */
export function judgeFindings(
  file: string,
  format: DataFormat,
  hasTime: boolean,
  targetRead: boolean,
  schema: RowSchema,
  pass: { readonly findings: PassFindings; readonly failure?: unknown },
): ValidationSummary {
  const { findings } = pass;
  const errors = findings.errors.map((e) => e.detail);
  if (pass.failure !== undefined && errors.length < MAX_REPORTED_ERRORS) throw pass.failure;
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
  const { rows, dropped } = findings;
  if (rows === 0) {
    throw new InputError(
      dropped > 0
        ? `${file}: every row is missing the target "${schema.target}"`
        : `${file} has no data rows`,
      { hint: 'the file needs at least one row with a value in every required column' },
    );
  }
  schema.features.forEach((f, j) => {
    if (findings.missing[j] === rows) {
      throw new InputError(`${file}: feature "${f.name}" is missing in every row`, {
        details: [{ path: `column "${f.name}"`, message: 'entirely missing' }],
        hint: 'fill the column, or remove the feature from driftline.config.json',
      });
    }
  });
  const classes = findings.classes;
  if (targetRead && schema.task !== 'regression' && classes.length < 2) {
    throw new InputError(`${file}: the target "${schema.target}" has a single class "${classes[0]}"`, {
      hint: 'a classifier needs rows of at least two classes',
    });
  }
  return { format, rows, droppedRows: dropped, hasTime, classes: [...classes].sort() };
}
