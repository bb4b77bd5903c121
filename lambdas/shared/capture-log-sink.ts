/**
 * The AWS capture sink: each monitoring record is one structured log line, written synchronously to
 * the function's log stream (no network call on the request path). A CloudWatch Logs subscription
 * filter picks the lines up and Firehose delivers them to the data bucket under `capture/` and
 * `feedback/` (built in the CDK app).
 *
 * The exact line (Powertools' JSON formatter; key order as written, fields of the Lambda context
 * only when the logger has them):
 *
 * ```json
 * {"level":"INFO","message":"driftline capture","timestamp":"2026-05-01T12:00:00.000Z",
 *  "service":"driftline","sampling_rate":0,"xray_trace_id":"1-…",
 *  "driftline":"capture",
 *  "record":{"type":"capture","time":"…","model":{"version":3,"sha256":"…"},"predictionIds":[…],
 *            "instances":[…],"predictions":[…]}}
 * ```
 *
 * Feedback lines carry `"message":"driftline feedback"`, `"driftline":"feedback"` and
 * `"record":{"type":"feedback","time":"…","feedback":[{"predictionId":"…","label":"…"}]}`.
 *
 * For the pipeline after the log group:
 * - subscription filter pattern: `{ $.driftline = "capture" || $.driftline = "feedback" }` (or one
 *   filter per type with `{ $.driftline = "capture" }` / `{ $.driftline = "feedback" }`);
 * - the object to store is exactly the `record` field (one JSON object per line); route it by
 *   `record.type` and partition by `record.time` (UTC): `capture/yyyy/mm/dd/hh/`,
 *   `feedback/yyyy/mm/dd/` — the same records and layout the local sink writes (see
 *   `pipelines/serving/capture.ts`);
 * - a request's record is split into several lines of the same shape when its JSON would exceed
 *   {@link MAX_RECORD_BYTES}, so no line nears Lambda's 256 KB log event limit.
 */
import type { CaptureRecord, CaptureSink, FeedbackRecord } from '../../pipelines/serving/capture.ts';
import { splitRecord } from '../../pipelines/serving/capture.ts';

/**
 * Largest record JSON on one line: well under the 256 KB CloudWatch Logs event limit, leaving room for
 * the logger's own fields.
 */
export const MAX_RECORD_BYTES = 200_000;

/** The field a subscription filter matches, and its values. */
export const RECORD_FIELD = 'driftline';

/** What the sink needs of a logger: Powertools' `info(message, extra)`. */
export interface RecordLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Writes capture and feedback records as log lines. */
export class LogCaptureSink implements CaptureSink {
  readonly #logger: RecordLogger;
  readonly #maxBytes: number;

  constructor(logger: RecordLogger, options: { maxRecordBytes?: number } = {}) {
    this.#logger = logger;
    this.#maxBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES;
  }

  capture(record: CaptureRecord): void {
    for (const part of splitRecord(record, this.#maxBytes)) {
      this.#logger.info('driftline capture', { [RECORD_FIELD]: 'capture', record: part });
    }
  }

  feedback(record: FeedbackRecord): void {
    for (const part of splitRecord(record, this.#maxBytes)) {
      this.#logger.info('driftline feedback', { [RECORD_FIELD]: 'feedback', record: part });
    }
  }

  /** Lines are written as they come; nothing is buffered. */
  async close(): Promise<void> {}
}
