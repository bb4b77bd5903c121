/**
 * The fast path of `POST /predict`: the instances of a valid `{"instances":[…]}` body read straight
 * from its text into columns, without `JSON.parse` building objects for the validator to walk (at
 * 1,000 instances the parse and the walk took 0.75 ms, a sixth of a small model's run). Bodies
 * written the usual way are read first by WebAssembly (`instances-wasm.ts`, giving exactly what this
 * module's reader gives); this module reads the rest.
 *
 * The text is read as UTF-8 bytes (one `TextEncoder.encodeInto` into a reused buffer, ~3 µs for
 * 90 KB): a loop over a byte array runs about twice as fast as `charCodeAt` over the string, and keys
 * are compared four bytes at a time. At 1,000 instances of the serving benchmark: 290 µs, against
 * 375 µs reading the string.
 *
 * It is only a shortcut. {@link readInstancesText} answers for the bodies it fully understands —
 * the envelope `{"instances":[…]}`, instances that are flat objects whose feature values are numbers,
 * strings without escapes, `true`, `false` or `null` and whose other keys hold scalars, any JSON
 * whitespace, every value passing its feature's rule — and gives what `JSON.parse` +
 * `RequestValidator.instances` would, by column: the same values (as `JSON.parse` reads them) and
 * the same count of ignored keys. For anything else — malformed JSON, an invalid value, an escape in
 * a feature value or a key, a duplicate key, a nested value, no instances, too many, a lone surrogate
 * (which UTF-8 cannot carry) — it returns `undefined` and the request takes the full path, which
 * decides and words the error. A differential fuzz test (`test/pipelines/serving/instances-text.test.ts`)
 * holds it to that.
 *
 * It also gives each instance's captured JSON (`{"<feature>":<value>,…}`, every feature in the
 * captured order, a missing one as `null`) made of the request's own tokens: when the instance is
 * written exactly that way, a slice of the body, so capture formats no numbers. (Positions in the
 * bytes are turned into positions in the text by counting, in strings, the bytes beyond each
 * character's UTF-16 units.)
 */
import { Buffer } from 'node:buffer';
import { MISSING_CATEGORY, type RawValue } from '../model/raw.ts';
import type { ValueColumn, ValueColumns } from '../onnx/inputs.ts';
import { type ByteWords, byteWords, wordsAt } from './byte-words.ts';
import { wasmInstanceReader } from './instances-wasm.ts';
import { type JsonRows, joinRows } from './json-rows.ts';
import { isUnknownCategory, type KnownCategories } from './known-categories.ts';
import type { JsonKeys } from './predict-body.ts';

/** One feature as the reader checks it. */
export interface TextFeature {
  readonly name: string;
  /** The validation rule's plain predicate (see `acceptsValue` in `validation.ts`). */
  readonly accepts: (value: unknown) => boolean;
  /** For a numeric feature, the accepted interval (the same test as `accepts`, without a call). */
  readonly bounds?: { readonly lo: number; readonly hi: number };
  /**
   * For a categorical feature that takes any value (no list), the longest string it takes: every
   * string of 1 to this many units passes `accepts`, so the reader need not call it.
   */
  readonly anyStringUpTo?: number;
}

/** What the reader needs of the features (built once per validator by {@link instanceTextRules}). */
export interface InstanceTextRules {
  /** The features in config order. */
  readonly features: readonly TextFeature[];
  /** Feature name → position in {@link InstanceTextRules.features}. */
  readonly index: ReadonlyMap<string, number>;
  /** The captured instance's keys: order, and `"<name>":` of each ({@link JsonKeys}). */
  readonly captured: JsonKeys;
  /** For each captured key, its position in {@link InstanceTextRules.features}. */
  readonly capturedFeature: readonly number[];
  /**
   * `"<name>":` of each captured key in UTF-8, as words (keys are most of an instance's text), when
   * its JSON needs no escape.
   */
  readonly keyWords: readonly (ByteWords | undefined)[];
  /** For each captured key, how many more UTF-8 bytes than UTF-16 units `"<name>":` has. */
  readonly keyExtra: readonly number[];
  readonly maxInstances: number;
  /**
   * The fewest UTF-8 bytes an instance written the usual way takes, with the comma after it: every
   * key, a value of at least one byte each, braces and commas. A body of `n` bytes holds at most
   * `n / instanceBytes` such instances.
   */
  readonly instanceBytes: number;
  /** The reader's cache of categorical values (see `categoryText`). */
  readonly categories: (string | undefined)[];
  /** For each categorical feature, its verdicts about cached values ({@link Verdicts}). */
  readonly verdicts: readonly (Verdicts | undefined)[];
}

