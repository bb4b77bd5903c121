/**
 * The serving metrics port: one observation per handled request, which an adapter turns into metrics
 * (CloudWatch EMF through Powertools in Lambda, `lambdas/predict/metrics.ts`; nothing, or a list in
 * memory, under `driftline serve` and in tests, so the terminal is not flooded with EMF blobs).
 */

/** The routes of the API, plus `unknown` for a path that is none of them. */
export type ServingRoute = 'predict' | 'feedback' | 'model' | 'health' | 'unknown';

/** What one request did. */
export interface ServingObservation {
  readonly route: ServingRoute;
  readonly status: number;
  /** The error code of a failed request (`invalid_request`, `model_unavailable` …). */
  readonly errorCode?: string;
  /** Wall time from the request reaching the API to the response being ready. */
  readonly latencyMs: number;
  /** The version of the model that served the request: a number, `file` (`serve --model`), or absent. */
  readonly modelVersion?: string;
  /** Instances scored (predict). */
  readonly instances?: number;
  /** Predicted class → how many instances got it (classification). */
  readonly classCounts?: Readonly<Record<string, number>>;
  /** Mean predicted value over the request's instances (regression). */
  readonly meanPrediction?: number;
  /** Categorical values the model did not know (served as unknown). */
  readonly unknownCategories?: number;
  /** Instance keys that were not features and were ignored. */
  readonly ignoredFields?: number;
  /** Labels received (feedback). */
  readonly feedbackItems?: number;
  /** Whether the request's inputs and outputs were captured for monitoring. */
  readonly captured?: boolean;
}

/** The metrics port. */
export interface ServingMetrics {
  observe(observation: ServingObservation): void;
}

/** Metrics that go nowhere. */
export class NoopServingMetrics implements ServingMetrics {
  observe(_observation: ServingObservation): void {}
}

/** Metrics kept in a list, for tests and summaries. */
export class MemoryServingMetrics implements ServingMetrics {
  readonly observations: ServingObservation[] = [];

  observe(observation: ServingObservation): void {
    this.observations.push(observation);
  }
}
