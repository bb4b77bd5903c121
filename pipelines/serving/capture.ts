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
 *  "instances":[{"age":41,"city":null}],
 *  "predictions":[{"predictionId":"…","label":"churn","probabilities":{"stay":0.2,"churn":0.8}}]}
 * {"type":"feedback","time":"2026-05-01T13:00:00.000Z","feedback":[{"predictionId":"…","label":"churn"}]}
 * ```
 *
 * One capture record per sampled `/predict` request (not per instance): instances and predictions are
 * parallel arrays, so a request's rows stay together and the record count follows the request rate;
 * each prediction carries its `predictionId` (what feedback refers to). `instances` hold exactly the config's features, a missing value as `null` (absent
 * and null mean the same to the model); `model.version` is `null` for a model served from a file.
 * A record too large for one log line is split by {@link recordJsonParts} into records of the same
 * shape over consecutive slices of the arrays.
 *
 * In AWS the records travel as log lines (`lambdas/shared/capture-log-sink.ts`) through a subscription
 * filter and Firehose, which stores each whole line — the record sits in its `record` field — and
 * files it by arrival hour. Readers therefore go through {@link recordOfLine}, which accepts both.
 */
import { randomUUID } from 'node:crypto';
import type { ApiPrediction } from '../model/predictions.ts';
import type { RawValue } from '../model/raw.ts';
import {
  isAsciiRows,
  type JsonRows,
  joinRows,
  rowBytes,
  rowStart,
  rowsText,
  writeRowsUtf8,
} from './json-rows.ts';
import { servedModelJson } from './predict-body.ts';
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
  readonly instances: readonly Readonly<Record<string, RawValue>>[];
  readonly predictions: readonly ApiPrediction[];
}

/** One `/feedback` request. */
export interface FeedbackRecord {
  readonly type: 'feedback';
  readonly time: string;
  readonly feedback: readonly FeedbackItem[];
}

/**
 * The JSON of a capture record's rows that the serving path has already written, as {@link JsonRows}:
 * each row the JSON of that row of the record (the same value, not always `JSON.stringify`'s text —
 * an instance keeps the number tokens of the request, `1.50` stays `1.50`). The sinks write these
 * instead of serialising the record's arrays again.
 */
export interface CaptureRowsJson {
  readonly instances?: JsonRows;
  readonly predictions?: JsonRows;
}

/** Where records go. Implementations buffer or log; none may block the request on I/O. */
export interface CaptureSink {
  /** @param rowsJson the JSON of the record's rows the caller has, so the sink need not write it again */
  capture(record: CaptureRecord, rowsJson?: CaptureRowsJson): void;
  feedback(record: FeedbackRecord): void;
  /** Writes out everything handed over so far and stops; later records are dropped. */
  close(): Promise<void>;
}

/** A sink that drops everything (capture turned off). */
export class NullCaptureSink implements CaptureSink {
  capture(_record: CaptureRecord, _rowsJson?: CaptureRowsJson): void {}
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

/**
 * The JSON text of `record` — exactly `JSON.stringify(record)` for a record built field by field in
 * the order of its type — as consecutive parts of at most `maxBytes` UTF-8 bytes each: one part when
 * it fits, else records of the same shape over consecutive slices of its rows (a single row larger
 * than the limit is a part of its own; the sink decides what to do with it).
 *
 * Written from the JSON of each row, so a record is serialised once whatever its size (splitting by
 * re-serialising halves took three times as long), and the serving path passes the JSON of the rows
 * it wrote anyway (`rowsJson`).
 */
export function recordJsonParts(
  record: CaptureRecord | FeedbackRecord,
  maxBytes = Number.POSITIVE_INFINITY,
  rowsJson: CaptureRowsJson = {},
): string[] {
  return recordParts(record, maxBytes, rowsJson).parts.map((part) => part.text);
}

/** One part of {@link recordJsonParts} and its size. */
export interface SizedPart {
  readonly text: string;
  /** UTF-8 bytes of the text, when above `maxBytes / 3` (a part that may exceed the limit); else `undefined`. */
  readonly bytes: number | undefined;
  /** UTF-16 units of the text (known without making it). */
  readonly units: number;
  /** The record's rows in this part: `start` to `end - 1`. */
  readonly start: number;
  readonly end: number;
}

/** What a record's parts are made of: its head (the fields before the rows) and its row columns. */
export interface RecordLayout {
  /** `{"type":…` up to the first column, without a comma after it. */
  readonly head: string;
  readonly names: readonly string[];
  readonly columns: readonly JsonRows[];
}

function isAscii(text: string): boolean {
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) > 127) return false;
  return true;
}

/** `JSON.stringify(text)`, without the call for text that needs no escape (a record's ISO time). */
function jsonString(text: string): string {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 32 || c === 34 || c === 92 || c > 126) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** A part whose text is made only when asked for (the log sink writes parts from the layout). */
class LayoutPart implements SizedPart {
  readonly #layout: RecordLayout;
  readonly bytes: number | undefined;
  readonly units: number;
  readonly start: number;
  readonly end: number;

  constructor(layout: RecordLayout, bytes: number | undefined, units: number, start: number, end: number) {
    this.#layout = layout;
    this.bytes = bytes;
    this.units = units;
    this.start = start;
    this.end = end;
  }

  get text(): string {
    const { head, names, columns } = this.#layout;
    let text = head;
    names.forEach((name, c) => {
      text += `,"${name}":[${rowsText(columns[c] as JsonRows, this.start, this.end)}]`;
    });
    return `${text}}`;
  }
}

/**
 * The parts of {@link recordJsonParts}, each with its UTF-8 size when it could exceed the limit, and
 * the layout they are made of, from which {@link writePartUtf8} writes a part's bytes straight from
 * the rows' text. A part's text is made only when read: sizes come from where the rows end (for
 * ASCII rows, which the serving path's writers mark, with no string made at all), and the log sink
 * writes bytes from the layout.
 */
export function recordParts(
  record: CaptureRecord | FeedbackRecord,
  maxBytes = Number.POSITIVE_INFINITY,
  rowsJson: CaptureRowsJson = {},
): { layout: RecordLayout; parts: SizedPart[] } {
  let head: string;
  let names: readonly string[];
  let columns: readonly JsonRows[];
  const json = (values: readonly unknown[]): JsonRows =>
    joinRows(values.map((value) => JSON.stringify(value)));
  if (record.type === 'capture') {
    head = `{"type":"capture","time":${jsonString(record.time)},"model":${servedModelJson(record.model)}`;
    names = ['instances', 'predictions'];
    columns = [
      rowsJson.instances ?? json(record.instances),
      rowsJson.predictions ?? json(record.predictions),
    ];
  } else {
    head = `{"type":"feedback","time":${jsonString(record.time)}`;
    names = ['feedback'];
    columns = [json(record.feedback)];
  }
  const rows = columns[0]?.ends.length ?? 0;
  const layout: RecordLayout = { head, names, columns };
  // The text of rows `start` to `end - 1` of every column, in UTF-16 units: `,"<name>":[…]` each.
  const unitsOf = (start: number, end: number): number => {
    let units = head.length + 1;
    names.forEach((name, c) => {
      const column = columns[c] as JsonRows;
      units +=
        name.length + 6 + (end > start ? (column.ends[end - 1] as number) - rowStart(column, start) : 0);
    });
    return units;
  };
  const part = (bytes: number | undefined, start: number, end: number) =>
    new LayoutPart(layout, bytes, unitsOf(start, end), start, end);
  const wholeUnits = unitsOf(0, rows);
  // Cheap first: a UTF-8 byte is at most 3 per UTF-16 unit of the text.
  if (wholeUnits * 3 <= maxBytes) return { layout, parts: [part(undefined, 0, rows)] };
  // A column of ASCII text has as many bytes as units (so has the head, usually: names and numbers).
  const ascii = columns.map(isAsciiRows);
  const allAscii = ascii.every(Boolean) && isAscii(head);
  const wholeBytes = allAscii ? wholeUnits : Buffer.byteLength(part(undefined, 0, rows).text);
  if (wholeBytes <= maxBytes || rows <= 1) return { layout, parts: [part(wholeBytes, 0, rows)] };
  const parts: SizedPart[] = [];
  if (allAscii) {
    // A part's bytes are its units: each part takes the most rows that fit (at least one), found by
    // halving, since the size grows with the rows taken.
    for (let start = 0; start < rows; ) {
      let fits = start + 1;
      let over = rows + 1;
      while (over - fits > 1) {
        const middle = (fits + over) >>> 1;
        if (unitsOf(start, middle) <= maxBytes) fits = middle;
        else over = middle;
      }
      parts.push(part(unitsOf(start, fits), start, fits));
      start = fits;
    }
    return { layout, parts };
  }
  // Each row's bytes over all columns: an ASCII column's from where its rows end, others measured.
  const rowSizes = new Float64Array(rows);
  columns.forEach((column, c) => {
    if (ascii[c]) {
      for (let i = 0; i < rows; i++) {
        rowSizes[i] = (rowSizes[i] as number) + (column.ends[i] as number) - rowStart(column, i);
      }
    } else for (let i = 0; i < rows; i++) rowSizes[i] = (rowSizes[i] as number) + rowBytes(column, i);
  });
  const empty = Buffer.byteLength(part(undefined, 0, 0).text);
  let start = 0;
  let bytes = empty;
  for (let i = 0; i < rows; i++) {
    const row = rowSizes[i] as number;
    // Each column of a part gains the row, and a comma before it unless it is the part's first.
    const added = row + (i > start ? names.length : 0);
    if (i > start && bytes + added > maxBytes) {
      parts.push(part(bytes, start, i));
      start = i;
      bytes = empty + row;
    } else bytes += added;
  }
  parts.push(part(bytes, start, rows));
  return { layout, parts };
}

/**
 * Writes the UTF-8 bytes of `part` (its {@link SizedPart.text}) into `out` at `at`, from the layout's
 * strings and rows; returns the end. `out` must have room: {@link partBytesBound}.
 */
export function writePartUtf8(layout: RecordLayout, part: SizedPart, out: Buffer, at: number): number {
  at += out.write(layout.head, at, 'utf8');
  layout.names.forEach((name, c) => {
    at += out.write(`,"${name}":[`, at, 'utf8');
    at = writeRowsUtf8(layout.columns[c] as JsonRows, part.start, part.end, out, at);
    out[at++] = 93; // ]
  });
  out[at++] = 125; // }
  return at;
}

/** At least the UTF-8 bytes of a part (exactly them when they were counted). */
export function partBytesBound(part: SizedPart): number {
  return part.bytes ?? 3 * part.units;
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
