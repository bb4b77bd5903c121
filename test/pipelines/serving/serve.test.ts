/**
 * `driftline serve` over real HTTP on loopback: every status code of the API, capture and feedback in
 * the local store, a champion swap under load, and a graceful stop of the real CLI process on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../../pipelines/cli/commands/serve.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import type { CaptureRecord, FeedbackRecord } from '../../../pipelines/serving/capture.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import type { ObjectStore } from '../../../pipelines/storage/object-store.ts';
import { runDriftline } from '../../helpers/cli.ts';
import {
  fixtureModel,
  promoteModel,
  SERVING_FEATURES,
  servingConfig,
  sha256Hex,
} from '../../helpers/serving-fixtures.ts';
import { call, errorOf } from '../../helpers/serving-http.ts';
import { tempDir } from '../../helpers/tmp.ts';

const config = servingConfig('binary', { maxInstances: 50, captureSampleRate: 0.5 });
const instance = { age: 30, income: 900, city: 'lisbon', plan: 'pro' };

interface Served {
  readonly server: RunningServer;
  readonly store: FsObjectStore;
  readonly log: MemoryServingLog;
}

const started: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.close()));
});

async function serve(
  seed: (store: ObjectStore) => Promise<unknown>,
  options: { refreshMs?: number; random?: () => number } = {},
): Promise<Served> {
  const store = new FsObjectStore(await tempDir('driftline-serve-'));
  await seed(store);
  const log = new MemoryServingLog();
  const server = await startServer({ config, store, port: 0, log, captureFlushMs: 100, ...options });
  started.push(server);
  return { server, store, log };
}

async function readLines<T>(store: ObjectStore, prefix: string): Promise<T[]> {
  const out: T[] = [];
  for await (const info of store.list(prefix)) {
    const found = await store.readBytes(info.key);
    for (const line of new TextDecoder().decode(found?.bytes).split('\n'))
      if (line !== '') out.push(JSON.parse(line) as T);
  }
  return out;
}

describe('driftline serve', () => {
  let main: Served;
  let gbdt: Uint8Array;
  let version = 0;
  beforeAll(async () => {
    gbdt = await fixtureModel('binary-gbdt');
    // Capture every other request: the sampling draw alternates below and above the 0.5 rate.
    let draw = 0;
    main = await serve(
      async (store) => {
        version = (await promoteModel(store, gbdt)).version;
      },
      { random: () => (draw++ % 2 === 0 ? 0.25 : 0.75) },
    );
  });

  it('200: health, model, predict', async () => {
    const base = main.server.url;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await call(base, { path: '/health' });
    expect([health.status, health.json]).toEqual([
      200,
      { status: 'ok', modelLoaded: true, model: { version, sha256: sha256Hex(gbdt) } },
    ]);

    const model = await call(base, { path: '/model' });
    expect(model.status).toBe(200);
    expect(model.json).toMatchObject({
      version,
      sha256: sha256Hex(gbdt),
      datasetVersion: expect.stringMatching(/^[0-9a-f]{64}$/),
      metrics: { primary: { name: 'auc', value: 0.8 } },
      trainedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      task: 'binary',
      classes: ['stay', 'churn'],
    });

    const predict = await call(base, {
      path: '/predict',
      body: { instances: [instance, { income: 1, plan: 'basic' }] },
    });
    expect(predict.status).toBe(200);
    expect(predict.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = predict.json as {
      predictions: { predictionId: string; label: string; probabilities: Record<string, number> }[];
      model: unknown;
    };
    expect(body.model).toEqual({ version, sha256: sha256Hex(gbdt) });
    expect(body.predictions).toHaveLength(2);
    for (const p of body.predictions) {
      expect(p.predictionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(['stay', 'churn']).toContain(p.label);
      expect((p.probabilities.stay ?? 0) + (p.probabilities.churn ?? 0)).toBeCloseTo(1, 5);
    }
  });

  it('concurrent requests get the same predictions as when sent one at a time', async () => {
    // Prepare: requests of 1 to 5 instances, some with missing or unknown values.
    const rows = [
      instance,
      { income: 1, plan: 'basic' },
      { age: 80, income: 5000, city: 'atlantis', plan: 'plus' },
      { age: null, income: 20, city: null, plan: 'pro' },
      { age: 41.5, income: 700.25, city: 'porto', plan: 'basic' },
    ];
    const bodies = Array.from({ length: 40 }, (_, i) => ({
      instances: Array.from({ length: (i % 5) + 1 }, (_, j) => rows[(i + j) % rows.length]),
    }));
    const scores = (json: unknown) =>
      (json as { predictions: { label: string; probabilities: unknown }[] }).predictions.map((p) => [
        p.label,
        p.probabilities,
      ]);
    const alone = [];
    for (const body of bodies) alone.push(await call(main.server.url, { path: '/predict', body }));
    // Act
    const together = await Promise.all(
      bodies.map((body) => call(main.server.url, { path: '/predict', body })),
    );
    // Assess
    expect(together.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(together.map((r) => scores(r.json))).toEqual(alone.map((r) => scores(r.json)));
    const ids = together.flatMap((r) =>
      (r.json as { predictions: { predictionId: string }[] }).predictions.map((p) => p.predictionId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('400: invalid features, every offending field listed; malformed JSON', async () => {
    const base = main.server.url;
    const bad = await call(base, {
      path: '/predict',
      body: { instances: [instance, { age: 'old', income: null, plan: 'gold' }, { ...instance, age: 500 }] },
    });
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toEqual({
      code: 'invalid_request',
      message: 'some instances are invalid',
      details: [
        { path: 'instances[1].age', message: 'expected a number, received a string' },
        { path: 'instances[1].income', message: 'must not be null: the feature is not nullable' },
        { path: 'instances[1].plan', message: 'expected "basic" | "plus" | "pro", received "gold"' },
        { path: 'instances[2].age', message: 'expected at most 120, received 500' },
      ],
    });
    const empty = await call(base, { path: '/predict', body: { instances: [] } });
    expect([empty.status, errorOf(empty).code]).toEqual([400, 'invalid_request']);
    const malformed = await call(base, { path: '/predict', body: '{"instances": [' });
    expect([malformed.status, errorOf(malformed).code]).toEqual([400, 'invalid_json']);
    expect(errorOf(malformed).message).toMatch(/^the body is not valid JSON: /);
  });

  it('404 unknown route, 405 wrong method with Allow', async () => {
    const base = main.server.url;
    const missing = await call(base, { path: '/predictions', body: { instances: [instance] } });
    expect([missing.status, errorOf(missing).code]).toEqual([404, 'not_found']);
    const wrong = await call(base, { method: 'GET', path: '/predict' });
    expect([wrong.status, errorOf(wrong).code, wrong.headers.get('allow')]).toEqual([
      405,
      'method_not_allowed',
      'POST',
    ]);
    const del = await call(base, { method: 'DELETE', path: '/model' });
    expect([del.status, del.headers.get('allow')]).toEqual([405, 'GET']);
  });

  it('413: too many instances, and a body over 6 MB', async () => {
    const base = main.server.url;
    const many = await call(base, {
      path: '/predict',
      body: { instances: Array.from({ length: 51 }, () => instance) },
    });
    expect([many.status, errorOf(many).code]).toEqual([413, 'too_many_instances']);
    expect(errorOf(many).message).toBe('51 instances in one request; the limit is 50');
    const huge = await call(base, {
      path: '/predict',
      body: `{"instances":[{"city":"${'x'.repeat(7 * 1024 * 1024)}"}]}`,
    });
    expect([huge.status, errorOf(huge).code]).toEqual([413, 'payload_too_large']);
    // The server is fine afterwards.
    expect((await call(base, { path: '/health' })).status).toBe(200);
  });

  it('415: a body that is not declared JSON', async () => {
    const base = main.server.url;
    const headerSets: Record<string, string>[] = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      {},
    ];
    for (const headers of headerSets) {
      const answer = await call(base, {
        path: '/predict',
        body: JSON.stringify({ instances: [instance] }),
        headers,
      });
      expect([answer.status, errorOf(answer).code]).toEqual([415, 'unsupported_media_type']);
    }
  });

  it('202: feedback is stored under feedback/yyyy/mm/dd/; sampled predictions under capture/', async () => {
    // Prepare
    const base = main.server.url;
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const answer = await call(base, {
        path: '/predict',
        body: { instances: [instance, { ...instance, city: 'atlantis', extra: 1 }] },
      });
      ids.push(
        ...(answer.json as { predictions: { predictionId: string }[] }).predictions.map(
          (p) => p.predictionId,
        ),
      );
    }

    // Act
    const feedback = await call(base, {
      path: '/feedback',
      body: {
        feedback: [
          { predictionId: ids[0], label: 'churn' },
          { predictionId: ids[1], label: 'stay' },
        ],
      },
    });
    const badFeedback = await call(base, {
      path: '/feedback',
      body: { feedback: [{ predictionId: ids[0], label: 'maybe' }] },
    });
    // Capture is written every 100 ms: wait for this test's records without assuming how fast a loaded
    // machine is (up to 10 s).
    const mineOf = (records: CaptureRecord[]) =>
      records.filter((r) => r.predictions.some((p) => ids.includes(p.predictionId)));
    for (let waited = 0; waited < 10_000; waited += 50) {
      const feedbackLines = await readLines<FeedbackRecord>(main.store, 'feedback/');
      const captureLines = await readLines<CaptureRecord>(main.store, 'capture/');
      if (feedbackLines.length >= 1 && mineOf(captureLines).length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    // Assess
    expect([feedback.status, feedback.json]).toEqual([202, { accepted: 2 }]);
    expect([badFeedback.status, errorOf(badFeedback).details[0]?.path]).toEqual([400, 'feedback[0].label']);
    const stored = await readLines<FeedbackRecord>(main.store, 'feedback/');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.feedback).toEqual([
      { predictionId: ids[0], label: 'churn' },
      { predictionId: ids[1], label: 'stay' },
    ]);
    const mine = mineOf(await readLines<CaptureRecord>(main.store, 'capture/'));
    // Six requests, every other one sampled.
    expect(mine).toHaveLength(3);
    for (const record of mine) {
      expect(record).toMatchObject({ type: 'capture', model: { version, sha256: sha256Hex(gbdt) } });
      expect(record.instances).toEqual([instance, { ...instance, city: 'atlantis' }]);
      expect(Object.keys(record)).toEqual(['type', 'time', 'model', 'instances', 'predictions']);
      expect(Object.keys(record.instances[0] ?? {})).toEqual(SERVING_FEATURES.map((f) => f.name));
    }
    const keys: string[] = [];
    for await (const info of main.store.list('capture/')) keys.push(info.key);
    expect(keys[0]).toMatch(/^capture\/\d{4}\/\d\d\/\d\d\/\d\d\/\d{8}T\d{9}Z-[0-9a-f-]{36}\.jsonl$/);
  });

  it('503: no model deployed, and a champion whose bytes fail verification', async () => {
    const none = await serve(async () => {});
    const noModel = await call(none.server.url, { path: '/predict', body: { instances: [instance] } });
    expect([noModel.status, errorOf(noModel).code, errorOf(noModel).message]).toEqual([
      503,
      'model_unavailable',
      'no model is deployed yet',
    ]);
    expect((await call(none.server.url, { path: '/health' })).json).toEqual({
      status: 'ok',
      modelLoaded: false,
      model: null,
    });
    expect((await call(none.server.url, { path: '/model' })).status).toBe(503);

    const tampered = await serve((store) =>
      promoteModel(store, gbdt, { claimedSha256: sha256Hex('not these bytes') }),
    );
    const refused = await call(tampered.server.url, { path: '/predict', body: { instances: [instance] } });
    expect([refused.status, errorOf(refused).code]).toEqual([503, 'model_unavailable']);
    expect(errorOf(refused).message).toMatch(/^the deployed model \(version 1\) failed verification$/);
    expect(tampered.log.entries.find((e) => e.level === 'error')?.attributes).toMatchObject({
      integrity: true,
    });
  });

  it('swaps to a newly promoted champion under load without failing a request', async () => {
    // Prepare
    const refreshMs = 150;
    const linear = await fixtureModel('binary-linear');
    const swap = await serve((store) => promoteModel(store, gbdt), { refreshMs });
    const base = swap.server.url;
    const answers: { status: number; version: number; sentAt: number; receivedAt: number }[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const sentAt = performance.now();
        const answer = await call(base, {
          path: '/predict',
          body: { instances: [instance, instance, instance] },
        });
        const version = (answer.json as { model?: { version: number } }).model?.version ?? -1;
        answers.push({ status: answer.status, version, sentAt, receivedAt: performance.now() });
      }
    };
    const workers = Array.from({ length: 6 }, worker);

    // Act
    await new Promise((r) => setTimeout(r, 300));
    const second = await promoteModel(swap.store, linear);
    const promotedAt = performance.now();
    await new Promise((r) => setTimeout(r, refreshMs * 2 + 700));
    running = false;
    await Promise.all(workers);

    // Assess
    expect(answers.length).toBeGreaterThan(50);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const firstNew = answers
      .filter((a) => a.version === second.version)
      .sort((a, b) => a.receivedAt - b.receivedAt)[0];
    expect(firstNew).toBeDefined();
    // Served within the refresh interval (plus the load, and scheduling slack on a busy machine).
    expect((firstNew?.receivedAt ?? Number.POSITIVE_INFINITY) - promotedAt).toBeLessThan(refreshMs + 1000);
    // Once the new version has answered, every request sent after that gets it: no flip-flopping.
    const late = answers.filter((a) => a.sentAt > (firstNew?.receivedAt ?? 0));
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((a) => a.version === second.version)).toBe(true);
    expect(answers.some((a) => a.version !== second.version)).toBe(true);
  });
});

describe('driftline serve --model', () => {
  it('serves a model file with no registry, and /model reports it', async () => {
    // Prepare
    const dir = await tempDir('driftline-serve-file-');
    const file = join(dir, 'model.onnx');
    const bytes = await fixtureModel('binary-linear');
    await writeFile(file, bytes);
    const store = new FsObjectStore(join(dir, 'home'));
    const server = await startServer({ config, store, port: 0, modelFile: file });
    started.push(server);

    // Act
    const model = await call(server.url, { path: '/model' });
    const predict = await call(server.url, { path: '/predict', body: { instances: [instance] } });

    // Assess
    expect(model.json).toMatchObject({
      version: null,
      sha256: sha256Hex(bytes),
      source: file,
      metrics: null,
      trainedAt: null,
    });
    expect([predict.status, (predict.json as { model: unknown }).model]).toEqual([
      200,
      { version: null, sha256: sha256Hex(bytes) },
    ]);
  });

  it('refuses a model for another config, and a port in use, as usage errors (exit 2)', async () => {
    const dir = await tempDir('driftline-serve-cli-');
    await writeFile(
      join(dir, 'driftline.config.json'),
      JSON.stringify({
        project: { name: 'serving-binary' },
        task: 'binary',
        target: 'outcome',
        features: SERVING_FEATURES,
      }),
    );
    await writeFile(join(dir, 'regression.onnx'), await fixtureModel('regression-linear'));
    const wrongModel = await runDriftline(['serve', '--port', '0', '--model', 'regression.onnx'], dir);
    expect([wrongModel.code, wrongModel.stderr]).toEqual([
      2,
      expect.stringMatching(/is a regression model; the config's task is binary/),
    ]);
    const taken = await serve(async () => {});
    const busy = await runDriftline(['serve', '--port', String(taken.server.port)], dir);
    expect([busy.code, busy.stderr]).toEqual([
      2,
      expect.stringMatching(/port \d+ is in use — pass another --port/),
    ]);
    const badPort = await runDriftline(['serve', '--port', 'http'], dir);
    expect(badPort.code).toBe(2);
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('driftline serve, the process', () => {
  it('prints its URL, serves, and on SIGTERM finishes, flushes capture and exits 0', async () => {
    // Prepare
    const dir = await tempDir('driftline-serve-process-');
    await writeFile(
      join(dir, 'driftline.config.json'),
      JSON.stringify({
        project: { name: 'serving-binary' },
        task: 'binary',
        target: 'outcome',
        features: SERVING_FEATURES,
      }),
    );
    const store = new FsObjectStore(join(dir, '.driftline'));
    await promoteModel(store, await fixtureModel('binary-gbdt'));
    const cli = resolve(import.meta.dirname, '../../../bin/driftline.ts');
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--json'], {
      cwd: dir,
      env: { ...process.env, DRIFTLINE_HOME: '.driftline' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(child, 'exit');
    const url = await new Promise<string>((resolveUrl, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /"url": "([^"]+)"/.exec(stdout);
        if (match?.[1] !== undefined) resolveUrl(match[1]);
      });
      void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)));
    });

    // Act
    const first = await call(url, { path: '/predict', body: { instances: [instance] } });
    const inFlight = Promise.allSettled(
      Array.from({ length: 20 }, () => call(url, { path: '/predict', body: { instances: [instance] } })),
    );
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const settled = await inFlight;
    const [code] = await exited;
    // Requests that reached the server before the signal are answered; later ones find it closed.
    const answers = [first, ...settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))];

    // Assess
    expect(JSON.parse(stdout)).toMatchObject({ url, model: { version: 1 } });
    expect(code).toBe(0);
    expect(stderr).toMatch(/SIGTERM: finishing requests in flight, flushing capture/);
    expect(stderr).toMatch(/driftline serve: info: stopped/);
    const captured = await readLines<CaptureRecord>(store, 'capture/');
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(captured.length).toBe(ok.length);
  });
});
