/**
 * Small pieces shared by the serving benchmark's parts: the API Gateway event and Lambda context of
 * a `POST /predict`, a silent log, and an in-memory capture sink. Type-only imports, so the cold
 * start child can load it without adding to what it measures.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { CaptureRecord, CaptureSink, FeedbackRecord } from '../pipelines/serving/capture.ts';
import type { ServingLog } from '../pipelines/serving/log.ts';

/** A log that drops everything. */
export const SILENT_LOG: ServingLog = { info: () => {}, warn: () => {}, error: () => {} };

/** Keeps the last record and a count: the capture work is done, nothing piles up in memory. */
export class LastRecordCaptureSink implements CaptureSink {
  captured = 0;
  last: CaptureRecord | undefined;

  capture(record: CaptureRecord): void {
    this.captured += 1;
    this.last = record;
  }

  feedback(_record: FeedbackRecord): void {}

  async close(): Promise<void> {}
}

/**
 * A line writer for `LogCaptureSink` that encodes each text line to UTF-8, as `process.stdout.write`
 * does before its system call, copies each byte line once, as the call would, and drops the bytes:
 * the Lambda's capture work without the write itself.
 */
export class DiscardedLines {
  lines = 0;
  bytes = 0;
  #buffer = Buffer.allocUnsafeSlow(1 << 20);
  readonly write = (line: string | Uint8Array): boolean => {
    if (line.length * 3 > this.#buffer.length) this.#buffer = Buffer.allocUnsafeSlow(line.length * 3);
    this.lines += 1;
    // A text line is encoded, as stdout would; bytes are copied once, as a write to it would.
    if (typeof line === 'string') this.bytes += this.#buffer.write(line, 0, 'utf8');
    else {
      this.#buffer.set(line);
      this.bytes += line.length;
    }
    // Done with the bytes, as stdout is when it writes them through at once.
    return true;
  };
}

/** The proxy event API Gateway (REST, payload 1.0) hands the function for `POST /predict`. */
export function predictEvent(body: string, requestId: string): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path: '/predict',
    httpMethod: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: '*/*',
      Host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'User-Agent': 'bench/1.0',
      'X-Forwarded-For': '203.0.113.7',
    },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: 'predict' },
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: { requestId } as APIGatewayProxyEvent['requestContext'],
  };
}

/** A Lambda context for a benchmark invocation. */
export function benchContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'driftline-predict',
    functionVersion: '1',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:driftline-predict',
    memoryLimitInMB: '1024',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/driftline-predict',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 10_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
