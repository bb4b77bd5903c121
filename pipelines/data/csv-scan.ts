/**
 * The byte-level CSV scanner behind every CSV read: it splits records and fields straight from the
 * file's bytes, with no string made until a caller asks for a field's text, so validating a large file
 * costs little more than reading it.
 *
 * The dialect is exactly the one Driftline has always read (csv-parse with `bom`, `skip_empty_lines`
 * and strict quoting, kept as the reference in the tests):
 * - fields are separated by commas; a field that starts with `"` is quoted and may hold commas,
 *   newlines and doubled quotes (`""` is one `"`);
 * - the record delimiter is the first line break found outside quotes — `\r\n`, `\n` or `\r` — and only
 *   that one ends records afterwards;
 * - empty lines are skipped; a UTF-8 byte order mark is dropped; a UTF-16LE file (its byte order mark)
 *   is read as text;
 * - a quote inside an unquoted field, a closing quote followed by anything but a delimiter, an
 *   unclosed quote, and a record whose field count differs from the header's are errors, with the
 *   line they are on.
 *
 * Memory is bounded by the chunk size and the longest record.
 *
 * A scanner can also read part of a file, for a pass split in two at a record boundary
 * (`csv-split.ts`): one stops at a byte offset ({@link CsvScanner.limit}) — never deciding anything
 * there that the bytes after it could change — and another starts at that offset with the header's
 * field count and record delimiter ({@link CsvScanner.openAt}).
 */
import { type FileHandle, open } from 'node:fs/promises';

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** Record delimiter, fixed by the first line break outside quotes. */
const EOL_UNKNOWN = 0;
const EOL_LF = 1;
const EOL_CRLF = 2;
const EOL_CR = 3;

/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1 << 20;
/**
 * Bytes kept readable after the buffered data: the first is a 0 that stops the scanning loop without
 * a bounds check per byte, and readers of short fields may load a few bytes past a field's end.
 */
export const PADDING = 8;

/** What is wrong with the structure of a CSV file. */
export type CsvSyntaxProblem =
  /** A record has a different number of fields than the header. */
  | 'field-count'
  /** The file ends inside a quoted field. */
  | 'unclosed-quote'
  /** A closing quote is followed by something other than a delimiter. */
  | 'closing-quote'
  /** A quote appears inside an unquoted field. */
  | 'opening-quote';

/** A structural error in a CSV file, at a 1-based physical line. */
export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError';
  readonly problem: CsvSyntaxProblem;
  readonly line: number;
  /** `field-count`: the fields the record has; `opening-quote`: the field (1-based) with the quote. */
  readonly count: number;
  /** `opening-quote`: the field's text up to the quote. */
  readonly text: string;

  constructor(problem: CsvSyntaxProblem, line: number, count = 0, text = '') {
    super(`${problem} at line ${line}`);
    this.problem = problem;
    this.line = line;
    this.count = count;
    this.text = text;
  }
}

/** How records end: `\n`, `\r\n` or `\r` (see the module comment). */
export type RecordDelimiter = 'lf' | 'crlf' | 'cr';

const DELIMITERS: readonly (RecordDelimiter | undefined)[] = [undefined, 'lf', 'crlf', 'cr'];

