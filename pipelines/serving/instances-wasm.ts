/**
 * The first reader of a `/predict` body: WebAssembly (`wasm/instances.ts`, AssemblyScript) for bodies
 * written the way clients usually write them, ahead of the JavaScript reader (`instances-text.ts`),
 * which reads every body this one leaves. At 1,000 instances of the serving benchmark it reads a body
 * in ~90 µs against ~240 µs, and ~150 against ~340 right after a model run has evicted the CPU's
 * caches (where the handler reads it).
 *
 * It answers, with exactly what the JavaScript reader gives (a differential test holds it to that),
 * for a well-formed body of at most {@link INPUT_BYTES} UTF-8 bytes that is `{"instances":[…]}` with
 * instances separated by a bare comma, each written as the captured JSON writes it — every feature
 * once, in captured order, nothing else, no whitespace inside — with numeric values that are numbers
 * of at most 15 digits and a power of ten up to 22 (Clinger's fast path; or `null` where the feature
 * takes it) and categorical values that are strings without escapes (or `null`). For anything else it
 * returns `undefined` and the JavaScript reader reads the body from the start; that reader refuses
 * what is invalid, so a value a rule refuses also gets `undefined` here.
 *
 * Categorical values are interned by the WebAssembly side as ids (a hash table of their bytes); each
 * id's string is made once, and each feature's verdicts about an id (its rule; whether the model knows
 * the value) are taken once, so a request's values cost an array load each. Values over 32 bytes are
 * not interned. When the table is full it is cleared and the body read again.
 */
import { Buffer } from 'node:buffer';
import type { RawValue } from '../model/raw.ts';
import type { ValueColumn } from '../onnx/inputs.ts';
import type { InstanceTextRules, TextInstances } from './instances-text.ts';
import { INSTANCES_WASM_BASE64 } from './instances-wasm-binary.ts';
import { isUnknownCategory, type KnownCategories } from './known-categories.ts';
import { growMemory, instantiateWasm, type WasmMemory } from './wasm.ts';

/** The largest body read here, in UTF-8 bytes (larger ones take the JavaScript reader). */
export const INPUT_BYTES = 1024 * 1024;

/** The WebAssembly module's exports (see `wasm/instances.ts`). */
interface Exports {
  readonly memory: WasmMemory;
  heapBase(): number;
  resetCache(table: number, arena: number, capacity: number, idList: number, ids: number): void;
  idsUsed(): number;
  firstInstanceStart(): number;
  sawNonAscii(): number;
  read(
    b: number,
    length: number,
    features: number,
    width: number,
    capacity: number,
    ends: number,
    longs: number,
  ): number;
}

/** `read`'s answer when its value cache is full; -1 is "not handled", any other answer a count. */
const CACHE_FULL = -2;
/** Column ids: `null`, and below it long values. */
const NULL_ID = -1;
const LONG_BASE = -2;

/** The value cache's shape (as `wasm/instances.ts` sizes it). */
const SLOTS = 8192;
const SLOT_BYTES = 2;
const MAX_IDS = SLOTS / 2;
const CACHE_MAX_BYTES = 32;
const FEATURE_BYTES = 48;
/** Zero bytes after the body: the reader reads words, up to 4 bytes past its last byte. */
const PADDING = 16;

const encoder = new TextEncoder();

/** A feature's verdicts about value ids: 0 not yet taken, 1 yes, 2 no. */
class IdVerdicts {
  readonly accepted = new Uint8Array(MAX_IDS);
  readonly unknown = new Uint8Array(MAX_IDS);
  /** The known values {@link IdVerdicts.unknown} is about. */
  known: ReadonlySet<string> | undefined;
}

/** The reader of one set of rules: its own module instance and value cache. */
export class WasmInstanceReader {
  readonly #rules: InstanceTextRules;
  readonly #exports: Exports;
  readonly #bytes: Uint8Array;
  readonly #input: Uint8Array;
  readonly #inputAt: number;
  readonly #features: number;
  readonly #capacity: number;
  readonly #ends: Int32Array;
  readonly #longs: Int32Array;
  readonly #endsAt: number;
  readonly #longsAt: number;
  readonly #table: number;
  readonly #arena: number;
  readonly #idList: Int32Array;
  readonly #idListAt: number;
  /** Per feature (config order): its column, as doubles or as ids. */
  readonly #doubles: (Float64Array | undefined)[];
  readonly #ids: (Int32Array | undefined)[];
  readonly #verdicts: (IdVerdicts | undefined)[];
  /** Each id's string. */
  #strings: string[] = [];

