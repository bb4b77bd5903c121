/**
 * Part (b) of the serving benchmark: cold start, from spawning a fresh Node process to its answer to
 * the first `/predict` — what a Lambda cold start costs on top of the platform's own init.
 *
 * The model is registered and promoted in a temporary local store, so the child goes through the
 * deployed path: the champion pointer, the model bytes, the sha256 check against the pointer, the
 * schema check, the onnxruntime session, the request (`bench/serve-cold-child.ts`). One untimed run
 * first warms the OS file cache (a Lambda's code is on local disk too); then `runs` timed ones.
 *
 * Two ways to load the code: the TypeScript sources under Node's type stripping (how `driftline
 * serve` and the CLI start), and one esbuild bundle made with the settings of `DriftlineFunction`
 * (CommonJS, minified, names kept, external source map, run with `--enable-source-maps`,
 * onnxruntime left external as in its layer) — how the deployed Lambda starts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { DriftlineConfigInput } from '../pipelines/config/schema.ts';
import { FsObjectStore } from '../pipelines/local/fs-store.ts';
import type { RawRow } from '../pipelines/model/raw.ts';
import { localRegistry } from '../pipelines/registry/local-registry.ts';

const CHILD = fileURLToPath(new URL('./serve-cold-child.ts', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

/** How the child's code is loaded. */
export interface ColdCode {
  readonly label: string;
  /** The script to run. */
  readonly script: string;
  /** Node flags before the script. */
  readonly flags: readonly string[];
  /** Environment added to the child's. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The TypeScript sources, type-stripped on load, with V8's compile cache in `dir` as the `driftline`
 * command enables it (`bin/driftline.ts`): the untimed first start fills it, as any earlier command
 * on the machine would have.
 */
export function sourcesColdChild(dir: string): ColdCode {
  return {
    label: 'TS sources',
    script: CHILD,
    flags: [],
    env: { NODE_COMPILE_CACHE: join(dir, 'compile-cache') },
  };
}

/**
 * Bundles the child as `DriftlineFunction` bundles a Lambda, into `dir` (with a `node_modules` link
 * so the external onnxruntime resolves, as the layer's does in Lambda).
 */
export async function bundleColdChild(dir: string): Promise<ColdCode> {
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'index.js');
  const importMeta = '__driftline_import_meta';
  await build({
    entryPoints: [CHILD],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minify: true,
    keepNames: true,
    sourcemap: true,
    sourcesContent: false,
    external: ['onnxruntime-node', 'onnxruntime-common', '@aws-sdk/*', '@smithy/*'],
    define: { 'import.meta': importMeta },
    banner: {
      js: `const ${importMeta}={url:require('node:url').pathToFileURL(__filename).href,dirname:__dirname,filename:__filename};`,
    },
    logLevel: 'warning',
  });
  symlinkSync(NODE_MODULES, join(dirname(outfile), 'node_modules'), 'dir');
  // A Lambda cold start has no compile cache: a new execution environment starts with nothing cached.
  return {
    label: 'esbuild bundle',
    script: outfile,
    flags: ['--enable-source-maps'],
    env: { NODE_DISABLE_COMPILE_CACHE: '1' },
  };
}

/** Where one cold-start scenario lives on disk. */
export interface ColdSetup {
  readonly storeDir: string;
  readonly configFile: string;
  readonly bodyFile: string;
  readonly modelBytes: number;
}

/** One cold start; every time in milliseconds. */
export interface ColdRun {
  /** Parent's view: `spawn()` to the response line on the child's stdout. */
  readonly spawnToAnswer: number;
  /** Child's view, from its process start: Node start-up and loading the script. */
  readonly boot: number;
  readonly import: number;
  readonly read: number;
  /** Every sha256 on the path (the check against the pointer, the model's own hash …). */
  readonly sha256: number;
  /** Full protobufjs decodes of the model (reading its metadata). */
  readonly decode: number;
  readonly session: number;
  readonly firstRun: number;
  readonly rest: number;
  /** Config load + handler build + the first request, end to end. */
  readonly request: number;
}

/** Registers `bytes` as version 1 and promotes it, as the training pipeline and `models promote` do. */
export async function prepareColdStore(
  dir: string,
  bytes: Uint8Array,
  configInput: DriftlineConfigInput,
  instance: RawRow,
): Promise<ColdSetup> {
  const storeDir = join(dir, 'store');
  const store = new FsObjectStore(storeDir);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const runId = `bench-${sha256.slice(0, 12)}`;
  const key = `runs/${runId}/model.onnx`;
  await store.putIfAbsent(key, bytes);
  const registry = localRegistry(store);
  const registered = await registry.register({
    runId,
    datasetVersion: createHash('sha256').update('flights-3m sample').digest('hex'),
    modelSha256: sha256,
    modelKey: key,
    metrics: { primary: { name: 'auc', value: 0.7 }, holdout: { auc: 0.7 } },
    status: 'Approved',
    statusReason: 'serving benchmark',
  });
  await registry.promote(registered.version, 'serving benchmark');
  const configFile = join(dir, 'driftline.config.json');
  writeFileSync(configFile, JSON.stringify(configInput, null, 2));
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, JSON.stringify({ instances: [instance] }));
  return { storeDir, configFile, bodyFile, modelBytes: bytes.length };
}

/** Spawns one child and times it. @throws when it does not answer 200 within `timeoutMs` */
function once(setup: ColdSetup, code: ColdCode, timeoutMs: number): Promise<ColdRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...code.flags, code.script, setup.storeDir, setup.configFile, setup.bodyFile],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...code.env } },
    );
    let out = '';
    let err = '';
    let answeredAt: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (answeredAt === undefined && out.includes('\n')) answeredAt = performance.now();
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n')[0] ?? '';
      if (code !== 0 || answeredAt === undefined || line === '') {
        reject(new Error(`the cold-start child exited with ${code}: ${err.trim().slice(0, 2000)}`));
        return;
      }
      const r = JSON.parse(line) as {
        status: number;
        boot: number;
        importMs: number;
        readMs: number;
        shaMs: number;
        decodeMs: number;
        sessionMs: number;
        runMs: number;
        restMs: number;
        requestMs: number;
      };
      if (r.status !== 200) {
        reject(new Error(`the cold-start child got HTTP ${r.status}`));
        return;
      }
      resolve({
        spawnToAnswer: answeredAt - started,
        boot: r.boot,
        import: r.importMs,
        read: r.readMs,
        sha256: r.shaMs,
        decode: r.decodeMs,
        session: r.sessionMs,
        firstRun: r.runMs,
        rest: r.restMs,
        request: r.requestMs,
      });
    });
  });
}

/** One untimed start, then `runs` timed ones, one after the other. */
export async function measureColdStart(
  setup: ColdSetup,
  code: ColdCode,
  runs: number,
  timeoutMs = 60_000,
): Promise<ColdRun[]> {
  await once(setup, code, timeoutMs);
  const results: ColdRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await once(setup, code, timeoutMs));
  return results;
}
