/**
 * The predict Lambda: the deployed `handler` end to end (environment → config file → S3 on s3rver →
 * onnxruntime-node → proxy result, with the Powertools middlewares), the exact capture log line the
 * CloudWatch subscription filter matches, the EMF metrics, and the event mapping of `createHandler`.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandler } from '../../../lambdas/predict/create-handler.ts';
import { PowertoolsServingMetrics } from '../../../lambdas/predict/metrics.ts';
import {
  LogCaptureSink,
  MAX_RECORD_BYTES,
  MAX_ROW_RECORD_BYTES,
  stdoutLine,
} from '../../../lambdas/shared/capture-log-sink.ts';
import { S3ObjectStore } from '../../../lambdas/shared/s3-store.ts';
import type { CaptureRecord } from '../../../pipelines/serving/capture.ts';
import { joinRows, parseRows } from '../../../pipelines/serving/json-rows.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { MemoryServingMetrics } from '../../../pipelines/serving/metrics.ts';
import { ChampionModelSource } from '../../../pipelines/serving/model-source.ts';
import { writePredictions } from '../../../pipelines/serving/predict-body.ts';
import { MemoryObjectStore } from '../../helpers/memory-store.ts';
import {
  fixtureModel,
  promoteModel,
  SERVING_FEATURES,
  servingConfig,
  sha256Hex,
} from '../../helpers/serving-fixtures.ts';
import { type LocalS3, startLocalS3 } from '../../helpers/store-s3rver.ts';
import { tempDir } from '../../helpers/tmp.ts';

const instance = { age: 30, income: 900, city: 'lisbon', plan: 'pro' };

function proxyEvent(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}',
    path: '/predict',
    httpMethod: 'POST',
    headers: { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: JSON.stringify({ instances: [instance] }),
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1' } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'driftline-predict',
    functionVersion: '1',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:driftline-predict',
    memoryLimitInMB: '1024',
    awsRequestId: 'aws-req-1',
    logGroupName: '/aws/lambda/driftline-predict',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 10_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** JSON lines written to stdout while `run` runs. */
async function stdoutJson<T>(
  run: () => Promise<T>,
): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk));
    return true;
  });
  try {
    const result = await run();
    const lines = written
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result, lines };
  } finally {
    spy.mockRestore();
  }
}

describe('the deployed handler (S3 on s3rver)', () => {
  let s3: LocalS3;
  let sha = '';
  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('driftline-data');
    const store = new S3ObjectStore({ bucket: 'driftline-data', prefix: 'dev', client: s3.client });
    const bytes = await fixtureModel('binary-gbdt');
    sha = sha256Hex(bytes);
    await promoteModel(store, bytes);
  });
  afterAll(async () => {
    await s3?.stop();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('reads its config and bucket from the environment, serves, logs capture lines and EMF', async () => {
    // Prepare
    const dir = await tempDir('driftline-lambda-');
    const configFile = join(dir, 'driftline.config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        project: { name: 'serving-binary' },
        task: 'binary',
        target: 'outcome',
        features: SERVING_FEATURES,
      }),
    );
    vi.stubEnv('DRIFTLINE_CONFIG_PATH', configFile);
    vi.stubEnv('DATA_BUCKET', 'driftline-data');
    vi.stubEnv('STORE_PREFIX', 'dev');
    vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
    const { handler } = await import('../../../lambdas/predict/handler.ts');

    // Act
    const { result, lines } = await stdoutJson(() => handler(proxyEvent(), lambdaContext()));
    const { result: health } = await stdoutJson(() =>
      handler(proxyEvent({ httpMethod: 'GET', path: '/health', body: null }), lambdaContext()),
    );

    // Assess
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as { predictions: { predictionId: string }[]; model: unknown };
    expect(body.model).toEqual({ version: 1, sha256: sha });
    const capture = lines.find((l) => l.driftline === 'capture');
    expect(capture).toMatchObject({
      level: 'INFO',
      message: 'driftline capture',
      service: 'driftline',
      driftline: 'capture',
      record: {
        type: 'capture',
        model: { version: 1, sha256: sha },
        instances: [instance],
        predictions: body.predictions,
      },
    });
    // Each prediction carries its id: the record has no other list of them.
    expect(Object.keys((capture?.record as object | undefined) ?? {})).toEqual([
      'type',
      'time',
      'model',
      'instances',
      'predictions',
    ]);
    expect(Date.parse((capture?.record as CaptureRecord | undefined)?.time ?? '')).not.toBeNaN();
    const emf = lines.filter((l) => l._aws !== undefined);
    const requests = emf.find((l) => l.Requests !== undefined);
    expect(requests).toMatchObject({
      service: 'driftline',
      route: 'predict',
      modelVersion: '1',
      Requests: 1,
      Instances: 1,
    });
    expect(requests?._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: 'Driftline', Dimensions: [['service', 'route', 'modelVersion']] }],
    });
    expect(emf.some((l) => l.PredictedClass === 1 && typeof l.class === 'string')).toBe(true);
    expect(JSON.parse(health.body)).toEqual({
      status: 'ok',
      modelLoaded: true,
      model: { version: 1, sha256: sha },
    });
  });
});

