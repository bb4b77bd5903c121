/**
 * The serving metrics in CloudWatch, through Powertools Metrics (Embedded Metric Format in the log;
 * `logMetrics` flushes them after each invocation). Namespace from `lambdas/shared/powertools.ts`.
 *
 * | metric | unit | dimensions | when |
 * |---|---|---|---|
 * | `Requests` | Count | service, route, modelVersion | every request |
 * | `Latency` | Milliseconds | service, route, modelVersion | every request |
 * | `Instances` | Count | service, route, modelVersion | /predict 200 |
 * | `UnknownCategories` | Count | service, route, modelVersion | /predict 200 |
 * | `IgnoredFields` | Count | service, route, modelVersion | /predict 200 |
 * | `MeanPrediction` | None | service, route, modelVersion | /predict 200, regression |
 * | `FeedbackLabels` | Count | service, route, modelVersion | /feedback 202 |
 * | `PredictedClass` | Count | service, modelVersion, class | /predict 200, classification: instances per predicted class (class share = one class's sum / all) |
 * | `Errors` | Count | service, route, code | every error response |
 *
 * `modelVersion` is the registry version, `file` for `serve --model`, `none` when no model is loaded.
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ServingMetrics, ServingObservation } from '../../pipelines/serving/metrics.ts';

/** {@link ServingMetrics} on a Powertools {@link Metrics} instance. */
export class PowertoolsServingMetrics implements ServingMetrics {
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  observe(o: ServingObservation): void {
    const m = this.#metrics;
    const modelVersion = o.modelVersion ?? 'none';
    m.addDimensions({ route: o.route, modelVersion });
    m.addMetric('Requests', MetricUnit.Count, 1);
    m.addMetric('Latency', MetricUnit.Milliseconds, o.latencyMs);
    if (o.instances !== undefined) m.addMetric('Instances', MetricUnit.Count, o.instances);
    if (o.unknownCategories !== undefined)
      m.addMetric('UnknownCategories', MetricUnit.Count, o.unknownCategories);
    if (o.ignoredFields !== undefined) m.addMetric('IgnoredFields', MetricUnit.Count, o.ignoredFields);
    if (o.meanPrediction !== undefined) m.addMetric('MeanPrediction', MetricUnit.NoUnit, o.meanPrediction);
    if (o.feedbackItems !== undefined) m.addMetric('FeedbackLabels', MetricUnit.Count, o.feedbackItems);
    // Other dimension sets go out as single metrics (one EMF document each).
    for (const [label, count] of Object.entries(o.classCounts ?? {})) {
      const single = m.singleMetric();
      single.addDimensions({ modelVersion, class: label });
      single.addMetric('PredictedClass', MetricUnit.Count, count);
    }
    if (o.errorCode !== undefined) {
      const single = m.singleMetric();
      single.addDimensions({ route: o.route, code: o.errorCode });
      single.addMetric('Errors', MetricUnit.Count, 1);
    }
  }
}
