/**
 * The serving API: routes, request handling and the mapping of every outcome to a response, behind
 * one transport-neutral call. The predict Lambda (API Gateway) and `driftline serve` (node:http) both
 * reach it through the same handler (`lambdas/predict/create-handler.ts`).
 *
 * | route | method | success | body |
 * |---|---|---|---|
 * | `/predict` | POST | 200 | `{"predictions":[…],"model":{"version","sha256"}}` |
 * | `/feedback` | POST | 202 | `{"accepted":n}` |
 * | `/model` | GET | 200 | version, sha256, datasetVersion, metrics, trainedAt, runId, since, source |
 * | `/health` | GET | 200 | `{"status":"ok","modelLoaded":bool,"model":{"version","sha256"}\|null}` |
 *
 * A trailing slash is ignored; any other path is 404, another method on a known path 405. Errors and
 * their codes: see `api-error.ts`; body rules: see `http.ts`; validation rules: see `validation.ts`.
 * `handle()` never throws and never answers with a stack trace: an unexpected error is logged and
 * becomes a fixed 500 message.
 */
import type { DriftlineConfig } from '../config/schema.ts';
import type { OnnxModel, ScoredBatch } from '../model/onnx-model.ts';
import { type ApiPrediction, batchSize } from '../model/predictions.ts';
import { type RawRow, type RawValue, rawValue } from '../model/raw.ts';
import { columnsFeeds, columnValue, type OnnxFeed, type ValueColumns } from '../onnx/inputs.ts';
import { ApiError, errorResponse } from './api-error.ts';
import { BatchingRunner } from './batching.ts';
import type { CaptureRecord, CaptureSink } from './capture.ts';
import {
  type ApiRequest,
  type ApiResponse,
  jsonResponse,
  jsonTextResponse,
  MAX_BODY_BYTES,
  parseJsonText,
  readJsonBody,
  readJsonText,
} from './http.ts';
import type { TextInstances } from './instances-text.ts';
import { type JsonRows, joinRows, parseRows } from './json-rows.ts';
import { isUnknownCategory, type KnownCategories } from './known-categories.ts';
import type { ServingLog } from './log.ts';
import type { ServingMetrics, ServingObservation, ServingRoute } from './metrics.ts';
import type { LoadedModel, ModelSource } from './model-source.ts';
import {
  classIndexes,
  type JsonKeys,
  jsonKeys,
  predictBody,
  type WrittenPredictions,
  writePredictions,
} from './predict-body.ts';
import { RequestValidator } from './validation.ts';

/** What the API needs; every dependency is a port, so tests and the two runtimes wire their own. */
export interface ServingApiOptions {
  readonly config: DriftlineConfig;
  readonly models: ModelSource;
  readonly capture: CaptureSink;
  readonly metrics: ServingMetrics;
  readonly log: ServingLog;
  /** Uniform [0, 1) for capture sampling. @default Math.random */
  readonly random?: () => number;
  /** Wall clock for record times. @default () => new Date() */
  readonly now?: () => Date;
  /** Monotonic milliseconds for latency. @default performance.now */
  readonly monotonic?: () => number;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /**
   * `false` parses and validates every body the full way (JSON.parse + zod); tests hold the fast
   * paths to exactly its answers with it. @default true
   */
  readonly fastPath?: boolean;
}

const ROUTES: Record<string, { route: ServingRoute; method: string }> = {
  '/predict': { route: 'predict', method: 'POST' },
  '/feedback': { route: 'feedback', method: 'POST' },
  '/model': { route: 'model', method: 'GET' },
  '/health': { route: 'health', method: 'GET' },
};

/** The fields of an observation a route fills in besides route, status and latency. */
type Outcome = { response: ApiResponse } & Partial<
  Omit<ServingObservation, 'route' | 'status' | 'latencyMs'>
>;

/** The serving API. Build one per process; it is safe for concurrent requests. */
export class ServingApi {
  readonly #config: DriftlineConfig;
  readonly #models: ModelSource;
  readonly #capture: CaptureSink;
  readonly #metrics: ServingMetrics;
  readonly #log: ServingLog;
  readonly #random: () => number;
  readonly #now: () => Date;
  readonly #monotonic: () => number;
  readonly #maxBodyBytes: number;
  readonly #validator: RequestValidator;
  readonly #featureNames: readonly string[];
  readonly #runners = new WeakMap<OnnxModel, BatchingRunner>();
  /** The features in the order JSON.stringify writes a captured instance's keys, and `"<name>":` of each. */
  readonly #instanceKeys: JsonKeys;

