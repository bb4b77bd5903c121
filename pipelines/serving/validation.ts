/**
 * Validation of request bodies at the edge, built once from the config's feature schema (zod 4), so the
 * serving code behind it trusts its rows.
 *
 * `POST /predict` `{"instances":[{<feature>: value}]}`:
 * - the envelope is strict: an object with exactly the key `instances`, an array (a misspelt
 *   `"instance"` is a 400, not an empty request); no instances → 400; more than `api.maxInstances`
 *   → 413 (checked before any instance is looked at, so a huge array costs nothing);
 * - numeric features take JSON numbers only — `"12"` is a 400, never coerced — within the feature's
 *   `range` (inclusive) and within float32 (the model's input type; 1e39 would become Infinity);
 *   a number too large for a double (`1e400`) parses as Infinity and is refused the same way;
 * - categorical features take a string, or a number or boolean read as its `String()` form (the rule
 *   of `pipelines/model/raw.ts`, so `"zip": 12345` works), at most {@link MAX_CATEGORY_LENGTH}
 *   characters; when the config lists `values`, anything else is a 400; when it does not, an unseen
 *   value is served (the model encodes it as unknown) and counted by the API;
 * - a feature that is not `nullable` must be present and not null (and, categorical, not `""`, which
 *   is how a missing category travels); a nullable one may be null or absent;
 * - keys that are not features are ignored and counted (callers often send whole records with ids and
 *   targets; refusing them would couple every client to the exact feature list of one model).
 *   Prototype keys (`__proto__`, `constructor`) are plain data here: instances are copied into
 *   null-prototype objects before validation, so a feature may even be called `constructor`.
 * Every offending field is reported, e.g. `instances[3].distance`.
 *
 * `POST /feedback` `{"feedback":[{"predictionId","label"}]}`: strict objects (a fixed, small shape
 * where a typo should fail), `predictionId` a UUID, `label` one of the served model's classes (a
 * number or boolean counts as its `String()` form) or, for regression, a finite number; 1 to
 * `api.maxInstances` items.
 */
import { z } from 'zod';
import type { FeatureSpec } from '../config/schema.ts';
import type { ErrorDetail } from '../errors.ts';
import type { RawRow, RawValue } from '../model/raw.ts';
import { ApiError } from './api-error.ts';
import {
  type InstanceTextRules,
  instanceTextRules,
  readInstancesText,
  type TextFeature,
  type TextInstances,
} from './instances-text.ts';
import type { KnownCategories } from './known-categories.ts';
import { jsonKeys } from './predict-body.ts';

/** Longest categorical value accepted, in UTF-16 code units. */
export const MAX_CATEGORY_LENGTH = 1024;

/** The largest finite float32: a numeric input beyond it would reach the model as ±Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Rows ready for the model, with what was left out of them. */
export interface ValidatedInstances {
  /** One null-prototype row per instance holding only the config's features (absent → absent). */
  readonly rows: RawRow[];
  /** How many keys across all instances were not features and were ignored. */
  readonly ignoredFields: number;
}

/** One ground-truth label for an earlier prediction. */
export interface FeedbackItem {
  readonly predictionId: string;
  readonly label: string | number;
}

/** What feedback validation needs of the served model. */
export interface FeedbackTarget {
  readonly task: 'binary' | 'multiclass' | 'regression';
  readonly classes: readonly string[];
}

/** The feature rules the validator needs (a config feature). */
export type FeatureRule = Pick<FeatureSpec, 'name' | 'type' | 'nullable' | 'range' | 'values'>;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a number out of range';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return `an ${typeof value}`;
}

function quote(values: readonly string[], limit = 10): string {
  const shown = values.slice(0, limit).map(shortJson);
  return values.length > limit ? `${shown.join(' | ')} … (${values.length} values)` : shown.join(' | ');
}

