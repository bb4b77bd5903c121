/**
 * The predict handler as a function of its dependencies: API Gateway proxy event in, proxy result out,
 * through middy and the serving API in `pipelines/serving/`. The Lambda (`handler.ts`) wires it to
 * S3, CloudWatch and the Powertools singletons; `driftline serve` wires the same function to the local
 * folder and calls it for every HTTP request — one handler for both.
 *
 * Kept apart from `handler.ts` so that importing it does not construct the Powertools singletons (the
 * CLI has no use for them).
 */
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ServingApi, type ServingApiOptions } from '../../pipelines/serving/api.ts';
import { INTERNAL_ERROR } from '../../pipelines/serving/api-error.ts';
import { jsonResponse } from '../../pipelines/serving/http.ts';
import type { ServingLog } from '../../pipelines/serving/log.ts';
import { apiRequestFromEvent, proxyResult } from './proxy.ts';

/** The dependencies of the handler: those of the serving API. */
export type PredictHandlerDeps = ServingApiOptions;

/** The middy-wrapped handler. */
export type PredictHandler = MiddyfiedHandler<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>;

/** Options of {@link createHandler}. */
export interface CreateHandlerOptions {
  /** Middlewares to run around the handler (the Powertools ones in Lambda), in order. */
  readonly middlewares?: readonly MiddlewareObj<
    APIGatewayProxyEvent,
    APIGatewayProxyResult,
    Error,
    Context
  >[];
  /** Where failures that happen before the API exists are logged (e.g. an invalid config). */
  readonly log?: ServingLog;
}

/**
 * Builds the handler. `deps` may be a factory: it runs on the first invocation (so a Lambda's module
 * load does no I/O and no top-level await), its result is kept for every later one, and a factory that
 * fails is tried again on the next invocation.
 */
export function createHandler(
  deps: PredictHandlerDeps | (() => Promise<PredictHandlerDeps>),
  options: CreateHandlerOptions = {},
): PredictHandler {
  let api: Promise<ServingApi> | undefined;
  const serving = (): Promise<ServingApi> => {
    if (api === undefined) {
      const made =
        typeof deps === 'function'
          ? deps().then((d) => new ServingApi(d))
          : Promise.resolve(new ServingApi(deps));
      api = made;
      made.catch(() => {
        if (api === made) api = undefined;
      });
    }
    return api;
  };

  // Last error defence, like @middy/http-error-handler: whatever escapes becomes a JSON 500 with a
  // fixed message (never the error's own text or stack), unless a response is already set.
  const errorMapper: MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context> = {
    onError: (request) => {
      if (request.response !== undefined && request.response !== null) return;
      const error = request.error;
      options.log?.error('the predict handler failed', {
        error:
          error instanceof Error
            ? { name: error.name, message: error.message, stack: error.stack }
            : String(error),
      });
      // The API maps every caller error itself; what reaches this point is ours (a config the function
      // cannot read, a timeout), so it is a 500 whatever its kind.
      request.response = proxyResult(jsonResponse(INTERNAL_ERROR.status, INTERNAL_ERROR.body));
    },
  };

  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use([...(options.middlewares ?? [])])
    .use(errorMapper)
    .handler(async (event) => proxyResult(await (await serving()).handle(apiRequestFromEvent(event))));
}
