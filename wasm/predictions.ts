/**
 * AssemblyScript: the prediction writer of `POST /predict`, compiled to WebAssembly (built by
 * `npm run build:wasm` into `pipelines/serving/predictions-wasm-binary.ts`; the JavaScript side is
 * `pipelines/serving/predictions-wasm.ts`).
 *
 * It writes each prediction's JSON — `{"predictionId":"<uuid>","label":…,"probabilities":{…}}` or
 * `{"predictionId":"<uuid>","value":…}` — joined by commas, byte for byte what `writePredictionsJs` in
 * `predict-body.ts` writes: the id from 16 random bytes (UUID version 4), every number as
 * `float32Json` writes it. A number of 1e8 or more (written by JavaScript's own formatting) or a label
 * outside the classes makes it return -1: the caller then writes the batch in JavaScript.
 *
 * Memory is laid out by the caller, past {@link heapBase}; this module allocates nothing.
 */

/** 10^k as doubles (exact up to 1e22; beyond, the digits need only a close product). */
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
  1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35,
  1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52,
  1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59,
];

/** 10^-k as doubles. */
const NEGATIVE_POW10: StaticArray<f64> = [
  1e-0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
  1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22, 1e-23, 1e-24, 1e-25, 1e-26, 1e-27, 1e-28, 1e-29, 1e-30,
  1e-31, 1e-32, 1e-33, 1e-34, 1e-35, 1e-36, 1e-37, 1e-38, 1e-39, 1e-40, 1e-41, 1e-42, 1e-43, 1e-44, 1e-45,
  1e-46, 1e-47, 1e-48, 1e-49, 1e-50, 1e-51, 1e-52, 1e-53, 1e-54, 1e-55, 1e-56, 1e-57, 1e-58, 1e-59,
];

/** Set when a number needs JavaScript's own formatting (see the module doc). */
let unhandled: bool = false;

/** Where the caller's memory may start: past this module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

/** `Math.round` of JavaScript for 0 ≤ x < 2^52: the nearest integer, a tie going up. */
@inline
function round(x: f64): f64 {
  const whole = Math.floor(x);
  return x - whole >= 0.5 ? whole + 1 : whole;
}

/** `floor(log10(magnitude))` for 0 < magnitude < 1e8, possibly one off at a power of ten. */
function decimalExponent(magnitude: f64): i32 {
  let exponent = 0;
  if (magnitude >= 1) {
    while (exponent < 7 && magnitude >= unchecked(POW10[exponent + 1])) exponent++;
    return exponent;
  }
  exponent = -1;
  while (magnitude < unchecked(NEGATIVE_POW10[-exponent]) && exponent > -50) exponent--;
  return exponent;
}

/** "00" to "99" as little-endian 16-bit words: two digits in one store. */
const DIGIT_PAIRS = memory.data(200);
for (let k = 0; k < 100; k++) store<u16>(DIGIT_PAIRS + (<usize>k << 1), <u16>((48 + k / 10) | ((48 + (k % 10)) << 8)));

/** Each byte's two lowercase hex digits as a little-endian 16-bit word. */
const HEX_PAIRS = memory.data(512);
for (let k = 0; k < 256; k++) store<u16>(HEX_PAIRS + (<usize>k << 1), <u16>(hexDigit(k >> 4) | (<u32>hexDigit(k & 15) << 8)));

/** Writes the `count` decimal digits of `n` (< 2^31) at `at`, two at a time; returns the end. */
function putDigits(out: usize, at: i32, n: i32, count: i32): i32 {
  let rest = <u32>n;
  let k = at + count - 2;
  while (k >= at) {
    const next = rest / 100;
    store<u16>(out + k, load<u16>(DIGIT_PAIRS + (<usize>(rest - next * 100) << 1)));
    rest = next;
    k -= 2;
  }
  if (k == at - 1) store<u8>(out + at, <u8>(48 + rest));
  return at + count;
}

/** Moves the bytes `from` to `end - 1` one place on (a few digits: cheaper than `memory.copy`). */
@inline
function shiftRight(out: usize, from: i32, end: i32): void {
  for (let k = end - 1; k >= from; k--) store<u8>(out + k + 1, load<u8>(out + k));
}

/** Writes `float32Json(value)` (see `predict-body.ts`) at `at`; returns the end. */
function putFloat32(out: usize, at: i32, value: f64): i32 {
  if (!isFinite(value)) {
    store<u32>(out + at, 0x6c6c756e); // null
    return at + 4;
  }
  if (value == 0) {
    store<u8>(out + at, 48);
    return at + 1;
  }
  let magnitude = value;
  if (value < 0) {
    store<u8>(out + at, 45);
    at++;
    magnitude = -value;
  }
  if (magnitude >= 1e8) {
    unhandled = true;
    return at;
  }
  let exponent = decimalExponent(magnitude);
  let rounded = round(magnitude * unchecked(POW10[8 - exponent]));
  if (rounded < 1e8) {
    exponent--;
    rounded = round(magnitude * unchecked(POW10[8 - exponent]));
  }
  if (rounded >= 1e9) {
    exponent++;
    rounded = round(magnitude * unchecked(POW10[8 - exponent]));
    if (rounded >= 1e9) rounded = 1e8;
  }
  let n = <i32>rounded;
  if (exponent < 0 && exponent >= -6) {
    // 0.[0…]ddddddddd, trailing zeros dropped.
    store<u16>(out + at, 0x2e30); // 0.
    at += 2;
    for (let k = -1; k > exponent; k--) store<u8>(out + at++, 48);
    at = putDigits(out, at, n, 9);
    while (load<u8>(out + at - 1) == 48) at--;
    return at;
  }
  let digits = 9;
  while (n % 10 == 0) {
    n /= 10;
    digits--;
  }
  if (exponent < -6) {
    // d[.ddd]e-x
    const first = at;
    at = putDigits(out, at, n, digits);
    if (digits > 1) {
      shiftRight(out, first + 1, at);
      store<u8>(out + first + 1, 46);
      at++;
    }
    store<u16>(out + at, 0x2d65); // e-
    at += 2;
    const e = -exponent;
    return putDigits(out, at, e, e >= 10 ? 2 : 1);
  }
  const whole = exponent + 1;
  if (digits <= whole) {
    at = putDigits(out, at, n, digits);
    for (let k = digits; k < whole; k++) store<u8>(out + at++, 48);
    return at;
  }
  const first = at;
  at = putDigits(out, at, n, digits);
  shiftRight(out, first + whole, at);
  store<u8>(out + first + whole, 46);
  return at + 1;
}

