/**
 * The AWS capture sink: each monitoring record is one JSON log line, written synchronously to the
 * function's stdout, i.e. its log stream (no network call on the request path). A CloudWatch Logs
 * subscription filter picks the lines up and Firehose delivers them to the data bucket under
 * `capture/` and `feedback/` (built in the CDK app).
 *
 * The exact line (the shape of the Powertools logger's lines, written by this sink so the record is
 * serialised once — a 1,000-instance record through the logger cost ~4 ms of the request):
 *
 * ```json
 * {"level":"INFO","message":"driftline capture","timestamp":"2026-05-01T12:00:00.000Z",
 *  "service":"driftline","driftline":"capture",
 *  "record":{"type":"capture","time":"…","model":{"version":3,"sha256":"…"},
 *            "instances":[…],"predictions":[…]}}
 * ```
 *
 * Feedback lines carry `"message":"driftline feedback"`, `"driftline":"feedback"` and
 * `"record":{"type":"feedback","time":"…","feedback":[{"predictionId":"…","label":"…"}]}`. Lines are
 * written whatever the application log level (monitoring must not go silent when logs are turned
 * down); Lambda's advanced logging controls, if set above INFO, would still drop them.
 *
 * For the pipeline after the log group:
 * - subscription filter pattern: `{ $.driftline = "capture" || $.driftline = "feedback" }` (or one
 *   filter per type with `{ $.driftline = "capture" }` / `{ $.driftline = "feedback" }`);
 * - the object to store is exactly the `record` field (one JSON object per line); route it by
 *   `record.type` and partition by `record.time` (UTC): `capture/yyyy/mm/dd/hh/`,
 *   `feedback/yyyy/mm/dd/` — the same records and layout the local sink writes (see
 *   `pipelines/serving/capture.ts`);
 * - a request's record is split into several lines of the same shape when its JSON would exceed
 *   {@link MAX_RECORD_BYTES}; a single row larger than that goes on a line of its own, and one over
 *   {@link MAX_ROW_RECORD_BYTES} (whose line could pass Lambda's 256 KB log event limit) is left out,
 *   with a WARN line (`"message":"driftline capture row too large to log: left out"`).
 */
import {
  type CaptureRecord,
  type CaptureRowsJson,
  type CaptureSink,
  type FeedbackRecord,
  partBytesBound,
  type RecordLayout,
  recordParts,
  type SizedPart,
  writePartUtf8,
} from '../../pipelines/serving/capture.ts';

/**
 * Largest record JSON on one line: well under the 256 KB CloudWatch Logs event limit, leaving room for
 * the line's own fields. (Lines of up to 100 KB also keep the reused line buffer small: see `#spare`.)
 */
export const MAX_RECORD_BYTES = 100_000;

/**
 * Largest record JSON of a single row on its own line: a row larger than {@link MAX_RECORD_BYTES}
 * goes alone, as long as its line stays under the 256 KB event limit; larger still, it is left out.
 */
export const MAX_ROW_RECORD_BYTES = 240_000;

/** The field a subscription filter matches, and its values. */
export const RECORD_FIELD = 'driftline';

/**
 * Where lines go: one complete line per call, its line break included — as text, or as UTF-8 bytes
 * (record lines, written from the rows' text without first making the line a string of its own).
 * Returns `true` when it is done with a line's bytes, so the sink may write its next line into the
 * same memory; anything else leaves the bytes to the writer for good.
 */
export type LineWriter = (line: string | Uint8Array) => boolean | undefined;

/**
 * Writes a line to stdout: in Lambda, one event of the function's log stream. Done with the bytes
 * when Node's own stream wrote them through at once (a file or a terminal always does, a pipe when it
 * has room): then nothing queued holds them. Not when something replaced the stream's `write` (a log
 * shipper, a test spy), which may keep them.
 */
export const stdoutLine: LineWriter = (line) => {
  const stdout = process.stdout;
  stdout.write(line);
  return !Object.hasOwn(stdout, 'write') && stdout.writableLength === 0;
};

