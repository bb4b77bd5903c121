/**
 * The JSON Schemas API Gateway checks request bodies against: their exact shape for a sample config,
 * and — the property that matters — that they never refuse a body the handler's own validation accepts,
 * so the API answers the same in AWS as under `driftline serve`.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipelines/config/load.ts';
import {
  categoricalEnum,
  feedbackRequestJsonSchema,
  type JsonSchemaDraft4,
  predictRequestJsonSchema,
  UUID_PATTERN,
} from '../../pipelines/serving/request-json-schema.ts';
import { FLOAT32_MAX, MAX_CATEGORY_LENGTH, RequestValidator } from '../../pipelines/serving/validation.ts';

const config = parseConfig({
  project: { name: 'churn' },
  task: 'binary',
  target: 'churned',
  features: [
    { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
    { name: 'income', type: 'numeric' },
    { name: 'city', type: 'categorical', nullable: true },
    { name: 'plan', type: 'categorical', values: ['basic', 'plus', 'pro'] },
    { name: 'zip', type: 'categorical', nullable: true, values: ['1000', '2000', 'true'] },
  ],
  api: { maxInstances: 3 },
});

/** The draft-4 keywords the generated schemas use, checked as API Gateway's validator checks them. */
function conforms(schema: JsonSchemaDraft4, value: unknown): boolean {
  const typeOf = (v: unknown): string =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v;
  if (schema.type !== undefined) {
    const types: readonly string[] = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const actual = typeOf(value);
    const integer = actual === 'number' && Number.isInteger(value);
    if (!types.includes(actual) && !(integer && types.includes('integer'))) return false;
  }
  if (schema.enum !== undefined && !schema.enum.some((allowed) => allowed === value)) return false;
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return false;
    if (schema.maximum !== undefined && value > schema.maximum) return false;
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) return false;
    if (schema.maxLength !== undefined && length > schema.maxLength) return false;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return false;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return false;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return false;
    const items = schema.items;
    if (items !== undefined && !value.every((item) => conforms(items, item))) return false;
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    if (schema.required?.some((name) => !Object.hasOwn(record, name))) return false;
    for (const [name, child] of Object.entries(record)) {
      const property = schema.properties?.[name];
      if (property !== undefined && !conforms(property, child)) return false;
      if (property === undefined && schema.additionalProperties === false) return false;
    }
  }
  return true;
}

const validator = new RequestValidator(config.features, config.api.maxInstances);
const good = { age: 30, income: 900, city: 'lisbon', plan: 'pro', zip: '1000' };

/** Whether the handler accepts a `/predict` body (413 counts as refused, with a different status). */
function handlerAccepts(body: unknown): boolean {
  try {
    validator.instances(body);
    return true;
  } catch {
    return false;
  }
}

