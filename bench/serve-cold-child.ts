/**
 * One cold start of the predict handler, run by `bench/serve-cold.ts` in a fresh Node process:
 * import the handler and its dependencies, build it over a local store holding a champion model,
 * answer one `POST /predict` event, print one JSON line and exit.
 *
 * Usage: node bench/serve-cold-child.ts STORE_DIR CONFIG_FILE BODY_FILE
 *
 * Everything after the start of this script is timed with `performance.now()`, whose origin is the
 * start of the process: `boot` is Node's own start-up plus loading this file. The real request path
 * is timed from outside, without hooks in the serving code, by wrapping what it calls: the store's
 * reads; `crypto.createHash` (patched on the builtin and synced to its ES module exports, so every
 * sha256 on the path is counted); protobufjs' `ModelProto.decode` (a full decode of the model);
 * onnxruntime's `InferenceSession.create` and the session's first `run`. What remains of the first
 * request — config load, validation, the category scan, JSON — is reported as `rest`.
 */

import type * as Crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import type { ObjectBody, ObjectStore } from '../pipelines/storage/object-store.ts';

const boot = performance.now();

/** The store, with the time spent in `readBytes` (the pointer and the model) reported. */
class TimedReads implements ObjectStore {
  readonly location: string;
  readonly #inner: ObjectStore;
  readonly #spent: (ms: number) => void;

  constructor(inner: ObjectStore, spent: (ms: number) => void) {
    this.#inner = inner;
    this.#spent = spent;
    this.location = inner.location;
  }

  async readBytes(key: string): ReturnType<ObjectStore['readBytes']> {
    const started = performance.now();
    try {
      return await this.#inner.readBytes(key);
    } finally {
      this.#spent(performance.now() - started);
    }
  }

  head(key: string): ReturnType<ObjectStore['head']> {
    return this.#inner.head(key);
  }

  read(key: string): ReturnType<ObjectStore['read']> {
    return this.#inner.read(key);
  }

  putIfAbsent(key: string, body: ObjectBody): ReturnType<ObjectStore['putIfAbsent']> {
    return this.#inner.putIfAbsent(key, body);
  }

  putIfMatch(key: string, body: Uint8Array, expectedEtag: string | null): Promise<string> {
    return this.#inner.putIfMatch(key, body, expectedEtag);
  }

  list(prefix: string): ReturnType<ObjectStore['list']> {
    return this.#inner.list(prefix);
  }
}

/** Milliseconds spent in hashing, summed over every hash the process makes. */
let hashMs = 0;

/** Times `update` and `digest` of every hash; patched before anything imports `node:crypto`. */
function timeHashing(): void {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  const createHash = crypto.createHash;
  crypto.createHash = ((...args: Parameters<typeof createHash>) => {
    const hash = createHash(...args);
    const update = hash.update.bind(hash) as (...a: unknown[]) => unknown;
    const digest = hash.digest.bind(hash) as (...a: unknown[]) => unknown;
    hash.update = ((...a: unknown[]) => {
      const started = performance.now();
      update(...a);
      hashMs += performance.now() - started;
      return hash;
    }) as typeof hash.update;
    hash.digest = ((...a: unknown[]) => {
      const started = performance.now();
      const out = digest(...a);
      hashMs += performance.now() - started;
      return out;
    }) as typeof hash.digest;
    return hash;
  }) as typeof createHash;
  syncBuiltinESMExports();
}

async function main(): Promise<void> {
  timeHashing();
  const [storeDir, configFile, bodyFile] = process.argv.slice(2);
  if (storeDir === undefined || configFile === undefined || bodyFile === undefined) {
    throw new Error('usage: serve-cold-child.ts STORE_DIR CONFIG_FILE BODY_FILE');
  }
  const body = readFileSync(bodyFile, 'utf8');

  const importStarted = performance.now();
  const [
    ort,
    onnxProto,
    { createHandler },
    { ChampionModelSource },
    { FsObjectStore },
    { loadConfig },
    serving,
  ] = await Promise.all([
    import('onnxruntime-node'),
    import('onnx-proto'),
    import('../lambdas/predict/create-handler.ts'),
    import('../pipelines/serving/model-source.ts'),
    import('../pipelines/local/fs-store.ts'),
    import('../pipelines/config/load.ts'),
    import('./serve-events.ts'),
  ]);
  const importMs = performance.now() - importStarted;

  let readMs = 0;
  let decodeMs = 0;
  let sessionMs = 0;
  const modelProto = onnxProto.default.onnx.ModelProto;
  const decode = modelProto.decode;
  // Timing wrapper: a full protobufjs decode of a model (what reading its metadata costs today).
  modelProto.decode = ((...args: Parameters<typeof decode>) => {
    const started = performance.now();
    try {
      return decode.apply(modelProto, args);
    } finally {
      decodeMs += performance.now() - started;
    }
  }) as typeof decode;
  let firstRunMs: number | undefined;
  const create = ort.InferenceSession.create;
  // Timing wrapper: the real create, and the real first run of the session it returns.
  ort.InferenceSession.create = (async (...args: unknown[]) => {
    const started = performance.now();
    const session = await (create as (...a: unknown[]) => Promise<Ort.InferenceSession>).apply(
      ort.InferenceSession,
      args,
    );
    sessionMs += performance.now() - started;
    const run = session.run.bind(session) as (...a: unknown[]) => Promise<Ort.InferenceSession.ReturnType>;
    session.run = (async (...runArgs: unknown[]) => {
      const runStarted = performance.now();
      const out = await run(...runArgs);
      firstRunMs ??= performance.now() - runStarted;
      return out;
    }) as Ort.InferenceSession['run'];
    return session;
  }) as typeof create;

  const requestStarted = performance.now();
  const hashBefore = hashMs;
  const config = await loadConfig(configFile);
  const store = new TimedReads(new FsObjectStore(storeDir), (ms) => {
    readMs += ms;
  });
  const handler = createHandler({
    config,
    models: new ChampionModelSource({ store, config, log: serving.SILENT_LOG }),
    capture: new serving.LastRecordCaptureSink(),
    metrics: { observe: () => {} },
    log: serving.SILENT_LOG,
  });
  const result = await handler(serving.predictEvent(body, 'cold'), serving.benchContext());
  const answered = performance.now();
  const requestMs = answered - requestStarted;
  const shaMs = hashMs - hashBefore;
  const runMs = firstRunMs ?? 0;
  process.stdout.write(
    `${JSON.stringify({
      status: result.statusCode,
      predictions:
        result.statusCode === 200
          ? (JSON.parse(result.body) as { predictions: unknown[] }).predictions.length
          : 0,
      boot,
      importMs,
      readMs,
      shaMs,
      decodeMs,
      sessionMs,
      runMs,
      restMs: requestMs - readMs - shaMs - decodeMs - sessionMs - runMs,
      requestMs,
      answeredAt: answered,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
