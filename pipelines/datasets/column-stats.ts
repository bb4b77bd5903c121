/**
 * The validation pass of a push: every row checked against the schema and every column's statistics
 * accumulated, in one streaming pass with bounded memory.
 *
 * A large CSV file is validated in two parts at once (`csv-split.ts`): the first on this thread, the
 * second on a worker thread (`segment-worker.ts`), each with its own column statistics. Their findings
 * are joined into exactly those of one pass over the file — the same rows, classes, errors and row
 * numbers — and their statistics merged (`mergeColumnStates`): everything as one pass computes it but
 * the numeric samples, which are drawn from the two parts' samples (still uniform, and the same for the
 * same bytes), and the mean and variance, equal up to rounding (the parts update them a batch at a
 * time, see `NumericUpdate`). When the split falls inside a quoted field, or the worker fails, this
 * thread reads the rest of the file itself, with the same statistics but the samples.
 *
 * Otherwise a large file's statistics are accumulated on a worker thread while this thread reads and
 * checks the rows: each checked batch goes through a ring of shared memory (`stats-ring.ts`), in order,
 * so every accumulator sees its column's values in file order and the statistics are exactly those of
 * a single thread. Without a worker (a bundle that cannot start one) they are accumulated here.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { batchCapacity, CELL_MISSING, type CellBatch } from '../data/cell-batch.ts';
import { type CsvSegment, splitOffset } from '../data/csv-split.ts';
import { judgeFindings, type ValidationSummary } from '../data/row-check.ts';
import { checkRows, LeadingPass, type SegmentPass, type TableSchema } from '../data/table.ts';
import { deriveSeed } from '../train/gbdt/prng.ts';
import {
  type CategoricalAccumulator,
  type ColumnState,
  type ColumnStats,
  categoricalAccumulator,
  finishColumnState,
  mergeColumnStates,
  type NumericAccumulator,
  type NumericUpdate,
  numericAccumulator,
} from './stats.ts';
import { RingLayout, type RingNote, RingWriter, type StatsColumn, statsColumns } from './stats-ring.ts';

/** Seed for the manifest samples: fixed, so the same bytes always give the same manifest statistics. */
export const STATS_SEED = 20_011;

/**
 * Seed of the samples of a file's second part, when it is validated in two parts: a stream apart from
 * the first part's, so the two samples are independent.
 */
const SECOND_PART_SEED = deriveSeed(STATS_SEED, 1 << 20);
/** Seed of the draws that merge the two parts' samples (one stream per column). */
const MERGE_SEED = deriveSeed(STATS_SEED, (1 << 20) + 1);

/** Below this size everything runs on one thread: starting a worker would cost more than it saves. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;

/** What a validation pass of a push yields. */
export interface ValidatedStats {
  readonly summary: ValidationSummary;
  /** Statistics by column name: the features, then the target. */
  readonly stats: Record<string, ColumnStats>;
  /**
   * Threads that did the pass: 2 when the file was validated in two parts at once or the statistics
   * were accumulated on a worker, else 1.
   */
  readonly threads: 1 | 2;
  /** Parts the file was validated in: 2 when two threads each validated a part, else 1. */
  readonly parts: 1 | 2;
}

/** Where the checked batches of a pass go to have their statistics accumulated. */
interface StatsSink {
  add(batch: CellBatch, keep: Uint8Array): void;
  /** The statistics per column (see {@link statsColumns}). */
  finish(): Promise<ColumnStats[]>;
  /** Gives up (the file was refused). */
  abort(): void;
}

/** A column's accumulator, by its type. */
type Accumulator =
  | { readonly type: 'numeric'; readonly acc: NumericAccumulator }
  | {
      readonly type: 'categorical';
      readonly acc: CategoricalAccumulator;
    };

/**
 * The accumulators of `columns`, seeded by column index as the manifest always has been; the parts
 * of a file validated in two parts take another `seed` for the second, and `per-batch` updates.
 */
