/**
 * Histogram building on several cores: the calling thread and `threads − 1` worker threads each add
 * the node's rows for their own contiguous share of the active features.
 *
 * Determinism: every feature's histogram is still built by exactly one thread, reading the rows in
 * the same order, so the sums — and the model — are bit-identical whatever the thread count.
 *
 * Shared memory: the bins, the row index, the gathered gradients, the gradient arrays and a fixed
 * pool of histogram buffers live in SharedArrayBuffers handed to the workers once. A job is a few
 * integers in a shared control block; the caller publishes it with `Atomics.notify`, does its own
 * share, then `Atomics.wait`s for the workers (a round trip costs a few microseconds, so nodes too
 * small to be worth it are built on the calling thread alone). Training stays synchronous.
 *
 * The worker runs code built from this module's own functions (`Function.prototype.toString`) with
 * `eval: true`, so it needs no separate file on disk: a bundled Lambda has none to point at.
 */
import { Worker } from 'node:worker_threads';
import { buildHistogram, buildHistogramAllRows, gatherGradients } from './histogram.ts';

/** Row × feature updates below which a node is built on the calling thread only. */
export const MIN_PARALLEL_WORK = 32_768;

/** How long to wait for a worker to start before training on one thread instead. */
const WORKER_START_TIMEOUT_MS = 10_000;

/** Builds node histograms into a fixed pool of buffers. */
export interface HistogramBuilder {
  /** Threads that build histograms (1 = the calling thread only). */
  readonly threads: number;
  /** The histogram buffers, addressed by id in {@link HistogramBuilder.build}. */
  readonly hists: readonly Float64Array[];
  /**
   * Adds the rows `rowIndex[start..end)` (or, with `allRows`, rows `0..end` in order) of the active
   * `features` into the zeroed histogram `id`, with per-row gradients `grad`/`hess` (indexed by row).
   */
  build(
    id: number,
    features: Int32Array,
    start: number,
    end: number,
    allRows: boolean,
    grad: Float64Array,
    hess: Float64Array,
  ): void;
  /** Stops the workers. */
  close(): void;
}

/** What the builder reads: the binned columns, the row index and the buffers it fills. */
export interface HistogramBuffers {
  readonly bins: readonly Uint8Array[];
  readonly offsets: Int32Array;
  readonly rowIndex: Uint32Array;
  readonly gradHess: Float64Array;
  readonly hists: readonly Float64Array[];
  /** The full gradient and hessian arrays; `build` receives views into them. */
  readonly grad: Float64Array;
  readonly hess: Float64Array;
}

/** A Float64Array on a SharedArrayBuffer when `shared`, else on an ordinary one. */
export function float64Buffer(length: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(8 * length)) : new Float64Array(length);
}

/** A Uint32Array on a SharedArrayBuffer when `shared`, else on an ordinary one. */
export function uint32Buffer(length: number, shared: boolean): Uint32Array {
  return shared ? new Uint32Array(new SharedArrayBuffer(4 * length)) : new Uint32Array(length);
}

/** Builds every histogram on the calling thread. */
export function singleThreadBuilder(buffers: HistogramBuffers): HistogramBuilder {
  const { bins, offsets, rowIndex, gradHess, hists } = buffers;
  return {
    threads: 1,
    hists,
    build(id, features, start, end, allRows, grad, hess) {
      const hist = hists[id] as Float64Array;
      if (allRows) {
        buildHistogramAllRows(hist, bins, offsets, features, end, grad, hess);
      } else {
        gatherGradients(grad, hess, rowIndex, start, end, gradHess);
        buildHistogram(hist, bins, offsets, features, rowIndex, start, end, gradHess);
      }
    },
    close() {},
  };
}

/** Control block slots (an Int32Array on a SharedArrayBuffer), shared with the worker's code. */
const SLOTS = {
  /** Job number, bumped to start a job. */
  seq: 0,
  quit: 1,
  failed: 2,
  hist: 3,
  start: 4,
  end: 5,
  allRows: 6,
  gradOffset: 7,
  /** Number of active features; the list itself is in a shared Int32Array. */
  features: 8,
  /** Workers that have started. */
  ready: 9,
  /** done + w: the last job worker w finished (−1 if it failed). */
  done: 16,
} as const;
const CONTROL_SLOTS = 64;
const { seq: SEQ, quit: QUIT, failed: FAILED, ready: READY, done: DONE } = SLOTS;

/** Worker w's share of n features out of `threads`: [from, to). Thread 0 is the calling thread. */
function share(n: number, threads: number, t: number): [number, number] {
  return [Math.floor((n * t) / threads), Math.floor((n * (t + 1)) / threads)];
}

/**
 * The worker's loop, run from its source text: it must not reference anything outside itself except
 * its parameters (the histogram functions are passed in, also rebuilt from source).
 */
