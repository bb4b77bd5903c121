/**
 * The WebAssembly reader of `/predict` bodies (`instances-wasm.ts`) against the JavaScript reader
 * (`instances-text.ts`, itself held to JSON.parse + the validator by `instances-text.test.ts`): on
 * bodies written the usual way, with values of every kind, whatever the WebAssembly reader answers is
 * exactly what the JavaScript reader answers, and it answers for every body it is documented to.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DoubleColumn } from '../../../pipelines/onnx/inputs.ts';
import {
  instanceTextRules,
  readInstancesText,
  readInstancesTextJs,
  type TextInstances,
} from '../../../pipelines/serving/instances-text.ts';
import { INPUT_BYTES, wasmInstanceReader } from '../../../pipelines/serving/instances-wasm.ts';
import { rowsText } from '../../../pipelines/serving/json-rows.ts';
import type { KnownCategories } from '../../../pipelines/serving/known-categories.ts';
import { jsonKeys } from '../../../pipelines/serving/predict-body.ts';
import { type FeatureRule, textFeatures } from '../../../pipelines/serving/validation.ts';
import { createPrng, type Prng } from '../../../pipelines/train/gbdt/prng.ts';

const FEATURES: readonly FeatureRule[] = [
  { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
  { name: 'income', type: 'numeric', nullable: false },
  { name: 'city', type: 'categorical', nullable: true },
  { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'pro', 'ünï'] },
  { name: '10', type: 'categorical', nullable: false },
  // Keys that are not ASCII, one outside the Basic Multilingual Plane.
  { name: 'température', type: 'numeric', nullable: true },
  { name: 'ключ😀', type: 'categorical', nullable: true },
];

const MAX = 50;

function rulesOf(features: readonly FeatureRule[], max = MAX) {
  return instanceTextRules(textFeatures(features), jsonKeys(features.map((f) => f.name)), max);
}

function pick<T>(prng: Prng, list: readonly T[]): T {
  return list[prng.nextInt(list.length)] as T;
}

/** Numbers the WebAssembly reader reads itself (Clinger's fast path) and ones it leaves. */
const NUMBERS_FAST = [
  '0',
  '-0',
  '1',
  '42',
  '1.5',
  '1.50',
  '0.1',
  '120',
  '-1',
  '1e2',
  '1E2',
  '1e+2',
  '1e-2',
  '4.35',
];
const NUMBERS_OTHER = ['1e23', '1234567890123456789', '0.30000000000000004', '1e-400', '5e-324', '1e400'];
/** Strings the WebAssembly reader reads itself: ASCII, 2, 3 and 4 bytes a character, long, empty. */
const STRINGS_FAST = ['"basic"', '"pro"', '"ünï"', '"SFO"', '"é"', '"日本"', '"😀"', `"${'y'.repeat(40)}"`];
const STRINGS_OTHER = ['"\\u0062asic"', '"a\\"b"', '"\\n"'];

/**
 * A body whose instances are written as captured (every feature once, in captured order): usually
 * values the WebAssembly reader reads, sometimes anything else a client may send.
 */
function generate(prng: Prng, features: readonly FeatureRule[], count: number, oddRate: number): string {
  const keys = jsonKeys(features.map((f) => f.name));
  const byName = new Map(features.map((f) => [f.name, f]));
  const value = (feature: FeatureRule): string => {
    const odd = prng.nextFloat() < oddRate;
    if (feature.type === 'numeric') {
      if (odd) return pick(prng, [...NUMBERS_OTHER, 'null', 'true', '"1"', '-5', '1000']);
      if (prng.nextFloat() < 0.7) return String(Math.round(prng.nextFloat() * 1200) / 10);
      const min = feature.range?.min ?? Number.NEGATIVE_INFINITY;
      return pick(
        prng,
        NUMBERS_FAST.filter((n) => Number(n) >= min),
      );
    }
    if (odd)
      return pick(prng, [...STRINGS_OTHER, 'null', '1', 'true', '""', '"nope"', `"${'z'.repeat(2000)}"`]);
    if (feature.values !== undefined) return JSON.stringify(pick(prng, feature.values));
    // Many distinct values (a few thousand), so the value cache's slots are shared and probed.
    return prng.nextFloat() < 0.5 ? pick(prng, STRINGS_FAST) : `"k${prng.nextInt(3000)}"`;
  };
  const instances = Array.from({ length: count }, () => {
    const fields = keys.names.map(
      (name, k) => `${keys.prefixes[k]}${value(byName.get(name) as FeatureRule)}`,
    );
    return `{${fields.join(',')}}`;
  });
  let separator = ',';
  if (prng.nextFloat() < oddRate) separator = pick(prng, [', ', ',\n']);
  const head =
    prng.nextFloat() < 0.2 ? pick(prng, [' { "instances" : [ ', '\n{"instances":[']) : '{"instances":[';
  const tail = prng.nextFloat() < 0.2 ? pick(prng, [' ] } ', ']\n}\n']) : ']}';
  return `${head}${instances.join(separator)}${tail}`;
}

