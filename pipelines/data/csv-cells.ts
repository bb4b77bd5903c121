/**
 * Reading CSV fields as cells straight from the scanner's bytes, with the same meaning as the cell
 * rules give their text (`numericCell(text)`, `categoricalCell(text)`), but without making a string
 * for every value:
 * - a number in plain decimal notation that a double can represent exactly enough is converted from
 *   its bytes (see {@link parseDecimal}); anything else — spaces, missing tokens, long mantissas, big
 *   exponents, errors — goes through the rule on its text;
 * - a category's text and verdict are remembered per distinct byte sequence, so a column of a few
 *   hundred categories decodes each of them once.
 */
import { CellError, categoricalCell } from './cell-rules.ts';

const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten as doubles: 10^0 … 10^22 are all exactly representable. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
/** Integers below 2^53 are exact in a double, and so is every step that builds one digit by digit. */
const MAX_EXACT = 2 ** 53;

/**
 * The value of `bytes[start, end)` when it is a decimal number of the form `[+-]digits[.digits][e[+-]digits]`
 * (or `.digits`) with less than 2^53 as its digits read as an integer and a power of ten within ±22:
 * then the number is the product or quotient of two exact doubles, which IEEE arithmetic rounds
 * correctly — the same double `Number(text)` gives. NaN for anything else (the caller then applies
 * the full rule to the text); never NaN for a number it accepts.
 */
export function parseDecimal(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let c = bytes[i] as number;
  let negative = false;
  if (c === MINUS) {
    negative = true;
    i += 1;
  } else if (c === PLUS) i += 1;
  // Digits before and after the point as one integer; `(d >>> 0) > 9` is true for every non-digit.
  let mantissa = 0;
  let digits = 0;
  let point = -1;
  for (; i < end; i += 1) {
    c = bytes[i] as number;
    const d = c - ZERO;
    if (d >>> 0 <= 9) {
      mantissa = mantissa * 10 + d;
      digits += 1;
    } else if (c === DOT && point < 0) point = i;
    else break;
  }
  // The mantissa only grows digit by digit, so if it ends below 2^53 every step was exact (a rounded
  // step would have left it at 2^53 or above).
  if (digits === 0 || mantissa >= MAX_EXACT) return Number.NaN;
  const fraction = point < 0 ? 0 : i - point - 1;
  let exponent = 0;
  if (i < end) {
    if (c !== LOWER_E && c !== UPPER_E) return Number.NaN;
    i += 1;
    let negativeExponent = false;
    c = bytes[i] as number;
    if (i < end && c === MINUS) {
      negativeExponent = true;
      i += 1;
    } else if (i < end && c === PLUS) i += 1;
    if (i >= end) return Number.NaN;
    for (; i < end; i += 1) {
      const d = (bytes[i] as number) - ZERO;
      if (d >>> 0 > 9 || exponent > 1000) return Number.NaN;
      exponent = exponent * 10 + d;
    }
    if (negativeExponent) exponent = -exponent;
  }
  const scale = exponent - fraction;
  let value: number;
  if (scale === 0) value = mantissa;
  else if (scale < 0 && scale >= -22) value = mantissa / (POW10[-scale] as number);
  else if (scale > 0 && scale <= 22) value = mantissa * (POW10[scale] as number);
  else return Number.NaN;
  return negative ? -value : value;
}

const SLOTS = 4096;
const MAX_ENTRIES = SLOTS / 2;
const MAX_KEY_BYTES = 64;
const ARENA_BYTES = 64 * 1024;
/** Probes before a lookup gives up (then the value is decoded): bounds the cost of any key pattern. */
const MAX_PROBES = 16;
/** The low bytes kept of a little-endian 32-bit word, by how many bytes of it belong to the key. */
const WORD_MASK = Int32Array.of(0, 0xff, 0xffff, 0xffffff, -1);

/** The number of distinct codes a {@link CategoryCache} hands out: codes are in [0, CATEGORY_CODES). */
export const CATEGORY_CODES = SLOTS;

/**
 * The categorical cells of one column seen so far, by their bytes: each distinct value gets a code,
 * with its text and the rule's verdict (`categoricalCell(text)`: the text, or `null` for a missing
 * token). Bounded: at most 2,048 values of up to 64 bytes; other values get no code.
 *
 * A value of up to 8 bytes is its own key — two 32-bit words read at once (the scanner keeps bytes
 * readable after every field) — so the common lookup compares two integers instead of looping over
 * bytes; longer values are hashed and compared byte by byte.
 */