  constructor(options: ServingApiOptions) {
    this.#config = options.config;
    this.#models = options.models;
    this.#capture = options.capture;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => new Date());
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    this.#validator = new RequestValidator(options.config.features, options.config.api.maxInstances, {
      fastPath: options.fastPath ?? true,
    });
    this.#featureNames = options.config.features.map((f) => f.name);
    this.#instanceKeys = jsonKeys(this.#featureNames);
  }

  /** Handles one request. Never throws. */
  async handle(request: ApiRequest): Promise<ApiResponse> {
    const started = this.#monotonic();
    const path = normalisePath(request.path);
    const known = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    const route: ServingRoute = known?.route ?? 'unknown';
    let outcome: Outcome;
    try {
      if (known === undefined) throw new ApiError('not_found', `no route ${truncate(path)}`);
      if (request.method.toUpperCase() !== known.method) {
        throw new ApiError('method_not_allowed', `${truncate(path)} takes ${known.method}`, {
          headers: { allow: known.method },
        });
      }
      outcome = await this.#route(known.route, request);
    } catch (error) {
      const mapped = errorResponse(error);
      if (mapped.status === 500) {
        this.#log.error('request failed', {
          route,
          requestId: request.requestId,
          error: describeError(error),
        });
      } else if (mapped.status === 503) {
        this.#log.warn('no model to serve', {
          route,
          requestId: request.requestId,
          reason: mapped.body.error.message,
        });
      }
      outcome = {
        response: jsonResponse(mapped.status, mapped.body, mapped.headers),
        errorCode: mapped.code,
        ...this.#modelVersion(),
      };
    }
    this.#observe({
      ...outcome,
      route,
      status: outcome.response.status,
      latencyMs: this.#monotonic() - started,
    });
    return outcome.response;
  }

  /** Stops the model source and writes out buffered capture. */
  async close(): Promise<void> {
    await this.#models.close();
    await this.#capture.close();
  }

  #observe(observation: Outcome & ServingObservation): void {
    const { response: _response, ...rest } = observation;
    try {
      this.#metrics.observe(rest);
    } catch (error) {
      // Metrics are never worth a failed request.
      this.#log.warn('could not record metrics', { error: describeError(error) });
    }
  }

  #modelVersion(model: LoadedModel | undefined = this.#models.loaded()): { modelVersion?: string } {
    if (model === undefined) return {};
    return { modelVersion: model.version === null ? 'file' : String(model.version) };
  }

  #route(route: ServingRoute, request: ApiRequest): Promise<Outcome> {
    switch (route) {
      case 'predict':
        return this.#predict(request);
      case 'feedback':
        return this.#feedback(request);
      case 'model':
        return this.#model();
      default:
        return this.#health();
    }
  }

  async #predict(request: ApiRequest): Promise<Outcome> {
    const text = readJsonText(request, this.#maxBodyBytes);
    // The model loaded now, if any: its known categories let the reader count unknown values as it
    // reads (used when the request is then served by that same model).
    const current = this.#models.loaded();
    const instances = this.#instances(text, current?.knownCategories);
    const count = instances.count;
    const lease = await this.#models.acquire();
    let scored: ScoredBatch;
    let unknownCategories: number;
    const model = lease.model;
    try {
      const feeds = columnsFeeds(model.onnx.features, instances.columns, count);
      unknownCategories =
        instances.unknownCategories !== undefined && model === current
          ? instances.unknownCategories
          : countUnknown(model, feeds);
      scored = await this.#runnerOf(model.onnx).run(feeds, count);
      if (batchSize(scored) !== count) {
        throw new Error(`the model returned ${batchSize(scored)} predictions for ${count} instances`);
      }
      checkFinite(scored, model.onnx.classes.length, count);
    } finally {
      lease.release();
    }
    const served = { version: model.version, sha256: model.sha256 };
    const classes = model.onnx.classes;
    const indexes = scored.kind === 'classes' ? classIndexes(scored.labels, classes, count) : undefined;
    const written = writePredictions(scored, classes, count, undefined, indexes);
    const captured = this.#random() < this.#config.api.captureSampleRate;
    if (captured) {
      this.#capture.capture(
        new LazyCaptureRecord(
          this.#now().toISOString(),
          served,
          written,
          instances.columns,
          this.#featureNames,
          count,
        ),
        {
          instances: instances.json(),
          predictions: written.predictions,
        },
      );
    }
    return {
      response: jsonTextResponse(200, predictBody(written.predictions, served)),
      ...this.#modelVersion(model),
      instances: count,
      unknownCategories,
      ignoredFields: instances.ignoredFields,
      captured,
      ...summarise(scored, classes, indexes),
    };
  }

  /**
   * The validated instances of a `/predict` body by column, and the JSON each is captured as. Plain
   * valid bodies are read straight from the text; anything else is parsed and validated as rows.
   * @throws ApiError from parsing or validation
   */
  #instances(
    text: string,
    knownCategories: KnownCategories | undefined,
  ): {
    count: number;
    columns: ValueColumns;
    ignoredFields: number;
    /** Present when the reader counted them (see {@link TextInstances.unknownCategories}). */
    unknownCategories?: number;
    json: () => JsonRows;
  } {
    const read = this.#validator.instancesText(text, knownCategories);
    if (read !== undefined) return { ...read, json: () => read.instanceJson };
    const { rows, ignoredFields } = this.#validator.instances(parseJsonText(text));
    const columns = new Map(this.#featureNames.map((name) => [name, rows.map((row) => rawValue(row, name))]));
    return {
      count: rows.length,
      columns,
      ignoredFields,
      json: () =>
        joinRows(
          capturedInstances(this.#featureNames, columns, rows.length).map((row) => this.#instanceJson(row)),
        ),
    };
  }

  /** The batching runner of a loaded model (one per model; dropped with it). */
  #runnerOf(onnx: OnnxModel): BatchingRunner {
    let runner = this.#runners.get(onnx);
    if (runner === undefined) {
      runner = new BatchingRunner(onnx, this.#config.api.maxInstances);
      this.#runners.set(onnx, runner);
    }
    return runner;
  }

  /** `JSON.stringify(this.#capturedInstance(row))`, written directly (keys known, values flat). */
  #instanceJson(row: RawRow): string {
    const names = this.#instanceKeys.names;
    const prefixes = this.#instanceKeys.prefixes;
    let text = '{';
    for (let j = 0; j < names.length; j++) {
      const value = rawValue(row, names[j] as string);
      text += j === 0 ? prefixes[j] : `,${prefixes[j]}`;
      if (value === null || value === undefined) text += 'null';
      else if (typeof value === 'string') text += JSON.stringify(value);
      else if (typeof value === 'number') text += Number.isFinite(value) ? String(value) : 'null';
      else text += String(value);
    }
    return `${text}}`;
  }

  async #feedback(request: ApiRequest): Promise<Outcome> {
    const body = readJsonBody(request, this.#maxBodyBytes);
    // Labels are checked against the classes of the model being served, so it must be there.
    const lease = await this.#models.acquire();
    const model = lease.model;
    lease.release();
    const items = this.#validator.feedback(body, { task: model.onnx.task, classes: model.onnx.classes });
    this.#capture.feedback({ type: 'feedback', time: this.#now().toISOString(), feedback: items });
    return {
      response: jsonResponse(202, { accepted: items.length }),
      ...this.#modelVersion(model),
      feedbackItems: items.length,
    };
  }

  async #model(): Promise<Outcome> {
    const lease = await this.#models.acquire();
    const model = lease.model;
    lease.release();
    return {
      response: jsonResponse(200, {
        version: model.version,
        sha256: model.sha256,
        datasetVersion: model.datasetVersion,
        metrics: model.metrics,
        trainedAt: model.createdAt,
        runId: model.runId,
        since: model.since,
        source: model.source,
        task: model.onnx.task,
        classes: model.onnx.classes,
        features: model.onnx.features,
      }),
      ...this.#modelVersion(model),
    };
  }

  async #health(): Promise<Outcome> {
    // Health reflects what a request would get: it triggers the first load (or a due check) too.
    let model: LoadedModel | undefined;
    try {
      const lease = await this.#models.acquire();
      model = lease.model;
      lease.release();
    } catch {
      model = undefined;
    }
    return {
      response: jsonResponse(200, {
        status: 'ok',
        modelLoaded: model !== undefined,
        model: model === undefined ? null : { version: model.version, sha256: model.sha256 },
      }),
      ...this.#modelVersion(model),
    };
  }
}