describe('createHandler', () => {
  let gbdt: Uint8Array;
  beforeAll(async () => {
    gbdt = await fixtureModel('binary-gbdt');
  });

  async function wired() {
    const store = new MemoryObjectStore();
    await promoteModel(store, gbdt);
    const config = servingConfig('binary');
    const log = new MemoryServingLog();
    const metrics = new MemoryServingMetrics();
    const models = new ChampionModelSource({ store, config, log });
    const records: CaptureRecord[] = [];
    const capture = {
      capture: (r: CaptureRecord) => records.push(r),
      feedback: () => {},
      close: async () => {},
    };
    return {
      handler: createHandler({ config, models, capture, metrics, log }),
      log,
      metrics,
      records,
      models,
    };
  }

  it('maps proxy events: header case, base64 bodies, missing headers, odd events', async () => {
    const { handler, records, metrics, models } = await wired();
    const base64 = await handler(
      proxyEvent({
        headers: { 'CONTENT-TYPE': 'application/json' },
        body: Buffer.from(JSON.stringify({ instances: [instance] })).toString('base64'),
        isBase64Encoded: true,
      }),
      lambdaContext(),
    );
    expect(base64.statusCode).toBe(200);
    expect(base64.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    const noHeaders = await handler(proxyEvent({ headers: null as never }), lambdaContext());
    expect(noHeaders.statusCode).toBe(415);
    const odd = await handler({} as APIGatewayProxyEvent, lambdaContext());
    expect([odd.statusCode, JSON.parse(odd.body).error.code]).toEqual([404, 'not_found']);
    const nothing = await handler(undefined as unknown as APIGatewayProxyEvent, lambdaContext());
    expect(nothing.statusCode).toBe(404);
    expect(records).toHaveLength(1);
    expect(metrics.observations.map((o) => [o.route, o.status, o.errorCode])).toEqual([
      ['predict', 200, undefined],
      ['predict', 415, 'unsupported_media_type'],
      ['unknown', 404, 'not_found'],
      ['unknown', 404, 'not_found'],
    ]);
    await models.close();
  });

  it('answers 500 with a fixed message when its dependencies fail, and tries again next time', async () => {
    // Prepare
    const log = new MemoryServingLog();
    const good = await wired();
    let attempts = 0;
    const handler = createHandler(
      async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('cannot read /var/task/driftline.config.json: EACCES');
        const { config } = { config: servingConfig('binary') };
        return {
          config,
          models: good.models,
          capture: { capture: () => {}, feedback: () => {}, close: async () => {} },
          metrics: good.metrics,
          log,
        };
      },
      { log },
    );

    // Act
    const failed = await handler(proxyEvent(), lambdaContext());
    const retried = await handler(proxyEvent(), lambdaContext());

    // Assess
    expect(failed.statusCode).toBe(500);
    expect(JSON.parse(failed.body)).toEqual({
      error: { code: 'internal', message: 'internal error: the request could not be handled', details: [] },
    });
    expect(failed.body).not.toMatch(/EACCES|var\/task/);
    expect(log.entries[0]?.message).toBe('the predict handler failed');
    expect(retried.statusCode).toBe(200);
    await good.models.close();
  });
});

