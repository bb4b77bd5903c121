/**
 * The prediction writer of `/predict` in WebAssembly (`wasm/predictions.ts`, AssemblyScript): the
 * same bytes as the JavaScript writer of `predict-body.ts` (differential tests hold it to that): at
 * 1,000 predictions of two classes, ~90 µs against ~150 (~190 against ~230 right after a model run),
 * with the ids' random bytes and the strings of the response included. It writes batches whose fixed
 * texts are
 * ASCII; a number of 1e8 or more (JavaScript's own formatting) or a label outside the classes makes it
 * leave the batch to the JavaScript writer, with the random bytes it drew for the ids.
 */
import { Buffer } from 'node:buffer';
import { latin1Pieces } from './json-rows.ts';
import { PREDICTIONS_WASM_BASE64 } from './predictions-wasm-binary.ts';
import { growMemory, instantiateWasm, type WasmMemory } from './wasm.ts';

/** The module's exports (see `wasm/predictions.ts`). */
interface Exports {
  readonly memory: WasmMemory;
  heapBase(): number;
  writeClasses(
    count: number,
    width: number,
    random: number,
    labels: number,
    probabilities: number,
    columns: number,
    texts: number,
    out: number,
    ends: number,
  ): number;
  writeValues(
    count: number,
    random: number,
    values: number,
    texts: number,
    out: number,
    ends: number,
  ): number;
}

/**
 * The fixed texts of a batch's predictions, as ASCII bytes: `{"predictionId":"`, then for class
 * predictions what follows the id for each label (class order) and the keys `,"<class>":` of the
 * second class on (JSON order), for value predictions `","value":`.
 */
export interface PredictionTexts {
  readonly open: Uint8Array;
  readonly rest: readonly Uint8Array[];
}

/** The rows written: their text in pieces (ASCII) and where each ends. */
export interface WrittenRows {
  readonly pieces: string[];
  readonly ends: Int32Array;
}

/**
 * A batch the WebAssembly writer left to JavaScript, and the random bytes it drew for the ids (valid
 * until its next call): the JavaScript writer takes its ids from them, so a batch's ids are drawn once
 * whichever writer writes it.
 */
export interface LeftBatch {
  readonly random: Uint8Array;
}

/** Random bytes into an array (as `predict-body.ts`'s `Entropy`). */
type Entropy = (bytes: Uint8Array) => void;

/**
 * The writer (one per process: a batch is written and read out before the next). Each method writes
 * rows `0` to `count - 1` and answers them, the batch left to JavaScript (see the module doc), or
 * `undefined` when there is no room for the batch.
 */
export class WasmPredictionWriter {
  readonly #exports: Exports;
  readonly #base: number;
  #bytes: Uint8Array;
  #texts: PredictionTexts | undefined;
  #textsEnd = 0;

  constructor(exports: Exports) {
    this.#exports = exports;
    this.#base = align(exports.heapBase());
    this.#bytes = new Uint8Array(exports.memory.buffer);
  }

  /**
   * Lays out the fixed texts at the base, unless they are those of the last call; `false` when there
   * is no room for them.
   */
  #useTexts(texts: PredictionTexts): boolean {
    if (this.#texts === texts) return true;
    const parts = [texts.open, ...texts.rest];
    let at = this.#base + 8 * parts.length;
    // Eight bytes more: texts are read in whole 8-byte words.
    const textsEnd = align(at + parts.reduce((sum, part) => sum + part.length, 0) + 8);
    if (!this.#room(textsEnd)) return false;
    const table = new DataView(this.#bytes.buffer, this.#base, 8 * parts.length);
    parts.forEach((part, k) => {
      table.setInt32(8 * k, at, true);
      table.setInt32(8 * k + 4, part.length, true);
      this.#bytes.set(part, at);
      at += part.length;
    });
    this.#texts = texts;
    this.#textsEnd = textsEnd;
    return true;
  }

  /** Grows the memory to `bytes`; `false` when it cannot (past WebAssembly's 4 GB: JavaScript writes then). */
  #room(bytes: number): boolean {
    try {
      if (growMemory(this.#exports.memory, bytes)) this.#bytes = new Uint8Array(this.#exports.memory.buffer);
      return true;
    } catch {
      return false;
    }
  }

  classes(
    count: number,
    texts: PredictionTexts,
    labels: Int32Array,
    probabilities: Float32Array,
    columns: readonly number[],
    maxRow: number,
    entropy: Entropy,
  ): WrittenRows | LeftBatch | undefined {
    if (!this.#useTexts(texts)) return undefined;
    const width = columns.length;
    // After the texts: the ids' random bytes, labels, probabilities, columns, rows, row ends.
    const random = this.#textsEnd;
    const labelsAt = random + align(16 * count);
    const probabilitiesAt = labelsAt + align(4 * count);
    const columnsAt = probabilitiesAt + align(4 * count * width);
    const out = columnsAt + align(4 * width);
    const ends = out + rowsBytes(count, maxRow);
    if (!this.#room(ends + 4 * count)) return undefined;
    const bytes = this.#bytes;
    entropy(bytes.subarray(random, random + 16 * count));
    new Int32Array(bytes.buffer, labelsAt, count).set(labels.subarray(0, count));
    new Float32Array(bytes.buffer, probabilitiesAt, count * width).set(
      probabilities.subarray(0, count * width),
    );
    const columnsView = new Int32Array(bytes.buffer, columnsAt, width);
    for (let c = 0; c < width; c++) columnsView[c] = columns[c] as number;
    const end = this.#exports.writeClasses(
      count,
      width,
      random,
      labelsAt,
      probabilitiesAt,
      columnsAt,
      this.#base,
      out,
      ends,
    );
    return this.#rows(out, ends, count, end, random);
  }

  values(
    count: number,
    texts: PredictionTexts,
    values: Float32Array,
    maxRow: number,
    entropy: Entropy,
  ): WrittenRows | LeftBatch | undefined {
    if (!this.#useTexts(texts)) return undefined;
    const random = this.#textsEnd;
    const valuesAt = random + align(16 * count);
    const out = valuesAt + align(4 * count);
    const ends = out + rowsBytes(count, maxRow);
    if (!this.#room(ends + 4 * count)) return undefined;
    const bytes = this.#bytes;
    entropy(bytes.subarray(random, random + 16 * count));
    new Float32Array(bytes.buffer, valuesAt, count).set(values.subarray(0, count));
    const end = this.#exports.writeValues(count, random, valuesAt, this.#base, out, ends);
    return this.#rows(out, ends, count, end, random);
  }

  #rows(out: number, ends: number, count: number, end: number, random: number): WrittenRows | LeftBatch {
    const buffer = this.#bytes.buffer;
    if (end < 0) return { random: new Uint8Array(buffer, random, 16 * count) };
    return {
      pieces: latin1Pieces(Buffer.from(buffer, out, end), end),
      ends: new Int32Array(buffer, ends, count).slice(),
    };
  }
}

function align(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/**
 * Bytes for `count` rows of at most `maxRow` bytes each (a comma included), and eight more: fixed
 * texts are copied in whole 8-byte words.
 */
function rowsBytes(count: number, maxRow: number): number {
  return align(maxRow * count + 8);
}

let writer: WasmPredictionWriter | null | undefined;

/** The process's writer, or `undefined` where WebAssembly cannot run. */
export function wasmPredictionWriter(): WasmPredictionWriter | undefined {
  if (writer === undefined) {
    const exports = instantiateWasm(PREDICTIONS_WASM_BASE64);
    writer = exports === undefined ? null : new WasmPredictionWriter(exports as Exports);
  }
  return writer ?? undefined;
}
