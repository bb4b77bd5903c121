/**
 * The fast path of `POST /predict`: the instances of a valid `{"instances":[…]}` body read straight
 * from its text into columns, without `JSON.parse` building objects for the validator to walk (at
 * 1,000 instances the parse and the walk took 0.75 ms, a sixth of a small model's run).
 *
 * It is only a shortcut. {@link readInstancesText} answers for the bodies it fully understands —
 * the envelope `{"instances":[…]}`, instances that are flat objects whose feature values are numbers,
 * strings without escapes, `true`, `false` or `null` and whose other keys hold scalars, any JSON
 * whitespace, every value passing its feature's rule — and gives what `JSON.parse` +
 * `RequestValidator.instances` would, by column: the same values (as `JSON.parse` reads them) and
 * the same count of ignored keys. For anything else — malformed JSON, an invalid value, an escape in
 * a feature value or a key, a duplicate key, a nested value, no instances, too many — it returns
 * `undefined` and the request takes the full path, which decides and words the error. A differential
 * fuzz test (`test/pipelines/serving/instances-text.test.ts`) holds it to that.
 *
 * It also gives each instance's captured JSON (`{"<feature>":<value>,…}`, every feature in the
 * captured order, a missing one as `null`) made of the request's own tokens: when the instance is
 * written exactly that way, a slice of the body, so capture formats no numbers.
 */
import type { RawValue } from '../model/raw.ts';
import type { ValueColumn, ValueColumns } from '../onnx/inputs.ts';
import { type JsonRows, joinRows } from './json-rows.ts';
import type { JsonKeys } from './predict-body.ts';

/** One feature as the reader checks it. */
export interface TextFeature {
  readonly name: string;
  /** The validation rule's plain predicate (see `acceptsValue` in `validation.ts`). */
  readonly accepts: (value: unknown) => boolean;
  /** For a numeric feature, the accepted interval (the same test as `accepts`, without a call). */
  readonly bounds?: { readonly lo: number; readonly hi: number };
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
  /** The UTF-16 units of `"<name>"` of each captured key, when its JSON needs no escape. */
  readonly keyUnits: readonly (readonly number[] | undefined)[];
  /** Whether each captured key is ASCII (a key matched by its units is not looked at again). */
  readonly keyAscii: readonly boolean[];
  readonly maxInstances: number;
  /** The reader's cache of categorical values (see `categoryText`). */
  readonly categories: (string | undefined)[];
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
    keyUnits: captured.names.map((name) => {
      const quoted = JSON.stringify(name);
      // By UTF-16 unit (a name outside the Basic Multilingual Plane has two per character).
      return quoted === `"${name}"`
        ? Array.from({ length: quoted.length }, (_, k) => quoted.charCodeAt(k))
        : undefined;
    }),
    keyAscii: captured.names.map((name) => !/[^\x20-\x7e]/.test(name)),
    maxInstances,
    categories: new Array<string | undefined>(CACHE_SLOTS).fill(undefined),
  };
}

const INSTANCES_KEY = Array.from('"instances"', (ch) => ch.charCodeAt(0));

/** Exact powers of ten: Clinger's fast path divides or multiplies by one of these. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** The value of the last number read by {@link numberEnd} (a module scratch: no boxing, no object). */
let numberValue = 0;

/** The value of the last literal read by {@link literalEnd}. */
let literalValue: boolean | null = null;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(text: string, pos: number): number {
  while (isSpace(text.charCodeAt(pos))) pos += 1;
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
function numberEnd(text: string, pos: number): number {
  const start = pos;
  let c = text.charCodeAt(pos);
  const negative = c === 45;
  if (negative) c = text.charCodeAt(++pos);
  // Digits go into an integer while it stays exact (15 digits < 2^53); longer numbers take Number().
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  if (c === 48) c = text.charCodeAt(++pos);
  else if (c >= 49 && c <= 57) {
    do {
      mantissa = mantissa * 10 + (c - 48);
      digits += 1;
      c = text.charCodeAt(++pos);
    } while (isDigit(c));
  } else return -1;
  if (c === 46) {
    c = text.charCodeAt(++pos);
    if (!isDigit(c)) return -1;
    do {
      mantissa = mantissa * 10 + (c - 48);
      digits += 1;
      scale -= 1;
      c = text.charCodeAt(++pos);
    } while (isDigit(c));
  }
  if (c === 101 || c === 69) {
    c = text.charCodeAt(++pos);
    let sign = 1;
    if (c === 43 || c === 45) {
      if (c === 45) sign = -1;
      c = text.charCodeAt(++pos);
    }
    if (!isDigit(c)) return -1;
    let exponent = 0;
    do {
      // Capped: only whether it is small matters here; Number() reads the token otherwise.
      if (exponent < 100_000) exponent = exponent * 10 + (c - 48);
      c = text.charCodeAt(++pos);
    } while (isDigit(c));
    scale += sign * exponent;
  }
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    // Clinger's fast path: an exact integer and an exact power of ten, so one IEEE operation gives
    // the correctly rounded double, as JSON.parse does.
    const magnitude = scale < 0 ? mantissa / (POW10[-scale] as number) : mantissa * (POW10[scale] as number);
    numberValue = negative ? -magnitude : magnitude;
  } else numberValue = Number(text.slice(start, pos));
  return pos;
}

