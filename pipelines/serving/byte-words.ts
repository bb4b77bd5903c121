/**
 * Short byte strings (JSON keys, the fixed parts of a prediction) handled four bytes at a time: as
 * little-endian 32-bit words read and written through a `DataView`, which V8 compiles to single
 * unaligned loads and stores. Comparing a key byte by byte took a quarter of the `/predict` body
 * reader's time, and `Uint8Array.prototype.set` costs ~15 ns a call for a few dozen bytes.
 */

/** A byte string as words. */
export interface ByteWords {
  /** The bytes in little-endian words, the last one padded with zeros. */
  readonly words: Int32Array;
  /** The bits of the last word that are the string's. */
  readonly lastMask: number;
  /** How many bytes. */
  readonly length: number;
}

export function byteWords(bytes: Uint8Array): ByteWords {
  const padded = new Uint8Array(4 * Math.ceil(bytes.length / 4));
  padded.set(bytes);
  const view = new DataView(padded.buffer);
  const words = Int32Array.from({ length: padded.length / 4 }, (_, k) => view.getInt32(4 * k, true));
  const tail = bytes.length % 4;
  return { words, lastMask: tail === 0 ? -1 : (1 << (8 * tail)) - 1, length: bytes.length };
}

/**
 * Whether `string` is at `pos` of the view. Reads up to 3 bytes past the string's end when the
 * bytes before match: the view must have them.
 */
export function wordsAt(view: DataView, pos: number, string: ByteWords): boolean {
  const words = string.words;
  const last = words.length - 1;
  for (let k = 0; k < last; k++) if (view.getInt32(pos + 4 * k, true) !== words[k]) return false;
  return (view.getInt32(pos + 4 * last, true) & string.lastMask) === words[last];
}

/**
 * Writes `string` at `at`; returns its end. Writes whole words: up to 3 bytes past the end are
 * overwritten (with zeros), so the view must have them and the caller writes what follows after.
 */
export function putWords(view: DataView, at: number, string: ByteWords): number {
  const words = string.words;
  for (let k = 0; k < words.length; k++) view.setInt32(at + 4 * k, words[k] as number, true);
  return at + string.length;
}
