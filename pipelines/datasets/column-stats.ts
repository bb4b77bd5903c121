/**
 * The validation pass of a push: every row checked against the schema and every column's statistics
 * accumulated, in one streaming pass with bounded memory.
 *
 * On a large file the statistics are accumulated on a worker thread while this thread reads and
 * checks the rows: each checked batch goes through a ring of shared memory (`stats-ring.ts`), in order,
 * so every accumulator sees its column's values in file order and the statistics are exactly those of
 * a single thread. Without a worker (a bundle that cannot start one) they are accumulated here.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { batchCapacity, CELL_MISSING, type CellBatch } from '../data/cell-batch.ts';
import { judgeFindings, type ValidationSummary } from '../data/row-check.ts';
import { checkRows, type TableSchema } from '../data/table.ts';
import {
  type CategoricalAccumulator,
  type ColumnStats,
  categoricalAccumulator,
  type NumericAccumulator,
  numericAccumulator,
} from './stats.ts';
import { RingLayout, type RingNote, RingWriter, type StatsColumn, statsColumns } from './stats-ring.ts';

/** Seed for the manifest samples: fixed, so the same bytes always give the same manifest statistics. */
export const STATS_SEED = 20_011;

/** Below this size everything runs on one thread: starting a worker would cost more than it saves. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;

/** What a validation pass of a push yields. */
export interface ValidatedStats {
  readonly summary: ValidationSummary;
  /** Statistics by column name: the features, then the target. */
  readonly stats: Record<string, ColumnStats>;
  /** Threads that did the pass: 2 when the statistics were accumulated on a worker, else 1. */
  readonly threads: 1 | 2;
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

/** The accumulators of `columns`, seeded by column index as the manifest always has been. */
export function accumulatorsFor(columns: readonly StatsColumn[]): Accumulator[] {
  return columns.map((c, k) =>
    c.type === 'numeric'
      ? { type: 'numeric', acc: numericAccumulator(STATS_SEED, k) }
      : { type: 'categorical', acc: categoricalAccumulator() },
  );
}

/** The statistics accumulated on this thread. */
class InThreadStats implements StatsSink {
  readonly #columns: readonly StatsColumn[];
  readonly #accumulators: Accumulator[];

  constructor(columns: readonly StatsColumn[]) {
    this.#columns = columns;
    this.#accumulators = accumulatorsFor(columns);
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

/**
 * Validates every row of `file` against `schema` and computes the statistics of every column (the
 * features, then the target), on a worker thread for a large file.
 * @throws InputError as `forEachValidBatch`
 */
export async function validateWithStats(
  file: string,
  schema: TableSchema,
  options: {
    readonly bytes: number;
    /** Threads to use; by default two for a file of {@link WORKER_MIN_BYTES} or more. */
    readonly threads?: 1 | 2;
  },
): Promise<ValidatedStats> {
  const columns = statsColumns(schema);
  const two = options.threads === undefined ? options.bytes >= WORKER_MIN_BYTES : options.threads === 2;
  // The batches of the pass: one slot per feature, the target, the time column.
  const capacity = batchCapacity(schema.features.length + 2);
  const onWorker = two ? await workerStats(columns, capacity) : undefined;
  const sink = onWorker ?? new InThreadStats(columns);
  try {
    const pass = await checkRows(file, schema, 'required', (batch, keep) => sink.add(batch, keep));
    const summary = judgeFindings(file, pass.format, pass.hasTime, true, schema, pass);
    const all = await sink.finish();
    const names = [...schema.features.map((f) => f.name), schema.target];
    const stats: Record<string, ColumnStats> = {};
    names.forEach((name, k) => {
      const column = all[k];
      if (column !== undefined) stats[name] = column;
    });
    return { summary, stats, threads: onWorker === undefined ? 1 : 2 };
  } catch (error) {
    sink.abort();
    throw error;
  }
}