function workerLoop(
  data: {
    ctrl: Int32Array;
    slots: typeof SLOTS;
    index: number;
    threads: number;
    features: Int32Array;
    bins: Uint8Array[];
    offsets: Int32Array;
    rowIndex: Uint32Array;
    gradHess: Float64Array;
    hists: Float64Array[];
    grad: Float64Array;
    hess: Float64Array;
  },
  build: typeof buildHistogram,
  buildAll: typeof buildHistogramAllRows,
): void {
  const { ctrl, slots, index, threads, features, bins, offsets, rowIndex, gradHess, hists, grad, hess } =
    data;
  const doneSlot = slots.done + index;
  Atomics.add(ctrl, slots.ready, 1);
  Atomics.notify(ctrl, slots.ready);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, slots.seq, seen);
    seen = Atomics.load(ctrl, slots.seq);
    if (Atomics.load(ctrl, slots.quit) === 1) return;
    // This worker's share of the features, as in share().
    const n = ctrl[slots.features] as number;
    const from = Math.floor((n * index) / threads);
    const to = Math.floor((n * (index + 1)) / threads);
    const mine = features.subarray(from, to);
    const hist = hists[ctrl[slots.hist] as number] as Float64Array;
    const end = ctrl[slots.end] as number;
    if (ctrl[slots.allRows] === 1) {
      const offset = ctrl[slots.gradOffset] as number;
      buildAll(hist, bins, offsets, mine, end, grad.subarray(offset), hess.subarray(offset));
    } else {
      build(hist, bins, offsets, mine, rowIndex, ctrl[slots.start] as number, end, gradHess);
    }
    Atomics.store(ctrl, doneSlot, seen);
    Atomics.notify(ctrl, doneSlot);
  }
}

/**
 * A builder using `threads` threads (the caller plus `threads − 1` workers). Every buffer in
 * `buffers` must be on a SharedArrayBuffer. Falls back to {@link singleThreadBuilder} when the
 * workers cannot start.
 */
export function threadedBuilder(buffers: HistogramBuffers, threads: number): HistogramBuilder {
  const { bins, offsets, rowIndex, gradHess, hists, grad, hess } = buffers;
  const single = singleThreadBuilder(buffers);
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * CONTROL_SLOTS));
  const features = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, offsets.length)));
  // Any failure, even before the loop starts, is reported through the control block (slot FAILED,
  // woken on READY) so the caller never waits for a worker that is gone.
  const source = `
    const { workerData } = require('node:worker_threads');
    try {
      const buildHistogram = (${buildHistogram.toString()});
      const buildHistogramAllRows = (${buildHistogramAllRows.toString()});
      (${workerLoop.toString()})(workerData, buildHistogram, buildHistogramAllRows);
    } catch (error) {
      Atomics.store(workerData.ctrl, ${FAILED}, 1);
      Atomics.store(workerData.ctrl, ${DONE} + workerData.index, -1);
      Atomics.notify(workerData.ctrl, ${READY});
      Atomics.notify(workerData.ctrl, ${DONE} + workerData.index);
    }
  `;
  const workers: Worker[] = [];
  for (let w = 1; w < threads; w++) {
    const worker = new Worker(source, {
      eval: true,
      workerData: {
        ctrl,
        slots: SLOTS,
        index: w,
        threads,
        features,
        bins,
        offsets,
        rowIndex,
        gradHess,
        hists,
        grad,
        hess,
      },
    });
    // Never keep the process alive for a worker; errors surface through the control block.
    worker.unref();
    worker.on('error', () => {});
    workers.push(worker);
  }
  const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
  for (let ready = Atomics.load(ctrl, READY); ready < threads - 1; ready = Atomics.load(ctrl, READY)) {
    const left = deadline - Date.now();
    if (left <= 0 || Atomics.load(ctrl, FAILED) === 1) {
      for (const worker of workers) void worker.terminate();
      return single;
    }
    Atomics.wait(ctrl, READY, ready, left);
  }

  let seq = 0;
  let closed = false;
  let buildThreads = threads;
  const close = (): void => {
    if (closed) return;
    closed = true;
    Atomics.store(ctrl, QUIT, 1);
    Atomics.add(ctrl, SEQ, 1);
    Atomics.notify(ctrl, SEQ);
  };
  return {
    get threads() {
      return buildThreads;
    },
    hists,
    build(id, active, start, end, allRows, gradK, hessK) {
      const rows = allRows ? end : end - start;
      if (
        buildThreads === 1 ||
        rows * active.length < MIN_PARALLEL_WORK ||
        active.length < threads ||
        gradK.buffer !== grad.buffer
      ) {
        single.build(id, active, start, end, allRows, gradK, hessK);
        return;
      }
      if (!allRows) gatherGradients(gradK, hessK, rowIndex, start, end, gradHess);
      features.set(active);
      ctrl[SLOTS.hist] = id;
      ctrl[SLOTS.start] = start;
      ctrl[SLOTS.end] = end;
      ctrl[SLOTS.allRows] = allRows ? 1 : 0;
      ctrl[SLOTS.gradOffset] = gradK.byteOffset / 8;
      ctrl[SLOTS.features] = active.length;
      seq++;
      Atomics.store(ctrl, SEQ, seq);
      Atomics.notify(ctrl, SEQ);
      const [from, to] = share(active.length, threads, 0);
      const mine = active.subarray(from, to);
      const hist = hists[id] as Float64Array;
      if (allRows) buildHistogramAllRows(hist, bins, offsets, mine, end, gradK, hessK);
      else buildHistogram(hist, bins, offsets, mine, rowIndex, start, end, gradHess);
      let failed = false;
      for (let w = 1; w < threads; w++) {
        let done = Atomics.load(ctrl, DONE + w);
        while (done !== seq && done !== -1) {
          Atomics.wait(ctrl, DONE + w, done, 1000);
          done = Atomics.load(ctrl, DONE + w);
        }
        if (done === -1) failed = true;
      }
      if (failed) {
        // A worker could not run its code (e.g. instrumented by a coverage tool): redo this node on the
        // calling thread, which gives the same sums, and use only the calling thread from now on.
        close();
        hist.fill(0);
        buildThreads = 1;
        single.build(id, active, start, end, allRows, gradK, hessK);
      }
    },
    close,
  };
}
