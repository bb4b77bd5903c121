/**
 * The predict Lambda behind API Gateway (REST API, proxy integration): `POST /predict`,
 * `POST /feedback`, `GET /model`, `GET /health` — see `pipelines/serving/api.ts`.
 *
 * Environment:
 * - `DATA_BUCKET` (required), `STORE_PREFIX` (optional): the object store holding
 *   `registry/champion.json` and the models;
 * - `DRIFTLINE_CONFIG_PATH` (optional): the validated `driftline.config.json`; by default the file of
 *   that name next to this module (the bundle copies it there), else in `LAMBDA_TASK_ROOT`.
 *
 * Wiring only: the champion model source over S3, capture as log lines for the subscription filter
 * (`lambdas/shared/capture-log-sink.ts`), metrics through Powertools (`metrics.ts`). Dependencies are
 * built on the first invocation, not at import (no top-level await, so the module can be bundled as
 * CommonJS — which the onnxruntime-node layer under /opt/nodejs/node_modules needs).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { CONFIG_FILE, loadConfig } from '../../pipelines/config/load.ts';
import { ConfigError } from '../../pipelines/errors.ts';
import { ChampionModelSource } from '../../pipelines/serving/model-source.ts';
import { LogCaptureSink, stdoutLine } from '../shared/capture-log-sink.ts';
import { logger, metrics, serviceName, tracer } from '../shared/powertools.ts';
import { S3ObjectStore } from '../shared/s3-store.ts';
import { createHandler, type PredictHandlerDeps } from './create-handler.ts';
import { PowertoolsServingMetrics } from './metrics.ts';

export { createHandler, type PredictHandlerDeps } from './create-handler.ts';

/** The folder of this module; `import.meta.dirname` is not there once bundled as CommonJS. */
function moduleDir(): string | undefined {
  const meta = import.meta as { dirname?: unknown };
  return typeof meta.dirname === 'string' ? meta.dirname : undefined;
}

/** Where the config is read from (see the module doc). */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DRIFTLINE_CONFIG_PATH) return env.DRIFTLINE_CONFIG_PATH;
  const candidates = [moduleDir(), env.LAMBDA_TASK_ROOT].filter(
    (d): d is string => d !== undefined && d !== '',
  );
  const found = candidates.map((dir) => join(dir, CONFIG_FILE)).find((file) => existsSync(file));
  return found ?? join(candidates[0] ?? process.cwd(), CONFIG_FILE);
}

/** The dependencies of the deployed function, from its environment. */
export async function environmentDeps(env: NodeJS.ProcessEnv = process.env): Promise<PredictHandlerDeps> {
  const config = await loadConfig(configPath(env));
  const bucket = env.DATA_BUCKET;
  if (bucket === undefined || bucket === '') {
    throw new ConfigError('the predict function has no DATA_BUCKET in its environment');
  }
  const store = new S3ObjectStore({ bucket, prefix: env.STORE_PREFIX ?? '' });
  return {
    config,
    models: new ChampionModelSource({ store, config, log: logger }),
    capture: new LogCaptureSink(stdoutLine, { service: serviceName }),
    metrics: new PowertoolsServingMetrics(metrics),
    log: logger,
  };
}

/** The Lambda entry point. */
export const handler = createHandler(() => environmentDeps(), {
  log: logger,
  middlewares: [
    injectLambdaContext(logger),
    logMetrics(metrics, { captureColdStartMetric: true }),
    captureLambdaHandler(tracer, { captureResponse: false }),
  ],
});
