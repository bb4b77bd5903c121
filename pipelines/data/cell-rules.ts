/**
 * The per-value rules of the feature schema: what a cell of a numeric, categorical or time column
 * means, or why it is refused. Every reader (CSV bytes, JSON Lines, Parquet) goes through these, so a
 * value means the same thing whatever file it comes from.
 *
 * A rule returns the value, `null` for a missing value, or a {@link CellError}; nothing is allocated
 * for a valid cell.
 */
import { isMissingCell, parseNumericCell } from './missing.ts';

/** Why a cell is refused; the message names the value, e.g. `"abc" is not a number`. */
export class CellError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** A value as it appears in messages: text quoted, anything else as is. */
export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isAbsent(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && isMissingCell(value));
}

/** A numeric cell: a finite number, `null` when missing (missing tokens, NaN), or why it is not a number. */
export function numericCell(value: unknown): number | null | CellError {
  if (isAbsent(value)) return null;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return null;
    return Number.isFinite(value) ? value : new CellError(`${value} is not a finite number`);
  }
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const parsed = parseNumericCell(value);
    return parsed === undefined ? new CellError(`${show(value)} is not a number`) : parsed;
  }
  return new CellError(`${show(value)} is not a number`);
}

/** A categorical cell: its text (numbers and booleans as text), `null` when missing, or why not. */
export function categoricalCell(value: unknown): string | null | CellError {
  if (isAbsent(value)) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  return new CellError(`${show(value)} is not a category (expected text)`);
}

/** A time cell: milliseconds since the epoch, or why not (a time is never missing). */
export function timeCell(value: unknown): number | CellError {
  if (isAbsent(value)) return new CellError('missing time value');
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const ms = Date.parse(value.trim().replace(/^(\d{4})\/(\d{2})\/(\d{2})/, '$1-$2-$3'));
    if (!Number.isNaN(ms)) return ms;
  }
  return new CellError(`${show(value)} is not a date or time`);
}
