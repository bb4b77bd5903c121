/**
 * The predict function as `cdk deploy` ships it: the staged bundle and the onnxruntime layer, checked
 * for size and platform, then run the way Lambda runs them — the bundle alone in a folder, onnxruntime
 * reachable only through `NODE_PATH` from the layer's `nodejs/node_modules` (the runtime's AWS SDK from a
 * stand-in for `/var/runtime/node_modules`), serving one prediction from S3 (s3rver).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lambdas/shared/s3-store.ts';
import { LAYER_NODE_MODULES } from '../../lib/constructs/onnxruntime-layer.ts';
import type { InferenceStack } from '../../lib/inference-stack.ts';
import { CONFIG_FILE } from '../../pipelines/config/load.ts';
import { fixtureModel, promoteModel, servingConfig, sha256Hex } from '../helpers/serving-fixtures.ts';
import { type LocalS3, startLocalS3 } from '../helpers/store-s3rver.ts';
import { tempDir } from '../helpers/tmp.ts';
import { buildStage, stagedAssetDir } from './build.ts';

const REPO_NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));
const MB = 1024 * 1024;

/** Every file under `dir` with its size, as paths relative to `dir`. */
function walk(dir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path: relative(dir, path), size: statSync(path).size });
  }
  return out;
}

const total = (files: { size: number }[]): number => files.reduce((sum, f) => sum + f.size, 0);

/** A stand-in for Lambda's `/var/runtime/node_modules`: the AWS SDK the runtime provides, nothing else. */
function runtimeModules(root: string): string {
  const dir = join(root, 'runtime', 'node_modules');
  mkdirSync(dir, { recursive: true });
  for (const scope of ['@aws-sdk', '@smithy']) symlinkSync(join(REPO_NODE_MODULES, scope), join(dir, scope));
  return dir;
}