  /** A reader for `rules`, or `undefined` when a key cannot be matched by its bytes or WebAssembly cannot run. */
  static create(rules: InstanceTextRules): WasmInstanceReader | undefined {
    if (rules.keyWords.some((words) => words === undefined)) return undefined;
    const exports = instantiateWasm(INSTANCES_WASM_BASE64);
    if (exports === undefined) return undefined;
    try {
      return new WasmInstanceReader(rules, exports as Exports);
    } catch {
      // No memory for its layout (a huge maxInstances): the JavaScript reader reads every body.
      return undefined;
    }
  }

  private constructor(rules: InstanceTextRules, exports: Exports) {
    this.#rules = rules;
    this.#exports = exports;
    const { features, captured, capturedFeature, keyExtra } = rules;
    const width = features.length;
    const keys = captured.prefixes.map((prefix) => Buffer.from(prefix, 'utf8'));
    // A canonical instance takes at least instanceBytes: no more fit in the input.
    this.#capacity = Math.max(1, Math.min(rules.maxInstances, Math.ceil(INPUT_BYTES / rules.instanceBytes)));
    const align = (n: number) => Math.ceil(n / 16) * 16;
    let at = align(exports.heapBase());
    const take = (bytes: number) => {
      const start = at;
      at = align(at + bytes);
      return start;
    };
    this.#features = take(width * FEATURE_BYTES);
    const keyAt = keys.map((key) => take(key.length + 4));
    const columnAt = features.map(() => take(8 * this.#capacity));
    this.#endsAt = take(4 * this.#capacity);
    this.#longsAt = take(8 * this.#capacity * width);
    this.#table = take(SLOTS * SLOT_BYTES);
    this.#arena = take(MAX_IDS * CACHE_MAX_BYTES);
    this.#idListAt = take(8 * MAX_IDS);
    this.#inputAt = take(INPUT_BYTES + PADDING);
    growMemory(exports.memory, at);
    // The memory never grows again: these views stay valid.
    const buffer = exports.memory.buffer;
    this.#bytes = new Uint8Array(buffer);
    this.#input = this.#bytes.subarray(this.#inputAt, this.#inputAt + INPUT_BYTES);
    this.#ends = new Int32Array(buffer, this.#endsAt, this.#capacity);
    this.#longs = new Int32Array(buffer, this.#longsAt, 2 * this.#capacity * width);
    this.#idList = new Int32Array(buffer, this.#idListAt, 2 * MAX_IDS);
    this.#doubles = features.map((f, j) =>
      f.bounds === undefined ? undefined : new Float64Array(buffer, columnAt[j] as number, this.#capacity),
    );
    this.#ids = features.map((f, j) =>
      f.bounds === undefined ? new Int32Array(buffer, columnAt[j] as number, this.#capacity) : undefined,
    );
    this.#verdicts = features.map((f) => (f.bounds === undefined ? new IdVerdicts() : undefined));
    const table = new DataView(buffer, this.#features, width * FEATURE_BYTES);
    keys.forEach((key, k) => {
      this.#bytes.set(key, keyAt[k] as number);
      const j = capturedFeature[k] as number;
      const feature = features[j];
      if (feature === undefined) throw new Error(`captured key ${k} has no feature`);
      const f = k * FEATURE_BYTES;
      table.setInt32(f, keyAt[k] as number, true);
      table.setInt32(f + 4, key.length, true);
      table.setInt32(f + 8, feature.bounds === undefined ? 1 : 0, true);
      table.setInt32(f + 12, columnAt[j] as number, true);
      table.setFloat64(f + 16, feature.bounds?.lo ?? 0, true);
      table.setFloat64(f + 24, feature.bounds?.hi ?? 0, true);
      table.setInt32(f + 32, feature.accepts(null) ? 1 : 0, true);
      table.setInt32(f + 36, keyExtra[k] as number, true);
    });
    this.#resetCache();
  }

  #resetCache(): void {
    this.#exports.resetCache(this.#table, this.#arena, MAX_IDS * CACHE_MAX_BYTES, this.#idListAt, MAX_IDS);
    this.#strings = [];
    for (const verdicts of this.#verdicts) {
      verdicts?.accepted.fill(0);
      verdicts?.unknown.fill(0);
    }
  }

  /**
   * The instances of a well-formed body (`text.isWellFormed()`), or `undefined`: not a body this
   * reader answers for, or one with a value a rule refuses (the JavaScript reader then decides).
   */
  read(text: string, knownCategories?: KnownCategories): TextInstances | undefined {
    // A UTF-16 unit takes at least one UTF-8 byte.
    if (text.length > INPUT_BYTES) return undefined;
    const { read, written } = encoder.encodeInto(text, this.#input);
    if (read !== text.length) return undefined;
    const bytes = this.#bytes;
    const end = this.#inputAt + written;
    for (let k = 0; k < PADDING; k++) bytes[end + k] = 0;
    const width = this.#rules.features.length;
    const run = () =>
      this.#exports.read(
        this.#inputAt,
        written,
        this.#features,
        width,
        this.#capacity,
        this.#endsAt,
        this.#longsAt,
      );
    let count = run();
    if (count === CACHE_FULL) {
      this.#resetCache();
      count = run();
    }
    if (count <= 0) return undefined;
    return this.#instances(text, count, knownCategories);
  }

  /** The reader's result from the columns the WebAssembly side wrote. */
  #instances(
    text: string,
    count: number,
    knownCategories: KnownCategories | undefined,
  ): TextInstances | undefined {
    const strings = this.#strings;
    const used = this.#exports.idsUsed();
    if (strings.length < used) {
      const idList = this.#idList;
      for (let id = strings.length; id < used; id++) {
        const at = this.#arena + (idList[2 * id] as number);
        strings.push(Buffer.from(this.#bytes.buffer, at, idList[2 * id + 1] as number).toString('utf8'));
      }
    }
    const features = this.#rules.features;
    const columns = new Map<string, ValueColumn>();
    let unknownCategories = 0;
    for (let j = 0; j < features.length; j++) {
      const feature = features[j];
      if (feature === undefined) continue;
      const doubles = this.#doubles[j];
      if (doubles !== undefined) {
        columns.set(feature.name, { doubles: doubles.slice(0, count) });
        continue;
      }
      const ids = this.#ids[j] as Int32Array;
      const verdicts = this.#verdicts[j] as IdVerdicts;
      const known = knownCategories?.get(feature.name);
      if (known !== undefined && verdicts.known !== known) {
        verdicts.known = known;
        verdicts.unknown.fill(0);
      }
      const values = new Array<RawValue>(count);
      for (let i = 0; i < count; i++) {
        const id = ids[i] as number;
        if (id >= 0) {
          const value = strings[id] as string;
          let accepted = verdicts.accepted[id] as number;
          if (accepted === 0) {
            accepted = feature.accepts(value) ? 1 : 2;
            verdicts.accepted[id] = accepted;
          }
          if (accepted === 2) return undefined;
          if (known !== undefined) {
            let unknown = verdicts.unknown[id] as number;
            if (unknown === 0) {
              unknown = isUnknownCategory(known, value) ? 2 : 1;
              verdicts.unknown[id] = unknown;
            }
            if (unknown === 2) unknownCategories += 1;
          }
          values[i] = value;
        } else if (id === NULL_ID) {
          // Only where the feature takes null (the WebAssembly side checked).
          values[i] = null;
        } else {
          const k = LONG_BASE - id;
          const start = this.#inputAt + (this.#longs[2 * k] as number);
          const value = Buffer.from(this.#bytes.buffer, start, this.#longs[2 * k + 1] as number).toString(
            'utf8',
          );
          if (!feature.accepts(value)) return undefined;
          if (known !== undefined && isUnknownCategory(known, value)) unknownCategories += 1;
          values[i] = value;
        }
      }
      columns.set(feature.name, values);
    }
    const first = this.#exports.firstInstanceStart();
    const ends = this.#ends.slice(0, count);
    return {
      count,
      columns,
      ignoredFields: 0,
      ...(knownCategories === undefined ? {} : { unknownCategories }),
      instanceJson: {
        // One slice of the body: V8 keeps it as a reference into the body.
        pieces: [text.slice(first, first + (ends[count - 1] as number))],
        ends,
        ascii: this.#exports.sawNonAscii() === 0,
      },
    };
  }
}

const readers = new WeakMap<InstanceTextRules, WasmInstanceReader | null>();

/** The reader of `rules` (made on first use), or `undefined` where there can be none. */
export function wasmInstanceReader(rules: InstanceTextRules): WasmInstanceReader | undefined {
  let reader = readers.get(rules);
  if (reader === undefined) {
    reader = WasmInstanceReader.create(rules) ?? null;
    readers.set(rules, reader);
  }
  return reader ?? undefined;
}