/**
 * Copies the `length` bytes at `from` to `at` eight at a time (a call of `memory.copy` costs more than
 * these few words); returns the end. Writes up to 7 bytes past the end: what follows overwrites them.
 */
@inline
function put(out: usize, at: i32, from: usize, length: i32): i32 {
  const to = out + at;
  for (let k = 0; k < length; k += 8) store<u64>(to + k, load<u64>(from + k));
  return at + length;
}

/** Writes the UUID of the 16 random bytes at `random` (version 4, variant 10) at `at`; returns the end. */
function putId(out: usize, at: i32, random: usize): i32 {
  const to = out + at;
  store<u16>(to, hexPair(load<u8>(random)));
  store<u16>(to + 2, hexPair(load<u8>(random + 1)));
  store<u16>(to + 4, hexPair(load<u8>(random + 2)));
  store<u16>(to + 6, hexPair(load<u8>(random + 3)));
  store<u8>(to + 8, 45);
  store<u16>(to + 9, hexPair(load<u8>(random + 4)));
  store<u16>(to + 11, hexPair(load<u8>(random + 5)));
  store<u8>(to + 13, 45);
  store<u16>(to + 14, hexPair((load<u8>(random + 6) & 0x0f) | 0x40));
  store<u16>(to + 16, hexPair(load<u8>(random + 7)));
  store<u8>(to + 18, 45);
  store<u16>(to + 19, hexPair((load<u8>(random + 8) & 0x3f) | 0x80));
  store<u16>(to + 21, hexPair(load<u8>(random + 9)));
  store<u8>(to + 23, 45);
  for (let k = 0; k < 6; k++) store<u16>(to + 24 + (k << 1), hexPair(load<u8>(random + 10 + k)));
  return at + 36;
}

@inline
function hexPair(byte: u32): u16 {
  return load<u16>(HEX_PAIRS + (<usize>byte << 1));
}

@inline
function hexDigit(nibble: u32): u32 {
  return nibble < 10 ? 48 + nibble : 87 + nibble;
}

/**
 * Writes `count` class predictions at `out`: row `i` has label index `labels[i]` (i32) and the
 * probabilities `probabilities[i * width + columns[c]]` (f32) for c in JSON key order. The fixed
 * texts are (address, length) pairs: `texts` holds `{"predictionId":"`, then per class the text
 * after the id when it is the label, then per class after the first the key `,"<class>":`.
 * `ends` gets where each row ends. Returns the end, or -1 (see the module doc).
 */
export function writeClasses(
  count: i32,
  width: i32,
  random: usize,
  labels: usize,
  probabilities: usize,
  columns: usize,
  texts: usize,
  out: usize,
  ends: usize,
): i32 {
  unhandled = false;
  const open = <usize>load<i32>(texts);
  const openLength = load<i32>(texts, 4);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0) store<u8>(out + at++, 44);
    at = put(out, at, open, openLength);
    at = putId(out, at, random + (<usize>i << 4));
    const label = load<i32>(labels + (<usize>i << 2));
    if (label < 0 || label >= width) return -1;
    const after = texts + 8 + (<usize>label << 3);
    at = put(out, at, <usize>load<i32>(after), load<i32>(after, 4));
    const row = probabilities + (<usize>(i * width) << 2);
    at = putFloat32(out, at, <f64>load<f32>(row + (<usize>load<i32>(columns) << 2)));
    for (let c = 1; c < width; c++) {
      const key = texts + 8 + (<usize>(width + c - 1) << 3);
      at = put(out, at, <usize>load<i32>(key), load<i32>(key, 4));
      at = putFloat32(out, at, <f64>load<f32>(row + (<usize>load<i32>(columns + (<usize>c << 2)) << 2)));
    }
    store<u16>(out + at, 0x7d7d); // }}
    at += 2;
    store<i32>(ends + (<usize>i << 2), at);
    if (unhandled) return -1;
  }
  return at;
}

/**
 * Writes `count` value predictions (`values`: f32 each) at `out`; `texts` holds `{"predictionId":"`
 * then `","value":` as (address, length) pairs. As {@link writeClasses} otherwise.
 */
export function writeValues(count: i32, random: usize, values: usize, texts: usize, out: usize, ends: usize): i32 {
  unhandled = false;
  const open = <usize>load<i32>(texts);
  const openLength = load<i32>(texts, 4);
  const then = <usize>load<i32>(texts, 8);
  const thenLength = load<i32>(texts, 12);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0) store<u8>(out + at++, 44);
    at = put(out, at, open, openLength);
    at = putId(out, at, random + (<usize>i << 4));
    at = put(out, at, then, thenLength);
    at = putFloat32(out, at, <f64>load<f32>(values + (<usize>i << 2)));
    store<u8>(out + at++, 125);
    store<i32>(ends + (<usize>i << 2), at);
    if (unhandled) return -1;
  }
  return at;
}
