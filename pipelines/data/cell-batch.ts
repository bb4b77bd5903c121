/**
 * A batch of consecutive rows of a data file, as cells already read by the cell rules, column by
 * column: the unit in which rows are checked (`row-check.ts`) and handed on. Columns of numbers and
 * codes in typed arrays let the checks and the statistics run as tight loops, with nothing allocated
 * per value.
 *
 * A column is a slot: slot j is feature j, then come the target and the time column. A cell is at
 * `slot * capacity + r` for row r of the batch.
 */
import type { CellError } from './cell-rules.ts';
import type { CategoryCache } from './csv-cells.ts';

/** The cell holds a value: a number in `numbers`, or a category (`codes`, else `texts`). */
export const CELL_VALUE = 0;
/** The cell is missing (a missing token, an empty numeric field, null). */
export const CELL_MISSING = 1;
/** The cell is refused: the reason is in `errors`. */
export const CELL_ERROR = 2;

/** Rows per batch, for a pass reading `slots` columns: about a megabyte of cells. */
export function batchCapacity(slots: number): number {
  return Math.max(64, Math.min(4096, Math.floor((1 << 16) / Math.max(1, slots))));
}

/** Cells of up to `capacity` consecutive rows. */
export class CellBatch {
  readonly capacity: number;
  readonly slots: number;
  /** Rows in the batch. */
  count = 0;
  /** The 1-based row number of the batch's first row (rows are consecutive). */
  firstRow = 1;
  /** Per cell: CELL_VALUE, CELL_MISSING or CELL_ERROR. */
  readonly status: Uint8Array;
  /** Per numeric or time cell: its value, NaN when missing. */
  readonly numbers: Float64Array;
  /** Per categorical cell: the code of its value in the slot's cache, or -1 (then see `texts`). */
  readonly codes: Int32Array;
  /** Per categorical cell without a code: its value (null when missing). */
  readonly texts: (string | null)[];
  /** The refused cells, by cell index. */
  readonly errors = new Map<number, CellError>();
  /** Categorical cells recorded without a code (see {@link CellBatch.setCategory}). */
  uncoded = 0;
  /** Per categorical slot: the cache its codes come from (undefined for other slots). */
  readonly caches: readonly (CategoryCache | undefined)[];

  constructor(slots: number, caches: readonly (CategoryCache | undefined)[]) {
    this.slots = slots;
    this.capacity = batchCapacity(slots);
    const cells = slots * this.capacity;
    this.status = new Uint8Array(cells);
    this.numbers = new Float64Array(cells);
    this.codes = new Int32Array(cells).fill(-1);
    this.texts = new Array<string | null>(cells).fill(null);
    this.caches = caches;
  }

  /** Empties the batch; its next row is row `firstRow`. */
  reset(firstRow: number): void {
    this.count = 0;
    this.firstRow = firstRow;
    this.uncoded = 0;
    if (this.errors.size > 0) this.errors.clear();
  }

  /** The value of a categorical cell with CELL_VALUE or CELL_MISSING (null when missing). */
  category(cell: number, slot: number): string | null {
    const code = this.codes[cell] as number;
    return code >= 0 ? (this.caches[slot]?.values[code] ?? null) : (this.texts[cell] ?? null);
  }

  /** Records a numeric (or time) cell's outcome. */
  setNumber(cell: number, value: number | null | CellError): void {
    if (typeof value === 'number') {
      this.status[cell] = CELL_VALUE;
      this.numbers[cell] = value;
    } else {
      this.numbers[cell] = Number.NaN;
      if (value === null) this.status[cell] = CELL_MISSING;
      else {
        this.status[cell] = CELL_ERROR;
        this.errors.set(cell, value);
      }
    }
  }

  /** Records a categorical cell's outcome, without a code. */
  setCategory(cell: number, value: string | null | CellError): void {
    this.codes[cell] = -1;
    this.uncoded += 1;
    if (typeof value === 'string') {
      this.status[cell] = CELL_VALUE;
      this.texts[cell] = value;
    } else {
      this.texts[cell] = null;
      if (value === null) this.status[cell] = CELL_MISSING;
      else {
        this.status[cell] = CELL_ERROR;
        this.errors.set(cell, value);
      }
    }
  }

  /** Records a categorical cell by its code in the slot's cache (its value may be a missing token). */
  setCode(cell: number, slot: number, code: number): void {
    this.codes[cell] = code;
    this.status[cell] = this.caches[slot]?.values[code] === null ? CELL_MISSING : CELL_VALUE;
  }
}