/** The instances of a body by column, with the captured JSON of each. */
export interface TextInstances {
  readonly count: number;
  /**
   * Each feature's values, in config order of the features: a numeric feature's as doubles
   * (`DoubleColumn`, NaN where missing: absent or null), a categorical one's as `JSON.parse` reads them (`undefined`
   * where absent).
   */
  readonly columns: ValueColumns;
  readonly ignoredFields: number;
  /**
   * How many categorical values the given model does not know (as `countUnknown` in `api.ts` counts
   * them), when the reader was given its known values.
   */
  readonly unknownCategories?: number;
  /** One JSON object per instance, as monitoring reads it (see the module doc). */
  readonly instanceJson: JsonRows;
}

/** Builds the reader's rules. */
export function instanceTextRules(
  features: readonly TextFeature[],
  captured: JsonKeys,
  maxInstances: number,
): InstanceTextRules {
  const index = new Map(features.map((feature, j) => [feature.name, j]));
  return {
    features,
    index,
    captured,
    capturedFeature: captured.names.map((name) => index.get(name) as number),
    keyWords: captured.names.map((name) => {
      const quoted = JSON.stringify(name);
      // A lone surrogate in a name has no UTF-8 form: such a key is always decoded.
      return quoted === `"${name}"` && name.isWellFormed()
        ? byteWords(Buffer.from(`${quoted}:`, 'utf8'))
        : undefined;
    }),
    keyExtra: captured.names.map((name) => Buffer.byteLength(name, 'utf8') - name.length),
    maxInstances,
    instanceBytes: captured.prefixes.reduce((sum, prefix) => sum + Buffer.byteLength(prefix, 'utf8') + 2, 2),
    categories: new Array<string | undefined>(CACHE_SLOTS).fill(undefined),
    verdicts: features.map((feature) =>
      feature.bounds === undefined
        ? {
            known: undefined,
            strings: new Array<string | undefined>(CACHE_SLOTS).fill(undefined),
            isKnown: new Uint8Array(CACHE_SLOTS),
          }
        : undefined,
    ),
  };
}

const INSTANCES_KEY = Buffer.from('"instances"', 'latin1');

/**
 * The reader's byte buffer, reused: a request is read to the end before the next one starts. A body
 * that needs more than {@link KEPT_BYTES} gets a buffer of its own, which is not kept.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
let scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.length);
const KEPT_BYTES = 1024 * 1024;
const encoder = new TextEncoder();

/**
 * The UTF-8 bytes of `text` with a 0 after them (no token contains a 0 byte, so every loop stops at
 * it without a bounds check), and how many there are. Three more bytes follow: a key is compared a
 * word at a time, and a word read can start at the 0 at most ({@link wordsAt}).
 */
function utf8Bytes(text: string): { bytes: Buffer; view: DataView; length: number } {
  // At most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
  const size = 3 * text.length + 4;
  let bytes = scratch;
  let view = scratchView;
  if (bytes.length < size) {
    bytes = Buffer.allocUnsafeSlow(Math.max(size, 2 * scratch.length));
    view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (bytes.length <= KEPT_BYTES) {
      scratch = bytes;
      scratchView = view;
    }
  }
  const length = encoder.encodeInto(text, bytes.subarray(0, size - 4)).written;
  bytes[length] = 0;
  return { bytes, view, length };
}

/** Exact powers of ten: Clinger's fast path divides or multiplies by one of these. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** The value of the last number read by {@link numberEnd} (a module scratch: no boxing, no object). */
let numberValue = 0;

