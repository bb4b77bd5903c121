import { describe, expect, it } from 'vitest';
import type { ScoredBatch } from '../../../pipelines/model/onnx-model.ts';
import { apiPrediction } from '../../../pipelines/model/predictions.ts';
import { predictBody, predictionJson } from '../../../pipelines/serving/predict-body.ts';

/** Predictions made the way the API makes them, for `classes`, from float32 probabilities. */
function classPredictions(classes: string[], rows: number) {
  const probabilities = Float32Array.from(
    { length: rows * classes.length },
    (_, i) => ((i * 7919) % 1000) / 997,
  );
  const labels = Array.from({ length: rows }, (_, i) => classes[i % classes.length] as string);
  const scored: ScoredBatch = { kind: 'classes', labels, probabilities };
  return Array.from({ length: rows }, (_, i) => apiPrediction(scored, classes, i));
}

describe('predictionJson and predictBody', () => {
  it.each([
    ['plain names', ['delayed', 'on time']],
    ['integer-like names (enumerated first by V8)', ['10', 'b', '2', 'a']],
    ['names that are Object.prototype members', ['__proto__', 'constructor', 'toString']],
    ['names needing escapes', ['"quoted"', 'back\\slash', 'línea\nnueva', '\u2028']],
  ])('equal JSON.stringify for %s', (_, classes) => {
    const predictions = classPredictions(classes, 25);
    const rows = predictionJson(predictions, classes);
    expect(rows).toEqual(predictions.map((p) => JSON.stringify(p)));
    const model = { version: 3, sha256: 'a'.repeat(64) };
    expect(predictBody(rows, model)).toBe(JSON.stringify({ predictions, model }));
  });

  it('equal JSON.stringify for values, including tiny, huge and negative ones', () => {
    const values = Float32Array.from([0, -0, 1e-30, -2.5, 3.4e38, 0.1, 123456.789]);
    const scored: ScoredBatch = { kind: 'values', values };
    const predictions = Array.from(values, (_, i) => apiPrediction(scored, [], i));
    expect(predictionJson(predictions, [])).toEqual(predictions.map((p) => JSON.stringify(p)));
    const model = { version: null, sha256: 'b'.repeat(64) };
    expect(predictBody(predictionJson(predictions, []), model)).toBe(JSON.stringify({ predictions, model }));
    expect(predictBody([], model)).toBe(JSON.stringify({ predictions: [], model }));
  });
});