/**
 * The capture record of a `/predict` request. The sinks write the rows' JSON passed with it; its
 * arrays are made only when a sink reads them.
 *
 * A class on purpose: built as an object literal with getters (closures over the request's rows), it
 * kept every request's rows alive through young-generation collections — at 1,000 instances ~200 KB a
 * request went to the old generation and each scavenge took 8–10 ms instead of under 1 ms.
 */
class LazyCaptureRecord implements CaptureRecord {
  readonly type = 'capture';
  readonly time: string;
  readonly model: CaptureRecord['model'];
  readonly #written: WrittenPredictions;
  readonly #columns: ValueColumns;
  readonly #featureNames: readonly string[];
  readonly #count: number;
  #instances: Readonly<Record<string, RawValue>>[] | undefined;
  #predictions: ApiPrediction[] | undefined;

  constructor(
    time: string,
    model: CaptureRecord['model'],
    written: WrittenPredictions,
    columns: ValueColumns,
    featureNames: readonly string[],
    count: number,
  ) {
    this.time = time;
    this.model = model;
    this.#written = written;
    this.#columns = columns;
    this.#featureNames = featureNames;
    this.#count = count;
  }

  get instances(): Readonly<Record<string, RawValue>>[] {
    this.#instances ??= capturedInstances(this.#featureNames, this.#columns, this.#count);
    return this.#instances;
  }

