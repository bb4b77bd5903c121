/**
 * Reads the cells a pass needs from CSV records into a {@link CellBatch}, in one sweep over each
 * record's bytes.
 *
 * Most records of a data file are plain — unquoted fields of ordinary bytes between commas, ended by
 * the record delimiter — and for those the cells are read while the fields are found: a number's
 * digits are accumulated as they are passed, a category is looked up by the bytes just passed, a
 * field nobody reads is only skipped. Anything else (a quote, a stray line break, the wrong number of
 * fields, the end of the buffered bytes) sends the record to the scanner's general path, which reads
 * every record, and the same cells are then taken from its fields: the fast sweep never decides what
 * a record means, only reads the records whose meaning is plain. Cells the sweep cannot settle from
 * the bytes (spaces, missing tokens, exponents, long numbers, dates) go through the cell rules on
 * their text.
 */
import { CELL_MISSING, CELL_VALUE, type CellBatch } from './cell-batch.ts';
import { categoricalCell, numericCell, timeCell } from './cell-rules.ts';
import { CategoryCache, parseDecimal } from './csv-cells.ts';
import { type CsvScanner, RECORD } from './csv-scan.ts';

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const MAX_EXACT = 2 ** 53;
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** The field is not read. */
export const FIELD_SKIP = 0;
/** A numeric cell. */
export const FIELD_NUMBER = 1;
/** A categorical cell. */
export const FIELD_CATEGORY = 2;
/** A time cell. */
export const FIELD_TIME = 3;

/**
 * Where the unquoted field going on at `from` ends: everything above the comma is an ordinary byte,
 * and below it all but the comma, the line breaks and the quote are too; the 0 kept after the
 * buffered bytes stops the loop at `length`.
 */
function fieldEnd(bytes: Uint8Array, from: number, length: number): number {
  let i = from;
  for (;;) {
    const c = bytes[i] as number;
    if (c > COMMA || (c !== COMMA && c !== QUOTE && c !== LF && c !== CR && i < length)) i += 1;
    else return i;
  }
}

/** Fills {@link CellBatch}es from a CSV scanner. */
export class CsvCellReader {
  /** Per field of the file: FIELD_*, and the slot it fills. */
  readonly #kinds: Uint8Array;
  readonly #slots: Int32Array;
  readonly #caches: readonly (CategoryCache | undefined)[];

  /**
   * @param kinds per field of the file, how it is read (FIELD_*)
   * @param slots per field of the file, the slot it fills (ignored for FIELD_SKIP)
   * @param caches per slot, the category cache of a categorical slot (see {@link categoryCaches})
   */
  constructor(
    kinds: readonly number[],
    slots: readonly number[],
    caches: readonly (CategoryCache | undefined)[],
  ) {
    this.#kinds = Uint8Array.from(kinds);
    this.#slots = Int32Array.from(slots);
    this.#caches = caches;
  }

  /**
   * Reads the next records into `batch` (emptied first; its first row numbered `firstRow`): the plain
   * records the buffered bytes hold, up to the batch's capacity, or else one record through the
   * scanner's general path. The batch is valid until the scanner is filled again.
   * @returns RECORD (at least one row), or what {@link CsvScanner.next} returns when there is no record
   * @throws CsvSyntaxError as {@link CsvScanner.next}
   */
  read(scanner: CsvScanner, batch: CellBatch, firstRow: number): number {
    batch.reset(firstRow);
    const rows = this.#plain(scanner, batch);
    if (rows > 0) {
      batch.count = rows;
      return RECORD;
    }
    const step = scanner.next();
    if (step !== RECORD) return step;
    // The sweep may have written part of a record it then left to the general path.
    batch.reset(firstRow);
    this.#fromFields(scanner, batch);
    batch.count = 1;
    return RECORD;
  }