/** Known values of two models (requests alternate between them, as when a model is swapped). */
const KNOWN: readonly KnownCategories[] = [
  new Map([
    ['city', new Set(['SFO', 'é', '日本', 'k7', ''])],
    ['plan', new Set(['basic'])],
    ['10', new Set(['😀', 'k1'])],
  ]),
  new Map([['city', new Set(['basic', '😀'])]]),
];

/** Every field of the two readers' answers, the same (values compared with Object.is). */
function expectSame(
  actual: TextInstances,
  expected: TextInstances,
  features: readonly FeatureRule[],
  text: string,
) {
  expect(actual.count, text).toBe(expected.count);
  expect(actual.ignoredFields, text).toBe(expected.ignoredFields);
  expect(actual.unknownCategories, text).toBe(expected.unknownCategories);
  expect([...actual.columns.keys()], text).toEqual([...expected.columns.keys()]);
  for (const feature of features) {
    const a = actual.columns.get(feature.name);
    const e = expected.columns.get(feature.name);
    for (let i = 0; i < expected.count; i++) {
      const x = feature.type === 'numeric' ? (a as DoubleColumn).doubles[i] : (a as unknown[])[i];
      const y = feature.type === 'numeric' ? (e as DoubleColumn).doubles[i] : (e as unknown[])[i];
      expect(Object.is(x, y), `${text}: ${feature.name}[${i}] ${String(x)} vs ${String(y)}`).toBe(true);
    }
  }
  const n = expected.count;
  expect(rowsText(actual.instanceJson, 0, n), text).toBe(rowsText(expected.instanceJson, 0, n));
  expect([...actual.instanceJson.ends], text).toEqual([...expected.instanceJson.ends]);
  expect(actual.instanceJson.ascii, text).toBe(expected.instanceJson.ascii);
}

