/**
 * AssemblyScript: the canonical-instance reader of `POST /predict`, compiled to WebAssembly (built by
 * `npm run build:wasm` into `pipelines/serving/instances-wasm-binary.ts`; the JavaScript side is
 * `pipelines/serving/instances-wasm.ts`, which documents what it answers for and what it leaves to
 * the JavaScript reader).
 *
 * It reads a body's UTF-8 bytes when it is `{"instances":[…]}` and every instance is written the
 * usual way — each feature once, in captured order, nothing else, no whitespace inside, instances
 * separated by a bare comma — and gives, per feature, a column of doubles (numeric) or of value ids
 * (categorical), and where each instance ends in the text. Anything else returns {@link UNHANDLED}:
 * the caller then reads the body with the JavaScript reader, which answers for every body.
 *
 * Memory is laid out by the caller, past {@link heapBase}; this module allocates nothing.
 */

/** The body is not one this reader answers for: the JavaScript reader reads it. */
const UNHANDLED: i32 = -1;
/** The value cache is full: the caller clears it ({@link resetCache}) and calls again. */
const CACHE_FULL: i32 = -2;

/** A categorical column's id of `null`. */
const NULL_ID: i32 = -1;
/** Column entries below this are `LONG_BASE - k`: long value `k` of the long-value list. */
const LONG_BASE: i32 = -2;

/** Bytes of one feature's entry in the feature table (see {@link read}). */
const FEATURE_BYTES: usize = 48;

/** Slots of the value cache's hash table (a power of two) and bytes of a slot (an id + 1; 0 empty). */
const SLOTS: u32 = 8192;
const SLOT_BYTES: usize = 2;
/** Longer values (in bytes) are not cached: they go in the long-value list. */
const CACHE_MAX_BYTES: i32 = 32;

/** Exact powers of ten: Clinger's fast path divides or multiplies by one of these. */
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
  1e19, 1e20, 1e21, 1e22,
];

// The value cache: a hash table of ids (16 KB: few cache lines to miss after a model run has evicted
// them), the values' bytes in an arena, and per id its arena offset and length (the caller makes each
// new id's string from them).
let table: usize = 0;
let arena: usize = 0;
let arenaCapacity: i32 = 0;
let arenaUsed: i32 = 0;
let idList: usize = 0;
let maxIds: i32 = 0;
let nextId: i32 = 0;

// Set by read: the text position of the first instance, and whether any key or value read is not ASCII.
let firstStart: i32 = 0;
let nonAscii: i32 = 0;

// Results of the token readers (module scratch: no allocation).
let numberValue: f64 = 0;
let stringExtra: i32 = 0;

/** Where the caller's memory may start: past this module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

/** Sets the value cache's memory (`SLOTS * 2` bytes of table, the arena, 8 bytes per id) and empties it. */
export function resetCache(tablePtr: usize, arenaPtr: usize, capacity: i32, idListPtr: usize, ids: i32): void {
  table = tablePtr;
  arena = arenaPtr;
  arenaCapacity = capacity;
  arenaUsed = 0;
  idList = idListPtr;
  maxIds = ids;
  nextId = 0;
  memory.fill(table, 0, <usize>SLOTS * SLOT_BYTES);
}

/** How many ids the cache has given (ids `0` to this minus one have their bytes in the id list). */
export function idsUsed(): i32 {
  return nextId;
}

export function firstInstanceStart(): i32 {
  return firstStart;
}

export function sawNonAscii(): i32 {
  return nonAscii;
}

@inline
function isDigit(c: u32): bool {
  return c - 48 < 10;
}

@inline
function isSpace(c: u32): bool {
  return c == 32 || c == 10 || c == 13 || c == 9;
}

function skipSpace(b: usize, pos: i32): i32 {
  while (isSpace(<u32>load<u8>(b + pos))) pos++;
  return pos;
}

/**
 * Reads the JSON number token at `pos` into {@link numberValue} when Clinger's fast path gives its
 * double exactly (at most 15 digits, a power of ten up to 22); returns the end, or -1 (not a
 * number, or one the caller must read otherwise).
 */
