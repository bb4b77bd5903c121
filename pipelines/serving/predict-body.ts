/**
 * The JSON text of a `/predict` response, written directly from the model's output arrays instead of
 * building prediction objects and passing them through `JSON.stringify`.
 *
 * Why: at 1000 instances, objects plus `JSON.stringify` took about as long as a small model's whole
 * run (generic property walking over null-prototype probability maps, and ~200 ns per number). The
 * output is the text `JSON.stringify({ predictions, model })` gives for the same predictions — same
 * key order (integer-like class names first, as V8 enumerates them) — except that numbers are
 * written as float32 values ({@link float32Json}); it is canonical (`JSON.stringify(JSON.parse(t))`
 * is `t`), which the serving benchmark (`bench/serve.ts`) checks on every run. The JSON of each
 * prediction is written once and used twice: in the response, and in the request's capture record.
 */
import { randomFillSync } from 'node:crypto';
import type { ScoredBatch } from '../model/onnx-model.ts';
import { type ByteWords, byteWords, putWords } from './byte-words.ts';
import { type JsonRows, joinRows, latin1Pieces, rowsText } from './json-rows.ts';
import {
  type LeftBatch,
  type PredictionTexts,
  type WrittenRows,
  wasmPredictionWriter,
} from './predictions-wasm.ts';

/** The model block of the response. */
export interface ServedModel {
  readonly version: number | null;
  readonly sha256: string;
}

/** The keys of an object built in a given order, as JSON.stringify writes them. */
export interface JsonKeys {
  /** The names in JSON.stringify's order: integer-like names first (ascending), then the rest as given. */
  readonly names: readonly string[];
  /** `"<name>":`, JSON-quoted, one per name. */
  readonly prefixes: readonly string[];
}

/** {@link JsonKeys} of an object whose keys are set in the order of `names`. */
export function jsonKeys(names: readonly string[]): JsonKeys {
  // Enumeration order of a map built in that order: what JSON.stringify walks.
  const probe = Object.create(null) as Record<string, null>;
  for (const name of names) probe[name] = null;
  const ordered = Object.keys(probe);
  return { names: ordered, prefixes: ordered.map((name) => `${JSON.stringify(name)}:`) };
}

/** The probability keys of one class list, and the labels' JSON. */
interface ClassKeys extends JsonKeys {
  /** Class name → its JSON string, for labels (always one of the classes). */
  readonly quoted: ReadonlyMap<string, string>;
  /** For each name in JSON order, its column in the model's probability rows (the class order). */
  readonly columns: readonly number[];
  /** Class name → its position in the class list. */
  readonly index: ReadonlyMap<string, number>;
}

/** Class lists seen so far (one per served model; a model's list is a single array object). */
const classKeysCache = new WeakMap<readonly string[], ClassKeys>();

function classKeys(classes: readonly string[]): ClassKeys {
  let keys = classKeysCache.get(classes);
  if (keys === undefined) {
    const ordered = jsonKeys(classes);
    keys = {
      ...ordered,
      quoted: new Map(ordered.names.map((name) => [name, JSON.stringify(name)])),
      columns: ordered.names.map((name) => classes.indexOf(name)),
      index: new Map(classes.map((name, k) => [name, k])),
    };
    classKeysCache.set(classes, keys);
  }
  return keys;
}

/** Up to this many classes, a label is found by comparing it with each (see {@link classIndexes}). */
const COMPARED_CLASSES = 8;

/**
 * The position in `classes` of each of the first `count` labels, -1 for a label that is not a class.
 * The model's labels are new strings on every run: a Map lookup would hash each one, while comparing
 * with a few class names is quicker (~5 ns a label against ~20).
 */
export function classIndexes(
  labels: readonly string[],
  classes: readonly string[],
  count = labels.length,
): Int32Array {
  const indexes = new Int32Array(count);
  const width = classes.length;
  if (width <= COMPARED_CLASSES) {
    for (let i = 0; i < count; i++) {
      const label = labels[i];
      let k = 0;
      while (k < width && classes[k] !== label) k += 1;
      indexes[i] = k < width ? k : -1;
    }
  } else {
    const index = classKeys(classes).index;
    for (let i = 0; i < count; i++) indexes[i] = index.get(labels[i] as string) ?? -1;
  }
  return indexes;
}

