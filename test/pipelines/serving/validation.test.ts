/** Request bodies against the feature schema: what passes, what is refused and how it is reported. */
import { describe, expect, it } from 'vitest';
import { ApiError, errorResponse, MAX_ERROR_DETAILS } from '../../../pipelines/serving/api-error.ts';
import { readJsonBody } from '../../../pipelines/serving/http.ts';
import { FLOAT32_MAX, MAX_CATEGORY_LENGTH, RequestValidator } from '../../../pipelines/serving/validation.ts';
import { servingConfig } from '../../helpers/serving-fixtures.ts';

const config = servingConfig('binary', { maxInstances: 5 });
const validator = new RequestValidator(config.features, config.api.maxInstances);
const good = { age: 30, income: 900, city: 'lisbon', plan: 'pro' };

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('RequestValidator.instances', () => {
  it('accepts valid rows, keeps only features and counts ignored keys', () => {
    // Act
    const out = validator.instances({
      instances: [good, { income: 1, plan: 'basic', city: null, id: 7, target: 'x' }, { ...good, city: 42 }],
    });

    // Assess
    expect(out.ignoredFields).toBe(2);
    expect(out.rows.map((r) => ({ ...r }))).toEqual([
      good,
      { income: 1, plan: 'basic', city: null },
      { ...good, city: 42 },
    ]);
    expect(Object.getPrototypeOf(out.rows[0])).toBeNull();
  });

  it('lists every offending field with its path', () => {
    // Act
    const error = refusal(() =>
      validator.instances({
        instances: [
          good,
          { age: '30', income: null, city: 'x', plan: 'enterprise' },
          { age: -1, plan: '' },
          { age: 121, income: 1e39, city: {}, plan: true },
        ],
      }),
    );

    // Assess
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.details).toEqual([
      { path: 'instances[1].age', message: 'expected a number, received a string' },
      { path: 'instances[1].income', message: 'must not be null: the feature is not nullable' },
      { path: 'instances[1].plan', message: 'expected "basic" | "plus" | "pro", received "enterprise"' },
      { path: 'instances[2].age', message: 'expected at least 0, received -1' },
      { path: 'instances[2].income', message: 'required: the feature is not nullable' },
      {
        path: 'instances[2].plan',
        message: 'must not be empty: "" is a missing value and the feature is not nullable',
      },
      { path: 'instances[3].age', message: 'expected at most 120, received 121' },
      {
        path: 'instances[3].income',
        message: 'expected a number within the float32 range of the model (about ±3.4e38)',
      },
      { path: 'instances[3].city', message: 'expected a string, received an object' },
      { path: 'instances[3].plan', message: 'expected "basic" | "plus" | "pro", received "true"' },
    ]);
  });

  it('refuses numbers beyond a double (Infinity after parsing) and strings for numbers', () => {
    const parsed = JSON.parse('{"instances":[{"income":1e400,"plan":"pro"},{"income":"12","plan":"pro"}]}');
    expect(refusal(() => validator.instances(parsed)).details).toEqual([
      { path: 'instances[0].income', message: 'expected a finite number' },
      { path: 'instances[1].income', message: 'expected a number, received a string' },
    ]);
    expect(validator.instances({ instances: [{ income: FLOAT32_MAX, plan: 'pro' }] }).rows).toHaveLength(1);
  });

  it('refuses over-long categories', () => {
    const error = refusal(() =>
      validator.instances({
        instances: [{ income: 1, plan: 'pro', city: 'x'.repeat(MAX_CATEGORY_LENGTH + 1) }],
      }),
    );
    expect(error.details).toEqual([
      { path: 'instances[0].city', message: `expected at most ${MAX_CATEGORY_LENGTH} characters` },
    ]);
  });

  it('checks the envelope: object, only "instances", an array, 1..maxInstances items', () => {
    expect(refusal(() => validator.instances([good])).details).toEqual([
      { path: '(root)', message: 'expected an object, received an array' },
    ]);
    expect(refusal(() => validator.instances({ instance: [good] })).details).toEqual([
      { path: 'instances', message: 'required: an array of instances' },
      { path: 'instance', message: 'unknown key; the body holds only "instances"' },
    ]);
    expect(refusal(() => validator.instances({ instances: 'x' })).status).toBe(400);
    const empty = refusal(() => validator.instances({ instances: [] }));
    expect([empty.status, empty.details]).toEqual([
      400,
      [{ path: 'instances', message: 'expected at least one instance' }],
    ]);
    const many = refusal(() => validator.instances({ instances: Array.from({ length: 6 }, () => good) }));
    expect([many.status, many.code]).toEqual([413, 'too_many_instances']);
    expect(refusal(() => validator.instances({ instances: [1, null, []] })).details).toEqual([
      { path: 'instances[0]', message: 'expected an object of feature values, received 1' },
      { path: 'instances[1]', message: 'expected an object of feature values, received null' },
      { path: 'instances[2]', message: 'expected an object of feature values, received an array' },
    ]);
  });

  it('treats prototype keys as data, and serves features named like them', () => {
    // Prepare: JSON.parse makes "__proto__" an own key, as a request body would.
    const polluted = JSON.parse(
      '{"instances":[{"income":1,"plan":"pro","__proto__":{"age":"x"},"constructor":1}]}',
    );
    const odd = servingConfig('binary');
    const features = [
      { name: 'constructor', type: 'numeric' as const, nullable: false },
      { name: '__proto__', type: 'categorical' as const, nullable: true },
      { name: 'toString', type: 'numeric' as const, nullable: true },
    ];
    const strange = new RequestValidator(features, odd.api.maxInstances);

    // Act
    const out = validator.instances(polluted);
    const missing = refusal(() => strange.instances({ instances: [{}] }));
    const rows = strange.instances(JSON.parse('{"instances":[{"constructor":2,"__proto__":"a"}]}')).rows;

    // Assess
    expect(out.ignoredFields).toBe(2);
    expect(({} as Record<string, unknown>).age).toBeUndefined();
    expect(missing.details).toEqual([
      { path: 'instances[0].constructor', message: 'required: the feature is not nullable' },
    ]);
    expect(Object.entries(rows[0] ?? {})).toEqual([
      ['constructor', 2],
      ['__proto__', 'a'],
    ]);
  });
});