describe('LogCaptureSink', () => {
  it('writes one JSON line per record part to stdout: the filter field and the record', async () => {
    // Prepare
    const sink = new LogCaptureSink(stdoutLine, {
      service: 'driftline-test',
      maxRecordBytes: 900,
      now: () => new Date('2026-05-01T12:00:01.000Z'),
    });
    const ids = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    const record: CaptureRecord = {
      type: 'capture',
      time: '2026-05-01T12:00:00.000Z',
      model: { version: 3, sha256: 'f'.repeat(64) },
      instances: ids.map(() => Object.assign(Object.create(null), { age: 1, city: null })),
      predictions: ids.map((predictionId) => ({
        predictionId,
        label: 'a',
        probabilities: { a: 0.9, b: 0.1 },
      })),
    };

    // Act
    const { lines } = await stdoutJson(async () => {
      sink.capture(record);
      sink.feedback({
        type: 'feedback',
        time: '2026-05-01T13:00:00.000Z',
        feedback: [{ predictionId: ids[0] ?? '', label: 'b' }],
      });
    });

    // Assess
    const captures = lines.filter((l) => l.driftline === 'capture');
    expect(captures.length).toBeGreaterThan(1);
    expect(
      captures.flatMap((l) => (l.record as CaptureRecord).predictions.map((p) => p.predictionId)),
    ).toEqual(ids);
    expect(captures.flatMap((l) => (l.record as CaptureRecord).instances)).toEqual(
      record.instances.map((i) => ({ ...i })),
    );
    expect(captures.flatMap((l) => (l.record as CaptureRecord).predictions)).toEqual(record.predictions);
    for (const line of captures) {
      expect(line).toEqual({
        level: 'INFO',
        message: 'driftline capture',
        timestamp: '2026-05-01T12:00:01.000Z',
        service: 'driftline-test',
        driftline: 'capture',
        record: expect.objectContaining({ type: 'capture', time: record.time, model: record.model }),
      });
      expect(JSON.stringify(line.record).length).toBeLessThanOrEqual(1500);
    }
    expect(lines.find((l) => l.driftline === 'feedback')).toEqual({
      level: 'INFO',
      message: 'driftline feedback',
      timestamp: '2026-05-01T12:00:01.000Z',
      service: 'driftline-test',
      driftline: 'feedback',
      record: {
        type: 'feedback',
        time: '2026-05-01T13:00:00.000Z',
        feedback: [{ predictionId: ids[0], label: 'b' }],
      },
    });
    expect(MAX_RECORD_BYTES).toBeLessThan(128 * 1024);
    expect(MAX_ROW_RECORD_BYTES).toBeLessThan(256 * 1024 - 1024);
  });
});

describe('LogCaptureSink and the rows the serving path wrote', () => {
  it.each([
    ['keeps the bytes of each line', false],
    ['is done with the bytes when it returns', true],
  ])(
    'writes lines as bytes from the rows, pieces and all, that read back as the record (a writer that %s)',
    (_, done) => {
      // Arrange: 3,000 predictions written as bytes (several pieces), instances with accents. A writer
      // done with the bytes gets each line in the same memory (the sink reuses it), so it reads each
      // line as it comes; one that keeps them must find every line intact at the end.
      const lines: (string | Uint8Array)[] = [];
      const memory = new Set<ArrayBufferLike>();
      const sink = new LogCaptureSink(
        (line) => {
          if (typeof line !== 'string') memory.add(line.buffer);
          lines.push(done && typeof line !== 'string' ? Buffer.from(line) : line);
          return done ? true : undefined;
        },
        { service: 'svc' },
      );
      const count = 3000;
      const probabilities = Float32Array.from({ length: 2 * count }, (_, i) => (i % 7) / 7);
      const labels = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? 'b' : 'a'));
      const written = writePredictions({ kind: 'classes', labels, probabilities }, ['a', 'b'], count);
      expect(written.predictions.pieces.length).toBeGreaterThan(1);
      const instances = Array.from({ length: count }, (_, i) => ({ city: i % 5 === 0 ? 'Åre' : `c${i}` }));
      const record: CaptureRecord = {
        type: 'capture',
        time: '2026-05-01T12:00:00.000Z',
        model: { version: 2, sha256: 'd'.repeat(64) },
        instances,
        predictions: parseRows(written.predictions) as CaptureRecord['predictions'],
      };

      // Act
      sink.capture(record, {
        instances: joinRows(instances.map((i) => JSON.stringify(i))),
        predictions: written.predictions,
      });

      // Assess: whole lines within the size, and together the record.
      expect(lines.length).toBeGreaterThan(2);
      const records = lines.map((line) => {
        expect(line).toBeInstanceOf(Uint8Array);
        const text = Buffer.from(line as Uint8Array).toString('utf8');
        expect(text.endsWith('}\n')).toBe(true);
        expect(text.indexOf('\n')).toBe(text.length - 1);
        const parsed = JSON.parse(text) as { record: CaptureRecord };
        expect(Buffer.byteLength(JSON.stringify(parsed.record))).toBeLessThanOrEqual(MAX_RECORD_BYTES);
        return parsed.record;
      });
      expect(records.flatMap((r) => r.instances)).toEqual(record.instances);
      expect(records.flatMap((r) => r.predictions)).toEqual(record.predictions);
      expect(memory.size).toBe(done ? 1 : lines.length);
    },
  );
});