export function accumulatorsFor(
  columns: readonly StatsColumn[],
  seed = STATS_SEED,
  update: NumericUpdate = 'per-value',
): Accumulator[] {
  return columns.map((c, k) =>
    c.type === 'numeric'
      ? { type: 'numeric', acc: numericAccumulator(seed, k, update) }
      : { type: 'categorical', acc: categoricalAccumulator() },
  );
}

/** The statistics accumulated on this thread. */
export class InThreadStats implements StatsSink {
  readonly #columns: readonly StatsColumn[];
  readonly #accumulators: Accumulator[];

  /** @param seed, update see {@link accumulatorsFor} */
  constructor(columns: readonly StatsColumn[], seed = STATS_SEED, update: NumericUpdate = 'per-value') {
    this.#columns = columns;
    this.#accumulators = accumulatorsFor(columns, seed, update);
  }

  add(batch: CellBatch, keep: Uint8Array): void {
    const { count, capacity } = batch;
    this.#columns.forEach((column, k) => {
      const base = column.slot * capacity;
      const accumulator = this.#accumulators[k] as Accumulator;
      if (accumulator.type === 'numeric') accumulator.acc.addColumn(batch.numbers, base, count, keep);
      else {
        accumulator.acc.addCodes(
          batch.codes,
          base,
          count,
          keep,
          (code) => batch.caches[column.slot]?.values[code] ?? null,
          (r) => (batch.status[base + r] === CELL_MISSING ? null : batch.category(base + r, column.slot)),
        );
      }
    });
  }

  finish(): Promise<ColumnStats[]> {
    return Promise.resolve(this.#accumulators.map((a) => a.acc.finish()));
  }

  /** Where every column's accumulator is, to be merged with another part's. */
  states(): ColumnState[] {
    return this.#accumulators.map((a) => a.acc.state());
  }

  abort(): void {}
}

/** What the statistics worker is given. */
export interface StatsWorkerData {
  readonly columns: readonly StatsColumn[];
  readonly capacity: number;
  readonly memory: RingWriter['memory'];
  readonly port: MessagePort;
}

/** What the statistics worker posts: that it runs, then the statistics or why there are none. */
export type StatsWorkerReply = 'started' | { readonly stats: ColumnStats[] } | { readonly error: string };

/** The statistics accumulated on a worker thread, fed through the ring. */
class WorkerStats implements StatsSink {
  readonly #worker: Worker;
  readonly #writer: RingWriter;
  readonly #columns: readonly StatsColumn[];
  readonly #stats: Promise<ColumnStats[]>;
  /** Per column: the category codes already told to the worker. */
  readonly #told: number[];
  #batches = 0;

  constructor(
    worker: Worker,
    writer: RingWriter,
    columns: readonly StatsColumn[],
    stats: Promise<ColumnStats[]>,
  ) {
    this.#worker = worker;
    this.#writer = writer;
    this.#columns = columns;
    this.#stats = stats;
    this.#told = columns.map(() => 0);
  }

  add(batch: CellBatch, keep: Uint8Array): void {
    const { count, capacity } = batch;
    const codes: [number, number, string | null][] = [];
    const texts: [number, number, string | null][] = [];
    const cells = this.#columns.map((column, k) => {
      const base = column.slot * capacity;
      if (column.type === 'numeric') return batch.numbers.subarray(base, base + count);
      const cache = batch.caches[column.slot];
      if (cache !== undefined) {
        for (let i = this.#told[k] as number; i < cache.learned.length; i += 1) {
          const code = cache.learned[i] as number;
          codes.push([k, code, cache.values[code] ?? null]);
        }
        this.#told[k] = cache.learned.length;
      }
      for (let r = 0; batch.uncoded > 0 && r < count; r += 1) {
        if (keep[r] === 1 && (batch.codes[base + r] as number) < 0) {
          const missing = batch.status[base + r] === CELL_MISSING;
          texts.push([k, r, missing ? null : batch.category(base + r, column.slot)]);
        }
      }
      return batch.codes.subarray(base, base + count);
    });
    const note: RingNote = { batch: this.#batches, codes, texts };
    this.#writer.write({ count, keep, cells }, note);
    this.#batches += 1;
  }

  finish(): Promise<ColumnStats[]> {
    this.#writer.end();
    return this.#stats.finally(() => this.abort());
  }

  abort(): void {
    void this.#worker.terminate();
  }
}