function numberEnd(b: usize, pos: i32): i32 {
  let c = <u32>load<u8>(b + pos);
  const negative = c == 45;
  if (negative) c = <u32>load<u8>(b + ++pos);
  let mantissa: f64 = 0;
  let digits = 0;
  let scale = 0;
  if (c == 48) c = <u32>load<u8>(b + ++pos);
  else if (c - 49 < 9) {
    do {
      mantissa = mantissa * 10 + <f64>(c - 48);
      digits++;
      c = <u32>load<u8>(b + ++pos);
    } while (isDigit(c));
  } else return -1;
  if (c == 46) {
    c = <u32>load<u8>(b + ++pos);
    if (!isDigit(c)) return -1;
    do {
      mantissa = mantissa * 10 + <f64>(c - 48);
      digits++;
      scale--;
      c = <u32>load<u8>(b + ++pos);
    } while (isDigit(c));
  }
  if (c == 101 || c == 69) {
    c = <u32>load<u8>(b + ++pos);
    let sign = 1;
    if (c == 43 || c == 45) {
      if (c == 45) sign = -1;
      c = <u32>load<u8>(b + ++pos);
    }
    if (!isDigit(c)) return -1;
    let exponent = 0;
    do {
      if (exponent < 100000) exponent = exponent * 10 + <i32>(c - 48);
      c = <u32>load<u8>(b + ++pos);
    } while (isDigit(c));
    scale += sign * exponent;
  }
  if (digits > 15 || scale < -22 || scale > 22) return -1;
  const magnitude = scale < 0 ? mantissa / unchecked(POW10[-scale]) : mantissa * unchecked(POW10[scale]);
  numberValue = negative ? -magnitude : magnitude;
  return pos;
}

/**
 * From the opening quote at `pos`: the index of the closing quote of a string without escapes or
 * control characters, or -1. Sets {@link stringExtra}: how many more UTF-8 bytes than UTF-16 units.
 */
function stringClose(b: usize, pos: i32): i32 {
  let extra = 0;
  let i = pos + 1;
  for (;;) {
    const c = <u32>load<u8>(b + i);
    if (c == 34) break;
    if (c == 92 || c < 32) return -1;
    if (c > 127) extra += (c & 0xc0) == 0x80 ? 1 : c >= 0xf0 ? -1 : 0;
    i++;
  }
  stringExtra = extra;
  return i;
}

/** The cache id of the bytes `start` to `start + length - 1`, a new one if need be; -1 when full. */
function valueId(b: usize, start: i32, length: i32): i32 {
  let hash: u32 = <u32>length;
  for (let i = 0; i < length; i++) hash = (hash ^ <u32>load<u8>(b + start + i)) * 0x01000193;
  let slot = (hash ^ (hash >>> 15)) & (SLOTS - 1);
  // Linear probing: every value seen since the last reset keeps its id.
  for (;;) {
    const stored = <i32>load<u16>(table + <usize>slot * SLOT_BYTES);
    if (stored == 0) break;
    const entry = idList + (<usize>(stored - 1) << 3);
    if (load<i32>(entry, 4) == length) {
      const bytes = arena + <usize>load<i32>(entry);
      let same = true;
      for (let k = 0; k < length; k++) {
        if (load<u8>(bytes + k) != load<u8>(b + start + k)) {
          same = false;
          break;
        }
      }
      if (same) return stored - 1;
    }
    slot = (slot + 1) & (SLOTS - 1);
  }
  // Half the slots at most, so probes stay short.
  if (nextId >= maxIds || <u32>nextId >= SLOTS / 2 || arenaUsed + length > arenaCapacity) return -1;
  memory.copy(arena + <usize>arenaUsed, b + start, <usize>length);
  const id = nextId++;
  store<u16>(table + <usize>slot * SLOT_BYTES, <u16>(id + 1));
  store<i32>(idList + (<usize>id << 3), arenaUsed);
  store<i32>(idList + (<usize>id << 3), length, 4);
  arenaUsed += length;
  return id;
}

/**
 * Reads the body of `length` bytes at `b` (a 0 byte after it, and three more readable bytes).
 *
 * `features` is a table of `width` entries of {@link FEATURE_BYTES}, in captured key order: `"<name>":`
 * in UTF-8 (offset i32, length i32), kind i32 (0 numeric, 1 categorical), the column's address i32,
 * the numeric interval (lo f64 at 16, hi f64 at 24), whether `null` is accepted (i32 at 32), and how
 * many more UTF-8 bytes than UTF-16 units the key has (i32 at 36). A numeric column takes doubles (NaN
 * for `null`), a categorical one i32: a cache id, {@link NULL_ID}, or {@link LONG_BASE} `- k` for
 * entry `k` of the long-value list (`longs`: byte start i32, length i32 per entry).
 *
 * Returns the instance count, {@link UNHANDLED} or {@link CACHE_FULL}. `ends` gets, per instance, the
 * text position (UTF-16 units) just past it, less {@link firstInstanceStart}.
 */