/**
 * The JSON number of a float32 value (the type every model output has): 9 significant digits —
 * enough to single out every float32, so `Math.fround(JSON.parse(text))` is the value again — with
 * trailing zeros dropped, written the way `JSON.stringify` writes that decimal (so the text is
 * canonical). Non-finite → `null` (the API refuses those before this).
 *
 * Why not `JSON.stringify(value)`: that writes the shortest decimal of the float32 widened to a
 * double, up to 17 digits of which the last eight mean nothing (0.1 in float32 is written
 * 0.10000000149011612), and takes ~200 ns a number; 2,000 probabilities cost ~0.4 ms, more than
 * anything else the API did for a 1,000-instance request. The digits here come from one
 * multiplication and an integer, written as bytes ({@link putFloat32}).
 */
export function float32Json(value: number): string {
  const end = putFloat32(scratch, scratchView, 0, value);
  return String.fromCharCode.apply(null, scratch.subarray(0, end) as unknown as number[]);
}

const scratch = new Uint8Array(32);
const scratchView = new DataView(scratch.buffer);

/** Powers of ten as doubles (exact up to 1e22; the digits need only a close product beyond). */
const POW10 = Array.from({ length: 60 }, (_, k) => Number(`1e${k}`));

/**
 * Writes {@link float32Json} of `value` as ASCII bytes at `at` (at most 24 bytes); returns the end.
 * `view` is a DataView of the same memory as `out` (digits go in four at a time).
 *
 * Digits: `n = round(|value| × 10^(8 − e))`, the 9 leading digits of the value (e its decimal
 * exponent). The product is within a few units in the last place of a double, so `n` is the
 * correctly rounded 9-digit decimal or, at a near tie, its neighbour — either reads back as the same
 * float32 (9-digit decimals are more than 4 times closer together than float32 values).
 */
function putFloat32(out: Uint8Array, view: DataView, at: number, value: number): number {
  if (!Number.isFinite(value)) {
    out[at] = 110; // n
    out[at + 1] = 117; // u
    out[at + 2] = 108; // l
    out[at + 3] = 108; // l
    return at + 4;
  }
  if (value === 0) {
    out[at] = 48; // 0 (and -0, as JSON.stringify writes it)
    return at + 1;
  }
  let magnitude = value;
  if (value < 0) {
    out[at++] = 45; // -
    magnitude = -value;
  }
  // From 1e8 up, JSON writes an integer or an exponent of its own: JavaScript's own formatting.
  if (magnitude >= 1e8) return putText(out, at, String(magnitude));
  let exponent = decimalExponent(magnitude);
  let n = Math.round(magnitude * (POW10[8 - exponent] as number));
  // The exponent can be one off at a power of ten; rounding can carry into a tenth digit.
  if (n < 1e8) {
    exponent -= 1;
    n = Math.round(magnitude * (POW10[8 - exponent] as number));
  }
  if (n >= 1e9) {
    exponent += 1;
    n = Math.round(magnitude * (POW10[8 - exponent] as number));
    if (n >= 1e9) n = 1e8;
  }
  // Integer arithmetic from here: n < 1e9 < 2^31.
  n |= 0;
  if (exponent < 0 && exponent >= -6) {
    // 0.[0…]ddddddddd, trailing zeros dropped — probabilities mostly: the nine digits in five
    // stores (one, then four pairs from a 200-byte table, which stays in the CPU's cache where a
    // 40 KB table of four-digit words would not: onnxruntime's run in between evicts it).
    out[at++] = 48; // 0
    out[at++] = 46; // .
    for (let k = -1; k > exponent; k--) out[at++] = 48;
    const first = (n / 1e8) | 0;
    const rest = n - first * 1e8;
    const high = (rest / 1e4) | 0;
    const low = rest - high * 1e4;
    const a = (high / 100) | 0;
    const c = (low / 100) | 0;
    out[at] = 48 + first;
    view.setUint16(at + 1, DIGIT_PAIR_WORDS[a] as number, true);
    view.setUint16(at + 3, DIGIT_PAIR_WORDS[high - a * 100] as number, true);
    view.setUint16(at + 5, DIGIT_PAIR_WORDS[c] as number, true);
    view.setUint16(at + 7, DIGIT_PAIR_WORDS[low - c * 100] as number, true);
    at += 9;
    // The first digit is not 0 (n ≥ 1e8): the loop stops there at the latest.
    while (out[at - 1] === 48) at -= 1;
    return at;
  }
  let digits = 9;
  while (n % 10 === 0) {
    n = (n / 10) | 0;
    digits -= 1;
  }
  if (exponent < -6) {
    // d[.ddd]e-x, as JavaScript writes numbers below 1e-6.
    const first = at;
    at = putDigits(out, at, n, digits);
    if (digits > 1) {
      out.copyWithin(first + 2, first + 1, at);
      out[first + 1] = 46; // .
      at += 1;
    }
    out[at++] = 101; // e
    out[at++] = 45; // -
    const e = -exponent;
    return putDigits(out, at, e, e >= 10 ? 2 : 1);
  }
  const whole = exponent + 1;
  if (digits <= whole) {
    at = putDigits(out, at, n, digits);
    for (let k = digits; k < whole; k++) out[at++] = 48;
    return at;
  }
  const first = at;
  at = putDigits(out, at, n, digits);
  out.copyWithin(first + whole + 1, first + whole, at);
  out[first + whole] = 46; // .
  return at + 1;
}

