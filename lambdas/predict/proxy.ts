/**
 * API Gateway REST proxy events (payload format 1.0) ↔ the serving API's transport-neutral request
 * and response. Defensive about the event: a direct invocation may send anything, and `headers` is
 * `null` when a request has none.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ApiRequest, ApiResponse } from '../../pipelines/serving/http.ts';

/** The request an event describes; header names lower-cased (HTTP headers are case-insensitive). */
export function apiRequestFromEvent(event: APIGatewayProxyEvent): ApiRequest {
  const headers = Object.create(null) as Record<string, string>;
  const source: unknown = event?.headers;
  if (source !== null && typeof source === 'object') {
    for (const [name, value] of Object.entries(source)) {
      if (typeof value === 'string') headers[name.toLowerCase()] = value;
    }
  }
  const requestId = event?.requestContext?.requestId;
  return {
    method: typeof event?.httpMethod === 'string' ? event.httpMethod : '',
    path: typeof event?.path === 'string' ? event.path : '',
    headers,
    body: typeof event?.body === 'string' ? event.body : null,
    isBase64Encoded: event?.isBase64Encoded === true,
    ...(typeof requestId === 'string' ? { requestId } : {}),
  };
}

/** The proxy result API Gateway turns into the HTTP response. */
export function proxyResult(response: ApiResponse): APIGatewayProxyResult {
  return { statusCode: response.status, headers: { ...response.headers }, body: response.body };
}