function shortJson(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function missingMessage(input: unknown): string | undefined {
  if (input === undefined) return 'required: the feature is not nullable';
  if (input === null) return 'must not be null: the feature is not nullable';
  return undefined;
}

function numericSchema(feature: FeatureRule): z.ZodType {
  let schema = z.number({
    error: (issue) =>
      missingMessage(issue.input) ??
      (typeof issue.input === 'number'
        ? 'expected a finite number'
        : `expected a number, received ${describe(issue.input)}`),
  });
  const { min, max } = feature.range ?? {};
  if (min !== undefined) {
    schema = schema.min(min, {
      error: (issue) => `expected at least ${min}, received ${describe(issue.input)}`,
    });
  }
  if (max !== undefined) {
    schema = schema.max(max, {
      error: (issue) => `expected at most ${max}, received ${describe(issue.input)}`,
    });
  }
  const checked = schema.refine((v) => Math.abs(v) <= FLOAT32_MAX, {
    error: 'expected a number within the float32 range of the model (about ±3.4e38)',
  });
  return feature.nullable ? checked.nullish() : checked;
}

function categoricalSchema(feature: FeatureRule): z.ZodType {
  const allowed = feature.values === undefined ? undefined : new Set(feature.values);
  const listed = feature.values ?? [];
  const schema = z
    .union([z.string(), z.number(), z.boolean()], {
      error: (issue) => missingMessage(issue.input) ?? `expected a string, received ${describe(issue.input)}`,
    })
    .superRefine((value, ctx) => {
      const text = typeof value === 'string' ? value : String(value);
      if (text === '') {
        if (!feature.nullable) {
          ctx.addIssue({
            code: 'custom',
            message: 'must not be empty: "" is a missing value and the feature is not nullable',
          });
        }
        return;
      }
      if (text.length > MAX_CATEGORY_LENGTH) {
        ctx.addIssue({ code: 'custom', message: `expected at most ${MAX_CATEGORY_LENGTH} characters` });
        return;
      }
      if (allowed !== undefined && !allowed.has(text)) {
        ctx.addIssue({ code: 'custom', message: `expected ${quote(listed)}, received ${shortJson(text)}` });
      }
    });
  return feature.nullable ? schema.nullish() : schema;
}

/** `instances[3].distance` from a zod path under `root`. */
function pathOf(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

function details(root: string, issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.map((issue) => ({ path: pathOf(root, issue.path), message: issue.message }));
}

/** An own-properties copy with no prototype, so inherited names read as absent. */
function ownCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Reads the one array of a strict `{"<key>": [...]}` envelope. @throws ApiError 400 */
function envelope(body: unknown, key: string, what: string): unknown[] {
  if (!isRecord(body)) {
    throw new ApiError('invalid_request', `expected a JSON object {"${key}": [...]}`, {
      details: [{ path: '(root)', message: `expected an object, received ${describe(body)}` }],
    });
  }
  const problems: ErrorDetail[] = [];
  for (const name of Object.keys(body)) {
    if (name !== key) {
      problems.push({ path: name.slice(0, 100), message: `unknown key; the body holds only "${key}"` });
    }
  }
  const items = Object.hasOwn(body, key) ? body[key] : undefined;
  if (!Array.isArray(items)) {
    problems.unshift({
      path: key,
      message:
        items === undefined
          ? `required: an array of ${what}`
          : `expected an array of ${what}, received ${describe(items)}`,
    });
  }
  if (problems.length > 0 || !Array.isArray(items)) {
    throw new ApiError('invalid_request', 'the request body is invalid', { details: problems });
  }
  return items;
}

function checkCount(items: readonly unknown[], key: string, what: string, max: number): void {
  if (items.length === 0) {
    throw new ApiError('invalid_request', `no ${what}: send at least one`, {
      details: [{ path: key, message: `expected at least one ${what.replace(/s$/, '')}` }],
    });
  }
  if (items.length > max) {
    throw new ApiError('too_many_instances', `${items.length} ${what} in one request; the limit is ${max}`, {
      details: [{ path: key, message: `expected at most ${max} ${what}` }],
    });
  }
}

/** The features as the text readers check them (`instances-text.ts`). */
export function textFeatures(features: readonly FeatureRule[]): TextFeature[] {
  return features.map((f) => {
    const bounds = numericBounds(f);
    const accepts = acceptsValue(f);
    if (bounds !== undefined) return { name: f.name, accepts, bounds };
    return f.type === 'categorical' && f.values === undefined
      ? { name: f.name, accepts, anyStringUpTo: MAX_CATEGORY_LENGTH }
      : { name: f.name, accepts };
  });
}

/**
 * The interval a numeric feature's values must lie in: its `range` (inclusive), within float32;
 * `undefined` for a categorical feature.
 */
function numericBounds(feature: FeatureRule): { lo: number; hi: number } | undefined {
  if (feature.type !== 'numeric') return undefined;
  return {
    lo: Math.max(feature.range?.min ?? Number.NEGATIVE_INFINITY, -FLOAT32_MAX),
    hi: Math.min(feature.range?.max ?? Number.POSITIVE_INFINITY, FLOAT32_MAX),
  };
}

/**
 * A plain predicate that accepts a value only if the feature's zod schema would: the fast path of
 * {@link RequestValidator.instances}. It may be stricter than the schema (whatever it refuses goes
 * to zod, which decides and words the error), never more lenient.
 */
function acceptsValue(feature: FeatureRule): (value: unknown) => boolean {
  const nullable = feature.nullable;
  const bounds = numericBounds(feature);
  if (bounds !== undefined) {
    const { lo, hi } = bounds;
    // NaN and ±Infinity fail both comparisons' pair: lo and hi are finite.
    return (value) => {
      if (value === undefined || value === null) return nullable;
      return typeof value === 'number' && value >= lo && value <= hi;
    };
  }
  const allowed = feature.values === undefined ? undefined : new Set(feature.values);
  return (value) => {
    if (value === undefined || value === null) return nullable;
    let text: string;
    if (typeof value === 'string') text = value;
    else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') {
      text = String(value);
    } else return false;
    if (text === '') return nullable;
    return text.length <= MAX_CATEGORY_LENGTH && (allowed === undefined || allowed.has(text));
  };
}

/** Marks a feature an instance does not have (distinct from an explicit `undefined`). */
const ABSENT = Symbol('absent');

/** Validates request bodies against one config's feature schema. Build once, use per request. */
export class RequestValidator {
  readonly #features: readonly FeatureRule[];
  readonly #names: ReadonlySet<string>;
  readonly #instances: z.ZodType;
  readonly #maxInstances: number;
  readonly #rules: readonly { readonly name: string; readonly accepts: (value: unknown) => boolean }[];
  /** Feature name → position in the config (and in {@link RequestValidator.#rules}). */
  readonly #featureIndex: ReadonlyMap<string, number>;

  readonly #fastPath: boolean;
  readonly #textRules: InstanceTextRules;

  /**
   * @param options.fastPath `false` validates every request with zod alone (tests hold the fast path to
   *   exactly zod's verdicts with it)
   */
  constructor(
    features: readonly FeatureRule[],
    maxInstances: number,
    options: { readonly fastPath?: boolean } = {},
  ) {
    this.#fastPath = options.fastPath ?? true;
    this.#features = features;
    this.#names = new Set(features.map((f) => f.name));
    this.#maxInstances = maxInstances;
    // One predicate per feature, for both the row checks and the text reader.
    const text = textFeatures(features);
    this.#rules = text.map((f) => ({ name: f.name, accepts: f.accepts }));
    this.#featureIndex = new Map(features.map((f, j) => [f.name, j]));
    this.#textRules = instanceTextRules(text, jsonKeys(features.map((f) => f.name)), maxInstances);
    // Object.fromEntries defines own properties, so even a feature named "__proto__" is a plain key.
    const shape = Object.fromEntries(
      features.map((f) => [f.name, f.type === 'numeric' ? numericSchema(f) : categoricalSchema(f)]),
    );
    const instance = z.object(shape, {
      error: (issue) => `expected an object of feature values, received ${describe(issue.input)}`,
    });
    this.#instances = z.array(instance);
  }

  /**
   * The rows of a `/predict` body.
   * @throws ApiError 400 `invalid_request` listing every offending field, 413 `too_many_instances`
   */
  instances(body: unknown): ValidatedInstances {
    const items = envelope(body, 'instances', 'instances');
    checkCount(items, 'instances', 'instances', this.#maxInstances);
    // Valid requests take the fast path; zod runs only when something is wrong, to say what.
    const fast = this.#fastPath ? this.#validRows(items) : undefined;
    if (fast !== undefined) return fast;
    const copies = items.map(ownCopy);
    const result = this.#instances.safeParse(copies);
    if (!result.success) {
      throw new ApiError('invalid_request', 'some instances are invalid', {
        details: details('instances', result.error.issues),
      });
    }
    let ignoredFields = 0;
    const rows = copies.map((copy) => {
      const source = copy as Record<string, unknown>;
      const row = Object.create(null) as Record<string, RawValue>;
      for (const feature of this.#features) {
        if (Object.hasOwn(source, feature.name)) row[feature.name] = source[feature.name] as RawValue;
      }
      for (const key of Object.keys(source)) if (!this.#names.has(key)) ignoredFields += 1;
      return row;
    });
    return { rows, ignoredFields };
  }

  /**
   * The rows of a `/predict` body read from its text ({@link readInstancesText}), with the captured
   * JSON of each instance, when the body is valid and plain; `undefined` sends the body through
   * `JSON.parse` and {@link RequestValidator.instances}, which decide and word any error. Given a
   * model's known categories, it also counts the values the model does not know.
   */
  instancesText(text: string, knownCategories?: KnownCategories): TextInstances | undefined {
    return this.#fastPath ? readInstancesText(text, this.#textRules, knownCategories) : undefined;
  }

  /**
   * The rows of `items` when every instance passes the plain predicates of {@link acceptsValue};
   * `undefined` as soon as one does not. Reads what the zod path reads — the own enumerable keys,
   * as `ownCopy` copies them — and builds the same rows (features in config order) with the same
   * count of ignored keys.
   */
  #validRows(items: readonly unknown[]): ValidatedInstances | undefined {
    const rules = this.#rules;
    const index = this.#featureIndex;
    const values: unknown[] = new Array(rules.length);
    const rows: RawRow[] = new Array(items.length);
    let ignoredFields = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
      const source = item as Record<string, unknown>;
      values.fill(ABSENT);
      for (const key of Object.keys(source)) {
        const j = index.get(key);
        if (j === undefined) ignoredFields += 1;
        else values[j] = source[key];
      }
      const row = Object.create(null) as Record<string, RawValue>;
      for (let j = 0; j < rules.length; j++) {
        const rule = rules[j] as (typeof rules)[number];
        const value = values[j];
        if (value === ABSENT) {
          if (!rule.accepts(undefined)) return undefined;
        } else {
          if (!rule.accepts(value)) return undefined;
          row[rule.name] = value as RawValue;
        }
      }
      rows[i] = row;
    }
    return { rows, ignoredFields };
  }

  /**
   * The items of a `/feedback` body, labels checked against the served model.
   * @throws ApiError 400 `invalid_request` listing every offending field, 413 `too_many_instances`
   */
  feedback(body: unknown, target: FeedbackTarget): FeedbackItem[] {
    const items = envelope(body, 'feedback', 'feedback items');
    checkCount(items, 'feedback', 'feedback items', this.#maxInstances);
    const result = feedbackSchema(target).safeParse(items.map(ownCopy));
    if (!result.success) {
      throw new ApiError('invalid_request', 'some feedback items are invalid', {
        details: details('feedback', result.error.issues),
      });
    }
    return result.data as FeedbackItem[];
  }
}

function feedbackSchema(target: FeedbackTarget): z.ZodType {
  const classes = new Set(target.classes);
  const label =
    target.task === 'regression'
      ? z.number({
          error: (issue) =>
            issue.input === undefined
              ? 'required: the observed value'
              : `expected a finite number (the observed value), received ${describe(issue.input)}`,
        })
      : z
          .union([z.string(), z.number(), z.boolean()], {
            error: (issue) =>
              issue.input === undefined
                ? 'required: the observed class'
                : `expected a class name, received ${describe(issue.input)}`,
          })
          .transform((v) => (typeof v === 'string' ? v : String(v)))
          .refine((v) => classes.has(v), {
            error: (issue) =>
              `expected one of the model's classes ${quote(target.classes)}, received ${shortJson(String(issue.input))}`,
          });
  const item = z.strictObject(
    {
      predictionId: z.uuid({
        error: (issue) =>
          issue.input === undefined
            ? 'required: the predictionId the prediction was returned with'
            : 'expected the predictionId of a prediction (a UUID)',
      }),
      label,
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${quote(issue.keys)}; an item holds predictionId and label`
          : `expected an object {"predictionId","label"}, received ${describe(issue.input)}`,
    },
  );
  return z.array(item);
}