describe('predictRequestJsonSchema', () => {
  it('describes the envelope and every feature of a sample config', () => {
    // Act
    const schema = predictRequestJsonSchema(config);

    // Assess
    expect(schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      title: 'churn predict request',
      type: 'object',
      required: ['instances'],
      additionalProperties: false,
      properties: {
        instances: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['income', 'plan'],
            properties: {
              age: { type: ['number', 'null'], minimum: 0, maximum: 120 },
              income: { type: 'number', minimum: -FLOAT32_MAX, maximum: FLOAT32_MAX },
              city: { type: ['string', 'number', 'boolean', 'null'], maxLength: MAX_CATEGORY_LENGTH },
              plan: {
                type: ['string', 'number', 'boolean'],
                minLength: 1,
                maxLength: MAX_CATEGORY_LENGTH,
                enum: ['basic', 'plus', 'pro'],
              },
              zip: {
                type: ['string', 'number', 'boolean', 'null'],
                maxLength: MAX_CATEGORY_LENGTH,
                enum: ['1000', 1000, '2000', 2000, 'true', true, '', null],
              },
            },
          },
        },
      },
    });
  });

  it('leaves the instance count to the handler (413) unless asked to enforce it at the edge', () => {
    const schema = predictRequestJsonSchema(config);
    const enforced = predictRequestJsonSchema(config, { enforceMaxInstances: true });

    expect(schema.properties?.instances?.maxItems).toBeUndefined();
    expect(enforced.properties?.instances?.maxItems).toBe(3);
  });

  it('leaves out "required" when every feature is nullable (draft 4 forbids an empty list)', () => {
    const allNullable = parseConfig({
      ...config,
      features: [{ name: 'x', type: 'numeric', nullable: true }],
    });

    const schema = predictRequestJsonSchema(allNullable);

    expect(schema.properties?.instances?.items).toEqual({
      type: 'object',
      properties: { x: { type: ['number', 'null'], minimum: -FLOAT32_MAX, maximum: FLOAT32_MAX } },
    });
  });

  const bodies: [string, unknown][] = [
    ['a valid instance', { instances: [good] }],
    [
      'absent and null nullable features',
      {
        instances: [
          { income: 1, plan: 'basic' },
          { ...good, age: null },
        ],
      },
    ],
    ['extra keys in an instance', { instances: [{ ...good, id: 7, churned: true }] }],
    [
      'a number or boolean for a categorical',
      {
        instances: [
          { ...good, city: 42, zip: 2000 },
          { ...good, zip: true },
        ],
      },
    ],
    ['"" for a nullable categorical', { instances: [{ ...good, city: '', zip: '' }] }],
    [
      'range ends',
      {
        instances: [
          { ...good, age: 0 },
          { ...good, age: 120 },
        ],
      },
    ],
    ['a string for a numeric', { instances: [{ ...good, age: '30' }] }],
    ['a value out of range', { instances: [{ ...good, age: 121 }] }],
    ['beyond float32', { instances: [{ ...good, income: 1e39 }] }],
    ['a missing required feature', { instances: [{ age: 1, plan: 'pro' }] }],
    ['null for a required feature', { instances: [{ ...good, income: null }] }],
    ['a value not in the list', { instances: [{ ...good, plan: 'enterprise' }] }],
    ['a number not in the list', { instances: [{ ...good, zip: 3000 }] }],
    ['"" for a non-nullable categorical', { instances: [{ ...good, plan: '' }] }],
    ['a too long category', { instances: [{ ...good, city: 'x'.repeat(MAX_CATEGORY_LENGTH + 1) }] }],
    ['an object for a categorical', { instances: [{ ...good, city: {} }] }],
    ['an instance that is not an object', { instances: [good, 3] }],
    ['no instances', { instances: [] }],
    ['a misspelt envelope', { instance: [good] }],
    ['an extra top-level key', { instances: [good], model: 1 }],
    ['not an object', [good]],
    ['too many instances (413 in the handler)', { instances: [good, good, good, good] }],
  ];

  it.each(bodies)('never refuses what the handler accepts: %s', (_name, body) => {
    const schema = predictRequestJsonSchema(config);

    if (handlerAccepts(body)) expect(conforms(schema, body)).toBe(true);
  });

  it('refuses at the edge what the handler refuses with 400, for the rules a schema can state', () => {
    const schema = predictRequestJsonSchema(config);
    const refusedByBoth = bodies.filter(([name]) => !name.startsWith('too many')).map(([, body]) => body);

    const disagreements = refusedByBoth.filter((body) => conforms(schema, body) !== handlerAccepts(body));

    expect(disagreements).toEqual([]);
  });
});

describe('feedbackRequestJsonSchema', () => {
  it('describes strict {predictionId, label} items, a class-like label for classification', () => {
    const schema = feedbackRequestJsonSchema(config);

    expect(schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      title: 'churn feedback request',
      type: 'object',
      required: ['feedback'],
      additionalProperties: false,
      properties: {
        feedback: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['predictionId', 'label'],
            additionalProperties: false,
            properties: {
              predictionId: { type: 'string', pattern: UUID_PATTERN },
              label: { type: ['string', 'number', 'boolean'] },
            },
          },
        },
      },
    });
  });

  it('takes a number label for regression', () => {
    const schema = feedbackRequestJsonSchema({ ...config, task: 'regression' });

    expect(schema.properties?.feedback?.items?.properties?.label).toEqual({ type: 'number' });
  });

  it('agrees with the handler on feedback bodies', () => {
    const schema = feedbackRequestJsonSchema(config);
    const target = { task: 'binary' as const, classes: ['stay', 'churn'] };
    const id = '2f1c7a52-8d4e-4c8e-9a53-3b0f6f0d2f11';
    const accepted = [{ feedback: [{ predictionId: id, label: 'churn' }] }];
    const refused = [
      { feedback: [] },
      { feedback: [{ predictionId: 'nope', label: 'churn' }] },
      { feedback: [{ predictionId: id }] },
      { feedback: [{ predictionId: id, label: 'churn', note: 'x' }] },
      { feedbacks: [{ predictionId: id, label: 'churn' }] },
    ];

    for (const body of accepted) {
      expect(() => validator.feedback(body, target)).not.toThrow();
      expect(conforms(schema, body)).toBe(true);
    }
    for (const body of refused) {
      expect(() => validator.feedback(body, target)).toThrow();
      expect(conforms(schema, body), JSON.stringify(body)).toBe(false);
    }
  });
});

describe('categoricalEnum', () => {
  it('adds the numbers and booleans that read as an allowed value, and "" and null when nullable', () => {
    expect(categoricalEnum(['1.50', '1.5', '007', '-3', 'false', 'Infinity'], false)).toEqual([
      '1.50',
      '1.5',
      1.5,
      '007',
      '-3',
      -3,
      'false',
      false,
      'Infinity',
    ]);
    expect(categoricalEnum(['a'], true)).toEqual(['a', '', null]);
  });
});
