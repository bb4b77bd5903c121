/**
 * Which model serves a request, and keeping it loaded.
 *
 * {@link ChampionModelSource} follows the champion pointer (`registry/champion.json`, see
 * `pipelines/registry/champion.ts`) — the only document serving reads, besides the model object:
 * - one onnxruntime session per model per process (container), reused by every request;
 * - the pointer is read again at most every `refreshMs` (`api.modelRefreshSeconds`), never per
 *   request. A due check runs in the background while requests go on with the loaded model
 *   (stale-while-revalidate), so a slow or failing store never stalls or fails traffic; only a process
 *   with no model at all waits for the load. Concurrent requests share one check and one load
 *   (single-flight). In Lambda, a check started by one invocation may finish in the next (the
 *   environment is frozen in between); no request with a model waits for it;
 * - a new model is verified (its bytes' sha256 against the pointer's, its feature schema against the
 *   config's) and loaded into a new session first; then the reference is switched. Requests that
 *   leased the old model finish on it; its session is released when the last of them returns it;
 * - a model that fails verification or loading is never served: the error is logged and the previous
 *   verified model keeps serving (availability of a known-good model beats an outage caused by a
 *   corrupt or tampered object). With no previous model, requests get 503 until a later check finds a
 *   good one. Failures are retried at the next check, not per request;
 * - a pointer that disappears after a model was loaded is logged and the loaded model kept: promote
 *   and rollback only ever rewrite the pointer, so its absence is an operator error, not a decision to
 *   stop serving.
 *
 * {@link FixedModelSource} serves one model file for its whole life (`driftline serve --model`).
 */
import { createHash } from 'node:crypto';
import type { DriftlineConfig } from '../config/schema.ts';
import { DriftlineError, InputError, IntegrityError } from '../errors.ts';
import { OnnxModel } from '../model/onnx-model.ts';
import { featureSchemaHash, METADATA_KEYS } from '../onnx/metadata.ts';
import { CHAMPION_KEY } from '../registry/champion.ts';
import type { VersionMetrics } from '../registry/registry.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type KnownCategories, knownCategories } from './known-categories.ts';
import type { ServingLog } from './log.ts';

/** A model ready to score, with what the API reports about it. */
export interface LoadedModel {
  /** The registry version; `null` for a model served from a file. */
  readonly version: number | null;
  /** When the version became champion. */
  readonly since: string | null;
  readonly sha256: string;
  /** Where the bytes came from: the object key, or the file path. */
  readonly source: string;
  readonly runId: string | null;
  readonly datasetVersion: string | null;
  readonly metrics: VersionMetrics | null;
  /** When the version was registered (≈ trained). */
  readonly createdAt: string | null;
  readonly onnx: OnnxModel;
  /** Categorical feature → the values the model encodes (others are "unknown" to it). */
  readonly knownCategories: KnownCategories;
}

/** A model handed to one request; return it with {@link ModelLease.release} when done. */
export interface ModelLease {
  readonly model: LoadedModel;
  /** Idempotent. */
  release(): void;
}

/** Where requests get their model. */
export interface ModelSource {
  /**
   * The model to serve this request with.
   * @throws ModelUnavailableError when there is none to serve (503)
   */
  acquire(): Promise<ModelLease>;
  /** The model currently loaded, without any I/O. */
  loaded(): LoadedModel | undefined;
  /** Stops refreshing and releases sessions once requests in flight have returned them. */
  close(): Promise<void>;
}

/** No model can serve: none deployed yet, or the deployed one failed verification or loading. */
export class ModelUnavailableError extends DriftlineError {
  override readonly name = 'ModelUnavailableError';
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('unavailable', message, options);
  }
}

/** What the model's source says about it before it is loaded. */
type ModelInfo = Omit<LoadedModel, 'onnx' | 'knownCategories' | 'sha256'>;