/**
 * A sink on a worker thread, once the worker runs; `undefined` when none can start (then the caller
 * accumulates on its own thread).
 */
async function workerStats(
  columns: readonly StatsColumn[],
  capacity: number,
): Promise<StatsSink | undefined> {
  const { port1, port2 } = new MessageChannel();
  const writer = new RingWriter(new RingLayout(columns, capacity), port1);
  const data: StatsWorkerData = { columns, capacity, memory: writer.memory, port: port2 };
  let worker: Worker;
  try {
    worker = new Worker(new URL('./column-stats-worker.ts', import.meta.url), {
      workerData: data,
      transferList: [port2],
    });
  } catch {
    return undefined;
  }
  let started: (running: boolean) => void = () => {};
  const running = new Promise<boolean>((resolve) => {
    started = resolve;
  });
  const stats = new Promise<ColumnStats[]>((resolve, reject) => {
    worker.on('message', (message: StatsWorkerReply) => {
      if (message === 'started') started(true);
      else if ('stats' in message) resolve(message.stats);
      else reject(new Error(message.error));
    });
    worker.on('error', (error) => {
      started(false);
      reject(error);
    });
    worker.on('exit', () => {
      started(false);
      reject(new Error('the statistics thread stopped'));
    });
  });
  stats.catch(() => undefined);
  if (!(await running)) {
    port1.close();
    return undefined;
  }
  return new WorkerStats(worker, writer, columns, stats);
}

/** Reads what the statistics thread is told, synchronously (for `readRing`). */
export function receiveNote(port: MessagePort): { message: RingNote } | undefined {
  return receiveMessageOnPort(port) as { message: RingNote } | undefined;
}

/** What the worker of a file's second part is given. */
export interface SegmentWorkerData {
  readonly file: string;
  readonly schema: TableSchema;
  readonly segment: CsvSegment;
}

/** What the worker of a file's second part posts: what its pass found and its columns' states, or why not. */
export type SegmentWorkerReply =
  | { readonly pass: SegmentPass; readonly states: ColumnState[] }
  | { readonly error: string };

/** The statistics of the second part of a file validated in two parts (for `segment-worker.ts`). */
export function secondPartStats(schema: TableSchema): InThreadStats {
  return new InThreadStats(statsColumns(schema), SECOND_PART_SEED, 'per-batch');
}

/** The pass over a file's second part on a worker thread. */
interface SegmentWorker {
  /** What the pass found and its states; undefined when the worker failed. */
  readonly reply: Promise<{ readonly pass: SegmentPass; readonly states: ColumnState[] } | undefined>;
  stop(): void;
}

/** Starts the pass over `segment` on a worker thread; undefined when no worker can start. */
function segmentWorker(file: string, schema: TableSchema, segment: CsvSegment): SegmentWorker | undefined {
  const data: SegmentWorkerData = { file, schema, segment };
  let worker: Worker;
  try {
    worker = new Worker(new URL('./segment-worker.ts', import.meta.url), { workerData: data });
  } catch {
    return undefined;
  }
  const reply = new Promise<{ pass: SegmentPass; states: ColumnState[] } | undefined>((resolve) => {
    worker.on('message', (message: SegmentWorkerReply) => resolve('error' in message ? undefined : message));
    worker.on('error', () => resolve(undefined));
    worker.on('exit', () => resolve(undefined));
  });
  return { reply, stop: () => void worker.terminate() };
}

/** Statistics by column name (the features, then the target) from the columns' statistics in order. */
function byName(schema: TableSchema, all: readonly ColumnStats[]): Record<string, ColumnStats> {
  const names = [...schema.features.map((f) => f.name), schema.target];
  const stats: Record<string, ColumnStats> = {};
  names.forEach((name, k) => {
    const column = all[k];
    if (column !== undefined) stats[name] = column;
  });
  return stats;
}