  /** The fast sweep over consecutive plain records; returns how many it read. */
  #plain(scanner: CsvScanner, batch: CellBatch): number {
    let i = scanner.plainStart();
    if (i < 0) return 0;
    const bytes = scanner.bytes;
    const length = scanner.buffered;
    const crlf = scanner.crlf;
    const kinds = this.#kinds;
    const slots = this.#slots;
    const caches = this.#caches;
    const last = kinds.length - 1;
    const capacity = batch.capacity;
    const { status, numbers, codes } = batch;
    let row = 0;
    let next = i;
    records: for (; row < capacity; row += 1) {
      for (let field = 0; field <= last; field += 1) {
        const kind = kinds[field] as number;
        const start = i;
        let c = bytes[i] as number;
        if (c === QUOTE) break records;
        if (kind === FIELD_NUMBER) {
          // Digits accumulate as they are passed: parseDecimal's conversion, for numbers without an
          // exponent.
          let negative = false;
          if (c === MINUS) {
            negative = true;
            c = bytes[++i] as number;
          } else if (c === PLUS) c = bytes[++i] as number;
          let mantissa = 0;
          let digits = 0;
          let point = -1;
          for (;;) {
            const d = c - ZERO;
            if (d >>> 0 <= 9) {
              mantissa = mantissa * 10 + d;
              digits += 1;
            } else if (c === DOT && point < 0) point = i;
            else break;
            c = bytes[++i] as number;
          }
          const cell = (slots[field] as number) * capacity + row;
          const fraction = point < 0 ? 0 : i - point - 1;
          if (digits > 0 && mantissa < MAX_EXACT && fraction <= 22 && (c === COMMA || c === LF || c === CR)) {
            const value = fraction === 0 ? mantissa : mantissa / (POW10[fraction] as number);
            numbers[cell] = negative ? -value : value;
            status[cell] = CELL_VALUE;
          } else {
            if (c !== COMMA && c !== LF && c !== CR) {
              i = fieldEnd(bytes, i, length);
              c = bytes[i] as number;
            }
            if (i === start) {
              // The empty text is a missing token.
              numbers[cell] = Number.NaN;
              status[cell] = CELL_MISSING;
            } else batch.setNumber(cell, numericCell(bytes.toString('utf8', start, i)));
          }
        } else {
          while (c > COMMA) c = bytes[++i] as number;
          if (c !== COMMA && c !== LF && c !== CR && c !== QUOTE && i < length) {
            i = fieldEnd(bytes, i, length);
            c = bytes[i] as number;
          }
          if (kind === FIELD_CATEGORY) {
            const slot = slots[field] as number;
            const cell = slot * capacity + row;
            const cache = caches[slot] as CategoryCache;
            const code = cache.codeOf(bytes, start, i);
            if (code >= 0) {
              codes[cell] = code;
              status[cell] = cache.values[code] === null ? CELL_MISSING : CELL_VALUE;
            } else batch.setCategory(cell, categoricalCell(bytes.toString('utf8', start, i)));
          } else if (kind === FIELD_TIME) {
            batch.setNumber(
              (slots[field] as number) * capacity + row,
              timeCell(bytes.toString('utf8', start, i)),
            );
          }
        }
        if (field < last) {
          if (c !== COMMA) break records;
          i += 1;
        } else if (c === LF && !crlf) i += 1;
        else if (c === CR && crlf && i + 1 < length && bytes[i + 1] === LF) i += 2;
        else break records;
      }
      next = i;
    }
    scanner.plainRead(next, row);
    return row;
  }

  /** The same cells, from a record the scanner read in full (row 0 of the batch). */
  #fromFields(scanner: CsvScanner, batch: CellBatch): void {
    const kinds = this.#kinds;
    const capacity = batch.capacity;
    for (let field = 0; field < kinds.length; field += 1) {
      const kind = kinds[field] as number;
      if (kind === FIELD_SKIP) continue;
      const slot = this.#slots[field] as number;
      const cell = slot * capacity;
      const plain = scanner.raw[field] === 0;
      const start = scanner.start[field] as number;
      const end = scanner.end[field] as number;
      if (kind === FIELD_NUMBER) {
        const value = plain && start < end ? parseDecimal(scanner.bytes, start, end) : Number.NaN;
        batch.setNumber(cell, Number.isNaN(value) ? numericCell(scanner.text(field)) : value);
      } else if (kind === FIELD_CATEGORY) {
        const cache = this.#caches[slot] as CategoryCache;
        const code = plain ? cache.codeOf(scanner.bytes, start, end) : -1;
        if (code >= 0) batch.setCode(cell, slot, code);
        else batch.setCategory(cell, categoricalCell(scanner.text(field)));
      } else batch.setNumber(cell, timeCell(scanner.text(field)));
    }
  }
}

/** Per slot, a category cache for the categorical ones. */
export function categoryCaches(categorical: readonly boolean[]): (CategoryCache | undefined)[] {
  return categorical.map((c) => (c ? new CategoryCache() : undefined));
}