/** Whether a string read by {@link plainStringClose} since the reader started held a non-ASCII unit. */
let nonAscii = false;

/** From the opening quote at `pos`: the index of the closing quote of a string with no escape, or -1. */
function plainStringClose(text: string, pos: number): number {
  const length = text.length;
  for (let i = pos + 1; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92 || c < 32) return -1;
    if (c > 127) {
      nonAscii = true;
      if (c >= 0xd800 && c <= 0xdfff) {
        // A surrogate must be the first of a pair; a lone one (only a JavaScript caller can send it)
        // is left to the full path, whose capture escapes it as JSON.stringify does.
        if (c >= 0xdc00) return -1;
        const low = text.charCodeAt(i + 1);
        if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
        i += 1;
      }
    }
  }
  return -1;
}

/** Slots of the category cache (a power of two). */
const CACHE_SLOTS = 4096;
/** Longer values are not cached. */
const CACHE_MAX_LENGTH = 32;

/**
 * `text.slice(start, end)`, the same string object as last time for a value seen before in its
 * cache slot: categorical values repeat from request to request, and a string made once keeps the
 * hash V8 computed for it, so the category lookups after this (validation, the count of unknown
 * values) do not hash it again. A slot holds the last value that fell in it.
 */
function categoryText(cache: (string | undefined)[], text: string, start: number, end: number): string {
  const length = end - start;
  if (length > CACHE_MAX_LENGTH) return text.slice(start, end);
  let hash = length;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  const slot = (hash ^ (hash >>> 15)) & (CACHE_SLOTS - 1);
  const cached = cache[slot];
  if (cached !== undefined && cached.length === length) {
    let same = true;
    for (let k = 0; k < length && same; k++) same = cached.charCodeAt(k) === text.charCodeAt(start + k);
    if (same) return cached;
  }
  const value = text.slice(start, end);
  cache[slot] = value;
  return value;
}

/** From the opening quote at `pos`: the end of a valid string token (escapes allowed), or -1. */
function stringEnd(text: string, pos: number): number {
  const length = text.length;
  let i = pos + 1;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c < 32) return -1;
    if (c !== 92) {
      i += 1;
      continue;
    }
    const e = text.charCodeAt(i + 1);
    if (e === 117 /* u */) {
      for (let k = 2; k <= 5; k++) if (!isHex(text.charCodeAt(i + k))) return -1;
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
  return -1;
}

const TRUE = Array.from('true', (ch) => ch.charCodeAt(0));
const FALSE = Array.from('false', (ch) => ch.charCodeAt(0));
const NULL = Array.from('null', (ch) => ch.charCodeAt(0));

/** The end of `true`, `false` or `null` at `pos`, or -1; its value in {@link literalValue}. */
function literalEnd(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  let word: readonly number[];
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
  return unitsAt(text, pos, word) ? pos + word.length : -1;
}

/** The end of any scalar token at `pos` (strings with escapes too), or -1; nested values are refused. */
function scalarEnd(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  if (c === 34) return stringEnd(text, pos);
  if (c === 45 || isDigit(c)) return numberEnd(text, pos);
  return literalEnd(text, pos);
}

/** Whether `units` (a quoted key) are at `pos`. */
function unitsAt(text: string, pos: number, units: readonly number[]): boolean {
  for (let k = 0; k < units.length; k++) if (text.charCodeAt(pos + k) !== units[k]) return false;
  return true;
}