describe('the WebAssembly reader of /predict bodies', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it.each([
    ['keys that are not ASCII', FEATURES],
    ['ASCII keys', FEATURES.filter((f) => /^[\x20-\x7e]*$/.test(f.name))],
  ])('answers exactly as the JavaScript reader on 5,000 bodies, with %s', (_, features) => {
    const rules = rulesOf(features);
    const wasm = wasmInstanceReader(rules);
    expect(wasm).toBeDefined();
    const prng = createPrng(7);
    let answered = 0;
    let plainAnswered = 0;
    let plain = 0;
    for (let i = 0; i < 5_000; i++) {
      const oddRate = i % 3 === 0 ? 0 : 0.02;
      const text = generate(
        prng,
        features,
        prng.nextFloat() < 0.02 ? MAX + 1 : 1 + prng.nextInt(MAX),
        oddRate,
      );
      const known = i % 4 === 3 ? undefined : KNOWN[Math.floor(i / 250) % 2];
      const expected = readInstancesTextJs(text, rules, known);
      const actual = wasm?.read(text, known);
      // Both ways in: the reader of the API, which tries this one first.
      const combined = readInstancesText(text, rules, known);
      if (expected === undefined) {
        expect(actual, `answered for a body the JavaScript reader leaves: ${text}`).toBeUndefined();
        expect(combined).toBeUndefined();
      } else {
        expectSame(combined as TextInstances, expected, features, text);
        if (actual !== undefined) {
          expectSame(actual, expected, features, text);
          answered += 1;
        }
      }
      if (oddRate === 0 && expected !== undefined) {
        plain += 1;
        // Valid, written as captured, with values it reads: it must answer.
        expect(actual, `not answered: ${text}`).toBeDefined();
        if (actual !== undefined) plainAnswered += 1;
      }
    }
    expect(plain).toBeGreaterThan(1_500);
    expect(plainAnswered).toBe(plain);
    // Odd bodies the JavaScript reader accepts: some answered here (a long value, null), some not.
    expect(answered).toBeGreaterThan(plain);
  });

  it('keeps answering correctly when its value cache fills up and is cleared', () => {
    const features = FEATURES.slice(0, 3);
    const rules = rulesOf(features, 10_000);
    const wasm = wasmInstanceReader(rules);
    const body = (cities: readonly string[]) =>
      `{"instances":[${cities.map((city, i) => `{"age":${i % 100},"income":${i},"city":"${city}"}`).join(',')}]}`;
    const check = (text: string, known: KnownCategories | undefined, answered: boolean) => {
      const expected = readInstancesTextJs(text, rules, known) as TextInstances;
      expect(expected).toBeDefined();
      const actual = wasm?.read(text, known);
      if (answered) expectSame(actual as TextInstances, expected, features, text.slice(0, 80));
      else expect(actual).toBeUndefined();
      expectSame(
        readInstancesText(text, rules, known) as TextInstances,
        expected,
        features,
        text.slice(0, 80),
      );
    };
    // 12,000 distinct values over 20 bodies, about three times what the cache holds (4,096 values):
    // each time it fills, it is cleared and the body read again.
    for (let b = 0; b < 20; b++) {
      check(body(Array.from({ length: 600 }, (_, i) => `v${b * 600 + i}`)), KNOWN[b % 2], true);
    }
    // Values seen before the last clearing, and values from the last bodies: all read again as new.
    check(body(Array.from({ length: 5 }, (_, i) => `v${i * 2_399}`)), KNOWN[0], true);
    // More distinct values in one body than the cache holds: it fills again after being cleared,
    // and the body is left to the JavaScript reader.
    check(body(Array.from({ length: 5_000 }, (_, i) => `w${i}`)), KNOWN[1], false);
    // And the cache serves the next body.
    check(body(['SFO', 'w1', 'é']), KNOWN[0], true);
  });

  it('leaves bodies of more than its input size to the JavaScript reader', () => {
    const features = FEATURES.slice(0, 2);
    const rules = rulesOf(features, 100_000);
    const instance = `{"age":1,"income":${'1'.repeat(10)}}`;
    const count = Math.ceil(INPUT_BYTES / instance.length) + 1;
    const text = `{"instances":[${Array.from({ length: count }, () => instance).join(',')}]}`;
    expect(wasmInstanceReader(rules)?.read(text)).toBeUndefined();
    const read = readInstancesText(text, rules) as TextInstances;
    expect(read.count).toBe(count);
    expectSame(read, readInstancesTextJs(text, rules) as TextInstances, features, 'large body');
  });

  it('is not used for keys that need an escape, or where WebAssembly cannot run', async () => {
    expect(wasmInstanceReader(rulesOf([{ name: 'a"b', type: 'numeric', nullable: true }]))).toBeUndefined();
    vi.stubGlobal('WebAssembly', undefined);
    vi.resetModules();
    const text = await import('../../../pipelines/serving/instances-text.ts');
    const wasm = await import('../../../pipelines/serving/instances-wasm.ts');
    const rules = text.instanceTextRules(textFeatures(FEATURES), jsonKeys(FEATURES.map((f) => f.name)), MAX);
    expect(wasm.wasmInstanceReader(rules)).toBeUndefined();
    const body = '{"instances":[{"age":1,"income":2,"plan":"pro","10":"x"}]}';
    expect(text.readInstancesText(body, rules)?.count).toBe(1);
  });
});
