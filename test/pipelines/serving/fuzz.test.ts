/**
 * Fuzzing the HTTP API: 10,000 random and malformed requests (random JSON, deep nesting, huge numbers,
 * wrong types, prototype-pollution keys, unicode, truncated JSON, binary, odd headers, methods and
 * paths) sent to `driftline serve` over loopback. No answer may be a 5xx or carry a stack trace, every
 * answer is the API's JSON, and the server is healthy afterwards. Seeded, so a failure reproduces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../../pipelines/cli/commands/serve.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { createPrng, type Prng } from '../../../pipelines/train/gbdt/prng.ts';
import { fixtureModel, promoteModel, servingConfig } from '../../helpers/serving-fixtures.ts';
import { call } from '../../helpers/serving-http.ts';
import { tempDir } from '../../helpers/tmp.ts';

const REQUESTS = 10_000;
const CONCURRENCY = 16;

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
}

const KEYS = [
  'instances',
  'feedback',
  'age',
  'income',
  'city',
  'plan',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'predictionId',
  'label',
  '',
  ' ',
  'ünïcødé',
  '💥',
  '\u0000',
  'a'.repeat(300),
];
const STRINGS = [
  '',
  'lisbon',
  'pro',
  'basic',
  'NaN',
  'Infinity',
  '1e400',
  '-0',
  'null',
  'true',
  '\u0000',
  '\ud800',
  '\udfff',
  '💥🔥',
  'é\u0301',
  '<script>',
  '../../etc/passwd',
  '%00',
  'x'.repeat(2000),
  '\\',
  '"',
  '\n\r\t',
];
const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '1e400',
  '-1e400',
  '1e308',
  '1.7976931348623157e308',
  '5e-324',
  '3.4028235e38',
  '3.5e38',
  '123456789012345678901234567890',
  '0.1',
  '1E5',
  '120',
  '121',
  '-1e-400',
];

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.nextInt(items.length)] as T;
}

/** A random JSON text (not a value: numbers like 1e400 are written as they would arrive). */
function randomJson(prng: Prng, depth: number): string {
  const kind = prng.nextInt(depth > 4 ? 5 : 8);
  switch (kind) {
    case 0:
      return 'null';
    case 1:
      return prng.nextFloat() < 0.5 ? 'true' : 'false';
    case 2:
      return pick(prng, NUMBERS);
    case 3:
      return String((prng.nextFloat() - 0.5) * 10 ** prng.nextInt(12));
    case 4:
      return JSON.stringify(pick(prng, STRINGS));
    case 5:
    case 6: {
      const n = prng.nextInt(5);
      const entries = Array.from(
        { length: n },
        () => `${JSON.stringify(pick(prng, KEYS))}:${randomJson(prng, depth + 1)}`,
      );
      return `{${entries.join(',')}}`;
    }
    default: {
      const n = prng.nextInt(5);
      return `[${Array.from({ length: n }, () => randomJson(prng, depth + 1)).join(',')}]`;
    }
  }
}

