import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OnnxModel, type ScoredBatch } from '../../../pipelines/model/onnx-model.ts';
import type { RawRow } from '../../../pipelines/model/raw.ts';
import { type OnnxFeed, onnxFeeds } from '../../../pipelines/onnx/inputs.ts';
import { ServingApi } from '../../../pipelines/serving/api.ts';
import { BatchingRunner } from '../../../pipelines/serving/batching.ts';
import {
  type CaptureRecord,
  type CaptureRowsJson,
  type CaptureSink,
  NullCaptureSink,
  recordJsonParts,
} from '../../../pipelines/serving/capture.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { NoopServingMetrics } from '../../../pipelines/serving/metrics.ts';
import { FixedModelSource } from '../../../pipelines/serving/model-source.ts';
import {
  type FixtureModelName,
  fixtureModel,
  goldenRows,
  servingConfig,
} from '../../helpers/serving-fixtures.ts';

type Feeds = Readonly<Record<string, OnnxFeed>>;

/** A model wrapper that records the row count of every run and can be told to fail some. */
class CountingModel {
  readonly runs: number[] = [];
  failWhen: (rows: number) => boolean = () => false;
  readonly #model: OnnxModel;

  constructor(model: OnnxModel) {
    this.#model = model;
  }

  async run(feeds: Feeds): Promise<ScoredBatch> {
    const rows = Object.values(feeds)[0]?.dims[0] ?? 0;
    this.runs.push(rows);
    if (this.failWhen(rows)) throw new Error(`refused a run of ${rows} rows`);
    return this.#model.run(feeds);
  }
}

/** Plain arrays, so results compare with toEqual whatever views they are. */
function plain(scored: ScoredBatch): unknown {
  return scored.kind === 'values'
    ? { kind: 'values', values: [...scored.values] }
    : { kind: 'classes', labels: [...scored.labels], probabilities: [...scored.probabilities] };
}

const MODELS: FixtureModelName[] = ['binary-gbdt', 'multiclass-gbdt', 'regression-linear'];
const loaded = new Map<FixtureModelName, OnnxModel>();

beforeAll(async () => {
  for (const name of MODELS) loaded.set(name, await OnnxModel.load(await fixtureModel(name)));
});

afterAll(async () => {
  for (const model of loaded.values()) await model.release();
});

/** Requests of 1 to 4 rows cut from the golden rows (which hold missing and unknown values). */
function requests(): RawRow[][] {
  const rows = goldenRows();
  const out: RawRow[][] = [];
  for (let at = 0, size = 1; at < rows.length; at += size, size = (size % 4) + 1) {
    out.push(rows.slice(at, at + size));
  }
  return out;
}