/** `floor(log10(magnitude))` for 0 < magnitude < 1e8, possibly one off at a power of ten. */
function decimalExponent(magnitude: number): number {
  let exponent = 0;
  if (magnitude >= 1) {
    while (exponent < 7 && magnitude >= (POW10[exponent + 1] as number)) exponent += 1;
    return exponent;
  }
  // Probabilities mostly: one or two comparisons.
  exponent = -1;
  while (magnitude < (NEGATIVE_POW10[-exponent] as number) && exponent > -50) exponent -= 1;
  return exponent;
}

/** 10^-k as doubles. */
const NEGATIVE_POW10 = Array.from({ length: 60 }, (_, k) => Number(`1e-${k}`));

/** "00" to "99" as byte pairs: two digits per step. */
const DIGIT_PAIRS = Uint8Array.from(
  { length: 200 },
  (_, k) => 48 + (k & 1 ? (k >> 1) % 10 : Math.floor((k >> 1) / 10)),
);

/** The same pairs as little-endian 16-bit words: a pair in one store. */
const DIGIT_PAIR_WORDS = Uint16Array.from(
  { length: 100 },
  (_, k) => (DIGIT_PAIRS[2 * k] as number) | ((DIGIT_PAIRS[2 * k + 1] as number) << 8),
);

/** Writes the `count` decimal digits of the integer `n` (< 2^31) at `at`; returns the end. */
function putDigits(out: Uint8Array, at: number, n: number, count: number): number {
  let rest = n | 0;
  let k = at + count - 1;
  while (k > at) {
    const next = (rest / 100) | 0;
    const pair = (rest - next * 100) << 1;
    out[k] = DIGIT_PAIRS[pair + 1] as number;
    out[k - 1] = DIGIT_PAIRS[pair] as number;
    rest = next;
    k -= 2;
  }
  if (k === at) out[k] = 48 + (rest % 10);
  return at + count;
}

/**
 * The JSON of each prediction of a scored batch, written straight from the model's output arrays:
 * the rows of the response body and of the capture record (see `recordJsonParts` in `capture.ts`).
 * Each text is `JSON.stringify` of the row's `ApiPrediction` (`model/predictions.ts`) — `predictionId`,
 * then `label` and `probabilities` by class name, or `value` — with every number written by
 * {@link float32Json}.
 *
 * @param ids one prediction id per row written (UUIDs: written without escaping)
 * @param first the batch row of `ids[0]`: rows `first` to `first + ids.length - 1` are written
 */
export function predictionTexts(
  scored: ScoredBatch,
  classes: readonly string[],
  ids: readonly string[],
  first = 0,
): string[] {
  const rows = new Array<string>(ids.length);
  if (scored.kind === 'values') {
    for (let i = 0; i < ids.length; i++) {
      rows[i] = `{"predictionId":"${ids[i]}","value":${float32Json(scored.values[first + i] as number)}}`;
    }
    return rows;
  }
  const { prefixes, quoted, columns } = classKeys(classes);
  const width = classes.length;
  const probabilities = scored.probabilities;
  for (let i = 0; i < ids.length; i++) {
    const label = scored.labels[first + i] as string;
    let text = `{"predictionId":"${ids[i]}","label":${quoted.get(label) ?? JSON.stringify(label)},"probabilities":{`;
    const base = (first + i) * width;
    for (let c = 0; c < width; c++) {
      if (c > 0) text += ',';
      text += prefixes[c] + float32Json(probabilities[base + (columns[c] as number)] as number);
    }
    rows[i] = `${text}}}`;
  }
  return rows;
}

/** The predictions of a request as JSON rows ({@link JsonRows}). */
export interface WrittenPredictions {
  /** Each prediction's JSON, as {@link predictionTexts} writes it (with its new id). */
  readonly predictions: JsonRows;
}