export function read(
  b: usize,
  length: i32,
  features: usize,
  width: i32,
  capacity: i32,
  ends: usize,
  longs: usize,
): i32 {
  // Entries of the long-value list so far.
  let longCount = 0;
  nonAscii = 0;
  // Bytes read so far beyond their UTF-16 units: a byte position less this is a text position.
  let delta = 0;
  let pos = skipSpace(b, 0);
  if (load<u8>(b + pos) != 123) return UNHANDLED;
  pos = skipSpace(b, pos + 1);
  if (!instancesKeyAt(b, pos)) return UNHANDLED;
  pos = skipSpace(b, pos + 11);
  if (load<u8>(b + pos) != 58) return UNHANDLED;
  pos = skipSpace(b, pos + 1);
  if (load<u8>(b + pos) != 91) return UNHANDLED;
  pos = skipSpace(b, pos + 1);
  firstStart = pos;
  let count = 0;
  for (;;) {
    if (count == capacity) return UNHANDLED;
    if (load<u8>(b + pos) != 123) return UNHANDLED;
    let p = pos + 1;
    for (let k = 0; k < width; k++) {
      const f = features + <usize>k * FEATURE_BYTES;
      const key = <usize>load<i32>(f);
      const keyLength = load<i32>(f, 4);
      let q = 0;
      for (; q + 4 <= keyLength; q += 4) if (load<u32>(b + p + q) != load<u32>(key + q)) return UNHANDLED;
      for (; q < keyLength; q++) if (load<u8>(b + p + q) != load<u8>(key + q)) return UNHANDLED;
      p += keyLength;
      const keyExtra = load<i32>(f, 36);
      if (keyExtra != 0) {
        delta += keyExtra;
        nonAscii = 1;
      }
      const column = <usize>load<i32>(f, 12);
      const c = <u32>load<u8>(b + p);
      if (load<i32>(f, 8) == 0) {
        let value: f64;
        if (c == 45 || isDigit(c)) {
          p = numberEnd(b, p);
          if (p < 0) return UNHANDLED;
          value = numberValue;
          if (!(value >= load<f64>(f, 16) && value <= load<f64>(f, 24))) return UNHANDLED;
        } else {
          if (c != 110 || load<u32>(b + p) != 0x6c6c756e || load<i32>(f, 32) == 0) return UNHANDLED;
          p += 4;
          value = NaN;
        }
        store<f64>(column + (<usize>count << 3), value);
      } else {
        let id: i32;
        if (c == 34) {
          const close = stringClose(b, p);
          if (close < 0) return UNHANDLED;
          const start = p + 1;
          const bytes = close - start;
          if (stringExtra != 0) {
            delta += stringExtra;
            nonAscii = 1;
          }
          if (bytes > CACHE_MAX_BYTES) {
            store<i32>(longs + (<usize>longCount << 3), start);
            store<i32>(longs + (<usize>longCount << 3), bytes, 4);
            id = LONG_BASE - longCount;
            longCount++;
          } else {
            id = valueId(b, start, bytes);
            if (id < 0) return CACHE_FULL;
          }
          p = close + 1;
        } else {
          if (c != 110 || load<u32>(b + p) != 0x6c6c756e || load<i32>(f, 32) == 0) return UNHANDLED;
          p += 4;
          id = NULL_ID;
        }
        store<i32>(column + (<usize>count << 2), id);
      }
      if (<u32>load<u8>(b + p) != (k == width - 1 ? 125 : 44)) return UNHANDLED;
      p++;
    }
    store<i32>(ends + (<usize>count << 2), p - delta - firstStart);
    count++;
    const c = <u32>load<u8>(b + p);
    if (c == 44) {
      // The next instance right after the comma: the captured text stays one slice of the body.
      pos = p + 1;
      continue;
    }
    pos = skipSpace(b, p);
    if (load<u8>(b + pos) != 93) return UNHANDLED;
    pos = skipSpace(b, pos + 1);
    if (load<u8>(b + pos) != 125) return UNHANDLED;
    return skipSpace(b, pos + 1) == length ? count : UNHANDLED;
  }
}

/** Whether `"instances"` is at `pos`. */
function instancesKeyAt(b: usize, pos: i32): bool {
  // "instan / ces" as two little-endian words and the rest bytewise.
  return (
    load<u32>(b + pos) == 0x736e6922 &&
    load<u32>(b + pos + 4) == 0x636e6174 &&
    load<u8>(b + pos + 8) == 0x65 &&
    load<u8>(b + pos + 9) == 0x73 &&
    load<u8>(b + pos + 10) == 0x22
  );
}