/** The sha256 of bytes, hex. */
function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Memory per full vCPU in Lambda: AWS allocates CPU in proportion to memory, one vCPU at 1,769 MB. */
const LAMBDA_MB_PER_VCPU = 1769;

/**
 * onnxruntime's intra-op threads for serving. In Lambda, a container handles one request at a time,
 * so a run may use every vCPU the function's memory size buys — counted from the memory, not from the
 * cores the container lists (it lists two or more even when its share of CPU time is less than one),
 * rounded down so threads never outnumber the CPU share. Locally (`driftline serve`) 1: concurrent
 * requests share the event loop's thread and are batched into one run (see `batching.ts`).
 */
export function servingThreads(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (!Number.isFinite(memory) || memory <= 0) return 1;
  return Math.max(1, Math.floor(memory / LAMBDA_MB_PER_VCPU));
}

/**
 * Loads verified bytes into a session and checks the model fits the config: same task, and the same
 * features (names, types, order — the schema hash of `pipelines/onnx/metadata.ts`).
 *
 * @throws InputError when the bytes are not a Driftline model or do not fit the config
 */
export async function loadServableModel(
  bytes: Uint8Array,
  info: ModelInfo,
  config: Pick<DriftlineConfig, 'task' | 'features'>,
): Promise<LoadedModel> {
  const onnx = await OnnxModel.load(bytes, { intraOpThreads: servingThreads() });
  try {
    if (onnx.task !== config.task) {
      throw new InputError(
        `${info.source} is a ${onnx.task || 'unknown'} model; the config's task is ${config.task}`,
      );
    }
    const expected = featureSchemaHash(config.features);
    const actual = onnx.metadata[METADATA_KEYS.schemaHash] ?? featureSchemaHash(onnx.features);
    if (actual !== expected) {
      const list = (fs: readonly { name: string; type: string }[]) =>
        fs.map((f) => `${f.name}:${f.type}`).join(', ');
      throw new InputError(
        `${info.source} takes features [${list(onnx.features)}]; the config has [${list(config.features)}]`,
        { hint: 'serve a model trained with this config, or use the config it was trained with' },
      );
    }
    return { ...info, sha256: onnx.sha256, onnx, knownCategories: knownCategories(bytes, onnx.features) };
  } catch (error) {
    await onnx.release();
    throw error;
  }
}

/** A loaded model and the requests using it. */
class Slot {
  model: LoadedModel;
  /** Resolves once the session has been released (after retire() and the last lease's return). */
  readonly released: Promise<void>;
  readonly #resolveReleased: () => void;
  readonly #log: ServingLog;
  #refs = 0;
  #retired = false;
  #releasing = false;

  constructor(model: LoadedModel, log: ServingLog) {
    this.model = model;
    this.#log = log;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.released = promise;
    this.#resolveReleased = resolve;
  }

  lease(): ModelLease {
    this.#refs += 1;
    const model = this.model;
    let returned = false;
    return {
      model,
      release: () => {
        if (returned) return;
        returned = true;
        this.#refs -= 1;
        this.#releaseIfIdle();
      },
    };
  }

  /** No new leases will be taken; the session goes once the last lease is returned. */
  retire(): void {
    this.#retired = true;
    this.#releaseIfIdle();
  }