describe('stdoutLine', () => {
  /** What stdoutLine returns in a child process whose stdout is a pipe, for a line of `bytes` bytes. */
  function returned(bytes: number, replaceWrite = false): string {
    const sink = fileURLToPath(new URL('../../../lambdas/shared/capture-log-sink.ts', import.meta.url));
    const script = [
      `const { stdoutLine } = await import(${JSON.stringify(sink)});`,
      replaceWrite
        ? 'const write = process.stdout.write.bind(process.stdout); process.stdout.write = (c) => write(c);'
        : '',
      `const line = Buffer.alloc(${bytes}, 120); line[line.length - 1] = 10;`,
      'process.stderr.write(String(stdoutLine(line)));',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.length).toBe(bytes);
    return run.stderr;
  }

  it('is done with the bytes when the pipe took them at once, and not while they wait to be written', () => {
    expect(returned(1000)).toBe('true');
    // Far more than a pipe holds: the rest is queued, holding the bytes.
    expect(returned(8 * 1024 * 1024)).toBe('false');
  });

  it("is never done with them when something replaced the stream's write (it may keep them)", () => {
    expect(returned(1000, true)).toBe('false');
  });
});

describe('LogCaptureSink and a row too large for a log line', () => {
  it('logs a row over the split size on its own line, and leaves out one over the row limit', async () => {
    const sink = new LogCaptureSink(stdoutLine, {
      service: 'svc',
      maxRecordBytes: 2000,
      maxRowRecordBytes: 3000,
    });
    const ids = [
      '00000000-0000-4000-8000-000000000001',
      '00000000-0000-4000-8000-000000000002',
      '00000000-0000-4000-8000-000000000003',
    ];
    const record: CaptureRecord = {
      type: 'capture',
      time: '2026-05-01T12:00:00.000Z',
      model: { version: 1, sha256: 'e'.repeat(64) },
      // 2,400 UTF-8 bytes, and 3,600: one over the split size, one over the row limit too.
      instances: [{ city: 'ü'.repeat(1200) }, { city: 'porto' }, { city: 'ü'.repeat(1800) }],
      predictions: ids.map((predictionId) => ({ predictionId, value: 1 })),
    };
    const { lines } = await stdoutJson(async () => sink.capture(record));
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['INFO', 'driftline capture'],
      ['INFO', 'driftline capture'],
      ['WARN', 'driftline capture row too large to log: left out'],
    ]);
    expect((lines[0]?.record as CaptureRecord | undefined)?.predictions.map((p) => p.predictionId)).toEqual([
      ids[0],
    ]);
    expect((lines[1]?.record as CaptureRecord | undefined)?.predictions.map((p) => p.predictionId)).toEqual([
      ids[1],
    ]);
    expect(lines[2]).toMatchObject({ service: 'svc', limit: 3000 });
    expect(lines[2]?.bytes).toBeGreaterThan(3000);
  });
});

describe('PowertoolsServingMetrics', () => {
  it('emits request metrics, errors by code and predicted classes as EMF', async () => {
    const metrics = new Metrics({ namespace: 'DriftlineTest', serviceName: 'svc' });
    const serving = new PowertoolsServingMetrics(metrics);
    const { lines } = await stdoutJson(async () => {
      serving.observe({
        route: 'predict',
        status: 400,
        errorCode: 'invalid_request',
        latencyMs: 2,
        modelVersion: '4',
      });
      metrics.publishStoredMetrics();
      serving.observe({
        route: 'predict',
        status: 200,
        latencyMs: 3,
        modelVersion: '4',
        instances: 5,
        unknownCategories: 1,
        ignoredFields: 0,
        classCounts: { stay: 3, churn: 2 },
      });
      metrics.publishStoredMetrics();
    });
    expect(lines.find((l) => l.Errors === 1)).toMatchObject({
      service: 'svc',
      route: 'predict',
      code: 'invalid_request',
    });
    expect(
      lines
        .filter((l) => l.PredictedClass !== undefined)
        .map((l) => [l.class, l.PredictedClass, l.modelVersion]),
    ).toEqual([
      ['stay', 3, '4'],
      ['churn', 2, '4'],
    ]);
    expect(lines.filter((l) => l.Requests === 1).map((l) => [l.Latency, l.Instances ?? null])).toEqual([
      [2, null],
      [3, 5],
    ]);
  });
});
