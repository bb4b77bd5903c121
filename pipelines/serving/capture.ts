/**
 * Captured traffic and ground-truth feedback: the records the serving path emits for monitoring, and
 * the {@link CaptureSink} port they go to. The request path never waits on the network for them:
 * `capture()` and `feedback()` only hand a record over.
 *
 * Records (one JSON object per line in `capture/<yyyy>/<mm>/<dd>/<hh>/*.jsonl` and
 * `feedback/<yyyy>/<mm>/<dd>/*.jsonl`; the hour / day is the record's `time`, UTC):
 *
 * ```json
 * {"type":"capture","time":"2026-05-01T12:00:00.000Z","model":{"version":3,"sha256":"…"},
 *  "predictionIds":["…"],"instances":[{"age":41,"city":null}],
 *  "predictions":[{"predictionId":"…","label":"churn","probabilities":{"stay":0.2,"churn":0.8}}]}
 * {"type":"feedback","time":"2026-05-01T13:00:00.000Z","feedback":[{"predictionId":"…","label":"churn"}]}
 * ```
 *
 * One capture record per sampled `/predict` request (not per instance): instances, predictions and
 * predictionIds are parallel arrays, so a request's rows stay together and the record count follows
 * the request rate. `instances` hold exactly the config's features, a missing value as `null` (absent
 * and null mean the same to the model); `model.version` is `null` for a model served from a file.
 * A record too large for one log line is split by {@link splitRecord} into records of the same shape
 * over consecutive slices of the arrays.
 *
 * In AWS the records travel as log lines (`lambdas/shared/capture-log-sink.ts`) through a subscription
 * filter and Firehose, which stores each whole line — the record sits in its `record` field — and
 * files it by arrival hour. Readers therefore go through {@link recordOfLine}, which accepts both.
 */
import { randomUUID } from 'node:crypto';
import type { ApiPrediction } from '../model/predictions.ts';
import type { RawValue } from '../model/raw.ts';
import type { FeedbackItem } from './validation.ts';

/** The model that served a request. */
export interface CapturedModel {
  readonly version: number | null;
  readonly sha256: string;
}

/** One sampled `/predict` request. */
export interface CaptureRecord {
  readonly type: 'capture';
  /** ISO 8601, UTC: when the request was served. */
  readonly time: string;
  readonly model: CapturedModel;
  readonly predictionIds: readonly string[];
  readonly instances: readonly Readonly<Record<string, RawValue>>[];
  readonly predictions: readonly ApiPrediction[];
}

/** One `/feedback` request. */
export interface FeedbackRecord {
  readonly type: 'feedback';
  readonly time: string;
  readonly feedback: readonly FeedbackItem[];
}

/** Where records go. Implementations buffer or log; none may block the request on I/O. */
export interface CaptureSink {
  capture(record: CaptureRecord): void;
  feedback(record: FeedbackRecord): void;
  /** Writes out everything handed over so far and stops; later records are dropped. */
  close(): Promise<void>;
}

/** A sink that drops everything (capture turned off). */
export class NullCaptureSink implements CaptureSink {
  capture(_record: CaptureRecord): void {}
  feedback(_record: FeedbackRecord): void {}
  async close(): Promise<void> {}
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `capture/2026/05/01/12/` for a record served at 12:xx UTC on 2026-05-01. */
export function capturePrefix(time: Date): string {
  return `capture/${time.getUTCFullYear()}/${pad(time.getUTCMonth() + 1)}/${pad(time.getUTCDate())}/${pad(time.getUTCHours())}/`;
}

/** `feedback/2026/05/01/` for feedback received on 2026-05-01 (UTC). */
export function feedbackPrefix(time: Date): string {
  return `feedback/${time.getUTCFullYear()}/${pad(time.getUTCMonth() + 1)}/${pad(time.getUTCDate())}/`;
}

/**
 * The name of one flushed object: `<yyyymmddThhmmssSSSZ>-<uuid>.jsonl`. The time first, so a listing
 * of a partition is in write order; the UUID so concurrent writers (several Lambdas, two `serve`
 * processes) never pick the same key.
 */
export function batchObjectName(time: Date, id: string = randomUUID()): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${id}.jsonl`;
}

/** The parallel arrays of each record type, which {@link splitRecord} slices together. */
type Sliceable = CaptureRecord | FeedbackRecord;

function count(record: Sliceable): number {
  return record.type === 'capture' ? record.instances.length : record.feedback.length;
}

function slice(record: Sliceable, start: number, end: number): Sliceable {
  if (record.type === 'feedback') return { ...record, feedback: record.feedback.slice(start, end) };
  return {
    ...record,
    predictionIds: record.predictionIds.slice(start, end),
    instances: record.instances.slice(start, end),
    predictions: record.predictions.slice(start, end),
  };
}

/**
 * Splits a record into records whose JSON is at most `maxBytes` long, each holding a consecutive
 * slice of the rows. A single row larger than the limit stays a record of its own (the sink decides
 * what to do with it).
 */
export function splitRecord<T extends Sliceable>(record: T, maxBytes: number): T[] {
  const size = Buffer.byteLength(JSON.stringify(record), 'utf8');
  const n = count(record);
  if (size <= maxBytes || n <= 1) return [record];
  const half = Math.ceil(n / 2);
  return [
    ...splitRecord(slice(record, 0, half) as T, maxBytes),
    ...splitRecord(slice(record, half, n) as T, maxBytes),
  ];
}

/**
 * The capture or feedback record in one stored JSONL line: the record itself (local store), or the
 * log line Firehose delivered in AWS with the record in its `record` field.
 * @returns `undefined` for a line that holds neither
 */
export function recordOfLine(line: string): CaptureRecord | FeedbackRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const candidate =
    value !== null && typeof value === 'object' && 'record' in value
      ? (value as { record: unknown }).record
      : value;
  if (candidate === null || typeof candidate !== 'object') return undefined;
  const type = (candidate as { type?: unknown }).type;
  return type === 'capture' || type === 'feedback'
    ? (candidate as CaptureRecord | FeedbackRecord)
    : undefined;
}