export class CategoryCache {
  /** Per code: the key's length, -1 when the slot is free (the empty text is a key like any other). */
  readonly #lengths = new Int32Array(SLOTS).fill(-1);
  /** Per code: the key's bytes 0–3 and 4–7 (short keys), or its hash and arena offset (long keys). */
  readonly #low = new Int32Array(SLOTS);
  readonly #high = new Int32Array(SLOTS);
  /** Per code: the verdict of the rule on the text. */
  readonly values: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
  /** The codes handed out so far, in the order they were learned. */
  readonly learned: number[] = [];
  readonly #arena = new Uint8Array(ARENA_BYTES);
  #arenaUsed = 0;
  #entries = 0;

  /**
   * The code of the text `bytes[start, end)` (UTF-8), learning it if new; -1 when it gets none.
   * The scanner's padding (`PADDING` bytes after `end`) must be readable.
   */
  codeOf(bytes: Buffer, start: number, end: number): number {
    const length = end - start;
    if (length <= 8) {
      // Both words are read whole (the bytes past the field are readable) and masked to the key.
      const low =
        ((bytes[start] as number) |
          ((bytes[start + 1] as number) << 8) |
          ((bytes[start + 2] as number) << 16) |
          ((bytes[start + 3] as number) << 24)) &
        (WORD_MASK[Math.min(length, 4)] as number);
      const high =
        length <= 4
          ? 0
          : ((bytes[start + 4] as number) |
              ((bytes[start + 5] as number) << 8) |
              ((bytes[start + 6] as number) << 16) |
              ((bytes[start + 7] as number) << 24)) &
            (WORD_MASK[length - 4] as number);
      let hash = Math.imul(low ^ Math.imul(high, 0x27d4eb2d) ^ length, 0x9e3779b1);
      hash ^= hash >>> 15;
      const slot = hash & (SLOTS - 1);
      // The common case inline: the value is where its hash points.
      if (this.#lengths[slot] === length && this.#low[slot] === low && this.#high[slot] === high) return slot;
      return this.#probeShort(slot, bytes, start, end, low, high);
    }
    return this.#longCode(bytes, start, end);
  }

  /** Probing past a taken slot, or learning a new short value. */
  #probeShort(first: number, bytes: Buffer, start: number, end: number, low: number, high: number): number {
    const length = end - start;
    let slot = first;
    for (let probe = 0; probe < MAX_PROBES; probe += 1) {
      const stored = this.#lengths[slot] as number;
      if (stored === length && this.#low[slot] === low && this.#high[slot] === high) return slot;
      if (stored < 0) return this.#learn(slot, bytes, start, end, low, high);
      slot = (slot + 1) & (SLOTS - 1);
    }
    return -1;
  }

  /** A value of 9 to 64 bytes: hashed and compared byte by byte. */
  #longCode(bytes: Buffer, start: number, end: number): number {
    const length = end - start;
    if (length > MAX_KEY_BYTES) return -1;
    let hash = 0x811c9dc5 | 0;
    for (let i = start; i < end; i += 1) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
    let slot = hash & (SLOTS - 1);
    const arena = this.#arena;
    for (let probe = 0; probe < MAX_PROBES; probe += 1) {
      const stored = this.#lengths[slot] as number;
      if (stored === length && this.#low[slot] === hash) {
        const at = this.#high[slot] as number;
        let same = true;
        for (let k = 0; k < length; k += 1) {
          if (arena[at + k] !== bytes[start + k]) {
            same = false;
            break;
          }
        }
        if (same) return slot;
      }
      if (stored < 0) {
        if (this.#arenaUsed + length > ARENA_BYTES) return -1;
        arena.set(bytes.subarray(start, end), this.#arenaUsed);
        const code = this.#learn(slot, bytes, start, end, hash, this.#arenaUsed);
        if (code >= 0) this.#arenaUsed += length;
        return code;
      }
      slot = (slot + 1) & (SLOTS - 1);
    }
    return -1;
  }

  #learn(slot: number, bytes: Buffer, start: number, end: number, low: number, high: number): number {
    if (this.#entries >= MAX_ENTRIES) return -1;
    const value = categoricalCell(bytes.toString('utf8', start, end));
    // A string is always a category or missing; the check keeps the types honest.
    if (value instanceof CellError) return -1;
    this.#lengths[slot] = end - start;
    this.#low[slot] = low;
    this.#high[slot] = high;
    this.values[slot] = value;
    this.#entries += 1;
    this.learned.push(slot);
    return slot;
  }
}
