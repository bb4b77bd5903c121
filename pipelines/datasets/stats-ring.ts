/**
 * How a push hands its validated rows to the thread that accumulates their statistics: a ring of
 * batch slots in shared memory. The validating thread copies each batch's numbers, category codes and
 * row mask into the next free slot and goes on; the statistics thread takes the slots in order. What
 * the slots cannot hold — the text of a new category code, a value without a code — goes ahead of its
 * batch as a message on a port, which the statistics thread reads synchronously before the batch.
 *
 * Nothing is allocated per batch, the ring bounds what is in flight, and every accumulator sees its
 * column's values in file order: the statistics are exactly those of a single thread.
 */
import type { MessagePort } from 'node:worker_threads';
import type { TableSchema } from '../data/table.ts';

/** Batch slots in the ring: a few megabytes, enough to ride out the statistics thread being descheduled. */
export const RING_BATCHES = 64;
/** Control words: batches written, batches taken, the end flag. */
const HEAD = 0;
const TAIL = 1;
const DONE = 2;

/** One column the statistics thread accumulates, and where its cells are in a batch. */
export interface StatsColumn {
  /** The batch slot: feature j is slot j, the target slot `features.length`. */
  readonly slot: number;
  readonly type: 'numeric' | 'categorical';
}

/** The columns of a push's statistics, in manifest order: the features, then the target. */
export function statsColumns(schema: TableSchema): StatsColumn[] {
  return [
    ...schema.features.map((f, j): StatsColumn => ({ slot: j, type: f.type })),
    { slot: schema.features.length, type: schema.task === 'regression' ? 'numeric' : 'categorical' },
  ];
}

/** Where everything is in the shared memory, for batches of `capacity` rows. */
export class RingLayout {
  readonly capacity: number;
  readonly columns: readonly StatsColumn[];
  /** Bytes per batch slot, and per column the byte offset of its cells within a slot. */
  readonly slotBytes: number;
  readonly offsets: readonly number[];
  /** Byte offset of the row mask within a slot (after the row count). */
  readonly keepOffset = 8;

  constructor(columns: readonly StatsColumn[], capacity: number) {
    this.columns = columns;
    this.capacity = capacity;
    // Row count, then the mask, then the columns, each aligned to 8 bytes.
    let at = 8 + Math.ceil(capacity / 8) * 8;
    this.offsets = columns.map((c) => {
      const offset = at;
      at += capacity * (c.type === 'numeric' ? 8 : 4);
      return offset;
    });
    this.slotBytes = Math.ceil(at / 8) * 8;
  }
}

/** What goes ahead of batch `batch` on the port. */
export interface RingNote {
  readonly batch: number;
  /** New category codes: column, code, value. */
  readonly codes: readonly (readonly [number, number, string | null])[];
  /** Values of rows without a code: column, row, value. */
  readonly texts: readonly (readonly [number, number, string | null])[];
}

/** The shared memory of a ring: hand it to the statistics thread. */
export interface RingMemory {
  readonly data: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

/** A batch as the writer hands it over. */
export interface RingBatch {
  readonly count: number;
  readonly keep: Uint8Array;
  /** Per column: its cells (numbers, or category codes), starting at index 0 for row 0. */
  readonly cells: readonly (Float64Array | Int32Array)[];
}

/** The validating thread's end of the ring. */
export class RingWriter {
  readonly memory: RingMemory;
  readonly #layout: RingLayout;
  readonly #data: Uint8Array;
  readonly #control: Int32Array;
  readonly #port: MessagePort;
  #head = 0;

  constructor(layout: RingLayout, port: MessagePort) {
    this.#layout = layout;
    this.memory = {
      data: new SharedArrayBuffer(layout.slotBytes * RING_BATCHES),
      control: new SharedArrayBuffer(4 * 3),
    };
    this.#data = new Uint8Array(this.memory.data);
    this.#control = new Int32Array(this.memory.control);
    this.#port = port;
  }

  /**
   * Copies `batch` into the next slot, after posting `note` if it carries anything. Waits — blocking
   * this thread, briefly — only when the statistics thread is a whole ring behind.
   */
  write(batch: RingBatch, note: RingNote): void {
    if (note.codes.length > 0 || note.texts.length > 0) this.#port.postMessage(note);
    for (;;) {
      const tail = Atomics.load(this.#control, TAIL);
      if (this.#head - tail < RING_BATCHES) break;
      Atomics.wait(this.#control, TAIL, tail, 100);
    }
    const layout = this.#layout;
    const base = (this.#head % RING_BATCHES) * layout.slotBytes;
    new Int32Array(this.memory.data, base, 1)[0] = batch.count;
    this.#data.set(batch.keep.subarray(0, batch.count), base + layout.keepOffset);
    layout.columns.forEach((column, k) => {
      const cells = batch.cells[k] as Float64Array | Int32Array;
      const at = base + (layout.offsets[k] as number);
      if (column.type === 'numeric')
        new Float64Array(this.memory.data, at, batch.count).set(cells.subarray(0, batch.count));
      else new Int32Array(this.memory.data, at, batch.count).set(cells.subarray(0, batch.count));
    });
    this.#head += 1;
    Atomics.store(this.#control, HEAD, this.#head);
    Atomics.notify(this.#control, HEAD);
  }

  /** Marks the end: the statistics thread finishes once it has taken every batch. */
  end(): void {
    Atomics.store(this.#control, DONE, 1);
    Atomics.notify(this.#control, HEAD);
  }
}

/** A batch as the reader sees it: views into the slot, valid until the next one is taken. */
export interface RingView {
  readonly index: number;
  readonly count: number;
  readonly keep: Uint8Array;
  readonly cells: readonly (Float64Array | Int32Array)[];
}

/**
 * The statistics thread's end: calls `onBatch` for every batch in order (blocking between them), until
 * the writer's end mark; `onNote` receives the notes read from `port` ahead of their batch.
 */
export function readRing(
  layout: RingLayout,
  memory: RingMemory,
  port: MessagePort,
  receive: (port: MessagePort) => { message: RingNote } | undefined,
  onNote: (note: RingNote) => void,
  onBatch: (view: RingView) => void,
): void {
  const control = new Int32Array(memory.control);
  let tail = 0;
  for (;;) {
    if (Atomics.load(control, HEAD) === tail) {
      if (Atomics.load(control, DONE) === 1 && Atomics.load(control, HEAD) === tail) return;
      // A short timeout: the end mark may come between the check and the wait.
      Atomics.wait(control, HEAD, tail, 50);
      continue;
    }
    // The notes of this batch were posted before it was published, so they are on the port.
    for (let note = receive(port); note !== undefined; note = receive(port)) onNote(note.message);
    const base = (tail % RING_BATCHES) * layout.slotBytes;
    const count = new Int32Array(memory.data, base, 1)[0] as number;
    onBatch({
      index: tail,
      count,
      keep: new Uint8Array(memory.data, base + layout.keepOffset, count),
      cells: layout.columns.map((column, k) =>
        column.type === 'numeric'
          ? new Float64Array(memory.data, base + (layout.offsets[k] as number), count)
          : new Int32Array(memory.data, base + (layout.offsets[k] as number), count),
      ),
    });
    tail += 1;
    Atomics.store(control, TAIL, tail);
    Atomics.notify(control, TAIL);
  }
}