/** Fills an array with random bytes. */
export type Entropy = (bytes: Uint8Array) => void;

/**
 * Random bytes for prediction ids from the system's generator, drawn in blocks, as Node's own
 * `randomUUID` does: one `randomFillSync` per 16,384 ids instead of one call per request. At 1,000
 * ids a request, drawing its 16 KB alone took ~75 µs right after a model run (the generator's code
 * and state out of the CPU's caches), against ~5 µs a request for a 256 KB block every 16 requests.
 */
class EntropyPool {
  readonly #pool = Buffer.allocUnsafeSlow(256 * 1024);
  #used = this.#pool.length;

  /** Copies `bytes.length` random bytes into `bytes`. */
  readonly fill: Entropy = (bytes) => {
    if (bytes.length > this.#pool.length) {
      randomFillSync(bytes);
      return;
    }
    if (this.#used + bytes.length > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#used = 0;
    }
    bytes.set(this.#pool.subarray(this.#used, this.#used + bytes.length));
    // Each byte is handed out once.
    this.#used += bytes.length;
  };
}

const systemEntropy = new EntropyPool().fill;

/**
 * A reusable byte buffer of at least `size` bytes. The serving path writes a request's text into
 * one, reads it out as strings and is done with it before it yields, so one per use is enough.
 */
class Scratch {
  #bytes = Buffer.allocUnsafeSlow(16 * 1024);
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);

  get(size: number): Buffer {
    if (this.#bytes.length < size) {
      this.#bytes = Buffer.allocUnsafeSlow(Math.max(size, 2 * this.#bytes.length));
      this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
    }
    return this.#bytes;
  }

  /** A view of the buffer {@link Scratch.get} returned last. */
  get view(): DataView {
    return this.#view;
  }
}

const randomScratch = new Scratch();
const hexScratch = new Scratch();
const outScratch = new Scratch();

/** The hex digits of `count` new random UUIDs (version 4, RFC 9562), 32 per id, without dashes. */
interface IdDigits {
  /** The digits as ASCII bytes. */
  readonly view: DataView;
  /** The same digits as a string. */
  readonly text: string;
}

/**
 * {@link IdDigits} of `count` ids: the random bits drawn at once and every hex digit written by
 * Node's own encoder. The bytes are valid until the next call.
 */
function idDigits(count: number, entropy: Entropy): IdDigits {
  const random = randomScratch.get(16 * count).subarray(0, 16 * count);
  entropy(random);
  for (let r = 0; r < 16 * count; r += 16) {
    random[r + 6] = ((random[r + 6] as number) & 0x0f) | 0x40; // version 4
    random[r + 8] = ((random[r + 8] as number) & 0x3f) | 0x80; // variant 10
  }
  const text = random.toString('hex');
  hexScratch.get(text.length).write(text, 0, 'latin1');
  return { view: hexScratch.view, text };
}

/** Writes id `i` of `digits` (8-4-4-4-12 digits, four at a time) at `at`; returns the end. */
function putId(view: DataView, at: number, digits: DataView, i: number): number {
  const h = 32 * i;
  view.setInt32(at, digits.getInt32(h, true), true);
  view.setInt32(at + 4, digits.getInt32(h + 4, true), true);
  view.setUint8(at + 8, 45); // -
  view.setInt32(at + 9, digits.getInt32(h + 8, true), true);
  view.setUint8(at + 13, 45);
  view.setInt32(at + 14, digits.getInt32(h + 12, true), true);
  view.setUint8(at + 18, 45);
  view.setInt32(at + 19, digits.getInt32(h + 16, true), true);
  view.setUint8(at + 23, 45);
  view.setInt32(at + 24, digits.getInt32(h + 20, true), true);
  view.setInt32(at + 28, digits.getInt32(h + 24, true), true);
  view.setInt32(at + 32, digits.getInt32(h + 28, true), true);
  return at + 36;
}

/** Id `i` of `digits` as a string. */
function idText(digits: IdDigits, i: number): string {
  const h = 32 * i;
  const hex = digits.text;
  return `${hex.slice(h, h + 8)}-${hex.slice(h + 8, h + 12)}-${hex.slice(h + 12, h + 16)}-${hex.slice(h + 16, h + 20)}-${hex.slice(h + 20, h + 32)}`;
}

/** The ASCII bytes of a text known to be ASCII. */
function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function isAscii(text: string): boolean {
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) > 127) return false;
  return true;
}

