/**
 * The prediction objects of the HTTP API and `driftline predict`:
 * `{predictionId, label, probabilities: {<class>: p}}` or `{predictionId, value}` (their JSON is
 * written by `pipelines/serving/predict-body.ts`).
 */
import type { ScoredBatch } from './onnx-model.ts';

/** One prediction as the API returns it. */
export type ApiPrediction =
  | { readonly predictionId: string; readonly label: string; readonly probabilities: Record<string, number> }
  | { readonly predictionId: string; readonly value: number };

/** Number of rows in a batch. */
export function batchSize(scored: ScoredBatch): number {
  return scored.kind === 'values' ? scored.values.length : scored.labels.length;
}