describe('the deployed predict function', () => {
  let app: App;
  let inference: InferenceStack;
  let layerDir: string;
  let bundleDir: string;
  const config = servingConfig('binary');
  beforeAll(() => {
    ({ app, inference } = buildStage('dev', config));
    layerDir = stagedAssetDir(app, inference.onnxRuntimeLayer);
    bundleDir = stagedAssetDir(app, inference.predictFunction);
  });

  describe('the onnxruntime layer asset', () => {
    it('is at most 60 MB unzipped', () => {
      const size = total(walk(layerDir));

      expect(size / MB).toBeLessThanOrEqual(60);
      expect(size / MB).toBeGreaterThan(40);
    });

    it('holds onnxruntime-node and -common under nodejs/node_modules, linux/x64 binaries only', () => {
      const files = walk(layerDir).map((f) => f.path.split(sep).join('/'));

      expect(files.every((f) => f.startsWith('nodejs/node_modules/onnxruntime-'))).toBe(true);
      expect(files).toEqual(
        expect.arrayContaining([
          'nodejs/node_modules/onnxruntime-node/package.json',
          'nodejs/node_modules/onnxruntime-node/dist/index.js',
          'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
          'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
          'nodejs/node_modules/onnxruntime-common/package.json',
        ]),
      );
      const folders = new Set(files.flatMap((f) => f.split('/').slice(0, -1)));
      for (const other of ['darwin', 'win32', 'arm64']) expect(folders).not.toContain(other);
      const binaries = files.filter((f) => f.includes('/bin/'));
      expect(binaries).toEqual([
        'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
        'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
      ]);
      expect(files.filter((f) => /cuda|tensorrt|directml|dxil|dxcompiler|\.dll$|\.dylib$/i.test(f))).toEqual(
        [],
      );
    });
  });

  describe('the function bundle', () => {
    it('is at most 2 MB, without onnxruntime or the AWS SDK inside', () => {
      const files = walk(bundleDir);
      const source = readFileSync(join(bundleDir, 'index.js'), 'utf8');

      expect(total(files) / MB).toBeLessThanOrEqual(2);
      expect(files.map((f) => f.path).sort()).toEqual([CONFIG_FILE, 'index.js', 'index.js.map']);
      expect(source).toContain('require("onnxruntime-node")');
      expect(source).not.toContain('InferenceSession.create=');
      expect(source).toMatch(/require\("@aws-sdk\/client-s3"\)/);
    });

    it('is CommonJS with no top-level await, carrying the validated config', () => {
      const source = readFileSync(join(bundleDir, 'index.js'), 'utf8');

      expect(source).toMatch(/module\.exports\s*=/);
      expect(source).not.toMatch(/^\s*(import|export)\s/m);
      expect(JSON.parse(readFileSync(join(bundleDir, CONFIG_FILE), 'utf8'))).toEqual(config);
    });
  });

  describe('run as Lambda runs it', () => {
    let s3: LocalS3;
    let sha = '';
    beforeAll(async () => {
      s3 = await startLocalS3();
      await s3.createBucket('driftline-data');
      const bytes = await fixtureModel('binary-gbdt');
      sha = sha256Hex(bytes);
      await promoteModel(new S3ObjectStore({ bucket: 'driftline-data', client: s3.client }), bytes);
    });
    afterAll(async () => {
      await s3?.stop();
    });

    it('loads onnxruntime from the layer through NODE_PATH and serves a prediction', async () => {
      // Prepare: /var/task, /opt/nodejs/node_modules and /var/runtime/node_modules stand-ins.
      const root = await tempDir('driftline-lambda-run-');
      const task = join(root, 'task');
      cpSync(bundleDir, task, { recursive: true });
      const runtime = runtimeModules(root);
      const runner = join(root, 'invoke.cjs');
      writeFileSync(
        runner,
        [
          "const { handler } = require(process.env.LAMBDA_TASK_ROOT + '/index.js');",
          'const event = {',
          "  resource: '/predict', path: '/predict', httpMethod: 'POST',",
          "  headers: { 'Content-Type': 'application/json' }, multiValueHeaders: {},",
          '  queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null,',
          '  stageVariables: null, isBase64Encoded: false, requestContext: { requestId: "req-1" },',
          "  body: JSON.stringify({ instances: [{ age: 30, income: 900, city: 'lisbon', plan: 'pro' }] }),",
          '};',
          "const context = { functionName: 'predict', awsRequestId: 'aws-req-1', getRemainingTimeInMillis: () => 10000 };",
          'handler(event, context).then((result) => {',
          "  const loaded = Object.keys(require.cache).filter((file) => file.includes('onnxruntime'));",
          "  const resolved = require.resolve('onnxruntime-node', { paths: [process.env.LAMBDA_TASK_ROOT] });",
          "  require('node:fs').writeFileSync(process.env.RESULT_FILE, JSON.stringify({ result, loaded, resolved }));",
          '});',
        ].join('\n'),
      );
      const resultFile = join(root, 'result.json');

      // Act
      const run = spawnSync(process.execPath, [runner], {
        cwd: root,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          NODE_PATH: [join(layerDir, LAYER_NODE_MODULES), runtime].join(':'),
          LAMBDA_TASK_ROOT: task,
          RESULT_FILE: resultFile,
          DATA_BUCKET: 'driftline-data',
          POWERTOOLS_SERVICE_NAME: 'serving-binary-dev-predict',
          POWERTOOLS_TRACE_ENABLED: 'false',
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
        },
      });

      // Assess
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(existsSync(resultFile)).toBe(true);
      const { result, loaded, resolved } = JSON.parse(readFileSync(resultFile, 'utf8')) as {
        result: { statusCode: number; body: string };
        loaded: string[];
        resolved: string;
      };
      expect(resolved.startsWith(join(layerDir, LAYER_NODE_MODULES, 'onnxruntime-node'))).toBe(true);
      expect(loaded).toContain(
        join(layerDir, LAYER_NODE_MODULES, 'onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'),
      );
      expect(loaded.every((file) => file.startsWith(join(layerDir, LAYER_NODE_MODULES)))).toBe(true);
      expect(result.statusCode).toBe(200);
      const body = JSON.parse(result.body) as { predictions: { label: string }[]; model: unknown };
      expect(body.model).toEqual({ version: 1, sha256: sha });
      expect(body.predictions).toHaveLength(1);
      // The capture line the subscription filter `{ $.driftline = "capture" }` picks up.
      const lines = run.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.filter((line) => line.driftline === 'capture')).toHaveLength(1);
    });

    it('finds onnxruntime nowhere but in the layer (the copied bundle sees no project node_modules)', async () => {
      const root = await tempDir('driftline-lambda-nolayer-');
      cpSync(bundleDir, join(root, 'task'), { recursive: true });

      const run = spawnSync(process.execPath, ['-e', "require('./task/index.js')"], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_PATH: runtimeModules(root) },
      });

      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain("Cannot find module 'onnxruntime-node'");
    });

    it('needs the CommonJS bundle: an ES module import does not look at NODE_PATH', async () => {
      const root = await tempDir('driftline-lambda-esm-');
      const probe = join(root, 'probe.mjs');
      writeFileSync(probe, "import 'onnxruntime-node';\n");

      const esm = spawnSync(process.execPath, [probe], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_PATH: join(layerDir, LAYER_NODE_MODULES) },
      });
      const cjs = spawnSync(process.execPath, ['-e', "require('onnxruntime-node')"], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, NODE_PATH: join(layerDir, LAYER_NODE_MODULES) },
      });

      expect(esm.status).not.toBe(0);
      expect(esm.stderr).toContain('ERR_MODULE_NOT_FOUND');
      expect(cjs.stderr).toBe('');
      expect(cjs.status).toBe(0);
    });
  });
});