/** The value of the last literal read by {@link literalEnd}. */
let literalValue: boolean | null = null;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(b: Buffer, pos: number): number {
  while (isSpace(b[pos] as number)) pos += 1;
  return pos;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Reads the JSON number token at `pos` (strict grammar `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) into
 * {@link numberValue}: the double `JSON.parse` gives. @returns the end of the token, or -1
 */
function numberEnd(b: Buffer, pos: number): number {
  const start = pos;
  let c = b[pos] as number;
  const negative = c === 45;
  if (negative) c = b[++pos] as number;
  // Digits go into an integer while it stays exact (15 digits < 2^53); longer numbers take Number().
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  if (c === 48) c = b[++pos] as number;
  else if (c >= 49 && c <= 57) {
    do {
      mantissa = mantissa * 10 + (c - 48);
      digits += 1;
      c = b[++pos] as number;
    } while (isDigit(c));
  } else return -1;
  if (c === 46) {
    c = b[++pos] as number;
    if (!isDigit(c)) return -1;
    do {
      mantissa = mantissa * 10 + (c - 48);
      digits += 1;
      scale -= 1;
      c = b[++pos] as number;
    } while (isDigit(c));
  }
  if (c === 101 || c === 69) {
    c = b[++pos] as number;
    let sign = 1;
    if (c === 43 || c === 45) {
      if (c === 45) sign = -1;
      c = b[++pos] as number;
    }
    if (!isDigit(c)) return -1;
    let exponent = 0;
    do {
      // Capped: only whether it is small matters here; Number() reads the token otherwise.
      if (exponent < 100_000) exponent = exponent * 10 + (c - 48);
      c = b[++pos] as number;
    } while (isDigit(c));
    scale += sign * exponent;
  }
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    // Clinger's fast path: an exact integer and an exact power of ten, so one IEEE operation gives
    // the correctly rounded double, as JSON.parse does.
    const magnitude = scale < 0 ? mantissa / (POW10[-scale] as number) : mantissa * (POW10[scale] as number);
    numberValue = negative ? -magnitude : magnitude;
  } else numberValue = Number(b.toString('latin1', start, pos));
  return pos;
}

/**
 * How many more UTF-8 bytes than UTF-16 units the last string read by {@link plainStringClose} or
 * {@link stringEnd} has: 0 when it is ASCII (every other character adds at least 1). The reader
 * keeps the sum of these to turn byte positions into positions in the text.
 */
let stringExtra = 0;

/**
 * What one byte of a UTF-8 character adds to {@link stringExtra}: a continuation byte 1, the first of
 * four bytes -1 (its character is two UTF-16 units), other first bytes 0.
 */
function extraOf(c: number): number {
  if ((c & 0xc0) === 0x80) return 1;
  return c >= 0xf0 ? -1 : 0;
}

/**
 * From the opening quote at `pos`: the index of the closing quote of a string with no escape, or -1
 * (the 0 after the text ends the loop). Sets {@link stringExtra}.
 */
function plainStringClose(b: Buffer, pos: number): number {
  let extra = 0;
  for (let i = pos + 1; ; i++) {
    const c = b[i] as number;
    if (c === 34) {
      stringExtra = extra;
      return i;
    }
    if (c === 92 || c < 32) return -1;
    if (c > 127) extra += extraOf(c);
  }
}

/** The string of the bytes `start` to `end - 1` of a string token read by {@link plainStringClose}. */
function stringOf(b: Buffer, start: number, end: number): string {
  return b.toString(stringExtra === 0 ? 'latin1' : 'utf8', start, end);
}

/** Slots of the category cache (a power of two). */
const CACHE_SLOTS = 4096;
/** Longer values are not cached. */
const CACHE_MAX_LENGTH = 32;

/** The cache slot of the value {@link categoryText} gave last (-1: not cached). */
let categorySlot = -1;

/**
 * Whether a model knows the value cached in each slot of the category cache, for one feature: a
 * cached value is the same string object from request to request, so its set lookup is done once
 * (a lookup hashes and compares, ~20 ns; this check is a few loads).
 */
interface Verdicts {
  /** The known values the verdicts are about (a new model's set starts them over). */
  known: ReadonlySet<string> | undefined;
  /** The value each verdict is about. */
  readonly strings: (string | undefined)[];
  readonly isKnown: Uint8Array;
}

/** 1 when `value` is a category `known` does not have, else 0 (missing values are not unknown). */
function unknownValue(known: ReadonlySet<string>, verdicts: Verdicts, value: RawValue, slot: number): number {
  if (slot < 0 || typeof value !== 'string') return isUnknownCategory(known, value) ? 1 : 0;
  // A string is its own input to the model.
  if (value === MISSING_CATEGORY) return 0;
  if (verdicts.strings[slot] !== value) {
    verdicts.strings[slot] = value;
    verdicts.isKnown[slot] = known.has(value) ? 1 : 0;
  }
  return 1 - (verdicts.isKnown[slot] as number);
}

/**
 * The value of a string token just read by {@link plainStringClose} — bytes `start` to `end - 1`,
 * text units from `at` — as the same string object as last time for a value seen before in its cache
 * slot: categorical values repeat from request to request, and a string made once keeps the hash V8
 * computed for it, so the category lookups after this (validation, the count of unknown values) do
 * not hash it again. A slot holds the last value that fell in it. Values are keyed by their UTF-16
 * units (an ASCII value's bytes are its units) and made from the bytes, never as a slice of the
 * body, which a cached slice would keep alive.
 */
function categoryText(
  cache: (string | undefined)[],
  b: Buffer,
  start: number,
  end: number,
  text: string,
  at: number,
): string {
  const ascii = stringExtra === 0;
  const units = end - start - stringExtra;
  categorySlot = -1;
  if (units > CACHE_MAX_LENGTH) return stringOf(b, start, end);
  let hash = units;
  if (ascii) for (let i = start; i < end; i++) hash = Math.imul(hash ^ (b[i] as number), 0x01000193);
  else for (let k = 0; k < units; k++) hash = Math.imul(hash ^ text.charCodeAt(at + k), 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (CACHE_SLOTS - 1);
  categorySlot = slot;
  const cached = cache[slot];
  if (cached !== undefined && cached.length === units) {
    let same = true;
    if (ascii) for (let k = 0; k < units && same; k++) same = cached.charCodeAt(k) === b[start + k];
    else for (let k = 0; k < units && same; k++) same = cached.charCodeAt(k) === text.charCodeAt(at + k);
    if (same) return cached;
  }
  const value = stringOf(b, start, end);
  cache[slot] = value;
  return value;
}

/**
 * From the opening quote at `pos`: the end of a valid string token (escapes allowed), or -1. Sets
 * {@link stringExtra}.
 */
function stringEnd(b: Buffer, pos: number): number {
  let i = pos + 1;
  let extra = 0;
  for (;;) {
    const c = b[i] as number;
    if (c === 34) {
      stringExtra = extra;
      return i + 1;
    }
    if (c < 32) return -1;
    if (c !== 92) {
      if (c > 127) extra += extraOf(c);
      i += 1;
      continue;
    }
    const e = b[i + 1] as number;
    if (e === 117 /* u */) {
      for (let k = 2; k <= 5; k++) if (!isHex(b[i + k] as number)) return -1;
      i += 6;
    } else if (
      e === 34 ||
      e === 92 ||
      e === 47 ||
      e === 98 ||
      e === 102 ||
      e === 110 ||
      e === 114 ||
      e === 116
    ) {
      i += 2;
    } else return -1;
  }
}

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const NULL = Buffer.from('null', 'latin1');

/** The end of `true`, `false` or `null` at `pos`, or -1; its value in {@link literalValue}. */
function literalEnd(b: Buffer, pos: number): number {
  const c = b[pos] as number;
  let word: Buffer;
  if (c === 116) {
    word = TRUE;
    literalValue = true;
  } else if (c === 102) {
    word = FALSE;
    literalValue = false;
  } else if (c === 110) {
    word = NULL;
    literalValue = null;
  } else return -1;
  return bytesAt(b, pos, word) ? pos + word.length : -1;
}

/**
 * The end of any scalar token at `pos` (strings with escapes too), or -1; nested values are refused.
 * Sets {@link stringExtra} (0 for a number or a literal).
 */
function scalarEnd(b: Buffer, pos: number): number {
  const c = b[pos] as number;
  stringExtra = 0;
  if (c === 34) return stringEnd(b, pos);
  if (c === 45 || isDigit(c)) return numberEnd(b, pos);
  return literalEnd(b, pos);
}

/** Whether `word` (e.g. a quoted key) is at `pos`. */
function bytesAt(b: Buffer, pos: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (b[pos + k] !== word[k]) return false;
  return true;
}

/** {@link canonicalEnd}: the body is invalid (the full path says why). */
const REFUSED = -2;
/** The byte-to-text offset after the instance {@link canonicalEnd} read (see `delta` in the reader). */
let canonicalDelta = 0;
/** Whether a key or value of that instance is not ASCII. */
let canonicalNonAscii = false;
/** How many of its categorical values the model does not know (when given the known values). */
let canonicalUnknown = 0;

/**
 * Reads the instance whose "{" is at `pos` when it is written as instances usually are — every
 * feature once, in captured order, and nothing else, no whitespace — into row `count` of the columns;
 * its captured JSON is then its own text, and no key needs looking up or remembering. Returns the
 * end of the instance, -1 when it is written otherwise (the general loop reads it again; what was
 * stored is overwritten), or {@link REFUSED} for an invalid value, which the general loop would
 * refuse too. Sets {@link canonicalDelta}, {@link canonicalNonAscii} and {@link canonicalUnknown}.
 */
function canonicalEnd(
  b: Buffer,
  view: DataView,
  pos: number,
  rules: InstanceTextRules,
  text: string,
  delta: number,
  numeric: readonly (Float64Array | undefined)[],
  categorical: readonly (RawValue[] | undefined)[],
  known: readonly (ReadonlySet<string> | undefined)[],
  count: number,
): number {
  const { features, keyWords, keyExtra, capturedFeature } = rules;
  const width = features.length;
  let p = pos + 1;
  let d = delta;
  let unknown = 0;
  let nonAscii = false;
  for (let k = 0; k < width; k++) {
    const key = keyWords[k];
    if (key === undefined || !wordsAt(view, p, key)) return -1;
    p += key.length;
    const extra = keyExtra[k] as number;
    if (extra !== 0) {
      d += extra;
      nonAscii = true;
    }
    const j = capturedFeature[k] as number;
    const feature = features[j] as TextFeature;
    const bounds = feature.bounds;
    const c = b[p] as number;
    if (isSpace(c)) return -1;
    // The value is read as in the general loop, repeated here on purpose: as one function shared by
    // both loops (V8 did not inline it) the reader took ~40 µs longer per 1,000 instances.
    if (bounds !== undefined) {
      let value: number;
      if (c === 45 || isDigit(c)) {
        p = numberEnd(b, p);
        if (p === -1) return REFUSED;
        value = numberValue;
        if (!(value >= bounds.lo && value <= bounds.hi)) return REFUSED;
      } else {
        p = literalEnd(b, p);
        if (p === -1 || literalValue !== null || !feature.accepts(null)) return REFUSED;
        value = Number.NaN;
      }
      (numeric[j] as Float64Array)[count] = value;
    } else {
      let value: RawValue;
      let accepted = false;
      let slot = -1;
      if (c === 34) {
        const close = plainStringClose(b, p);
        if (close === -1) return REFUSED;
        value = categoryText(rules.categories, b, p + 1, close, text, p + 1 - d);
        slot = categorySlot;
        if (stringExtra !== 0) {
          d += stringExtra;
          nonAscii = true;
        }
        p = close + 1;
        const upTo = feature.anyStringUpTo;
        accepted = upTo !== undefined && value.length > 0 && value.length <= upTo;
      } else if (c === 45 || isDigit(c)) {
        p = numberEnd(b, p);
        if (p === -1) return REFUSED;
        value = numberValue;
      } else {
        p = literalEnd(b, p);
        if (p === -1) return REFUSED;
        value = literalValue;
      }
      if (!accepted && !feature.accepts(value)) return REFUSED;
      (categorical[j] as RawValue[])[count] = value;
      const knownValues = known[j];
      if (knownValues !== undefined)
        unknown += unknownValue(knownValues, rules.verdicts[j] as Verdicts, value, slot);
    }
    if (b[p] !== (k === width - 1 ? 125 /* } */ : 44) /* , */) return -1;
    p += 1;
  }
  canonicalDelta = d;
  canonicalNonAscii = nonAscii;
  canonicalUnknown = unknown;
  return p;
}

/**
 * Where the reader puts each instance's numeric values (by feature; other features' slots are
 * `undefined`) and its bounds in the text (`starts[i]` to `ends[i] - 1`), for up to `capacity`
 * instances.
 */
class Rows {
  readonly numeric: (Float64Array | undefined)[];
  starts: Int32Array;
  ends: Int32Array;

  constructor(features: readonly TextFeature[], capacity: number) {
    const room = Math.max(1, capacity);
    this.numeric = features.map((f) => (f.bounds === undefined ? undefined : new Float64Array(room)));
    this.starts = new Int32Array(room);
    this.ends = new Int32Array(room);
  }

  /** How many instances there is room for. */
  get capacity(): number {
    return this.starts.length;
  }

  /** Twice the room (at most `max` instances), keeping what is stored. */
  grow(max: number): void {
    const capacity = Math.min(max, 2 * this.capacity);
    this.numeric.forEach((column, j) => {
      if (column === undefined) return;
      const grown = new Float64Array(capacity);
      grown.set(column);
      this.numeric[j] = grown;
    });
    const starts = new Int32Array(capacity);
    starts.set(this.starts);
    this.starts = starts;
    const ends = new Int32Array(capacity);
    ends.set(this.ends);
    this.ends = ends;
  }
}

/**
 * The instances of a `/predict` body read from its text, or `undefined` when the body is anything the
 * fast path does not fully understand (see the module doc). The WebAssembly reader
 * (`instances-wasm.ts`) reads the usual bodies first; this module's reader reads the others.
 */
export function readInstancesText(
  text: string,
  rules: InstanceTextRules,
  knownCategories?: KnownCategories,
): TextInstances | undefined {
  // UTF-8 has no form for a lone surrogate; JSON.parse keeps it, and the full path captures it escaped.
  if (!text.isWellFormed()) return undefined;
  return (
    wasmInstanceReader(rules)?.read(text, knownCategories) ?? readWellFormed(text, rules, knownCategories)
  );
}

/** {@link readInstancesText} by this module's reader alone (tests compare the two readers with it). */
export function readInstancesTextJs(
  text: string,
  rules: InstanceTextRules,
  knownCategories?: KnownCategories,
): TextInstances | undefined {
  return text.isWellFormed() ? readWellFormed(text, rules, knownCategories) : undefined;
}

/** {@link readInstancesText} of a well-formed text, by this module's reader. */
function readWellFormed(
  text: string,
  rules: InstanceTextRules,
  knownCategories: KnownCategories | undefined,
): TextInstances | undefined {
  const { bytes: b, view, length } = utf8Bytes(text);
  const features = rules.features;
  const width = features.length;
  const { capturedFeature, keyWords, keyExtra, captured } = rules;
  // Bytes read so far beyond their UTF-16 units ({@link stringExtra}): a byte position less this is
  // the position in the text. Only strings can hold characters that are not ASCII.
  let delta = 0;
  // Whether an instance's feature key or value read so far is not ASCII.
  let capturedNonAscii = false;
  // Numeric values and each instance's bounds in the text go into typed arrays sized for the most
  // instances the body can hold written the usual way ({@link Rows}), grown in the rare other case:
  // storing into them costs less than appending to plain arrays (which grow by copying).
  const rows = new Rows(features, Math.min(rules.maxInstances, Math.ceil(length / rules.instanceBytes)));
  // The columns by feature (grow replaces a column in this array, never the array).
  const numeric = rows.numeric;
  const categorical: (RawValue[] | undefined)[] = features.map((f) =>
    f.bounds === undefined ? [] : undefined,
  );
  // Each instance's captured JSON when that is not its own text (by instance number).
  const written: (string | undefined)[] = [];
  let rewritten = false;
  let count = 0;
  let ignoredFields = 0;
  // Each categorical feature's known values, when the caller gave them: the values not among them
  // are counted as they are read.
  const known = features.map((feature, j) => {
    const values = feature.bounds === undefined ? knownCategories?.get(feature.name) : undefined;
    if (values !== undefined) {
      const verdicts = rules.verdicts[j] as Verdicts;
      if (verdicts.known !== values) {
        verdicts.known = values;
        verdicts.strings.fill(undefined);
      }
    }
    return values;
  });
  let unknownCategories = 0;
  // Per instance: where each feature's token starts and ends in the text (when seen).
  const starts = new Int32Array(width);
  const ends = new Int32Array(width);
  // seen[j] === stamp: instance number stamp - 1 has feature j (no clearing between instances).
  const seen = new Int32Array(width);

  let pos = skipSpace(b, 0);
  if (b[pos] !== 123 /* { */) return undefined;
  pos = skipSpace(b, pos + 1);
  if (!bytesAt(b, pos, INSTANCES_KEY)) return undefined;
  pos = skipSpace(b, pos + INSTANCES_KEY.length);
  if (b[pos] !== 58 /* : */) return undefined;
  pos = skipSpace(b, pos + 1);
  if (b[pos] !== 91 /* [ */) return undefined;
  pos = skipSpace(b, pos + 1);
  if (b[pos] === 93 /* ] */) return undefined; // no instances: the full path says so

  for (;;) {
    if (count === rules.maxInstances) return undefined; // too many: the full path answers 413
    if (count === rows.capacity) rows.grow(rules.maxInstances);
    if (b[pos] !== 123 /* { */) return undefined;
    const objectStart = pos - delta;
    let c: number;
    // First as the instance is usually written (see canonicalEnd); anything else is read again from
    // its "{" by the general loop below.
    const end = canonicalEnd(b, view, pos, rules, text, delta, numeric, categorical, known, count);
    if (end === REFUSED) return undefined;
    if (end !== -1) {
      pos = end;
      delta = canonicalDelta;
      if (canonicalNonAscii) capturedNonAscii = true;
      unknownCategories += canonicalUnknown;
      rows.starts[count] = objectStart;
      rows.ends[count] = pos - delta;
      count += 1;
    } else {
      pos += 1;
      const stamp = count + 1;
      let keys = 0;
      let unknown: string[] | undefined;
      // The captured JSON is the instance's own text when its keys are exactly the features in
      // captured order, with no whitespace anywhere.
      let canonical = true;
      c = b[pos] as number;
      if (isSpace(c)) {
        canonical = false;
        pos = skipSpace(b, pos);
        c = b[pos] as number;
      }
      if (c === 125 /* } */) pos += 1;
      else {
        for (;;) {
          // The key: the expected one (the next in captured order) by its bytes, else decoded.
          let j: number;
          const expected = keys < width ? keyWords[keys] : undefined;
          if (expected !== undefined && wordsAt(view, pos, expected)) {
            // The key and its colon.
            j = capturedFeature[keys] as number;
            pos += expected.length;
            const extra = keyExtra[keys] as number;
            if (extra !== 0) {
              delta += extra;
              capturedNonAscii = true;
            }
          } else {
            canonical = false;
            if (b[pos] !== 34) return undefined;
            const close = plainStringClose(b, pos);
            if (close === -1) return undefined; // a key with escapes: only the full path decodes it
            const name = stringOf(b, pos + 1, close);
            delta += stringExtra;
            pos = close + 1;
            j = rules.index.get(name) ?? -1;
            if (j === -1) {
              if (unknown === undefined) unknown = [name];
              else if (unknown.includes(name))
                return undefined; // a duplicate key: JSON.parse keeps the last
              else unknown.push(name);
            }
            if (b[pos] !== 58 /* : */) {
              pos = skipSpace(b, pos);
              if (b[pos] !== 58) return undefined;
            }
            pos += 1;
          }
          c = b[pos] as number;
          if (isSpace(c)) {
            canonical = false;
            pos = skipSpace(b, pos);
            c = b[pos] as number;
          }
          if (j === -1) {
            pos = scalarEnd(b, pos);
            if (pos === -1) return undefined;
            delta += stringExtra;
          } else {
            // A duplicate key (impossible while every key so far was the expected one).
            if (!canonical && seen[j] === stamp) return undefined;
            const start = pos - delta;
            const feature = features[j] as TextFeature;
            const bounds = feature.bounds;
            if (bounds !== undefined) {
              let value: number;
              if (c === 45 || isDigit(c)) {
                pos = numberEnd(b, pos);
                if (pos === -1) return undefined;
                value = numberValue;
                if (!(value >= bounds.lo && value <= bounds.hi)) return undefined;
              } else {
                pos = literalEnd(b, pos);
                if (pos === -1 || literalValue !== null || !feature.accepts(null)) return undefined;
                value = Number.NaN;
              }
              (numeric[j] as Float64Array)[count] = value;
            } else {
              let value: RawValue;
              let accepted = false;
              let slot = -1;
              if (c === 34) {
                const close = plainStringClose(b, pos);
                if (close === -1) return undefined;
                value = categoryText(rules.categories, b, pos + 1, close, text, pos + 1 - delta);
                slot = categorySlot;
                if (stringExtra !== 0) {
                  delta += stringExtra;
                  capturedNonAscii = true;
                }
                pos = close + 1;
                const upTo = feature.anyStringUpTo;
                accepted = upTo !== undefined && value.length > 0 && value.length <= upTo;
              } else if (c === 45 || isDigit(c)) {
                pos = numberEnd(b, pos);
                if (pos === -1) return undefined;
                value = numberValue;
              } else {
                pos = literalEnd(b, pos);
                if (pos === -1) return undefined;
                value = literalValue;
              }
              if (!accepted && !feature.accepts(value)) return undefined;
              (categorical[j] as RawValue[])[count] = value;
              const knownValues = known[j];
              if (knownValues !== undefined)
                unknownCategories += unknownValue(knownValues, rules.verdicts[j] as Verdicts, value, slot);
            }
            seen[j] = stamp;
            starts[j] = start;
            ends[j] = pos - delta;
          }
          keys += 1;
          c = b[pos] as number;
          if (isSpace(c)) {
            canonical = false;
            pos = skipSpace(b, pos);
            c = b[pos] as number;
          }
          pos += 1;
          if (c === 125 /* } */) break;
          if (c !== 44 /* , */) return undefined;
          c = b[pos] as number;
          if (isSpace(c)) {
            canonical = false;
            pos = skipSpace(b, pos);
          }
        }
      }
      // Absent features must be allowed to be absent.
      if (keys !== width || unknown !== undefined) {
        canonical = false;
        for (let j = 0; j < width; j++) {
          if (seen[j] === stamp) continue;
          const feature = features[j] as TextFeature;
          if (!feature.accepts(undefined)) return undefined;
          if (feature.bounds === undefined) (categorical[j] as RawValue[])[count] = undefined;
          else {
            (numeric[j] as Float64Array)[count] = Number.NaN;
          }
        }
        if (unknown !== undefined) ignoredFields += unknown.length;
      }
      rows.starts[count] = objectStart;
      rows.ends[count] = pos - delta;
      if (!canonical) {
        rewritten = true;
        let json = '{';
        for (let k = 0; k < captured.names.length; k++) {
          const j = capturedFeature[k] as number;
          const value = seen[j] === stamp ? text.slice(starts[j] as number, ends[j] as number) : 'null';
          json += `${k === 0 ? '' : ','}${captured.prefixes[k]}${value}`;
        }
        written[count] = `${json}}`;
      }
      count += 1;
    }
    pos = skipSpace(b, pos);
    c = b[pos] as number;
    pos = skipSpace(b, pos + 1);
    if (c === 93 /* ] */) break;
    if (c !== 44 /* , */) return undefined;
  }
  if (b[pos] !== 125 /* } */) return undefined;
  if (skipSpace(b, pos + 1) !== length) return undefined;
  const columns = new Map<string, ValueColumn>();
  features.forEach((feature, j) => {
    columns.set(
      feature.name,
      rows.numeric[j] === undefined
        ? (categorical[j] as RawValue[])
        : { doubles: rows.numeric[j] as Float64Array },
    );
  });
  return {
    count,
    columns,
    ignoredFields,
    ...(knownCategories === undefined ? {} : { unknownCategories }),
    instanceJson: capturedRows(text, count, rows.starts, rows.ends, written, rewritten, !capturedNonAscii),
  };
}

/**
 * The captured JSON rows of instances `0` to `count - 1` (bounds `starts[i]` to `ends[i] - 1` in the
 * text): the body's own array text when every instance is its own captured JSON and nothing but a
 * comma separates them (no copy at all), else joined.
 * @param ascii whether every feature key and value of the instances is ASCII (then so is the slice)
 */
function capturedRows(
  text: string,
  count: number,
  starts: Int32Array,
  ends: Int32Array,
  written: readonly (string | undefined)[],
  rewritten: boolean,
  ascii: boolean,
): JsonRows {
  const first = starts[0] as number;
  let contiguous = !rewritten;
  for (let i = 1; contiguous && i < count; i++) contiguous = starts[i] === (ends[i - 1] as number) + 1;
  if (contiguous) {
    const rowEnds = new Int32Array(count);
    for (let i = 0; i < count; i++) rowEnds[i] = (ends[i] as number) - first;
    // One slice of the body: V8 keeps it as a reference into the body, whatever its length.
    return { pieces: [text.slice(first, ends[count - 1])], ends: rowEnds, ascii };
  }
  // `written` has holes where an instance is its own text.
  const texts = new Array<string>(count);
  for (let i = 0; i < count; i++) texts[i] = written[i] ?? text.slice(starts[i], ends[i]);
  return joinRows(texts);
}
