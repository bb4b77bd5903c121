/**
 * The JSON text of a `/predict` response, written directly instead of through `JSON.stringify`.
 *
 * Why: at 1000 instances `JSON.stringify` of the prediction objects took about as long as a small
 * model's whole run (≈ 0.45 ms on the benchmark machine, most of it generic property walking over
 * the null-prototype probability maps); writing the two known shapes directly takes well under half
 * that. The output is the exact text `JSON.stringify({ predictions, model })` gives — same key
 * order (integer-like class names first, as V8 enumerates them), same number formatting; the
 * serving benchmark (`bench/serve.ts`) checks that on every run. The JSON of each prediction is
 * written once and used twice: in the response, and in the request's capture record.
 */
import type { ApiPrediction } from '../model/predictions.ts';

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
}

/** Class lists seen so far (one per served model; a model's list is a single array object). */
const classKeysCache = new WeakMap<readonly string[], ClassKeys>();

function classKeys(classes: readonly string[]): ClassKeys {
  let keys = classKeysCache.get(classes);
  if (keys === undefined) {
    const ordered = jsonKeys(classes);
    keys = { ...ordered, quoted: new Map(ordered.names.map((name) => [name, JSON.stringify(name)])) };
    classKeysCache.set(classes, keys);
  }
  return keys;
}

/** `JSON.stringify(value)` for a number known to be finite (the API refuses others before this). */
function number(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * `JSON.stringify(prediction)` of each prediction, faster, for predictions made by `apiPrediction`
 * (every `probabilities` map holds exactly `classes`): the rows of the response body, and of the
 * capture record (see `recordJsonParts` in `capture.ts`).
 */
export function predictionJson(predictions: readonly ApiPrediction[], classes: readonly string[]): string[] {
  const { names, prefixes, quoted } = classKeys(classes);
  const rows = new Array<string>(predictions.length);
  for (let i = 0; i < predictions.length; i++) {
    const p = predictions[i] as ApiPrediction;
    let text = `{"predictionId":${JSON.stringify(p.predictionId)}`;
    if ('value' in p) {
      rows[i] = `${text},"value":${number(p.value)}}`;
      continue;
    }
    text += `,"label":${quoted.get(p.label) ?? JSON.stringify(p.label)},"probabilities":{`;
    for (let c = 0; c < names.length; c++) {
      if (c > 0) text += ',';
      text += `${prefixes[c]}${number(p.probabilities[names[c] as string] as number)}`;
    }
    rows[i] = `${text}}}`;
  }
  return rows;
}

/** `JSON.stringify({ predictions, model })` given the JSON of each prediction ({@link predictionJson}). */
export function predictBody(rows: readonly string[], model: ServedModel): string {
  return `{"predictions":[${rows.join(',')}],"model":${JSON.stringify({ version: model.version, sha256: model.sha256 })}}`;
}