describe('RequestValidator.feedback', () => {
  const id = '7d6b0a5e-2f4c-4e8a-9b1d-3c2e1f0a9b8c';

  it('accepts labels of the served classes, numbers for regression', () => {
    expect(
      validator.feedback(
        { feedback: [{ predictionId: id, label: 'churn' }] },
        { task: 'binary', classes: ['stay', 'churn'] },
      ),
    ).toEqual([{ predictionId: id, label: 'churn' }]);
    expect(
      validator.feedback(
        { feedback: [{ predictionId: id, label: 1 }] },
        { task: 'binary', classes: ['0', '1'] },
      ),
    ).toEqual([{ predictionId: id, label: '1' }]);
    expect(
      validator.feedback(
        { feedback: [{ predictionId: id, label: 2.5 }] },
        { task: 'regression', classes: [] },
      ),
    ).toEqual([{ predictionId: id, label: 2.5 }]);
  });

  it('lists every offending field', () => {
    const error = refusal(() =>
      validator.feedback(
        { feedback: [{ predictionId: 'nope', label: 'maybe' }, { label: 'stay', extra: 1 }, 3] },
        { task: 'binary', classes: ['stay', 'churn'] },
      ),
    );
    expect(error.details).toEqual([
      { path: 'feedback[0].predictionId', message: 'expected the predictionId of a prediction (a UUID)' },
      {
        path: 'feedback[0].label',
        message: `expected one of the model's classes "stay" | "churn", received "maybe"`,
      },
      {
        path: 'feedback[1].predictionId',
        message: 'required: the predictionId the prediction was returned with',
      },
      { path: 'feedback[1]', message: 'unknown key "extra"; an item holds predictionId and label' },
      { path: 'feedback[2]', message: 'expected an object {"predictionId","label"}, received 3' },
    ]);
    const regression = refusal(() =>
      validator.feedback(
        { feedback: [{ predictionId: id, label: 'high' }] },
        { task: 'regression', classes: [] },
      ),
    );
    expect(regression.details).toEqual([
      {
        path: 'feedback[0].label',
        message: 'expected a finite number (the observed value), received a string',
      },
    ]);
    expect(
      refusal(() =>
        validator.feedback(
          { feedback: Array.from({ length: 6 }, () => ({ predictionId: id, label: 1 })) },
          { task: 'regression', classes: [] },
        ),
      ).status,
    ).toBe(413);
  });
});

describe('readJsonBody', () => {
  const request = (headers: Record<string, string>, body: string | null, isBase64Encoded = false) => ({
    method: 'POST',
    path: '/predict',
    headers,
    body,
    isBase64Encoded,
  });
  const json = { 'content-type': 'application/json' };

  it('parses JSON sent as JSON, base64 or not, with parameters', () => {
    expect(readJsonBody(request({ 'content-type': 'application/json; charset=UTF-8' }, '{"a":1}'))).toEqual({
      a: 1,
    });
    expect(readJsonBody(request({ 'content-type': 'application/vnd.x+json' }, '[1]'))).toEqual([1]);
    expect(readJsonBody(request(json, Buffer.from('{"a":2}').toString('base64'), true))).toEqual({ a: 2 });
  });

  it('415 for a missing or non-JSON content type, a foreign charset or a content encoding', () => {
    const headerSets: Record<string, string>[] = [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'application/json; charset=latin1' },
      { ...json, 'content-encoding': 'gzip' },
    ];
    for (const headers of headerSets) {
      expect(refusal(() => readJsonBody(request(headers, '{}'))).status).toBe(415);
    }
  });

  it('400 invalid_json for malformed JSON, bad UTF-8 or an empty body; 413 over the size limit', () => {
    for (const body of ['{"a":', '', '   ', 'nope', '{"a":1}x']) {
      expect(refusal(() => readJsonBody(request(json, body))).code).toBe('invalid_json');
    }
    const latin = Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]).toString('base64');
    expect(refusal(() => readJsonBody(request(json, latin, true))).code).toBe('invalid_json');
    expect(refusal(() => readJsonBody(request(json, '[1,2,3]'), 4)).code).toBe('payload_too_large');
  });
});

describe('errorResponse', () => {
  it('caps the details and never shows an unexpected error', () => {
    const details = Array.from({ length: MAX_ERROR_DETAILS + 5 }, (_, i) => ({
      path: `x[${i}]`,
      message: 'bad',
    }));
    const capped = errorResponse(new ApiError('invalid_request', 'bad', { details }));
    expect(capped.body.error.details).toHaveLength(MAX_ERROR_DETAILS);
    expect(capped.body.error.message).toMatch(/1005 problems/);
    const internal = errorResponse(new TypeError('secret at /var/task/x.js:1'));
    expect(internal).toMatchObject({ status: 500, body: { error: { code: 'internal', details: [] } } });
    expect(JSON.stringify(internal.body)).not.toMatch(/secret|var\/task/);
  });
});