/** A plausible instance with one field spoiled or odd. */
function randomInstance(prng: Prng): string {
  const fields: Record<string, string> = {
    age: pick(prng, [...NUMBERS, 'null', '"30"', '[]', '{}']),
    income: pick(prng, [...NUMBERS, '900', 'null', '"900"', 'true']),
    city: pick(prng, [...STRINGS.map((s) => JSON.stringify(s)), '42', 'null', 'false', '{"a":1}']),
    plan: pick(prng, ['"pro"', '"basic"', '"plus"', '"gold"', '""', 'null', '1']),
  };
  const entries = Object.entries(fields).filter(() => prng.nextFloat() < 0.9);
  if (prng.nextFloat() < 0.3) entries.push([pick(prng, KEYS), randomJson(prng, 3)]);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

function nested(prng: Prng): string {
  const depth = 1 + prng.nextInt(prng.nextFloat() < 0.1 ? 100_000 : 2000);
  const open = prng.nextFloat() < 0.5 ? '[' : '{"instances":';
  const close = open === '[' ? ']' : '}';
  const inner =
    prng.nextFloat() < 0.5
      ? `${open.repeat(depth)}1${close.repeat(depth)}`
      : `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return prng.nextFloat() < 0.5 ? inner : `{"instances":[{"age":${inner},"income":1,"plan":"pro"}]}`;
}

function randomBody(prng: Prng): string | Uint8Array {
  const kind = prng.nextInt(10);
  switch (kind) {
    case 0:
      return randomJson(prng, 0);
    case 1:
      return nested(prng);
    case 2: {
      const n = prng.nextInt(4) + 1;
      return `{"instances":[${Array.from({ length: n }, () => randomInstance(prng)).join(',')}]}`;
    }
    case 3: {
      // Prototype pollution attempts at every level.
      const key = pick(prng, ['__proto__', 'constructor', 'prototype']);
      return pick(prng, [
        `{"${key}":{"polluted":true},"instances":[{"income":1,"plan":"pro"}]}`,
        `{"instances":[{"income":1,"plan":"pro","${key}":{"polluted":true,"income":"x"}}]}`,
        `{"instances":[{"income":1,"plan":"pro","constructor":{"prototype":{"polluted":true}}}]}`,
        `{"feedback":[{"predictionId":"7d6b0a5e-2f4c-4e8a-9b1d-3c2e1f0a9b8c","label":"churn","${key}":{"polluted":true}}]}`,
        `{"instances":{"${key}":[]}}`,
      ]);
    }
    case 4: {
      // Truncated valid JSON.
      const valid = `{"instances":[${randomInstance(prng)},${randomInstance(prng)}]}`;
      return valid.slice(0, prng.nextInt(valid.length));
    }
    case 5: {
      // Binary.
      const bytes = new Uint8Array(1 + prng.nextInt(512));
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = prng.nextInt(256);
      return bytes;
    }
    case 6: {
      // Unicode and escapes, lone surrogates included.
      const escapes = [
        '\\ud800',
        '\\udfff',
        '\\u0000',
        '\\uffff',
        '💥',
        'ü',
        '\\"',
        '\\\\',
        '\\x41',
        '\\u12',
      ];
      const text = Array.from({ length: 1 + prng.nextInt(8) }, () => pick(prng, escapes)).join('');
      return `{"instances":[{"income":1,"plan":"pro","city":"${text}"}]}`;
    }
    case 7: {
      // Many instances (some over the limit) or many keys.
      const n = prng.nextInt(60);
      return prng.nextFloat() < 0.5
        ? `{"instances":[${Array.from({ length: n }, () => '{"income":1,"plan":"pro"}').join(',')}]}`
        : `{${Array.from({ length: n * 20 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    }
    case 8: {
      // Feedback with random items.
      const items = Array.from({ length: prng.nextInt(4) }, () => randomJson(prng, 2));
      return `{"feedback":[${items.join(',')}]}`;
    }
    default: {
      // A valid body with one byte changed.
      const valid = `{"instances":[${randomInstance(prng)}]}`;
      const i = prng.nextInt(valid.length);
      return `${valid.slice(0, i)}${String.fromCharCode(prng.nextInt(128))}${valid.slice(i + 1)}`;
    }
  }
}

function randomRequest(prng: Prng): FuzzRequest {
  const roll = prng.nextFloat();
  const path =
    roll < 0.7
      ? '/predict'
      : roll < 0.85
        ? '/feedback'
        : pick(prng, [
            '/model',
            '/health',
            '/',
            '/predict/',
            '/PREDICT',
            '/predict/../model',
            '/%00',
            '/predict?x=1',
            `/${'a'.repeat(3000)}`,
            '/__proto__',
            '/constructor',
          ]);
  const method =
    prng.nextFloat() < 0.9
      ? path === '/model' || path === '/health'
        ? 'GET'
        : 'POST'
      : pick(prng, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const contentType =
    prng.nextFloat() < 0.85
      ? 'application/json'
      : pick(prng, [
          'text/plain',
          'application/json; charset=latin1',
          'application/octet-stream',
          'application/problem+json',
          'multipart/form-data; boundary=x',
          '',
          ';;;',
          'application/json; charset="utf-8"',
        ]);
  const headers: Record<string, string> = contentType === '' ? {} : { 'content-type': contentType };
  if (prng.nextFloat() < 0.02) headers['content-encoding'] = 'gzip';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return { method, path, headers, ...(hasBody ? { body: randomBody(prng) } : {}) };
}

const STACK = /\n\s+at |\.ts:\d+|node:internal|node_modules|file:\/\//;

let server: RunningServer;
let log: MemoryServingLog;
beforeAll(async () => {
  const store = new FsObjectStore(await tempDir('driftline-fuzz-'));
  await promoteModel(store, await fixtureModel('binary-gbdt'));
  log = new MemoryServingLog();
  server = await startServer({
    config: servingConfig('binary', { maxInstances: 50 }),
    store,
    port: 0,
    log,
    captureFlushMs: 200,
  });
});
afterAll(async () => {
  await server.close();
});

describe('fuzzing the HTTP API', () => {
  it(`answers ${REQUESTS} random and malformed requests without a 5xx, a crash or a stack trace`, async () => {
    // Prepare
    const prng = createPrng(20260501);
    const requests = Array.from({ length: REQUESTS }, () => randomRequest(prng));
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;

    // Act
    const worker = async () => {
      while (next < requests.length) {
        const index = next;
        next += 1;
        const request = requests[index] as FuzzRequest;
        const answer = await call(server.url, {
          method: request.method,
          path: request.path,
          headers: request.headers,
          ...(request.body === undefined ? {} : { body: request.body }),
        });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const problem =
          answer.status >= 500
            ? 'a 5xx'
            : STACK.test(answer.text)
              ? 'a stack trace'
              : request.method !== 'HEAD' && (answer.json === undefined || typeof answer.json !== 'object')
                ? 'a body that is not JSON'
                : answer.status >= 400 && request.method !== 'HEAD' && !isErrorBody(answer.json)
                  ? 'an error body of the wrong shape'
                  : undefined;
        if (problem !== undefined && failures.length < 10) {
          const body =
            typeof request.body === 'string'
              ? request.body.slice(0, 200)
              : `<${request.body?.length ?? 0} bytes>`;
          failures.push(
            `#${index} ${request.method} ${request.path.slice(0, 50)} ${body} → ${answer.status} ${answer.text.slice(0, 200)}: ${problem}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    // Assess
    expect(failures).toEqual([]);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 404, 405, 413, 415]));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
    const health = await call(server.url, { path: '/health' });
    expect(health.json).toMatchObject({ status: 'ok', modelLoaded: true });
    const predict = await call(server.url, {
      path: '/predict',
      body: { instances: [{ age: 30, income: 900, city: 'lisbon', plan: 'pro' }] },
    });
    expect(predict.status).toBe(200);
  });
});

function isErrorBody(json: unknown): boolean {
  const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  return (
    typeof error?.code === 'string' &&
    typeof error.message === 'string' &&
    Array.isArray(error.details) &&
    error.details.every(
      (d: { path?: unknown; message?: unknown }) =>
        typeof d.path === 'string' && typeof d.message === 'string',
    )
  );
}
