/**
 * What `/predict` makes of the model's outputs beyond writing them: a prediction that is not a finite
 * number is refused with the instances named (never answered as `null`), and the metrics' class
 * counts and mean prediction are those of the predictions answered — on the committed models, with
 * real onnxruntime-node (a run's output is altered after the fact to get numbers no model gives).
 */
import { describe, expect, it } from 'vitest';
import type { ScoredBatch } from '../../../pipelines/model/onnx-model.ts';
import { ServingApi } from '../../../pipelines/serving/api.ts';
import { NullCaptureSink } from '../../../pipelines/serving/capture.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { MemoryServingMetrics } from '../../../pipelines/serving/metrics.ts';
import { FixedModelSource } from '../../../pipelines/serving/model-source.ts';
import {
  FIXTURE_MODELS,
  type FixtureModelName,
  fixtureModel,
  servingConfig,
} from '../../helpers/serving-fixtures.ts';

async function served(name: FixtureModelName) {
  const config = servingConfig(FIXTURE_MODELS[name].task);
  const log = new MemoryServingLog();
  const models = await FixedModelSource.create(await fixtureModel(name), `${name}.onnx`, config, log);
  const metrics = new MemoryServingMetrics();
  const api = new ServingApi({ config, models, capture: new NullCaptureSink(), metrics, log });
  const onnx = models.loaded()?.onnx;
  if (onnx === undefined) throw new Error('no model');
  const run = onnx.run.bind(onnx);
  /** Every run's output goes through `alter` (identity by default). */
  let alter = (scored: ScoredBatch) => scored;
  onnx.run = async (feeds) => alter(await run(feeds));
  const predict = async (instances: readonly Record<string, unknown>[]) => {
    const response = await api.handle({
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances }),
      isBase64Encoded: false,
    });
    return { status: response.status, body: JSON.parse(response.body) as Record<string, unknown> };
  };
  return {
    api,
    metrics,
    predict,
    setAlter: (f: typeof alter) => {
      alter = f;
    },
    close: () => models.close(),
  };
}

const INSTANCES = Array.from({ length: 40 }, (_, i) => ({
  age: i * 3,
  income: 100 * i - 1500,
  city: ['lisbon', 'porto', 'faro'][i % 3],
  plan: ['basic', 'plus', 'pro'][i % 3],
}));

describe('/predict and the model outputs', () => {
  it.each([
    ['binary-gbdt', Number.NaN],
    ['multiclass-gbdt', Number.POSITIVE_INFINITY],
    ['regression-linear', Number.NEGATIVE_INFINITY],
    ['regression-linear', Number.NaN],
  ] as const)('refuses a %s prediction of %s with the instances named', async (name, bad) => {
    const serving = await served(name);
    try {
      expect((await serving.predict(INSTANCES)).status).toBe(200);
      serving.setAlter((scored) => {
        const numbers = scored.kind === 'values' ? scored.values : scored.probabilities;
        const width = numbers.length / INSTANCES.length;
        for (const row of [3, 17]) numbers[row * width + (width - 1)] = bad;
        return scored;
      });
      const refused = await serving.predict(INSTANCES);
      expect(refused.status).toBe(400);
      const error = refused.body.error as { code: string; details: { path: string }[] };
      expect(error.code).toBe('invalid_request');
      expect(error.details.map((d) => d.path)).toEqual(['instances[3]', 'instances[17]']);
    } finally {
      await serving.close();
    }
  });

  it.each(['binary-gbdt', 'multiclass-gbdt', 'regression-linear'] as const)(
    'records the class counts or mean of the predictions answered, for %s',
    async (name) => {
      const serving = await served(name);
      try {
        for (const count of [1, 7, 40]) {
          const answer = await serving.predict(INSTANCES.slice(0, count));
          expect(answer.status).toBe(200);
          const predictions = answer.body.predictions as { label?: string; value?: number }[];
          const observed = serving.metrics.observations.at(-1);
          if (FIXTURE_MODELS[name].task === 'regression') {
            // The mean of the float32 outputs, summed as doubles in order: within float32 rounding of
            // the answered values (written with 9 digits).
            const mean = predictions.reduce((sum, p) => sum + (p.value as number), 0) / count;
            expect(observed?.meanPrediction).toBeCloseTo(mean, 6);
          } else {
            const counts: Record<string, number> = {};
            for (const p of predictions) counts[p.label as string] = (counts[p.label as string] ?? 0) + 1;
            expect({ ...observed?.classCounts }).toEqual(counts);
          }
        }
      } finally {
        await serving.close();
      }
    },
  );
});
