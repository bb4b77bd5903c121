/**
 * Requests and responses of the serving API independent of how they arrive (an API Gateway proxy
 * event in Lambda, a node:http request under `driftline serve` — both are mapped to these by the
 * predict handler), and the checks every JSON body goes through before any schema sees it.
 *
 * Body rules, in order:
 * 1. larger than {@link MAX_BODY_BYTES} → 413 `payload_too_large`;
 * 2. `Content-Encoding` other than `identity` → 415 (API Gateway passes compressed bodies through
 *    unchanged; the API does not inflate them);
 * 3. `Content-Type` absent or not JSON (`application/json`, or any `application/*+json`, parameters
 *    such as `charset=utf-8` allowed; a charset other than UTF-8 is refused) → 415
 *    `unsupported_media_type` — this is DESIGN.md's "415 not JSON": the request did not say JSON;
 * 4. bytes that are not UTF-8, or text that is not JSON → 400 `invalid_json`: the request said JSON
 *    but the content is malformed, which RFC 9110 makes a 400, not a 415.
 */
import { ApiError } from './api-error.ts';

/**
 * The largest body accepted: Lambda's 6 MB synchronous payload limit (API Gateway's own is 10 MB,
 * so without this check a 7 MB body would reach the caller as an opaque 413 from Lambda itself).
 */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** One HTTP request as the API sees it. Header names are lower case. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body as text, or base64 when {@link ApiRequest.isBase64Encoded}; `null` when there is none. */
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
  /** The request id of the platform (API Gateway / Lambda), for logs. */
  readonly requestId?: string;
}

/** One HTTP response: a status, headers and a JSON body (already serialised). */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Headers every response carries. */
export const RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The media type of a Content-Type header value, lower case, and its charset parameter if any. */
function parseContentType(value: string): { type: string; charset: string | undefined } {
  const [type = '', ...params] = value.split(';');
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === 'charset') {
      charset = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return { type: type.trim().toLowerCase(), charset };
}

/** The body as sent: text as is, a base64 body decoded to its bytes. */
function bodyBytes(request: ApiRequest): Uint8Array | string {
  if (request.body === null) return '';
  return request.isBase64Encoded ? Buffer.from(request.body, 'base64') : request.body;
}

/**
 * The parsed JSON body of a request, after the checks in the module doc.
 *
 * @throws ApiError `payload_too_large`, `unsupported_media_type` or `invalid_json`
 */
export function readJsonBody(request: ApiRequest, maxBytes = MAX_BODY_BYTES): unknown {
  return parseJsonText(readJsonText(request, maxBytes));
}

/**
 * The text of a JSON body after rules 1–3 of the module doc and the UTF-8 check of rule 4; not yet
 * parsed (see {@link parseJsonText}).
 *
 * @throws ApiError `payload_too_large`, `unsupported_media_type` or `invalid_json`
 */
export function readJsonText(request: ApiRequest, maxBytes = MAX_BODY_BYTES): string {
  const raw = bodyBytes(request);
  // A UTF-16 unit is at most 3 UTF-8 bytes: most bodies are shown within the limit without a scan.
  const size =
    typeof raw !== 'string'
      ? raw.byteLength
      : raw.length * 3 <= maxBytes
        ? raw.length
        : Buffer.byteLength(raw, 'utf8');
  if (size > maxBytes) {
    throw new ApiError('payload_too_large', `the body is ${size} bytes; the limit is ${maxBytes} bytes`);
  }
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new ApiError('unsupported_media_type', `Content-Encoding "${encoding}" is not supported`, {
      details: [{ path: 'headers.content-encoding', message: 'send the body uncompressed' }],
    });
  }
  const contentType = request.headers['content-type'];
  if (contentType === undefined || contentType.trim() === '') {
    throw new ApiError('unsupported_media_type', 'the request has no Content-Type; send application/json', {
      details: [{ path: 'headers.content-type', message: 'expected application/json' }],
    });
  }
  const { type, charset } = parseContentType(contentType);
  if (!JSON_TYPE.test(type)) {
    throw new ApiError(
      'unsupported_media_type',
      `Content-Type ${JSON.stringify(type.slice(0, 100))} is not supported; send application/json`,
      { details: [{ path: 'headers.content-type', message: 'expected application/json' }] },
    );
  }
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(
      'unsupported_media_type',
      `charset ${JSON.stringify(charset.slice(0, 40))} is not supported`,
      {
        details: [{ path: 'headers.content-type', message: 'JSON is sent as UTF-8' }],
      },
    );
  }
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    try {
      text = utf8.decode(raw);
    } catch {
      throw new ApiError('invalid_json', 'the body is not valid UTF-8');
    }
  }
  if (text.trim() === '') throw new ApiError('invalid_json', 'the body is empty; expected a JSON object');
  return text;
}

/**
 * A body's text parsed as JSON.
 *
 * @throws ApiError `invalid_json`
 */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message names the position of the problem and quotes a few characters around it — useful
    // to the caller and no more than what they sent.
    const reason = error instanceof Error ? error.message.slice(0, 200) : 'malformed JSON';
    throw new ApiError('invalid_json', `the body is not valid JSON: ${reason}`);
  }
}

/** A JSON response with the standard headers. */
export function jsonResponse(
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return { status, headers: { ...RESPONSE_HEADERS, ...headers }, body: JSON.stringify(value) };
}

/** A response whose JSON text is already written (see `predict-body.ts`), with the standard headers. */
export function jsonTextResponse(status: number, json: string): ApiResponse {
  return { status, headers: { ...RESPONSE_HEADERS }, body: json };
}