/** The start of a prediction, after the comma ending the one before. */
const OPEN_FIRST_ID_TEXT = '{"predictionId":"';
const OPEN_FIRST_ID_BYTES = asciiBytes(OPEN_FIRST_ID_TEXT);
const OPEN_ID = byteWords(asciiBytes(`,${OPEN_FIRST_ID_TEXT}`));
const OPEN_FIRST_ID = byteWords(OPEN_FIRST_ID_BYTES);
const THEN_VALUE_BYTES = asciiBytes('","value":');
const THEN_VALUE = byteWords(THEN_VALUE_BYTES);
/** The fixed texts of value predictions, for the WebAssembly writer. */
const VALUE_TEXTS: PredictionTexts = { open: OPEN_FIRST_ID_BYTES, rest: [THEN_VALUE_BYTES] };
/** The longest JSON of a float32 ({@link float32Json}): `-3.4028234663852886e+38`. */
const MAX_NUMBER = 24;

function putText(out: Uint8Array, at: number, text: string): number {
  for (let k = 0; k < text.length; k++) out[at + k] = text.charCodeAt(k);
  return at + text.length;
}

/** The byte forms of a class list's keys and labels, when all are ASCII (else `undefined`). */
interface ClassBytes {
  /**
   * For each class (in the class list's order), `","label":<class>,"probabilities":{"<first class>":`:
   * what follows the id of a prediction of that label.
   */
  readonly afterId: readonly ByteWords[];
  /** `,"<class>":` of the second class on, in JSON order. */
  readonly nextKeys: readonly ByteWords[];
  /** The most bytes one prediction can take. */
  readonly maxRow: number;
  /** The same texts as bytes, for the WebAssembly writer. */
  readonly texts: PredictionTexts;
}

const classBytesCache = new WeakMap<readonly string[], ClassBytes | null>();

function classBytes(classes: readonly string[]): ClassBytes | undefined {
  let cached = classBytesCache.get(classes);
  if (cached === undefined) {
    const { names, prefixes, quoted } = classKeys(classes);
    if (names.length > 0 && prefixes.every(isAscii) && [...quoted.values()].every(isAscii)) {
      const afterIdTexts = classes.map(
        (name) => `","label":${quoted.get(name)},"probabilities":{${prefixes[0]}`,
      );
      const nextKeyTexts = prefixes.slice(1).map((prefix) => `,${prefix}`);
      const afterIdBytes = afterIdTexts.map(asciiBytes);
      const nextKeyBytes = nextKeyTexts.map(asciiBytes);
      const afterId = afterIdBytes.map(byteWords);
      const nextKeys = nextKeyBytes.map(byteWords);
      let longest = 0;
      for (const bytes of afterId) longest = Math.max(longest, bytes.length);
      cached = {
        afterId,
        nextKeys,
        maxRow:
          OPEN_ID.length +
          36 +
          longest +
          nextKeys.reduce((sum, key) => sum + key.length, 0) +
          names.length * MAX_NUMBER +
          2,
        texts: { open: OPEN_FIRST_ID_BYTES, rest: [...afterIdBytes, ...nextKeyBytes] },
      };
    } else cached = null;
    classBytesCache.set(classes, cached);
  }
  return cached ?? undefined;
}

/**
 * The predictions of rows `0` to `count - 1` of a scored batch, each with a new random prediction id,
 * as JSON rows: exactly the texts of {@link predictionTexts} for those ids, written as ASCII bytes
 * in one buffer (read out in pieces, see `json-rows.ts`) when the class names are ASCII — by the
 * WebAssembly writer (`predictions-wasm.ts`) where it can, else in JavaScript — and through
 * `predictionTexts` otherwise.
 *
 * @param entropy the source of the ids' random bits (tests pass a seeded one)
 * @param indexes {@link classIndexes} of the labels, when the caller has them already
 */