/**
 * The captured JSON rows of the instances: the body's own array text when every instance is its own
 * captured JSON and nothing but a comma separates them (no copy at all), else joined.
 */
function capturedRows(
  text: string,
  starts: readonly number[],
  ends: readonly number[],
  written: readonly (string | undefined)[],
  rewritten: boolean,
): JsonRows {
  const first = starts[0] as number;
  let contiguous = !rewritten;
  for (let i = 1; contiguous && i < starts.length; i++)
    contiguous = starts[i] === (ends[i - 1] as number) + 1;
  if (contiguous) {
    const rowEnds = new Int32Array(ends.length);
    for (let i = 0; i < ends.length; i++) rowEnds[i] = (ends[i] as number) - first;
    // One slice of the body: V8 keeps it as a reference into the body, whatever its length. Its only
    // strings are feature values, which the reader checked for non-ASCII units.
    return { pieces: [text.slice(first, ends[ends.length - 1])], ends: rowEnds, ascii: !nonAscii };
  }
  return joinRows(written.map((json, i) => json ?? text.slice(starts[i], ends[i])));
}

/**
 * The instances of a `/predict` body read from its text, or `undefined` when the body is anything the
 * fast path does not fully understand (see the module doc).
 */
export function readInstancesText(text: string, rules: InstanceTextRules): TextInstances | undefined {
  const features = rules.features;
  const width = features.length;
  const { capturedFeature, keyUnits, keyAscii, captured } = rules;
  // Plain arrays: V8 stores doubles in them unboxed, and makes a small one far faster than a typed array.
  const numeric: (number[] | undefined)[] = features.map((f) => (f.bounds === undefined ? undefined : []));
  const categorical: (RawValue[] | undefined)[] = features.map((f) =>
    f.bounds === undefined ? [] : undefined,
  );
  // Each instance's bounds in the text, and its captured JSON when that is not its own text.
  const objectStarts: number[] = [];
  const objectEnds: number[] = [];
  const written: (string | undefined)[] = [];
  let rewritten = false;
  let count = 0;
  let ignoredFields = 0;
  // Per instance: where each feature's token starts and ends (when seen).
  const starts = new Int32Array(width);
  const ends = new Int32Array(width);
  // seen[j] === stamp: instance number stamp - 1 has feature j (no clearing between instances).
  const seen = new Int32Array(width);

  nonAscii = false;
  let pos = skipSpace(text, 0);
  if (text.charCodeAt(pos) !== 123 /* { */) return undefined;
  pos = skipSpace(text, pos + 1);
  if (!unitsAt(text, pos, INSTANCES_KEY)) return undefined;
  pos = skipSpace(text, pos + INSTANCES_KEY.length);
  if (text.charCodeAt(pos) !== 58 /* : */) return undefined;
  pos = skipSpace(text, pos + 1);
  if (text.charCodeAt(pos) !== 91 /* [ */) return undefined;
  pos = skipSpace(text, pos + 1);
  if (text.charCodeAt(pos) === 93 /* ] */) return undefined; // no instances: the full path says so

  for (;;) {
    if (count === rules.maxInstances) return undefined; // too many: the full path answers 413
    if (text.charCodeAt(pos) !== 123 /* { */) return undefined;
    const objectStart = pos;
    pos += 1;
    const stamp = count + 1;
    let keys = 0;
    let unknown: string[] | undefined;
    // The captured JSON is the instance's own text when its keys are exactly the features in
    // captured order, with no whitespace anywhere.
    let canonical = true;
    let c = text.charCodeAt(pos);
    if (isSpace(c)) {
      canonical = false;
      pos = skipSpace(text, pos);
      c = text.charCodeAt(pos);
    }
    if (c === 125 /* } */) pos += 1;
    else {
      for (;;) {
        // The key: the expected one (the next in captured order) by its units, else decoded.
        let j: number;
        const expected = keys < width ? keyUnits[keys] : undefined;
        if (expected !== undefined && unitsAt(text, pos, expected)) {
          j = capturedFeature[keys] as number;
          pos += expected.length;
          if (!(keyAscii[keys] as boolean)) nonAscii = true;
        } else {
          canonical = false;
          if (text.charCodeAt(pos) !== 34) return undefined;
          const close = plainStringClose(text, pos);
          if (close === -1) return undefined; // a key with escapes: only the full path decodes it
          const name = text.slice(pos + 1, close);
          pos = close + 1;
          j = rules.index.get(name) ?? -1;
          if (j === -1) {
            if (unknown === undefined) unknown = [name];
            else if (unknown.includes(name))
              return undefined; // a duplicate key: JSON.parse keeps the last
            else unknown.push(name);
          }
        }
        c = text.charCodeAt(pos);
        if (c !== 58 /* : */) {
          canonical = false;
          pos = skipSpace(text, pos);
          if (text.charCodeAt(pos) !== 58) return undefined;
        }
        pos += 1;
        c = text.charCodeAt(pos);
        if (isSpace(c)) {
          canonical = false;
          pos = skipSpace(text, pos);
          c = text.charCodeAt(pos);
        }
        if (j === -1) {
          pos = scalarEnd(text, pos);
          if (pos === -1) return undefined;
        } else {
          if (seen[j] === stamp) return undefined; // a duplicate key
          const start = pos;
          const feature = features[j] as TextFeature;
          const bounds = feature.bounds;
          if (bounds !== undefined) {
            let value: number;
            if (c === 45 || isDigit(c)) {
              pos = numberEnd(text, pos);
              if (pos === -1) return undefined;
              value = numberValue;
              if (!(value >= bounds.lo && value <= bounds.hi)) return undefined;
            } else {
              pos = literalEnd(text, pos);
              if (pos === -1 || literalValue !== null || !feature.accepts(null)) return undefined;
              value = Number.NaN;
            }
            (numeric[j] as number[])[count] = value;
          } else {
            let value: RawValue;
            if (c === 34) {
              const close = plainStringClose(text, pos);
              if (close === -1) return undefined;
              value = categoryText(rules.categories, text, pos + 1, close);
              pos = close + 1;
            } else if (c === 45 || isDigit(c)) {
              pos = numberEnd(text, pos);
              if (pos === -1) return undefined;
              value = numberValue;
            } else {
              pos = literalEnd(text, pos);
              if (pos === -1) return undefined;
              value = literalValue;
            }
            if (!feature.accepts(value)) return undefined;
            (categorical[j] as RawValue[])[count] = value;
          }
          seen[j] = stamp;
          starts[j] = start;
          ends[j] = pos;
        }
        keys += 1;
        c = text.charCodeAt(pos);
        if (isSpace(c)) {
          canonical = false;
          pos = skipSpace(text, pos);
          c = text.charCodeAt(pos);
        }
        pos += 1;
        if (c === 125 /* } */) break;
        if (c !== 44 /* , */) return undefined;
        c = text.charCodeAt(pos);
        if (isSpace(c)) {
          canonical = false;
          pos = skipSpace(text, pos);
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
          (numeric[j] as number[])[count] = Number.NaN;
        }
      }
      if (unknown !== undefined) ignoredFields += unknown.length;
    }
    count += 1;
    objectStarts.push(objectStart);
    objectEnds.push(pos);
    if (canonical) written.push(undefined);
    else {
      rewritten = true;
      let json = '{';
      for (let k = 0; k < captured.names.length; k++) {
        const j = capturedFeature[k] as number;
        const value = seen[j] === stamp ? text.slice(starts[j], ends[j]) : 'null';
        json += `${k === 0 ? '' : ','}${captured.prefixes[k]}${value}`;
      }
      written.push(`${json}}`);
    }
    pos = skipSpace(text, pos);
    c = text.charCodeAt(pos);
    pos = skipSpace(text, pos + 1);
    if (c === 93 /* ] */) break;
    if (c !== 44 /* , */) return undefined;
  }
  if (text.charCodeAt(pos) !== 125 /* } */) return undefined;
  if (skipSpace(text, pos + 1) !== text.length) return undefined;
  const columns = new Map<string, ValueColumn>();
  features.forEach((feature, j) => {
    columns.set(
      feature.name,
      numeric[j] === undefined ? (categorical[j] as RawValue[]) : { doubles: numeric[j] },
    );
  });
  return {
    count,
    columns,
    ignoredFields,
    instanceJson: capturedRows(text, objectStarts, objectEnds, written, rewritten),
  };
}
