/**
 * Scored batches → the prediction objects of the HTTP API and `driftline predict`:
 * `{predictionId, label, probabilities: {<class>: p}}` or `{predictionId, value}`.
 */
import { randomUUID } from 'node:crypto';
import type { ScoredBatch } from './onnx-model.ts';

/** One prediction as the API returns it. */
export type ApiPrediction =
  | { readonly predictionId: string; readonly label: string; readonly probabilities: Record<string, number> }
  | { readonly predictionId: string; readonly value: number };

/** The i-th prediction of a batch, with a fresh prediction id. */
export function apiPrediction(
  scored: ScoredBatch,
  classes: readonly string[],
  i: number,
  id: string = randomUUID(),
): ApiPrediction {
  if (scored.kind === 'values') return { predictionId: id, value: scored.values[i] as number };
  const k = classes.length;
  // No prototype: a class may be named like an Object.prototype member ("__proto__", "constructor").
  const probabilities: Record<string, number> = Object.create(null);
  for (let c = 0; c < k; c += 1)
    probabilities[classes[c] as string] = scored.probabilities[i * k + c] as number;
  return { predictionId: id, label: scored.labels[i] as string, probabilities };
}

/** Number of rows in a batch. */
export function batchSize(scored: ScoredBatch): number {
  return scored.kind === 'values' ? scored.values.length : scored.labels.length;
}
