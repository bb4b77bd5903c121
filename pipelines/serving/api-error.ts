/**
 * The errors of the HTTP API and the one place where any error becomes a status code and a JSON body
 * `{"error":{"code","message","details":[{"path","message"}]}}`.
 *
 * Status codes (DESIGN.md, "HTTP API"):
 * - 400 `invalid_json` — the body is not UTF-8 JSON; `invalid_request` — the JSON does not fit the
 *   request schema (every offending field in `details`, at most {@link MAX_ERROR_DETAILS});
 * - 404 `not_found` — no such route; 405 `method_not_allowed` — the route exists, the method does not
 *   (with an `Allow` header);
 * - 413 `too_many_instances` — more than `api.maxInstances` instances (or feedback items);
 *   `payload_too_large` — the body is larger than the Lambda payload limit;
 * - 415 `unsupported_media_type` — a body-carrying request whose Content-Type is not JSON, or that is
 *   content-encoded;
 * - 503 `model_unavailable` — no champion yet, or the champion failed verification and no earlier
 *   verified model is loaded;
 * - 500 `internal` — a bug. Its message is fixed: nothing from the error (message, stack) reaches the
 *   caller; the error goes to the log instead.
 */
import { DriftlineError, type ErrorDetail, type ErrorKind, isDriftlineError } from '../errors.ts';

/** Machine-readable error codes of the API. */
export const API_ERROR_CODES = [
  'invalid_json',
  'invalid_request',
  'not_found',
  'method_not_allowed',
  'too_many_instances',
  'payload_too_large',
  'unsupported_media_type',
  'model_unavailable',
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

const STATUS: Record<ApiErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  too_many_instances: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  model_unavailable: 503,
  internal: 500,
};

/** The codes an {@link ApiError} carries: every one but `internal`, which is never raised on purpose. */
export type CallerErrorCode = Exclude<ApiErrorCode, 'internal'>;

const KIND: Record<CallerErrorCode, ErrorKind> = {
  invalid_json: 'input',
  invalid_request: 'input',
  not_found: 'not_found',
  method_not_allowed: 'usage',
  too_many_instances: 'input',
  payload_too_large: 'input',
  unsupported_media_type: 'input',
  model_unavailable: 'unavailable',
};

/**
 * The most details one error response lists. Validation reports every offending field, but a
 * request of 100,000 bad instances must not produce a response larger than the 6 MB Lambda limit
 * (which would turn into a 502); the message then says how many there were in all.
 */
export const MAX_ERROR_DETAILS = 1000;

/** An error the API answers with a status below 500 (or 503): the caller's to fix, or to retry. */
export class ApiError extends DriftlineError {
  override readonly name = 'ApiError';
  readonly code: CallerErrorCode;
  readonly status: number;
  /** Extra response headers, e.g. `Allow` for 405. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: CallerErrorCode,
    message: string,
    options: { details?: readonly ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(KIND[code], message, {
      ...(options.details === undefined ? {} : { details: options.details }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.code = code;
    this.status = STATUS[code];
    this.headers = options.headers ?? {};
  }
}

/** The JSON error body. */
export interface ErrorBody {
  readonly error: {
    readonly code: ApiErrorCode;
    readonly message: string;
    readonly details: readonly ErrorDetail[];
  };
}

/** What an error becomes on the wire. */
export interface ErrorResponse {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** True when the error is a bug or an outage worth an error log line (5xx). */
  readonly serverSide: boolean;
}

/** The answer to a bug or a broken deployment: a fixed message, nothing of the cause. */
export const INTERNAL_ERROR: ErrorResponse = {
  status: STATUS.internal,
  code: 'internal',
  body: {
    error: { code: 'internal', message: 'internal error: the request could not be handled', details: [] },
  },
  headers: {},
  serverSide: true,
};

/**
 * Maps any thrown value to its response. ApiErrors keep their status; other Driftline errors map by
 * kind (an `unavailable` or `integrity` error is a 503, an `input` error a 400); anything else is a
 * 500 whose message says nothing about the cause.
 */
export function errorResponse(error: unknown): ErrorResponse {
  let apiError: ApiError;
  if (error instanceof ApiError) apiError = error;
  else if (isDriftlineError(error) && (error.kind === 'unavailable' || error.kind === 'integrity')) {
    apiError = new ApiError('model_unavailable', error.message);
  } else if (isDriftlineError(error) && error.kind === 'input') {
    apiError = new ApiError('invalid_request', error.message, { details: error.details });
  } else {
    return INTERNAL_ERROR;
  }
  const details = apiError.details.slice(0, MAX_ERROR_DETAILS);
  const message =
    apiError.details.length > MAX_ERROR_DETAILS
      ? `${apiError.message} (${apiError.details.length} problems; the first ${MAX_ERROR_DETAILS} are listed)`
      : apiError.message;
  return {
    status: apiError.status,
    code: apiError.code,
    body: { error: { code: apiError.code, message, details } },
    headers: apiError.headers,
    serverSide: apiError.status >= 500,
  };
}