export function writePredictions(
  scored: ScoredBatch,
  classes: readonly string[],
  count: number,
  entropy: Entropy = systemEntropy,
  indexes?: Int32Array,
): WrittenPredictions {
  let written: WrittenRows | LeftBatch | undefined;
  let labels = indexes;
  if (scored.kind === 'values') {
    written = wasmPredictionWriter()?.values(count, VALUE_TEXTS, scored.values, valueRowBytes(), entropy);
  } else {
    const keys = classBytes(classes);
    if (keys !== undefined) {
      labels ??= classIndexes(scored.labels, classes, count);
      const columns = classKeys(classes).columns;
      written = wasmPredictionWriter()?.classes(
        count,
        keys.texts,
        labels,
        scored.probabilities,
        columns,
        keys.maxRow,
        entropy,
      );
    }
  }
  if (written === undefined) return writePredictionsJs(scored, classes, count, entropy, labels);
  if ('pieces' in written)
    return { predictions: { pieces: written.pieces, ends: written.ends, ascii: true } };
  // Left to JavaScript: with the ids' random bytes already drawn.
  const drawn = written.random;
  return writePredictionsJs(
    scored,
    classes,
    count,
    (bytes) => bytes.set(drawn.subarray(0, bytes.length)),
    labels,
  );
}

/** The most bytes a value prediction takes, with the comma before it. */
function valueRowBytes(): number {
  return OPEN_ID.length + 36 + THEN_VALUE.length + MAX_NUMBER + 2;
}

/** {@link writePredictions} in JavaScript alone (tests compare the two writers with it). */
export function writePredictionsJs(
  scored: ScoredBatch,
  classes: readonly string[],
  count: number,
  entropy: Entropy = systemEntropy,
  indexes?: Int32Array,
): WrittenPredictions {
  const digits = idDigits(count, entropy);
  const keys = scored.kind === 'values' ? undefined : classBytes(classes);
  // Class names that are not ASCII (and, defensively, a label outside the classes) take the strings.
  const viaTexts = (): WrittenPredictions => ({
    predictions: joinRows(
      predictionTexts(
        scored,
        classes,
        Array.from({ length: count }, (_, i) => idText(digits, i)),
        0,
      ),
    ),
  });
  if (scored.kind === 'classes' && keys === undefined) return viaTexts();
  const rowBytes = keys?.maxRow ?? valueRowBytes();
  // Three more bytes: a string is written in whole words (see putWords).
  const out = outScratch.get(rowBytes * count + 3);
  const view = outScratch.view;
  const ends = new Int32Array(count);
  const idView = digits.view;
  const columns = classKeys(classes).columns;
  const width = columns.length;
  const probabilities = scored.kind === 'classes' ? scored.probabilities : new Float32Array(0);
  const labelIndexes =
    scored.kind === 'classes' ? (indexes ?? classIndexes(scored.labels, classes, count)) : undefined;
  let at = 0;
  for (let i = 0; i < count; i++) {
    // OPEN_ID begins with the comma between two predictions; the first one goes without.
    at = putWords(view, at, i === 0 ? OPEN_FIRST_ID : OPEN_ID);
    // The id's 36 characters, 4 at a time.
    at = putId(view, at, idView, i);
    if (keys === undefined) {
      at = putWords(view, at, THEN_VALUE);
      at = putFloat32(out, view, at, (scored as { values: Float32Array }).values[i] as number);
      out[at++] = 125; // }
    } else {
      const afterId = keys.afterId[(labelIndexes as Int32Array)[i] as number];
      if (afterId === undefined) return viaTexts();
      at = putWords(view, at, afterId);
      const base = i * width;
      at = putFloat32(out, view, at, probabilities[base + (columns[0] as number)] as number);
      for (let c = 1; c < width; c++) {
        at = putWords(view, at, keys.nextKeys[c - 1] as ByteWords);
        at = putFloat32(out, view, at, probabilities[base + (columns[c] as number)] as number);
      }
      out[at++] = 125; // }
      out[at++] = 125;
    }
    ends[i] = at;
  }
  return { predictions: { pieces: latin1Pieces(out, at), ends, ascii: true } };
}

/** `JSON.stringify({ predictions, model })` given the predictions' JSON rows. */
export function predictBody(predictions: JsonRows, model: ServedModel): string {
  return `{"predictions":[${rowsText(predictions, 0, predictions.ends.length)}],"model":${servedModelJson(model)}}`;
}

/** The last model {@link servedModelJson} wrote, and its JSON. */
let lastServed: { version: number | null; sha256: string; json: string } | undefined;

/**
 * `JSON.stringify({ version, sha256 })` of a served model, kept for the last model: every response and
 * capture record of a model carries it (a first call of `JSON.stringify` after a model run costs ~10 µs).
 */
export function servedModelJson(model: ServedModel): string {
  const last = lastServed;
  if (last !== undefined && last.version === model.version && last.sha256 === model.sha256) return last.json;
  const json = JSON.stringify({ version: model.version, sha256: model.sha256 });
  lastServed = { version: model.version, sha256: model.sha256, json };
  return json;
}
