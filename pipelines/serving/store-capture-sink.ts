/**
 * The local capture sink: records are buffered in memory and written every second (and on close) as
 * new JSON Lines objects, one per hour (capture) or day (feedback) partition present in the batch:
 * `capture/yyyy/mm/dd/hh/<time>-<uuid>.jsonl`, `feedback/yyyy/mm/dd/<time>-<uuid>.jsonl`. Objects are
 * created with `putIfAbsent`, never appended to, so two processes writing the same partition never
 * touch each other's files and a crash leaves whole objects or none.
 *
 * A failed write is logged and its records go back to the buffer for the next flush, up to
 * {@link StoreCaptureSinkOptions.maxBufferedRecords}; beyond that the oldest are dropped (and counted in
 * the log), so a store that stays down cannot exhaust memory.
 */
import type { ObjectStore } from '../storage/object-store.ts';
import {
  batchObjectName,
  type CaptureRecord,
  type CaptureRowsJson,
  type CaptureSink,
  capturePrefix,
  type FeedbackRecord,
  feedbackPrefix,
  recordJsonParts,
} from './capture.ts';
import type { ServingLog } from './log.ts';

/** Options of {@link StoreCaptureSink}. */
export interface StoreCaptureSinkOptions {
  /** @default 1000 */
  readonly flushIntervalMs?: number;
  /** @default 100_000 */
  readonly maxBufferedRecords?: number;
  /** Where write failures are reported. */
  readonly log?: ServingLog;
  /** The clock for object names. @default () => new Date() */
  readonly now?: () => Date;
}

type AnyRecord = CaptureRecord | FeedbackRecord;

/** A record waiting to be written, with the JSON of its rows that the serving path had. */
interface Pending {
  readonly record: AnyRecord;
  readonly rowsJson?: CaptureRowsJson;
}

/**
 * Records serialised between two yields to the event loop. Under load a flush holds thousands of
 * records (one per request); serialising them in one go blocked every request for tens of
 * milliseconds once a second, which showed in the server's p99 latency.
 */
const SERIALISE_SLICE = 256;

/** The records as JSON Lines, yielding to waiting requests every {@link SERIALISE_SLICE} records. */
async function jsonLines(records: readonly Pending[]): Promise<Uint8Array> {
  const lines: string[] = [];
  for (let i = 0; i < records.length; i++) {
    if (i > 0 && i % SERIALISE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
    const { record, rowsJson } = records[i] as Pending;
    lines.push(`${recordJsonParts(record, Number.POSITIVE_INFINITY, rowsJson)[0]}\n`);
  }
  return new TextEncoder().encode(lines.join(''));
}

/** Writes capture and feedback records to an object store in batches. */
export class StoreCaptureSink implements CaptureSink {
  readonly #store: ObjectStore;
  readonly #intervalMs: number;
  readonly #maxBuffered: number;
  readonly #log: ServingLog | undefined;
  readonly #now: () => Date;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Flushes run one after the other, so records keep their order and close() waits for all. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(store: ObjectStore, options: StoreCaptureSinkOptions = {}) {
    this.#store = store;
    this.#intervalMs = options.flushIntervalMs ?? 1000;
    this.#maxBuffered = options.maxBufferedRecords ?? 100_000;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
  }

  capture(record: CaptureRecord, rowsJson?: CaptureRowsJson): void {
    this.#add(rowsJson === undefined ? { record } : { record, rowsJson });
  }

  feedback(record: FeedbackRecord): void {
    this.#add({ record });
  }

  /** Writes what is buffered now; resolves when it is stored (or has failed and been re-queued). */
  flush(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#write());
    return this.#chain;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  #add(pending: Pending): void {
    if (this.#closed) return;
    this.#pending.push(pending);
    this.#trim();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => {
        void this.flush();
      }, this.#intervalMs);
      // The timer alone must not keep a process (a CLI run, a test worker) alive.
      this.#timer.unref();
    }
  }

  #trim(): void {
    const excess = this.#pending.length - this.#maxBuffered;
    if (excess > 0) {
      this.#pending.splice(0, excess);
      this.#log?.error('capture buffer full: dropped the oldest records', { dropped: excess });
    }
  }

  async #write(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const byPrefix = new Map<string, Pending[]>();
    for (const pending of batch) {
      const { record } = pending;
      const time = new Date(record.time);
      const prefix = record.type === 'capture' ? capturePrefix(time) : feedbackPrefix(time);
      const list = byPrefix.get(prefix);
      if (list === undefined) byPrefix.set(prefix, [pending]);
      else list.push(pending);
    }
    const failed: Pending[] = [];
    for (const [prefix, records] of byPrefix) {
      const key = `${prefix}${batchObjectName(this.#now())}`;
      const body = await jsonLines(records);
      try {
        await this.#store.putIfAbsent(key, body);
      } catch (error) {
        failed.push(...records);
        this.#log?.error(
          `could not write captured records; ${this.#closed ? 'dropped them' : 'will retry'}`,
          {
            key,
            records: records.length,
            error: error instanceof Error ? error.message : String(error),
          },
        );
      }
    }
    if (failed.length > 0 && !this.#closed) {
      this.#pending = [...failed, ...this.#pending];
      this.#trim();
    }
  }
}
