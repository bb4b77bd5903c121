/**
 * Rows of JSON kept joined: the text inside a JSON array (`row,row,…`) and where each row ends. The
 * serving path writes a request's predictions and captured instances this way once, and the
 * response and every capture line are made of that text or slices of it — no row is copied into a
 * string of its own and joined again (at 1,000 rows, re-joining 3,000 small strings took longer than
 * writing them).
 *
 * The text may be held in pieces, cut anywhere in ASCII text (what the serving path's byte writers
 * make; other text is kept whole, so no piece ends inside a character): a string of more than 128 KB
 * is allocated by V8 in
 * its large-object space, ~90 µs for 140 KB against ~5 µs for two of 70 KB, so the serving path
 * decodes its buffers in pieces ({@link MAX_PIECE}) and a part of the text is a concatenation of
 * slices of them (V8 keeps both as references, not copies).
 */

/** The longest piece the serving path makes (UTF-16 units). */
export const MAX_PIECE = 32 * 1024;

/** Rows of JSON joined by commas. */
export interface JsonRows {
  /** The rows' JSON, separated by commas — the inside of a JSON array — in consecutive pieces. */
  readonly pieces: readonly string[];
  /**
   * Where each row's JSON ends in the whole text (the pieces one after the other); row `i` starts at
   * `ends[i - 1] + 1` (0 for the first).
   */
  readonly ends: Int32Array;
  /** `true` when the writer knows the text is all ASCII (else it is measured when needed). */
  readonly ascii?: boolean;
}

/** {@link JsonRows} of separate texts. */
export function joinRows(texts: readonly string[]): JsonRows {
  const ends = new Int32Array(texts.length);
  let at = -1;
  texts.forEach((text, i) => {
    at += text.length + 1;
    ends[i] = at;
  });
  return { pieces: texts.length === 0 ? [] : [texts.join(',')], ends };
}

/** Where row `i` starts in the whole text. */
export function rowStart(rows: JsonRows, i: number): number {
  return i === 0 ? 0 : (rows.ends[i - 1] as number) + 1;
}

/** Calls `each` with the parts of the pieces that make units `from` to `to - 1` of the whole text. */
function eachSlice(pieces: readonly string[], from: number, to: number, each: (text: string) => void): void {
  let offset = 0;
  for (const piece of pieces) {
    const end = offset + piece.length;
    if (end > from && offset < to) {
      each(from <= offset && to >= end ? piece : piece.slice(Math.max(0, from - offset), to - offset));
    }
    if (end >= to) break;
    offset = end;
  }
}

/** Units `from` to `to - 1` of the whole text, from slices of the pieces. */
function range(pieces: readonly string[], from: number, to: number): string {
  let text = '';
  eachSlice(pieces, from, to, (slice) => {
    text += slice;
  });
  return text;
}

/** The JSON of rows `start` to `end - 1`, joined (empty when `end <= start`). */
export function rowsText(rows: JsonRows, start: number, end: number): string {
  if (end <= start) return '';
  return range(rows.pieces, rowStart(rows, start), rows.ends[end - 1] as number);
}

/**
 * Writes the UTF-8 bytes of rows `start` to `end - 1` (their joined text, as {@link rowsText}) into
 * `out` at `at`, piece by piece; returns the end.
 */
export function writeRowsUtf8(rows: JsonRows, start: number, end: number, out: Buffer, at: number): number {
  if (end <= start) return at;
  eachSlice(rows.pieces, rowStart(rows, start), rows.ends[end - 1] as number, (slice) => {
    at += out.write(slice, at, 'utf8');
  });
  return at;
}

/** Whether the rows' text is all ASCII, so that its UTF-8 bytes are its units. */
export function isAsciiRows(rows: JsonRows): boolean {
  return rows.ascii ?? rows.pieces.every((piece) => Buffer.byteLength(piece) === piece.length);
}

/** The UTF-8 bytes of row `i`. */
export function rowBytes(rows: JsonRows, i: number): number {
  return Buffer.byteLength(rowsText(rows, i, i + 1));
}

/** The rows parsed: the values they are the JSON of. */
export function parseRows(rows: JsonRows): unknown[] {
  return rows.ends.length === 0 ? [] : (JSON.parse(`[${rowsText(rows, 0, rows.ends.length)}]`) as unknown[]);
}

/**
 * The latin-1 text of `bytes[0, end)` in pieces of at most {@link MAX_PIECE}: ASCII bytes written by
 * the serving path, read as strings without a large-object allocation.
 */
export function latin1Pieces(bytes: Buffer, end: number): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < end; at += MAX_PIECE)
    pieces.push(bytes.toString('latin1', at, Math.min(end, at + MAX_PIECE)));
  return pieces;
}
