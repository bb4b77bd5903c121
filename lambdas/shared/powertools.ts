/**
 * The Powertools singletons of every Driftline Lambda: one configured logger, metrics and tracer,
 * created once per execution environment when this module is first imported, and reused by every
 * invocation. Handlers attach them with the Powertools middy middlewares.
 *
 * The service name and metrics namespace come from `POWERTOOLS_SERVICE_NAME` /
 * `POWERTOOLS_METRICS_NAMESPACE` when the stack sets them, else `driftline` / `Driftline`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The service name used when the environment does not set one. */
export const DEFAULT_SERVICE_NAME = 'driftline';
/** The CloudWatch metrics namespace used when the environment does not set one. */
export const DEFAULT_METRICS_NAMESPACE = 'Driftline';

/** The service name of every log line and metric. */
export const serviceName = process.env.POWERTOOLS_SERVICE_NAME || DEFAULT_SERVICE_NAME;

/** The structured JSON logger. */
export const logger = new Logger({ serviceName });

/** CloudWatch metrics in Embedded Metric Format, flushed after each invocation by `logMetrics`. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
  serviceName,
});

/** X-Ray tracing (a no-op outside Lambda). */
export const tracer = new Tracer({ serviceName });