/** Where bytes come from: a file, or a transcoder in front of one. */
interface ByteSource {
  /** Reads up to `length` bytes into `into` at `offset`; 0 at the end. */
  read(into: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

class FileSource implements ByteSource {
  readonly #handle: FileHandle;
  /** The file offset of the next byte read. */
  position: number;
  /** Reads stop here (see {@link CsvScanner.limit}). */
  end = Number.POSITIVE_INFINITY;

  constructor(handle: FileHandle, position: number) {
    this.#handle = handle;
    this.position = position;
  }

  async read(into: Buffer, offset: number, length: number): Promise<number> {
    const wanted = Math.min(length, this.end - this.position);
    if (wanted <= 0) return 0;
    const { bytesRead } = await this.#handle.read(into, offset, wanted, this.position);
    this.position += bytesRead;
    return bytesRead;
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

/** Turns a UTF-16LE file into UTF-8, so one scanner reads both. */
class Utf16Source implements ByteSource {
  readonly #file: FileSource;
  readonly #decoder = new TextDecoder('utf-16le', { ignoreBOM: true });
  readonly #raw = Buffer.allocUnsafe(CHUNK_BYTES);
  #pending: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(file: FileSource) {
    this.#file = file;
  }

  async read(into: Buffer, offset: number, length: number): Promise<number> {
    while (this.#pending.length === 0 && !this.#done) {
      const n = await this.#file.read(this.#raw, 0, this.#raw.length);
      if (n === 0) this.#done = true;
      const text =
        n === 0 ? this.#decoder.decode() : this.#decoder.decode(this.#raw.subarray(0, n), { stream: true });
      this.#pending = Buffer.from(text, 'utf8');
    }
    const n = Math.min(length, this.#pending.length);
    this.#pending.copy(into, offset, 0, n);
    this.#pending = this.#pending.subarray(n);
    return n;
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

/** Returned by {@link CsvScanner.next} when the buffered bytes hold no complete record. */
export const NEED_MORE = 0;
/** Returned by {@link CsvScanner.next} when a record is ready in the scanner's field arrays. */
export const RECORD = 1;
/** Returned by {@link CsvScanner.next} at the end of the file. */
export const END = 2;

/**
 * Scans a CSV file record by record. The current record is exposed through the scanner itself
 * (`fieldCount`, `start`/`end` of each field in `bytes`, {@link CsvScanner.text}) and is valid until
 * the next call; nothing is allocated per record.
 *
 * ```ts
 * const scanner = await CsvScanner.open(file);
 * for (;;) {
 *   const step = scanner.next();
 *   if (step === RECORD) use(scanner);
 *   else if (step === NEED_MORE) await scanner.fill();
 *   else break;
 * }
 * ```
 */
export class CsvScanner {
  /** The buffered bytes; field offsets point into it, and {@link PADDING} bytes after any field are readable. */
  bytes: Buffer;
  /** Fields of the current record. */
  fieldCount = 0;
  /** Start (inclusive) and end (exclusive) offset of each field of the current record in `bytes`. */
  start = new Int32Array(64);
  end = new Int32Array(64);
  /**
   * 1 when a field's raw bytes (quotes included) need decoding — doubled quotes, or bytes after the
   * closing quote — 0 when `bytes[start, end)` is the value as is.
   */
  raw = new Uint8Array(64);
  /** The 1-based physical line on which the current record ends. */
  line = 0;

  readonly #source: ByteSource;
  /** The source when it is the file itself (not transcoded): then byte offsets are file offsets. */
  readonly #file: FileSource | undefined;
  /** The file offset of `bytes[0]` (with {@link CsvScanner.#file}). */
  #base: number;
  #length = 0;
  #position = 0;
  #eof = false;
  #eol = EOL_UNKNOWN;
  /** Line breaks seen before `#position` (the line number is one more). */
  #breaks = 0;
  /** Field count every record must have: the header's, once it is read. */
  #expected = -1;
  #scratch = Buffer.allocUnsafe(256);
  #closed = false;

  private constructor(source: ByteSource, first: Buffer, length: number, base: number) {
    this.#source = source;
    this.#file = source instanceof FileSource ? source : undefined;
    this.#base = base;
    this.bytes = first;
    this.#length = length;
  }

  /**
   * Opens `file` for scanning (the caller has checked it exists); drops a UTF-8 byte order mark and
   * reads a UTF-16LE file (byte order mark FF FE) as text.
   */
  static async open(file: string): Promise<CsvScanner> {
    const handle = await open(file, 'r');
    try {
      const bytes = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length - PADDING, 0);
      bytes[bytesRead] = 0;
      // Like the reference reader, a byte order mark is looked for only in a file of 3 bytes or more.
      if (bytesRead >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        bytes.copy(bytes, 0, 3, bytesRead);
        bytes[bytesRead - 3] = 0;
        return new CsvScanner(new FileSource(handle, bytesRead), bytes, bytesRead - 3, 3);
      }
      if (bytesRead >= 3 && bytes[0] === 0xff && bytes[1] === 0xfe) {
        // Read again from after the mark, through the transcoder.
        bytes[0] = 0;
        return new CsvScanner(new Utf16Source(new FileSource(handle, 2)), bytes, 0, 0);
      }
      return new CsvScanner(new FileSource(handle, bytesRead), bytes, bytesRead, 0);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Opens `file` for scanning from the file offset `offset`, a record boundary after the header, as
   * if the records before it had been read: every record must have `fields` fields and ends with
   * `delimiter`. Line numbers count from the offset (line 1 is the line it starts).
   */
  static async openAt(
    file: string,
    offset: number,
    fields: number,
    delimiter: RecordDelimiter,
  ): Promise<CsvScanner> {
    const handle = await open(file, 'r');
    const bytes = Buffer.allocUnsafe(CHUNK_BYTES);
    bytes[0] = 0;
    const scanner = new CsvScanner(new FileSource(handle, offset), bytes, 0, offset);
    scanner.#expected = fields;
    scanner.#eol = DELIMITERS.indexOf(delimiter);
    return scanner;
  }

  /** Releases the file; safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#source.close();
  }

  /**
   * Keeps the unread bytes (a partial record), and reads more of the file after them; at the end of
   * the file marks the scanner so the last record (one without a line break) can complete.
   */
  async fill(): Promise<void> {
    const keep = this.#length - this.#position;
    if (this.#position > 0) {
      this.bytes.copy(this.bytes, 0, this.#position, this.#length);
      this.#base += this.#position;
      this.#position = 0;
      this.#length = keep;
    }
    if (this.#length >= this.bytes.length - PADDING) {
      // One record longer than the buffer: grow it (bounded by the longest record).
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, this.#length);
      this.bytes = grown;
    }
    const n = await this.#source.read(this.bytes, this.#length, this.bytes.length - PADDING - this.#length);
    // Nothing more before a limit is not the end of the file.
    if (n === 0 && !this.atLimit) this.#eof = true;
    this.#length += n;
    this.bytes[this.#length] = 0;
  }

  /**
   * Scans the next record from the buffered bytes.
   * @returns RECORD (the record is in the field arrays), NEED_MORE (call {@link CsvScanner.fill}), END
   * @throws CsvSyntaxError
   */
  next(): number {
    const bytes = this.bytes;
    const length = this.#length;
    const eof = this.#eof;
    let position = this.#position;
    let breaks = this.#breaks;
    let count = 0;
    for (;;) {
      // One field per turn, starting at `position`.
      const fieldStart = position;
      if (position >= length) {
        if (!eof) return NEED_MORE;
        if (count === 0) {
          this.#position = position;
          return END;
        }
        // The file ends right after a comma: the record's last field is empty.
        this.#field(count, position, position, 0);
        return this.#finish(count + 1, position, this.#lineAtEnd(breaks, bytes, length), breaks);
      }
      let i = position;
      let rawField = 0;
      let contentStart = position;
      let contentEnd = -1;
      if (bytes[i] !== QUOTE) {
        // The common case first: ordinary bytes up to a comma (the 0 after the buffered bytes stops
        // the loop, and is no comma).
        let c = bytes[i] as number;
        while (c > COMMA) c = bytes[++i] as number;
        if (c === COMMA && count < this.start.length) {
          this.start[count] = position;
          this.end[count] = i;
          this.raw[count] = 0;
          count += 1;
          position = i + 1;
          continue;
        }
      } else {
        contentStart = i + 1;
        i += 1;
        for (;;) {
          if (i >= length) {
            if (!eof) return NEED_MORE;
            throw new CsvSyntaxError('unclosed-quote', this.#lineAtEnd(breaks, bytes, length));
          }
          const c = bytes[i] as number;
          if (c === QUOTE) {
            if (i + 1 >= length && !eof) return NEED_MORE;
            if (bytes[i + 1] === QUOTE) {
              rawField = 1;
              i += 2;
              continue;
            }
            contentEnd = i;
            i += 1;
            break;
          }
          if (c === LF || c === CR) breaks += 1;
          i += 1;
        }
        // After the closing quote: a delimiter, the end of the file, or (as the reference does) a NUL
        // byte, after which the field goes on unquoted.
        if (i < length) {
          const c = bytes[i] as number;
          if (c === 0) {
            rawField = 1;
            contentEnd = -1;
          } else if (c !== COMMA && c !== LF && c !== CR) {
            throw new CsvSyntaxError('closing-quote', 1 + breaks);
          } else if (c === LF && this.#eol !== EOL_LF && this.#eol !== EOL_UNKNOWN) {
            throw new CsvSyntaxError('closing-quote', 1 + breaks);
          } else if (c === CR) {
            if (this.#eol === EOL_LF) throw new CsvSyntaxError('closing-quote', 1 + breaks);
            if (this.#eol !== EOL_CR) {
              if (i + 1 >= length && !eof) return NEED_MORE;
              if (this.#eol === EOL_CRLF && bytes[i + 1] !== LF) {
                throw new CsvSyntaxError('closing-quote', 1 + breaks);
              }
            }
          }
        }
      }
      // Unquoted bytes (a whole unquoted field, or the tail after a closing quote and a NUL): up to a
      // comma, a record delimiter or the end of the file.
      for (;;) {
        // Everything above the comma is an ordinary byte (digits, letters, '.', '-'); the NUL byte kept
        // after the buffered bytes stops this loop without a bounds check per byte.
        let c = bytes[i] as number;
        while (c > COMMA) c = bytes[++i] as number;
        if (i >= length) {
          if (!eof) return NEED_MORE;
          this.#field(
            count,
            rawField === 1 ? fieldStart : contentStart,
            contentEnd < 0 ? i : contentEnd,
            rawField,
          );
          return this.#finish(count + 1, i, this.#lineAtEnd(breaks, bytes, length), breaks);
        }
        if (c === COMMA) {
          this.#field(
            count,
            rawField === 1 ? fieldStart : contentStart,
            contentEnd < 0 ? i : contentEnd,
            rawField,
          );
          count += 1;
          position = i + 1;
          break;
        }
        if (c === LF || c === CR) {
          let eol = this.#eol;
          let delimiter = 0;
          if (c === LF) {
            if (eol === EOL_UNKNOWN) this.#eol = eol = EOL_LF;
            if (eol === EOL_LF) delimiter = 1;
          } else if (eol === EOL_CR) {
            delimiter = 1;
          } else if (eol !== EOL_LF) {
            if (i + 1 >= length && !eof) return NEED_MORE;
            if (bytes[i + 1] === LF) {
              if (eol === EOL_UNKNOWN) this.#eol = EOL_CRLF;
              delimiter = 2;
            } else if (eol === EOL_UNKNOWN) {
              this.#eol = EOL_CR;
              delimiter = 1;
            }
          }
          if (delimiter === 0) {
            // A line break that is not the record delimiter is an ordinary byte of the field.
            breaks += 1;
            i += 1;
            continue;
          }
          const line = 1 + breaks;
          breaks += 1;
          if (count === 0 && i === fieldStart) {
            // An empty line: skipped.
            position = i + delimiter;
            this.#position = position;
            this.#breaks = breaks;
            break;
          }
          this.#field(
            count,
            rawField === 1 ? fieldStart : contentStart,
            contentEnd < 0 ? i : contentEnd,
            rawField,
          );
          return this.#finish(count + 1, i + delimiter, line, breaks);
        }
        if (c === QUOTE) {
          throw new CsvSyntaxError(
            'opening-quote',
            1 + breaks,
            count + 1,
            this.#decode(fieldStart, i, rawField),
          );
        }
        i += 1;
      }
    }
  }

  /**
   * The text of field `j` of the current record (UTF-8, quotes removed and doubled quotes undone).
   */
  text(j: number): string {
    return this.#decode(this.start[j] as number, this.end[j] as number, this.raw[j] as number);
  }

  #decode(start: number, end: number, raw: number): string {
    if (raw === 0) return this.bytes.toString('utf8', start, end);
    // Quoted with doubled quotes, or with bytes after the closing quote: undo the quoting.
    if (this.#scratch.length < end - start) this.#scratch = Buffer.allocUnsafe(end - start);
    const out = this.#scratch;
    let n = 0;
    let quoted = false;
    for (let i = start; i < end; i += 1) {
      const c = this.bytes[i] as number;
      if (c === QUOTE) {
        if (quoted && i + 1 < end && this.bytes[i + 1] === QUOTE) {
          out[n++] = QUOTE;
          i += 1;
        } else quoted = !quoted;
      } else out[n++] = c;
    }
    return out.toString('utf8', 0, n);
  }

  #field(j: number, start: number, end: number, raw: number): void {
    if (j >= this.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const next = make(a.length * 2);
        next.set(a);
        return next;
      };
      this.start = grow(this.start, (n) => new Int32Array(n));
      this.end = grow(this.end, (n) => new Int32Array(n));
      this.raw = grow(this.raw, (n) => new Uint8Array(n));
    }
    this.start[j] = start;
    this.end[j] = end;
    this.raw[j] = raw;
  }

  /**
   * For a reader of plain records (`csv-lane.ts`): where the next record starts when such a reader
   * may try it, -1 otherwise (before the header, or when records do not end with `\n` or `\r\n`).
   * A plain record is the header's number of fields, none quoted, none holding a quote or a line
   * break, ended by the record delimiter: in `bytes[start, buffered)`, which is followed by a 0.
   */
  plainStart(): number {
    return this.#expected >= 0 && (this.#eol === EOL_LF || this.#eol === EOL_CRLF) ? this.#position : -1;
  }

  /** The end of the buffered bytes (see {@link CsvScanner.plainStart}). */
  get buffered(): number {
    return this.#length;
  }

  /** Whether records end with `\r\n` (else `\n`), once {@link CsvScanner.plainStart} allows plain reads. */
  get crlf(): boolean {
    return this.#eol === EOL_CRLF;
  }

  /**
   * Records `records` plain records read from {@link CsvScanner.plainStart} up to `next` (just after
   * the last one's record delimiter) by a reader of plain records, as if {@link CsvScanner.next} had
   * read them — without their field offsets, which that reader keeps.
   */
  plainRead(next: number, records: number): void {
    if (records === 0) return;
    this.fieldCount = this.#expected;
    this.#breaks += records;
    this.line = this.#breaks;
    this.#position = next;
  }

  /** The record delimiter, once the header has fixed it. */
  get delimiter(): RecordDelimiter | undefined {
    return DELIMITERS[this.#eol];
  }

  /**
   * The file offset of the next unread byte — the start of the next record between records — or -1
   * when the bytes are transcoded (a UTF-16 file), whose offsets are not the file's.
   */
  get offset(): number {
    return this.#file === undefined ? -1 : this.#base + this.#position;
  }

  /** Line breaks before the next unread byte: the physical lines read so far. */
  get lineBreaks(): number {
    return this.#breaks;
  }

  /** Buffered bytes not read yet: part of a record, between records. */
  get unread(): number {
    return this.#length - this.#position;
  }

  /**
   * Reads no byte of the file at or after the file offset `end` (at least {@link CsvScanner.offset})
   * until {@link CsvScanner.lift}: there the scanner answers NEED_MORE as anywhere else, and
   * {@link CsvScanner.atLimit} is true. Only for a scanner of the file itself (offset ≥ 0).
   */
  limit(end: number): void {
    const file = this.#file;
    if (file === undefined || end < this.offset) throw new RangeError(`cannot stop at ${end}`);
    file.end = end;
    if (this.#base + this.#length > end) {
      // Bytes past the limit already buffered are dropped, to be read again once the limit is lifted.
      this.#length = end - this.#base;
      this.bytes[this.#length] = 0;
      file.position = end;
    }
  }

  /** Reads on past the limit, to the end of the file. */
  lift(): void {
    if (this.#file !== undefined) this.#file.end = Number.POSITIVE_INFINITY;
  }

  /** Whether every byte before the limit is buffered: filling would read nothing more. */
  get atLimit(): boolean {
    const file = this.#file;
    return file !== undefined && !this.#eof && file.position >= file.end;
  }

  #finish(count: number, next: number, line: number, breaks: number): number {
    this.fieldCount = count;
    this.line = line;
    this.#position = next;
    this.#breaks = breaks;
    if (this.#expected < 0) this.#expected = count;
    else if (count !== this.#expected) throw new CsvSyntaxError('field-count', line, count);
    return RECORD;
  }

  /**
   * The line the reference reader reports at the end of the file: a line break as the very last byte
   * is not counted yet.
   */
  #lineAtEnd(breaks: number, bytes: Buffer, length: number): number {
    const last = bytes[length - 1];
    return 1 + breaks - (length > 0 && (last === LF || last === CR) ? 1 : 0);
  }
}