  #releaseIfIdle(): void {
    if (!this.#retired || this.#refs > 0 || this.#releasing) return;
    this.#releasing = true;
    this.model.onnx
      .release()
      .catch((error: unknown) => {
        this.#log.warn('could not release an onnxruntime session', {
          sha256: this.model.sha256,
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(this.#resolveReleased);
  }
}

/** Options of {@link ChampionModelSource}. */
export interface ChampionModelSourceOptions {
  readonly store: ObjectStore;
  readonly config: Pick<DriftlineConfig, 'task' | 'features' | 'api'>;
  readonly log: ServingLog;
  /** @default config.api.modelRefreshSeconds × 1000 */
  readonly refreshMs?: number;
  /** Milliseconds clock for the refresh interval. @default Date.now */
  readonly now?: () => number;
  /** @default CHAMPION_KEY */
  readonly championKey?: string;
}

/** The fields of the champion pointer serving relies on. */
interface PointerModel {
  readonly version: number;
  readonly since: string | null;
  readonly key: string;
  readonly sha256: string;
  readonly runId: string | null;
  readonly datasetVersion: string | null;
  readonly metrics: VersionMetrics | null;
  readonly createdAt: string | null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function parsePointer(value: unknown, where: string): PointerModel {
  const doc = (value ?? {}) as Record<string, unknown>;
  const model = (doc.model ?? {}) as Record<string, unknown>;
  if (
    typeof doc !== 'object' ||
    !Number.isSafeInteger(doc.version) ||
    typeof model !== 'object' ||
    typeof model.key !== 'string' ||
    typeof model.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(model.sha256)
  ) {
    throw new IntegrityError(`${where} is not a champion pointer with a model key and sha256`);
  }
  return {
    version: doc.version as number,
    since: text(doc.since),
    key: model.key,
    sha256: model.sha256,
    runId: text(model.runId),
    datasetVersion: text(model.datasetVersion),
    metrics:
      typeof model.metrics === 'object' && model.metrics !== null ? (model.metrics as VersionMetrics) : null,
    createdAt: text(model.createdAt),
  };
}

/** Serves the champion of an object store, following promotions and rollbacks. */
export class ChampionModelSource implements ModelSource {
  readonly #store: ObjectStore;
  readonly #config: ChampionModelSourceOptions['config'];
  readonly #log: ServingLog;
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #key: string;
  #current: Slot | undefined;
  #lastCheck = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  /** Why the last check left nothing to serve (for the 503 message). */
  #unavailable: ModelUnavailableError | undefined;
  #closed = false;
  /** Slots replaced but perhaps still in use, so close() can wait for them. */
  readonly #retired = new Set<Slot>();

  constructor(options: ChampionModelSourceOptions) {
    this.#store = options.store;
    this.#config = options.config;
    this.#log = options.log;
    this.#refreshMs = options.refreshMs ?? options.config.api.modelRefreshSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.#key = options.championKey ?? CHAMPION_KEY;
  }

  async acquire(): Promise<ModelLease> {
    if (this.#closed) throw new ModelUnavailableError('the server is shutting down');
    if (this.#refreshing === undefined && this.#now() - this.#lastCheck >= this.#refreshMs) {
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
    }
    if (this.#current === undefined && this.#refreshing !== undefined) await this.#refreshing;
    const slot = this.#current;
    if (slot === undefined) {
      throw (
        this.#unavailable ??
        new ModelUnavailableError('no model is deployed yet', { hint: 'promote a model version' })
      );
    }
    return slot.lease();
  }

  loaded(): LoadedModel | undefined {
    return this.#current?.model;
  }

  /** Resolves when the check in progress (if any) is done; for tests and orderly shutdown. */
  async settled(): Promise<void> {
    await this.#refreshing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#refreshing;
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) this.#retire(current);
    await Promise.all([...this.#retired].map((slot) => slot.released));
  }

  #retire(slot: Slot): void {
    this.#retired.add(slot);
    void slot.released.then(() => this.#retired.delete(slot));
    slot.retire();
  }

  async #refresh(): Promise<void> {
    this.#lastCheck = this.#now();
    let pointer: PointerModel | undefined;
    try {
      const found = await this.#store.readBytes(this.#key);
      if (found === undefined) {
        if (this.#current !== undefined) {
          this.#log.warn('the champion pointer is gone; still serving the loaded model', {
            key: this.#key,
            version: this.#current.model.version,
          });
        }
        this.#unavailable = new ModelUnavailableError('no model is deployed yet', {
          hint: 'promote a model version',
        });
        return;
      }
      pointer = parsePointer(
        JSON.parse(new TextDecoder().decode(found.bytes)),
        `${this.#store.location}/${this.#key}`,
      );
      const current = this.#current;
      if (current !== undefined && current.model.sha256 === pointer.sha256) {
        // The same bytes under another version (or a rewritten pointer): no reload, new metadata.
        if (current.model.version !== pointer.version || current.model.since !== pointer.since) {
          current.model = { ...current.model, ...infoOf(pointer) };
        }
        return;
      }
      const loaded = await this.#load(pointer);
      if (this.#closed) {
        await loaded.onnx.release();
        return;
      }
      const previous = this.#current;
      this.#current = new Slot(loaded, this.#log);
      this.#unavailable = undefined;
      if (previous !== undefined) this.#retire(previous);
      this.#log.info('serving model', {
        version: loaded.version,
        sha256: loaded.sha256,
        previousVersion: previous?.model.version ?? null,
      });
    } catch (error) {
      const integrity = error instanceof IntegrityError;
      const message = error instanceof Error ? error.message : String(error);
      this.#log.error(
        this.#current === undefined
          ? 'cannot load the champion model; no model to serve'
          : 'cannot load the champion model; still serving the previous model',
        {
          version: pointer?.version ?? null,
          key: pointer?.key ?? this.#key,
          servingVersion: this.#current?.model.version ?? null,
          integrity,
          error: message,
        },
      );
      this.#unavailable = new ModelUnavailableError(
        integrity
          ? `the deployed model${pointer === undefined ? '' : ` (version ${pointer.version})`} failed verification`
          : `the deployed model${pointer === undefined ? '' : ` (version ${pointer.version})`} could not be loaded`,
        { cause: error },
      );
    }
  }

  async #load(pointer: PointerModel): Promise<LoadedModel> {
    const found = await this.#store.readBytes(pointer.key);
    if (found === undefined) {
      throw new IntegrityError(`the champion's model ${pointer.key} is missing from ${this.#store.location}`);
    }
    const actual = sha256(found.bytes);
    if (actual !== pointer.sha256) {
      throw new IntegrityError(
        `${pointer.key} has sha256 ${actual}, but the champion pointer says ${pointer.sha256}: refusing to serve it`,
      );
    }
    return loadServableModel(found.bytes, infoOf(pointer), this.#config);
  }
}

