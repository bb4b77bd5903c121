/**
 * The local HTTP front of the predict handler (`driftline serve`): node:http turns each request into
 * the API Gateway REST proxy event the deployed function receives, calls the very same handler, and
 * writes its proxy result back. What it adds is what API Gateway and Lambda do in front of the
 * function: a body size limit ({@link MAX_BODY_BYTES} → 413, as Lambda's payload limit), a fixed
 * request timeout, and an orderly shutdown.
 *
 * Shutdown ({@link LocalServer.close}): stop accepting connections, close idle keep-alive connections,
 * let requests in flight finish (their responses say `connection: close`), then run `onClose`
 * (stop the model source, flush captured records).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ApiError, errorResponse } from './api-error.ts';
import { jsonResponse, MAX_BODY_BYTES } from './http.ts';
import type { ServingLog } from './log.ts';

/** A proxy-event handler: the predict Lambda's signature. */
export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Options of {@link startLocalServer}. */
export interface LocalServerOptions {
  readonly handler: ProxyHandler;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** The time a request may take, as API Gateway's integration timeout. @default 29 s */
  readonly timeoutMs?: number;
  readonly log?: ServingLog;
  /** Runs once every request has finished, during {@link LocalServer.close}. */
  readonly onClose?: () => Promise<void>;
}

/** A running server. */
export interface LocalServer {
  /** `http://127.0.0.1:8080` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Requests being handled right now. */
  readonly inFlight: () => number;
  /** Stops the server as described in the module doc; idempotent. */
  close(): Promise<void>;
}

/** A body over the limit is read and discarded up to this many bytes, then the connection is cut. */
const DRAIN_LIMIT_FACTOR = 4;

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface ReadBody {
  readonly bytes: Buffer | undefined;
  readonly size: number;
}

/** Reads a request body up to `max` bytes; past it, keeps counting (draining) without keeping bytes. */
function readBody(req: IncomingMessage, max: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else if (chunks.length > 0) chunks.length = 0;
      if (size > max * DRAIN_LIMIT_FACTOR) {
        req.pause();
        resolve({ bytes: undefined, size });
      }
    });
    req.on('end', () => resolve({ bytes: size <= max ? Buffer.concat(chunks) : undefined, size }));
    req.on('error', reject);
  });
}

function firstValues(req: IncomingMessage): {
  headers: Record<string, string>;
  multi: Record<string, string[]>;
} {
  const headers: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headersDistinct)) {
    if (value === undefined) continue;
    headers[name] = value.join(',');
    multi[name] = value;
  }
  return { headers, multi };
}

/** The API Gateway REST proxy event for a local request. */
export function proxyEvent(req: IncomingMessage, body: Buffer, requestId: string): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const { headers, multi } = firstValues(req);
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    multiQuery[name] = [...(multiQuery[name] ?? []), value];
  }
  let text: string | null = null;
  let isBase64Encoded = false;
  if (body.length > 0) {
    try {
      text = utf8.decode(body);
    } catch {
      // API Gateway hands over binary bodies base64-encoded; the handler decides what to make of them.
      text = body.toString('base64');
      isBase64Encoded = true;
    }
  }
  const method = req.method ?? 'GET';
  const now = Date.now();
  return {
    resource: url.pathname,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: multi,
    queryStringParameters: Object.keys(query).length === 0 ? null : query,
    multiValueQueryStringParameters: Object.keys(multiQuery).length === 0 ? null : multiQuery,
    pathParameters: null,
    stageVariables: null,
    body: text,
    isBase64Encoded,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: url.pathname,
      stage: 'local',
      requestId,
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: url.pathname,
    },
  };
}

/** A Lambda context for one local invocation. */
function lambdaContext(requestId: string, deadline: number): Context {
  const unsupported = (): never => {
    throw new Error('not supported locally');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'driftline-serve',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:driftline-serve',
    memoryLimitInMB: '0',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** Starts the server; resolves once it listens. @throws the listen error (e.g. EADDRINUSE) */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const timeoutMs = options.timeoutMs ?? 29_000;
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const declared = Number(req.headers['content-length']);
    const body = await readBody(req, maxBody);
    if (body.bytes === undefined || (Number.isFinite(declared) && declared > maxBody)) {
      const mapped = errorResponse(
        new ApiError(
          'payload_too_large',
          `the body is ${body.size} bytes or more; the limit is ${maxBody} bytes`,
        ),
      );
      const response = jsonResponse(mapped.status, mapped.body);
      // The connection cannot be trusted to be at a request boundary any more.
      send(res, response.status, { ...response.headers, connection: 'close' }, response.body);
      if (body.size > maxBody * DRAIN_LIMIT_FACTOR) res.on('finish', () => req.socket.destroy());
      return;
    }
    const result = await options.handler(
      proxyEvent(req, body.bytes, requestId),
      lambdaContext(requestId, Date.now() + timeoutMs),
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
    // While shutting down, keep-alive clients are told not to send another request on this connection.
    send(res, result.statusCode, { ...headers, ...(closing ? { connection: 'close' } : {}) }, result.body);
  };

  const server = createServer((req, res) => {
    inFlight += 1;
    handle(req, res)
      .catch((error: unknown) => {
        options.log?.error('local server: request failed', {
          error: error instanceof Error ? error.message : String(error),
        });
        const mapped = errorResponse(error);
        const response = jsonResponse(mapped.status, mapped.body);
        send(res, response.status, { ...response.headers }, response.body);
      })
      .finally(() => {
        inFlight -= 1;
        if (inFlight === 0) drained?.();
      });
  });
  server.requestTimeout = timeoutMs + 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      // Nothing is in flight: what is left are idle or half-open connections.
      server.closeAllConnections();
      await stopped;
      await options.onClose?.();
    })();
    return closed;
  };

  return {
    url: `http://${host}:${address.port}`,
    host: address.address,
    port: address.port,
    inFlight: () => inFlight,
    close,
  };
}
