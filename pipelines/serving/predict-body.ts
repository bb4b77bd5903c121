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
import type { ScoredBatch } from '../model/onnx-model.ts';

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
    };
    classKeysCache.set(classes, keys);
  }
  return keys;
}

/**
 * The JSON number of a float32 value (the type every model output has): 9 significant digits —
 * enough to single out every float32, so `Math.fround(JSON.parse(text))` is the value again — with
 * trailing zeros dropped, written the way `JSON.stringify` writes that decimal. Non-finite → `null`
 * (the API refuses those before this).
 *
 * Why not `JSON.stringify(value)`: that writes the shortest decimal of the float32 widened to a
 * double, up to 17 digits of which the last eight mean nothing (0.1 in float32 is written
 * 0.10000000149011612), and takes ~200 ns a number; 2,000 probabilities cost ~0.4 ms, more than
 * anything else the API does for a 1,000-instance request. `toPrecision(9)` takes a third of that.
 */
export function float32Json(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  const magnitude = Math.abs(value);
  // 0 and -0 both print "0"; from 1e8 up, toPrecision(9) would switch to an exponent JSON does not use.
  if (magnitude === 0 || magnitude >= 1e8) return String(value);
  const text = value.toPrecision(9);
  // toPrecision always writes a decimal point here (9 digits, magnitude < 1e8); drop the zeros
  // ending the mantissa, and the point if nothing follows it.
  const exponent = text.indexOf('e');
  const mantissaEnd = exponent === -1 ? text.length : exponent;
  let end = mantissaEnd;
  while (text.charCodeAt(end - 1) === 48 /* 0 */) end -= 1;
  if (text.charCodeAt(end - 1) === 46 /* . */) end -= 1;
  if (end === mantissaEnd) return text;
  return exponent === -1 ? text.slice(0, end) : text.slice(0, end) + text.slice(exponent);
}

/**
 * The JSON of each prediction of a scored batch, written straight from the model's output arrays:
 * the rows of the response body and of the capture record (see `recordJsonParts` in `capture.ts`).
 * Each text is `JSON.stringify(apiPrediction(scored, classes, i, ids[i]))` with every number written
 * by {@link float32Json}.
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

/** `JSON.stringify({ predictions, model })` given the JSON of each prediction ({@link predictionJson}). */
export function predictBody(rows: readonly string[], model: ServedModel): string {
  return `{"predictions":[${rows.join(',')}],"model":${JSON.stringify({ version: model.version, sha256: model.sha256 })}}`;
}