  get predictions(): ApiPrediction[] {
    this.#predictions ??= parseRows(this.#written.predictions) as ApiPrediction[];
    return this.#predictions;
  }

  /** The record as plain data (the getters are not own properties, which JSON.stringify would miss). */
  toJSON(): CaptureRecord {
    return {
      type: this.type,
      time: this.time,
      model: this.model,
      instances: this.instances,
      predictions: this.predictions,
    };
  }
}

/** The instances as monitoring reads them: every feature, in config order, missing as `null`. */
function capturedInstances(
  names: readonly string[],
  columns: ValueColumns,
  count: number,
): Readonly<Record<string, RawValue>>[] {
  const out = new Array<Record<string, RawValue>>(count);
  for (let i = 0; i < count; i++) {
    const instance = Object.create(null) as Record<string, RawValue>;
    for (const name of names) instance[name] = columnValue(columns.get(name), i) ?? null;
    out[i] = instance;
  }
  return out;
}

function normalisePath(path: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed === '' ? '/' : trimmed;
}

function truncate(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { message: String(error) };
}

/**
 * Categorical values the model does not know (missing values are not unknown). Reads the string
 * feeds, which hold each value as the model sees it (`""` when missing); every categorical feature of
 * a model has one.
 */
function countUnknown(model: LoadedModel, feeds: Readonly<Record<string, OnnxFeed>>): number {
  let unknown = 0;
  for (const [feature, known] of model.knownCategories) {
    const feed = Object.hasOwn(feeds, feature) ? feeds[feature] : undefined;
    if (feed?.type !== 'string') continue;
    for (const text of feed.data) if (isUnknownCategory(known, text)) unknown += 1;
  }
  return unknown;
}

/**
 * Refuses to return a prediction that is not a finite number: JSON would turn it into `null`. Only
 * extreme inputs (near the float32 limits) can drive a model there, so it is the request's problem.
 * Reads the scored arrays themselves (the values the predictions are made of), so the common case
 * allocates nothing.
 */
function checkFinite(scored: ScoredBatch, classCount: number, rows: number): void {
  const values = scored.kind === 'values' ? scored.values : scored.probabilities;
  const width = scored.kind === 'values' ? 1 : classCount;
  const details: { path: string; message: string }[] = [];
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < width; c++) {
      if (!Number.isFinite(values[i * width + c])) {
        details.push({
          path: `instances[${i}]`,
          message:
            'the model cannot score this instance: its prediction is not a finite number (extreme values?)',
        });
        break;
      }
    }
  }
  if (details.length > 0)
    throw new ApiError('invalid_request', 'some instances cannot be scored', { details });
}

/**
 * Class counts (classification) or the mean prediction (regression) of a scored batch.
 * @param indexes {@link classIndexes} of the labels
 */
function summarise(
  scored: ScoredBatch,
  classes: readonly string[],
  indexes: Int32Array | undefined,
): Pick<ServingObservation, 'classCounts' | 'meanPrediction'> {
  if (scored.kind === 'values') {
    if (scored.values.length === 0) return {};
    let sum = 0;
    for (const value of scored.values) sum += value;
    return { meanPrediction: sum / scored.values.length };
  }
  if (scored.labels.length === 0) return {};
  // Counted by class position (a null-prototype object in dictionary mode costs ~30 ns an update, a
  // Map lookup hashes each new label string), then copied; a label outside the classes by name.
  const counts = new Int32Array(classes.length);
  const others = new Map<string, number>();
  for (let i = 0; i < scored.labels.length; i++) {
    const k = indexes?.[i] ?? -1;
    if (k >= 0) counts[k] = (counts[k] as number) + 1;
    else {
      const label = scored.labels[i] as string;
      others.set(label, (others.get(label) ?? 0) + 1);
    }
  }
  const classCounts = Object.create(null) as Record<string, number>;
  for (let k = 0; k < classes.length; k++)
    if ((counts[k] as number) > 0) classCounts[classes[k] as string] = counts[k] as number;
  for (const [label, count] of others) classCounts[label] = count;
  return { classCounts };
}