describe('BatchingRunner', () => {
  it.each(MODELS)('%s: concurrent requests scored in one run get exactly their own rows', async (name) => {
    // Prepare
    const onnx = loaded.get(name) as OnnxModel;
    const counting = new CountingModel(onnx);
    const runner = new BatchingRunner(counting, 1000);
    const batches = requests();
    expect(batches.length).toBeGreaterThan(3);
    const alone = await Promise.all(batches.map((rows) => onnx.run(onnxFeeds(onnx.features, rows))));
    // Act: all requests arrive in the same turn of the event loop.
    const together = await Promise.all(
      batches.map((rows) => runner.run(onnxFeeds(onnx.features, rows), rows.length)),
    );
    // Assess
    expect(together.map(plain)).toEqual(alone.map(plain));
    expect(counting.runs).toEqual([batches.reduce((sum, rows) => sum + rows.length, 0)]);
  });

  it('a lone request runs alone, and requests arriving while a run is in flight share the next run', async () => {
    const onnx = loaded.get('binary-gbdt') as OnnxModel;
    const counting = new CountingModel(onnx);
    const runner = new BatchingRunner(counting, 1000);
    const rows = goldenRows();
    const feeds = (i: number) => onnxFeeds(onnx.features, [rows[i] as RawRow]);

    await runner.run(feeds(0), 1);
    expect(counting.runs).toEqual([1]);

    const first = runner.run(feeds(1), 1);
    // Queued after the first run has been scheduled: they wait for it, then go together.
    await new Promise((resolve) => setImmediate(resolve));
    const later = [runner.run(feeds(2), 1), runner.run(feeds(3), 1), runner.run(feeds(4), 1)];
    await Promise.all([first, ...later]);
    expect(counting.runs).toEqual([1, 1, 3]);
  });

  it('keeps each run within maxRows, and runs a larger request alone', async () => {
    const onnx = loaded.get('multiclass-gbdt') as OnnxModel;
    const counting = new CountingModel(onnx);
    const runner = new BatchingRunner(counting, 5);
    const rows = goldenRows();
    const sizes = [2, 2, 2, 7, 1, 4];
    let at = 0;
    const parts = sizes.map((size) => {
      const part = rows.slice(at, at + size);
      at += size;
      return part;
    });
    const results = await Promise.all(
      parts.map((part) => runner.run(onnxFeeds(onnx.features, part), part.length)),
    );
    expect(counting.runs).toEqual([4, 2, 7, 5]);
    const alone = await Promise.all(parts.map((part) => onnx.run(onnxFeeds(onnx.features, part))));
    expect(results.map(plain)).toEqual(alone.map(plain));
  });

  it('when a shared run answers the wrong number of rows, runs each request alone', async () => {
    const onnx = loaded.get('binary-gbdt') as OnnxModel;
    const counting = new CountingModel(onnx);
    const runner = new BatchingRunner(
      {
        run: async (feeds) => {
          const scored = await counting.run(feeds);
          // A shared run comes back one row short.
          if (scored.kind === 'values' || scored.labels.length === 1) return scored;
          return { ...scored, labels: scored.labels.slice(1) };
        },
      },
      1000,
    );
    const rows = goldenRows();
    const parts = [rows.slice(0, 1), rows.slice(1, 2), rows.slice(2, 3)];
    const results = await Promise.all(parts.map((part) => runner.run(onnxFeeds(onnx.features, part), 1)));
    expect(counting.runs).toEqual([3, 1, 1, 1]);
    const alone = await Promise.all(parts.map((part) => onnx.run(onnxFeeds(onnx.features, part))));
    expect(results.map(plain)).toEqual(alone.map(plain));
  });

  it('when a shared run fails, runs each request alone: only the failing one gets the error', async () => {
    const onnx = loaded.get('regression-linear') as OnnxModel;
    const counting = new CountingModel(onnx);
    // Any run of more than one row fails, and so does a request of exactly 3 rows.
    counting.failWhen = (rows) => rows !== 1 && rows !== 2;
    const runner = new BatchingRunner(counting, 1000);
    const rows = goldenRows();
    const parts = [rows.slice(0, 1), rows.slice(1, 4), rows.slice(4, 6)];
    const settled = await Promise.allSettled(
      parts.map((part) => runner.run(onnxFeeds(onnx.features, part), part.length)),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(/refused a run of 3 rows/);
    expect(counting.runs).toEqual([6, 1, 3, 2]);
    const alone = await onnx.run(onnxFeeds(onnx.features, parts[2] as RawRow[]));
    expect(plain((settled[2] as PromiseFulfilledResult<ScoredBatch>).value)).toEqual(plain(alone));
    // The runner keeps working after a failure.
    counting.failWhen = () => false;
    await expect(runner.run(onnxFeeds(onnx.features, rows.slice(0, 2)), 2)).resolves.toBeDefined();
  });
});

describe('the serving API under concurrent requests', () => {
  it('scores requests that wait together in one run, each answer as if it had come alone', async () => {
    // Prepare
    const config = servingConfig('multiclass');
    const log = new MemoryServingLog();
    const models = await FixedModelSource.create(
      await fixtureModel('multiclass-gbdt'),
      'm.onnx',
      config,
      log,
    );
    const api = new ServingApi({
      config,
      models,
      capture: new NullCaptureSink(),
      metrics: new NoopServingMetrics(),
      log,
    });
    const request = (rows: RawRow[]) => ({
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: rows }),
      isBase64Encoded: false,
    });
    const scores = (body: string) =>
      (JSON.parse(body) as { predictions: { label: string; probabilities: unknown }[] }).predictions.map(
        (p) => [p.label, p.probabilities],
      );
    const batches = requests();
    const runs = vi.spyOn(OnnxModel.prototype, 'run');
    try {
      const alone = [];
      for (const rows of batches) alone.push(await api.handle(request(rows)));
      expect(runs).toHaveBeenCalledTimes(batches.length);
      runs.mockClear();
      // Act
      const together = await Promise.all(batches.map((rows) => api.handle(request(rows))));
      // Assess: one run for all, and the same answers.
      expect(runs).toHaveBeenCalledTimes(1);
      expect(together.map((r) => r.status)).toEqual(batches.map(() => 200));
      expect(together.map((r) => scores(r.body))).toEqual(alone.map((r) => scores(r.body)));
    } finally {
      runs.mockRestore();
      await api.close();
    }
  });
});

describe('the capture record the serving API hands over', () => {
  it('comes with the JSON of its rows, which assembles into exactly JSON.stringify of the record', async () => {
    // Prepare
    const config = servingConfig('binary');
    const log = new MemoryServingLog();
    const models = await FixedModelSource.create(await fixtureModel('binary-gbdt'), 'b.onnx', config, log);
    const handed: { record: CaptureRecord; rowsJson: CaptureRowsJson | undefined }[] = [];
    const capture: CaptureSink = {
      capture: (record, rowsJson) => handed.push({ record, rowsJson }),
      feedback: () => {},
      close: async () => {},
    };
    const api = new ServingApi({ config, models, capture, metrics: new NoopServingMetrics(), log });
    const instances = [
      { age: 30, income: 900.5, city: 'lisbon', plan: 'pro' },
      { income: 1, plan: 'basic' },
      { age: null, income: -0, city: 'São Paulo "centro"\u2028', plan: 'plus', extra: 'ignored' },
      { plan: 'pro', city: 'porto', income: 1e21, age: 120 },
    ];
    // Act
    const response = await api.handle({
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances }),
      isBase64Encoded: false,
    });
    await api.close();
    // Assess
    expect(response.status).toBe(200);
    expect(handed).toHaveLength(1);
    const { record, rowsJson } = handed[0] as (typeof handed)[number];
    expect(rowsJson?.instances?.ends).toHaveLength(4);
    expect(rowsJson?.predictions?.ends).toHaveLength(4);
    expect(recordJsonParts(record, Number.POSITIVE_INFINITY, rowsJson)).toEqual([JSON.stringify(record)]);
    expect((JSON.parse(response.body) as { predictions: unknown }).predictions).toEqual(
      JSON.parse(JSON.stringify(record.predictions)),
    );
  });
});
