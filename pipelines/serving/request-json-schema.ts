/**
 * JSON Schemas (draft 4, the dialect API Gateway models speak) of the `/predict` and `/feedback` request
 * bodies, generated from the config's feature schema. API Gateway checks them at the edge, before the
 * Lambda runs; the handler validates again with zod (`validation.ts`), which stays the reference.
 *
 * The schemas are never stricter than the handler — a body the handler accepts must pass them, or the
 * API would behave differently in AWS than under `driftline serve`. Where a JSON Schema cannot say
 * what the handler checks (a label among the served model's classes, a UUID's version digit), they are
 * looser and leave it to the handler:
 * - numeric features: JSON numbers within the feature's `range` and the float32 range;
 * - categorical features: a string, or a number or boolean (the handler reads it as its `String()`
 *   form); with `values`, only those values (and the numbers and booleans that read as one of them);
 *   at most {@link MAX_CATEGORY_LENGTH} characters; `""` only when nullable (it is a missing value);
 * - a feature that is not nullable is required and not null; keys that are not features are allowed
 *   (the handler ignores them);
 * - the envelope is strict (`{"instances": [...]}` / `{"feedback": [...]}`, nothing else) and holds at
 *   least one item.
 *
 * The count limit `api.maxInstances` is left out by default: the handler answers an oversized request
 * with 413 `too_many_instances` (DESIGN.md, "HTTP API"), whereas a failed API Gateway model check can
 * only answer 400.
 */
import type { DriftlineConfig, FeatureSpec } from '../config/schema.ts';
import { FLOAT32_MAX, MAX_CATEGORY_LENGTH } from './validation.ts';

/** The JSON Schema draft 4 meta-schema URI, which API Gateway models declare. */
export const JSON_SCHEMA_DRAFT_4 = 'http://json-schema.org/draft-04/schema#';

/** The primitive type names of JSON Schema draft 4. */
export type JsonSchemaTypeName = 'array' | 'boolean' | 'integer' | 'null' | 'number' | 'object' | 'string';

/** A JSON value allowed in `enum`. */
export type JsonSchemaEnumValue = string | number | boolean | null;

/** The subset of JSON Schema draft 4 these request schemas use. */
export interface JsonSchemaDraft4 {
  readonly $schema?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: JsonSchemaTypeName | readonly JsonSchemaTypeName[];
  readonly properties?: Readonly<Record<string, JsonSchemaDraft4>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly items?: JsonSchemaDraft4;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly enum?: readonly JsonSchemaEnumValue[];
}

/** Options of {@link predictRequestJsonSchema}. */
export interface PredictRequestSchemaOptions {
  /**
   * Also refuse more than `api.maxInstances` instances (`maxItems`). API Gateway then answers such a
   * request with 400 instead of the handler's 413 `too_many_instances`.
   * @default false
   */
  readonly enforceMaxInstances?: boolean;
}

/** Any UUID spelling (8-4-4-4-12 hex digits); the handler checks the version and variant digits. */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

function withNull(
  type: JsonSchemaTypeName | readonly JsonSchemaTypeName[],
  nullable: boolean,
): JsonSchemaTypeName | JsonSchemaTypeName[] {
  const types = typeof type === 'string' ? [type] : [...type];
  if (nullable) types.push('null');
  return types.length === 1 ? (types[0] as JsonSchemaTypeName) : types;
}

function numericFeature(feature: FeatureSpec): JsonSchemaDraft4 {
  const min = feature.range?.min;
  const max = feature.range?.max;
  return {
    type: withNull('number', feature.nullable),
    minimum: min === undefined ? -FLOAT32_MAX : Math.max(min, -FLOAT32_MAX),
    maximum: max === undefined ? FLOAT32_MAX : Math.min(max, FLOAT32_MAX),
  };
}

/**
 * The JSON values the handler reads as one of `values`: each string, the number whose `String()` is
 * that string (`"12345"` → 12345), and `true` / `false` for `"true"` / `"false"`.
 */
export function categoricalEnum(values: readonly string[], nullable: boolean): JsonSchemaEnumValue[] {
  const out: JsonSchemaEnumValue[] = [];
  const add = (value: JsonSchemaEnumValue): void => {
    if (!out.includes(value)) out.push(value);
  };
  for (const value of values) {
    add(value);
    const number = Number(value);
    if (Number.isFinite(number) && String(number) === value) add(number);
    if (value === 'true') add(true);
    if (value === 'false') add(false);
  }
  if (nullable) {
    add('');
    add(null);
  }
  return out;
}

function categoricalFeature(feature: FeatureSpec): JsonSchemaDraft4 {
  return {
    type: withNull(['string', 'number', 'boolean'], feature.nullable),
    ...(feature.nullable ? {} : { minLength: 1 }),
    maxLength: MAX_CATEGORY_LENGTH,
    ...(feature.values === undefined ? {} : { enum: categoricalEnum(feature.values, feature.nullable) }),
  };
}

/** The schema of one instance: an object of feature values. */
export function instanceJsonSchema(features: readonly FeatureSpec[]): JsonSchemaDraft4 {
  const properties: Record<string, JsonSchemaDraft4> = {};
  for (const feature of features) {
    properties[feature.name] =
      feature.type === 'numeric' ? numericFeature(feature) : categoricalFeature(feature);
  }
  const required = features.filter((f) => !f.nullable).map((f) => f.name);
  // Draft 4 requires a non-empty `required`, so it is left out when every feature is nullable.
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
}

/**
 * The schema of a `POST /predict` body `{"instances":[{<feature>: value, ...}, ...]}` for a config.
 */
export function predictRequestJsonSchema(
  config: Pick<DriftlineConfig, 'project' | 'features' | 'api'>,
  options: PredictRequestSchemaOptions = {},
): JsonSchemaDraft4 {
  return {
    $schema: JSON_SCHEMA_DRAFT_4,
    title: `${config.project.name} predict request`,
    type: 'object',
    properties: {
      instances: {
        type: 'array',
        minItems: 1,
        ...(options.enforceMaxInstances === true ? { maxItems: config.api.maxInstances } : {}),
        items: instanceJsonSchema(config.features),
      },
    },
    required: ['instances'],
    additionalProperties: false,
  };
}

/**
 * The schema of a `POST /feedback` body `{"feedback":[{"predictionId","label"}, ...]}`: a label is a
 * number for regression, else a class name (or a number or boolean naming one); which classes exist is
 * known only to the served model, so the handler checks that.
 */
export function feedbackRequestJsonSchema(
  config: Pick<DriftlineConfig, 'project' | 'task' | 'api'>,
  options: PredictRequestSchemaOptions = {},
): JsonSchemaDraft4 {
  const label: JsonSchemaDraft4 =
    config.task === 'regression' ? { type: 'number' } : { type: ['string', 'number', 'boolean'] };
  return {
    $schema: JSON_SCHEMA_DRAFT_4,
    title: `${config.project.name} feedback request`,
    type: 'object',
    properties: {
      feedback: {
        type: 'array',
        minItems: 1,
        ...(options.enforceMaxInstances === true ? { maxItems: config.api.maxInstances } : {}),
        items: {
          type: 'object',
          properties: { predictionId: { type: 'string', pattern: UUID_PATTERN }, label },
          required: ['predictionId', 'label'],
          additionalProperties: false,
        },
      },
    },
    required: ['feedback'],
    additionalProperties: false,
  };
}
