/**
 * Dynamic batching for the serving API: the `/predict` requests that are waiting for the model at
 * the same moment are scored together, in one `session.run`, and each gets its own rows back.
 *
 * Why: onnxruntime's fixed cost per run (≈ 25 µs on the benchmark model) is most of what one
 * instance costs (≈ 5 µs more per row), and under concurrent load it would be paid once per request.
 * onnxruntime-node runs a session on the event loop's thread, so runs never overlap anyway: while
 * one runs, the next requests queue; they then go in one run. Nothing waits for a batch to fill —
 * a request that finds the model idle is scored on the next turn of the event loop, together with
 * whatever arrived in the same turn — so a lone request pays one `setImmediate`, and a Lambda
 * container (one request at a time) always runs batches of one.
 *
 * A batch that fails is run again request by request, so one request's failure is never another's.
 */
import type { OnnxModel, ScoredBatch } from '../model/onnx-model.ts';
import { batchSize } from '../model/predictions.ts';
import type { OnnxFeed } from '../onnx/inputs.ts';

/** What a batch is run on: the model's `run`. */
export type BatchModel = Pick<OnnxModel, 'run'>;

/** One request waiting for the model. */
interface Pending {
  readonly feeds: Readonly<Record<string, OnnxFeed>>;
  readonly rows: number;
  readonly resolve: (scored: ScoredBatch) => void;
  readonly reject: (error: unknown) => void;
}

/** Scores the requests of one model, batching those that wait at the same time. */
export class BatchingRunner {
  readonly #model: BatchModel;
  readonly #maxRows: number;
  #queue: Pending[] = [];
  /** A run is in flight, or one is scheduled: either way, new requests only queue. */
  #busy = false;

  /**
   * @param maxRows rows in one run at most (a single larger request still runs, alone)
   */
  constructor(model: BatchModel, maxRows: number) {
    this.#model = model;
    this.#maxRows = Math.max(1, maxRows);
  }

  /** Scores `rows` rows given one feed per feature (as {@link OnnxModel.run}). */
  run(feeds: Readonly<Record<string, OnnxFeed>>, rows: number): Promise<ScoredBatch> {
    return new Promise<ScoredBatch>((resolve, reject) => {
      this.#queue.push({ feeds, rows, resolve, reject });
      if (!this.#busy) {
        this.#busy = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  /** Runs batches until the queue is empty. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        await this.#runBatch(batch);
      }
    } catch (error) {
      // #runBatch settles every request it takes; this is for a bug there: no request may hang.
      for (const pending of this.#queue.splice(0)) pending.reject(error);
    } finally {
      this.#busy = false;
    }
  }

  /** The requests of the next run: in arrival order, up to `maxRows` rows (at least one request). */
  #take(): Pending[] {
    let rows = 0;
    let count = 0;
    for (const pending of this.#queue) {
      if (count > 0 && rows + pending.rows > this.#maxRows) break;
      rows += pending.rows;
      count += 1;
    }
    return this.#queue.splice(0, count);
  }

  async #runOne(pending: Pending): Promise<void> {
    try {
      pending.resolve(await this.#model.run(pending.feeds));
    } catch (error) {
      pending.reject(error);
    }
  }

  async #runBatch(batch: readonly Pending[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      await this.#runOne(only);
      return;
    }
    let scored: ScoredBatch | undefined;
    try {
      scored = await this.#model.run(concatFeeds(batch));
    } catch {
      scored = undefined;
    }
    const rows = batch.reduce((sum, pending) => sum + pending.rows, 0);
    if (scored === undefined || batchSize(scored) !== rows) {
      // Each on its own: whichever request cannot be scored gets the error (or its own wrong-sized
      // answer, which the API refuses), the others their rows.
      for (const pending of batch) await this.#runOne(pending);
      return;
    }
    let offset = 0;
    for (const pending of batch) {
      pending.resolve(sliceScored(scored, offset, pending.rows));
      offset += pending.rows;
    }
  }
}

/** The feeds of several requests, one after the other, as one feed per feature. */
function concatFeeds(batch: readonly Pending[]): Record<string, OnnxFeed> {
  const first = batch[0]?.feeds ?? {};
  const total = batch.reduce((sum, pending) => sum + pending.rows, 0);
  const out: Record<string, OnnxFeed> = {};
  for (const [name, feed] of Object.entries(first)) {
    if (feed.type === 'float32') {
      const data = new Float32Array(total);
      let at = 0;
      for (const pending of batch) {
        const part = pending.feeds[name] as OnnxFeed;
        data.set(part.data as Float32Array, at);
        at += part.data.length;
      }
      out[name] = { type: 'float32', data, dims: [total, 1] };
    } else {
      const data: string[] = [];
      for (const pending of batch)
        for (const text of (pending.feeds[name] as OnnxFeed).data as string[]) data.push(text);
      out[name] = { type: 'string', data, dims: [total, 1] };
    }
  }
  return out;
}

/** Rows `[offset, offset + rows)` of a scored batch (views, no copy). */
function sliceScored(scored: ScoredBatch, offset: number, rows: number): ScoredBatch {
  if (scored.kind === 'values')
    return { kind: 'values', values: scored.values.subarray(offset, offset + rows) };
  const width = scored.labels.length === 0 ? 0 : scored.probabilities.length / scored.labels.length;
  return {
    kind: 'classes',
    labels: scored.labels.slice(offset, offset + rows),
    probabilities: scored.probabilities.subarray(offset * width, (offset + rows) * width),
  };
}
