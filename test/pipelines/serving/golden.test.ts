/**
 * The committed serving models and their golden predictions: each model retrains and re-exports to the
 * same bytes, the JS reference still gives the golden predictions, and the predict handler on
 * onnxruntime-node serves them. `UPDATE_GOLDEN=1` rewrites the files (after a deliberate change to the
 * trainers, the exporter or the Driftline version recorded in models).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../lambdas/predict/create-handler.ts';
import { predictRows } from '../../../pipelines/model/predict.ts';
import { NullCaptureSink } from '../../../pipelines/serving/capture.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { MemoryServingMetrics } from '../../../pipelines/serving/metrics.ts';
import { FixedModelSource } from '../../../pipelines/serving/model-source.ts';
import {
  FIXTURE_MODELS,
  type FixtureModelName,
  fixtureGolden,
  fixtureModel,
  type GoldenFile,
  goldenRows,
  MODELS_DIR,
  rebuildFixture,
  servingConfig,
  sha256Hex,
} from '../../helpers/serving-fixtures.ts';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const names = Object.keys(FIXTURE_MODELS) as FixtureModelName[];

function event(body: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/predict',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  } as Partial<APIGatewayProxyEvent> as APIGatewayProxyEvent;
}

describe.each(names)('fixture model %s', (name) => {
  it('retrains to the committed bytes, and the JS reference gives the golden predictions', async () => {
    // Prepare
    const { model, bytes } = rebuildFixture(name);
    const rows = goldenRows();
    const golden: GoldenFile = {
      model: name,
      sha256: sha256Hex(bytes),
      rows,
      predictions: predictRows(model, rows),
    };
    if (UPDATE) {
      await mkdir(MODELS_DIR, { recursive: true });
      await writeFile(`${MODELS_DIR}${name}.onnx`, bytes);
      await writeFile(`${MODELS_DIR}${name}.golden.json`, `${JSON.stringify(golden, null, 1)}\n`);
    }

    // Act
    const committed = await fixtureModel(name);
    const committedGolden = await fixtureGolden(name);

    // Assess
    expect(sha256Hex(committed), 'rerun with UPDATE_GOLDEN=1 after a deliberate change').toBe(golden.sha256);
    expect(committedGolden.sha256).toBe(golden.sha256);
    expect(committedGolden.rows).toEqual(JSON.parse(JSON.stringify(rows)));
    expect(committedGolden.predictions.length).toBe(rows.length);
    committedGolden.predictions.forEach((expected, i) => {
      const actual = golden.predictions[i];
      if ('value' in expected) expect((actual as { value: number }).value).toBeCloseTo(expected.value, 12);
      else {
        const a = actual as { label: string; probabilities: readonly number[] };
        expect(a.label).toBe(expected.label);
        a.probabilities.forEach((p, c) => {
          expect(p).toBeCloseTo(expected.probabilities[c] as number, 12);
        });
      }
    });
  });

  it('is served by the predict handler on onnxruntime-node as the golden file says', async () => {
    // Prepare
    const golden = await fixtureGolden(name);
    const config = servingConfig(FIXTURE_MODELS[name].task);
    const log = new MemoryServingLog();
    const metrics = new MemoryServingMetrics();
    const models = await FixedModelSource.create(await fixtureModel(name), `${name}.onnx`, config, log);
    const handler = createHandler({ config, models, capture: new NullCaptureSink(), metrics, log });

    // Act
    const result = await handler(event({ instances: golden.rows }), {} as Context);

    // Assess
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as {
      predictions: (
        | { predictionId: string; label: string; probabilities: Record<string, number> }
        | { predictionId: string; value: number }
      )[];
      model: { version: number | null; sha256: string };
    };
    expect(body.model).toEqual({ version: null, sha256: golden.sha256 });
    expect(new Set(body.predictions.map((p) => p.predictionId)).size).toBe(golden.rows.length);
    const classes = models.loaded()?.onnx.classes ?? [];
    body.predictions.forEach((served, i) => {
      const expected = golden.predictions[i];
      expect(served.predictionId).toMatch(/^[0-9a-f-]{36}$/);
      if (expected !== undefined && 'value' in expected) {
        // float32 graph vs float64 reference: a relative tolerance (the extreme rows score in the 1000s)
        const value = (served as { value: number }).value;
        expect(Math.abs(value - expected.value)).toBeLessThanOrEqual(
          1e-5 * Math.max(1, Math.abs(expected.value)),
        );
      } else if (expected !== undefined) {
        const s = served as { label: string; probabilities: Record<string, number> };
        expect(s.label).toBe(expected.label);
        classes.forEach((c, k) => {
          expect(s.probabilities[c]).toBeCloseTo(expected.probabilities[k] as number, 5);
        });
      }
    });
    // The unseen "atlantis" is counted; "sintra" too when the model kept it out of its categories.
    expect(metrics.observations[0]?.unknownCategories).toBeGreaterThanOrEqual(1);
    await models.close();
  });
});