/**
 * The pass over a CSV file in two parts at once, this thread reading the first; undefined when the
 * file cannot be split or no worker can start (nothing has been read then).
 */
async function twoPartPass(file: string, schema: TableSchema): Promise<ValidatedStats | undefined> {
  const first = new InThreadStats(statsColumns(schema), STATS_SEED, 'per-batch');
  const leading = await LeadingPass.open(file, schema, (batch, keep) => first.add(batch, keep));
  if (leading === undefined) return undefined;
  let second: SegmentWorker | undefined;
  try {
    const { header, delimiter } = leading;
    const start = await splitOffset(file, delimiter, leading.dataStart);
    if (start !== undefined) second = segmentWorker(file, schema, { header, delimiter, start });
    if (start === undefined || second === undefined) return undefined;
    const stop = await leading.readTo(start);
    if (stop === 'paused') {
      const reply = await second.reply;
      if (reply !== undefined) {
        const pass = leading.joinedWith(reply.pass);
        const summary = judgeFindings(file, 'csv', leading.hasTime, true, schema, pass);
        const merged = first
          .states()
          .map((state, k) =>
            mergeColumnStates(state, reply.states[k] as ColumnState, deriveSeed(MERGE_SEED, k)),
          );
        return { summary, stats: byName(schema, merged.map(finishColumnState)), threads: 2, parts: 2 };
      }
    }
    // The first part's pass stopped (20 problems, a malformed record), or a record goes across the
    // split, or the worker failed: that pass is the whole pass, and reads the rest of the file alone.
    second.stop();
    if (stop !== 'end') await leading.readRest();
    const summary = judgeFindings(file, 'csv', leading.hasTime, true, schema, leading.result());
    return { summary, stats: byName(schema, await first.finish()), threads: 1, parts: 1 };
  } finally {
    second?.stop();
    await leading.close();
  }
}

/**
 * Validates every row of `file` against `schema` and computes the statistics of every column (the
 * features, then the target); a large file on two threads (see the module comment).
 * @throws InputError as `forEachValidBatch`
 */
export async function validateWithStats(
  file: string,
  schema: TableSchema,
  options: {
    readonly bytes: number;
    /** Threads to use; by default two for a file of {@link WORKER_MIN_BYTES} or more. */
    readonly threads?: 1 | 2;
    /**
     * With two threads, whether a CSV file is validated in two parts at once (by default for a file of
     * {@link WORKER_MIN_BYTES} or more) rather than one thread validating and the other accumulating
     * the statistics.
     */
    readonly split?: boolean;
  },
): Promise<ValidatedStats> {
  const two = options.threads === undefined ? options.bytes >= WORKER_MIN_BYTES : options.threads === 2;
  if (two && (options.split ?? options.bytes >= WORKER_MIN_BYTES)) {
    const split = await twoPartPass(file, schema);
    if (split !== undefined) return split;
  }
  return onePass(file, schema, two);
}

/** The pass in one part: on this thread, with the statistics on a worker when `two` and one starts. */
async function onePass(file: string, schema: TableSchema, two: boolean): Promise<ValidatedStats> {
  const columns = statsColumns(schema);
  // The batches of the pass: one slot per feature, the target, the time column.
  const capacity = batchCapacity(schema.features.length + 2);
  const onWorker = two ? await workerStats(columns, capacity) : undefined;
  const sink = onWorker ?? new InThreadStats(columns);
  try {
    const pass = await checkRows(file, schema, 'required', (batch, keep) => sink.add(batch, keep));
    const summary = judgeFindings(file, pass.format, pass.hasTime, true, schema, pass);
    const stats = byName(schema, await sink.finish());
    return { summary, stats, threads: onWorker === undefined ? 1 : 2, parts: 1 };
  } catch (error) {
    sink.abort();
    throw error;
  }
}