function infoOf(pointer: PointerModel): ModelInfo {
  return {
    version: pointer.version,
    since: pointer.since,
    source: pointer.key,
    runId: pointer.runId,
    datasetVersion: pointer.datasetVersion,
    metrics: pointer.metrics,
    createdAt: pointer.createdAt,
  };
}

/** Serves one model for its whole life: `driftline serve --model PATH`. No refresh. */
export class FixedModelSource implements ModelSource {
  readonly #slot: Slot;
  #closed = false;

  private constructor(slot: Slot) {
    this.#slot = slot;
  }

  /**
   * Loads `bytes` (read from `file`) and checks it fits the config.
   * @throws InputError when it is not a Driftline model for this config
   */
  static async create(
    bytes: Uint8Array,
    file: string,
    config: Pick<DriftlineConfig, 'task' | 'features'>,
    log: ServingLog,
  ): Promise<FixedModelSource> {
    const loaded = await loadServableModel(
      bytes,
      {
        version: null,
        since: null,
        source: file,
        runId: null,
        datasetVersion: null,
        metrics: null,
        createdAt: null,
      },
      config,
    );
    const datasetVersion = loaded.onnx.metadata[METADATA_KEYS.datasetVersion] ?? null;
    return new FixedModelSource(new Slot({ ...loaded, datasetVersion }, log));
  }

  async acquire(): Promise<ModelLease> {
    if (this.#closed) throw new ModelUnavailableError('the server is shutting down');
    return this.#slot.lease();
  }

  loaded(): LoadedModel | undefined {
    return this.#closed ? undefined : this.#slot.model;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#slot.retire();
    await this.#slot.released;
  }
}