/**
 * Line buffers: at least this big, so one serves lines of any usual size (a record part is at most
 * {@link MAX_RECORD_BYTES}), and one kept only up to {@link KEPT_LINE_BYTES}.
 */
const LINE_BYTES = 128 * 1024;
const KEPT_LINE_BYTES = 512 * 1024;

/** Writes capture and feedback records as log lines. */
export class LogCaptureSink implements CaptureSink {
  readonly #write: LineWriter;
  readonly #service: string;
  readonly #maxBytes: number;
  readonly #maxRowBytes: number;
  readonly #now: () => Date;
  /**
   * The last line's buffer, when the writer was done with it. Lines written one after another into
   * the same memory find it in the CPU's cache: three lines of 100 KB took ~6 µs so against ~30 µs
   * into new buffers. Across requests the model's run evicts it, and the gain is smaller: the capture
   * step after a run, at 1,000 instances, went from 134–156 to 125–132 µs.
   */
  #spare: Buffer | undefined;

  /**
   * @param options.service the `service` field of each line (the Powertools service name)
   * @param options.maxRecordBytes the size records are split at ({@link MAX_RECORD_BYTES})
   * @param options.maxRowRecordBytes the largest single row logged ({@link MAX_ROW_RECORD_BYTES})
   * @param options.now the clock of the `timestamp` field
   */
  constructor(
    write: LineWriter,
    options: { service: string; maxRecordBytes?: number; maxRowRecordBytes?: number; now?: () => Date },
  ) {
    this.#write = write;
    this.#service = JSON.stringify(options.service);
    this.#maxBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES;
    this.#maxRowBytes = Math.max(this.#maxBytes, options.maxRowRecordBytes ?? MAX_ROW_RECORD_BYTES);
    this.#now = options.now ?? (() => new Date());
  }

  capture(record: CaptureRecord, rowsJson?: CaptureRowsJson): void {
    this.#lines('capture', recordParts(record, this.#maxBytes, rowsJson));
  }

  feedback(record: FeedbackRecord): void {
    this.#lines('feedback', recordParts(record, this.#maxBytes));
  }

  /** Lines are written as they come; nothing is buffered. */
  async close(): Promise<void> {}

  /** Each part's line, written as bytes from the record's layout ({@link writePartUtf8}). */
  #lines(
    kind: 'capture' | 'feedback',
    { layout, parts }: { layout: RecordLayout; parts: readonly SizedPart[] },
  ): void {
    const time = this.#now().toISOString();
    const head =
      `{"level":"INFO","message":"driftline ${kind}","timestamp":"${time}",` +
      `"service":${this.#service},"${RECORD_FIELD}":"${kind}","record":`;
    for (const part of parts) {
      // Only a single row can exceed the split size (see recordJsonParts). Past the row limit its line
      // could pass CloudWatch's 256 KB event limit and arrive cut, as JSON nobody can read: it is left
      // out, and said so.
      // Without a count, the part is at most a third of the split size: far below the limit.
      const bytes = part.bytes ?? part.units;
      if (bytes > this.#maxRowBytes) {
        this.#write(
          `{"level":"WARN","message":"driftline ${kind} row too large to log: left out","timestamp":"${time}",` +
            `"service":${this.#service},"bytes":${bytes},"limit":${this.#maxRowBytes}}\n`,
        );
        continue;
      }
      const size = 3 * head.length + partBytesBound(part) + 2;
      let out = this.#spare;
      this.#spare = undefined;
      if (out === undefined || out.length < size) out = Buffer.allocUnsafeSlow(Math.max(size, LINE_BYTES));
      let at = out.write(head, 0, 'utf8');
      at = writePartUtf8(layout, part, out, at);
      out[at++] = 125; // }
      out[at++] = 10; // \n
      if (this.#write(out.subarray(0, at)) === true && out.length <= KEPT_LINE_BYTES) this.#spare = out;
    }
  }
}
