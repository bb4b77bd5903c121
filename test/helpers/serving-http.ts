/** HTTP calls against a local `driftline serve` for tests: raw bodies, any headers, parsed answers. */

/** One answer of the server. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  readonly json: unknown;
}

/** What to send. A string or bytes body is sent as is; anything else as JSON. */
export interface HttpCall {
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
  /** @default { 'content-type': 'application/json' } when there is a body */
  readonly headers?: Record<string, string>;
}

/** Sends one request to `base` (e.g. `http://127.0.0.1:1234`). */
export async function call(base: string, request: HttpCall): Promise<HttpAnswer> {
  const hasBody = request.body !== undefined;
  let body: string | Uint8Array | undefined;
  if (typeof request.body === 'string' || request.body instanceof Uint8Array) body = request.body;
  else if (hasBody) body = JSON.stringify(request.body);
  const response = await fetch(`${base}${request.path}`, {
    method: request.method ?? (hasBody ? 'POST' : 'GET'),
    headers: request.headers ?? (hasBody ? { 'content-type': 'application/json' } : {}),
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The `error` object of an error answer. */
export function errorOf(answer: HttpAnswer): {
  code: string;
  message: string;
  details: { path: string; message: string }[];
} {
  return (
    answer.json as { error: { code: string; message: string; details: { path: string; message: string }[] } }
  ).error;
}
