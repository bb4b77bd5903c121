/**
 * The text reader of `/predict` bodies (the fast path) against `JSON.parse` + the validator (the full
 * path), on bodies written as text: whatever the reader accepts, the full path accepts with the same
 * values, ignored-key count and captured instances; every plain valid body is accepted (so the fast
 * path is really taken); everything else is left to the full path.
 */
import { describe, expect, it } from 'vitest';
import { categoricalInput, type RawRow, rawValue } from '../../../pipelines/model/raw.ts';
import { columnValue, type DoubleColumn } from '../../../pipelines/onnx/inputs.ts';
import type { TextInstances } from '../../../pipelines/serving/instances-text.ts';
import { type JsonRows, rowsText } from '../../../pipelines/serving/json-rows.ts';
import type { KnownCategories } from '../../../pipelines/serving/known-categories.ts';
import { jsonKeys } from '../../../pipelines/serving/predict-body.ts';
import { type FeatureRule, RequestValidator } from '../../../pipelines/serving/validation.ts';
import { createPrng, type Prng } from '../../../pipelines/train/gbdt/prng.ts';

const FEATURES: readonly FeatureRule[] = [
  { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
  { name: 'income', type: 'numeric', nullable: false },
  { name: 'city', type: 'categorical', nullable: true },
  { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'pro', '1', 'true'] },
  { name: 'constructor', type: 'numeric', nullable: true },
  // Integer-like: first in the captured order. Needs no escape.
  { name: '10', type: 'categorical', nullable: true },
  // Not ASCII, and outside the Basic Multilingual Plane (two UTF-16 units): matched by their UTF-8 bytes.
  { name: 'température', type: 'numeric', nullable: true },
  { name: 'ключ😀', type: 'categorical', nullable: true },
  // Needs an escape in JSON: never matched by its units, always decoded.
  { name: 'tab\there', type: 'numeric', nullable: true },
];
/** The same without the feature whose key needs an escape: instances can be written canonically. */
const PLAIN_FEATURES = FEATURES.filter((f) => f.name !== 'tab\there');
/** Only ASCII names: instances with only ASCII values are captured as ASCII slices of the body. */
const ASCII_FEATURES = PLAIN_FEATURES.filter((f) => /^[\x20-\x7e]*$/.test(f.name));
const MAX = 6;

/** Number tokens: valid ones of every form, and ones JSON does not allow. */
const NUMBERS_VALID = [
  '0',
  '-0',
  '1',
  '42',
  '1.5',
  '1.50',
  '0.1',
  '120',
  '120.0000000000000001',
  '-1',
  '1e2',
  '1E2',
  '1e+2',
  '1e-2',
  '0.000001',
  '123456789012345',
  '1234567890123456789',
  '9007199254740993',
  '1.7976931348623157e308',
  '1e400',
  '-1e400',
  '1e-400',
  '3.4028234663852886e38',
  '3.4028235e38',
  '5e-324',
  '0.30000000000000004',
  '12.345678901234567890',
  '1e22',
  '1e23',
  '4.35',
  '0.1e1',
];
const NUMBERS_INVALID = ['01', '1.', '.5', '+1', '-', '1e', '1e+', '0x10', 'NaN', 'Infinity', '- 1', '1.e2'];
const STRINGS_PLAIN = [
  '""',
  '"basic"',
  '"pro"',
  '"1"',
  '"true"',
  '"x"',
  '"é"',
  '"SFO"',
  '"a b"',
  '"日本"',
  '"😀"',
  `"${'x'.repeat(1025)}"`,
  `"${'y'.repeat(33)}"`,
];
/** Strings JSON.parse takes but the reader leaves to the full path: raw lone surrogates. */
const STRINGS_LONE_SURROGATE = ['"\ud800"', '"a\udc00"', '"\ud800x"'];
const STRINGS_ESCAPED = ['"\\u0062asic"', '"a\\"b"', '"\\\\"', '"\\n"', '"\\/"'];
const STRINGS_INVALID = ['"\\x"', '"\\u12"', '"a\nb"', '"unterminated'];
const LITERALS = ['true', 'false', 'null'];
const NESTED = ['[]', '{}', '[1]', '{"a":1}'];

function pick<T>(prng: Prng, list: readonly T[]): T {
  return list[prng.nextInt(list.length)] as T;
}

/** JSON whitespace, usually none. */
function space(prng: Prng, rate: number): string {
  return prng.nextFloat() < rate ? pick(prng, [' ', '\n', '\t', '\r\n', '  ']) : '';
}

interface Generated {
  readonly text: string;
  /** Whether the reader must accept the body when the full path does. */
  readonly plain: boolean;
}

function generate(prng: Prng, features: readonly FeatureRule[]): Generated {
  const names = features.map((f) => f.name);
  let plain = true;
  const ws = prng.nextFloat() < 0.3 ? 0.3 : 0;
  const sp = () => space(prng, ws);
  const quoteKey = (name: string): string => {
    // A key written with an escape is decoded by the full path only.
    if (JSON.stringify(name).includes('\\')) plain = false;
    if (prng.nextFloat() < 0.01) {
      plain = false;
      // The same name written with an escape.
      return `"\\u${name.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(name).slice(2)}`;
    }
    return JSON.stringify(name);
  };
  const value = (feature: FeatureRule): string => {
    const r = prng.nextFloat();
    if (r < 0.9) {
      // Usually what the feature takes.
      if (feature.type === 'numeric') {
        return prng.nextFloat() < 0.8
          ? String(Math.round(prng.nextFloat() * 1200) / 10)
          : pick(prng, NUMBERS_VALID.slice(0, 16));
      }
      if (feature.values !== undefined) return JSON.stringify(pick(prng, feature.values));
      // Many distinct values too, so the reader's cache of categories sees slots shared by several.
      return prng.nextFloat() < 0.5 ? pick(prng, STRINGS_PLAIN.slice(1, 11)) : `"k${prng.nextInt(20_000)}"`;
    }
    if (r < 0.94) return pick(prng, NUMBERS_VALID);
    if (r < 0.97) return pick(prng, STRINGS_PLAIN);
    if (r < 0.985) return pick(prng, LITERALS);
    if (r < 0.99) {
      plain = false;
      return pick(prng, prng.nextFloat() < 0.8 ? STRINGS_ESCAPED : STRINGS_LONE_SURROGATE);
    }
    if (r < 0.994) return pick(prng, NUMBERS_INVALID);
    if (r < 0.997) return pick(prng, STRINGS_INVALID);
    plain = false;
    return pick(prng, NESTED);
  };
  const instance = (): string => {
    if (prng.nextFloat() < 0.01) return pick(prng, ['null', '1', '"x"', '[]']);
    const keys: string[] = prng.nextFloat() < 0.7 ? jsonKeys(names).names.slice() : names.slice();
    if (prng.nextFloat() < 0.2) keys.sort(() => prng.nextFloat() - 0.5);
    const fields: string[] = [];
    for (const name of keys) {
      if (prng.nextFloat() < (name === 'tab\there' ? 0.95 : 0.1)) continue;
      const feature = features.find((f) => f.name === name) as FeatureRule;
      fields.push(`${sp()}${quoteKey(name)}${sp()}:${sp()}${value(feature)}${sp()}`);
    }
    if (prng.nextFloat() < 0.15) {
      // Keys that are not features: scalars (escapes allowed), or nested values (full path only).
      const r = prng.nextFloat();
      let extra: string;
      if (r < 0.7) extra = pick(prng, [...NUMBERS_VALID, ...STRINGS_PLAIN, ...STRINGS_ESCAPED, ...LITERALS]);
      else if (r < 0.85) {
        plain = false;
        extra = pick(prng, NESTED);
      } else extra = pick(prng, [...NUMBERS_INVALID, ...STRINGS_INVALID]);
      const key = pick(prng, ['"id"', '"target"', '"__proto__"', '"a\\"b"', '"ağ"', '""']);
      if (key.includes('\\')) plain = false;
      fields.splice(prng.nextInt(fields.length + 1), 0, `${sp()}${key}${sp()}:${sp()}${extra}${sp()}`);
      if (prng.nextFloat() < 0.2) {
        // The same extra key twice (JSON.parse keeps the last).
        plain = false;
        fields.push(`${key}:${extra}`);
      }
    }
    if (prng.nextFloat() < 0.02 && fields.length > 0) {
      // A feature twice.
      plain = false;
      fields.push(fields[0] as string);
    }
    return `{${fields.join(',')}${sp()}}`;
  };
  const count = prng.nextFloat() < 0.05 ? pick(prng, [0, MAX + 1]) : 1 + prng.nextInt(MAX);
  const instances = Array.from({ length: count }, () => `${sp()}${instance()}${sp()}`).join(',');
  let text = `${sp()}{${sp()}"instances"${sp()}:${sp()}[${instances}]${sp()}}${sp()}`;
  const r = prng.nextFloat();
  if (r < 0.01) text = text.slice(0, prng.nextInt(text.length));
  else if (r < 0.02) text += pick(prng, ['x', ',', '}', ']', '{}']);
  else if (r < 0.03) text = `\uFEFF${text}`;
  else if (r < 0.04) text = text.replace('"instances"', pick(prng, ['"instance"', '"Instances"']));
  else if (r < 0.05) text = text.replace(/}\s*$/, ',"extra":1}');
  else if (r < 0.06) text = text.replace(/,(?=\s*\{)/, ',,');
  else if (r < 0.07) text = text.replace(/}(\s*)]/, '},$1]');
  return { text, plain };
}

/** What the full path makes of a body: rows, or that it refuses it. */
function fullPath(
  validator: RequestValidator,
  text: string,
): { rows: RawRow[]; ignoredFields: number } | 'refused' {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'refused';
  }
  try {
    return validator.instances(body);
  } catch {
    return 'refused';
  }
}

/**
 * Two models' known values of the categorical features (the fuzz alternates between them, as when a
 * new model is loaded): some of the values the generator writes, not all.
 */
const KNOWN: readonly KnownCategories[] = [
  new Map([
    ['city', new Set(['SFO', 'x', 'é', '日本', 'k7', 'true'])],
    ['plan', new Set(['basic', '1'])],
    ['10', new Set(['a b', '😀', '42'])],
    ['ключ😀', new Set(['pro', 'SFO'])],
  ]),
  new Map([
    ['city', new Set(['basic', 'x', '😀'])],
    ['plan', new Set(['pro', 'true'])],
  ]),
];

/** The values a model does not know, as the API counts them from the model's inputs. */
function unknownIn(rows: readonly RawRow[], known: KnownCategories): number {
  let unknown = 0;
  for (const [feature, values] of known) {
    for (const row of rows) {
      const input = categoricalInput(rawValue(row, feature) ?? null);
      if (input !== '' && !values.has(input)) unknown += 1;
    }
  }
  return unknown;
}

function checkAgainst(
  features: readonly FeatureRule[],
  read: TextInstances,
  rows: readonly RawRow[],
  ignoredFields: number,
  text: string,
  known?: KnownCategories,
): void {
  expect(read.count, text).toBe(rows.length);
  expect(read.ignoredFields, text).toBe(ignoredFields);
  if (known !== undefined) expect(read.unknownCategories, text).toBe(unknownIn(rows, known));
  else expect(read.unknownCategories, text).toBeUndefined();
  const captured = jsonKeys(features.map((f) => f.name)).names;
  for (const feature of features) {
    const column = read.columns.get(feature.name);
    rows.forEach((row, i) => {
      const expected = rawValue(row, feature.name);
      if (feature.type === 'numeric') {
        // A numeric column holds doubles, NaN for missing (absent or null).
        const actual = (column as DoubleColumn).doubles[i] as number;
        if (expected === null || expected === undefined) expect(actual, text).toBeNaN();
        else
          expect(Object.is(actual, expected), `${text}: ${feature.name}[${i}] ${actual} vs ${expected}`).toBe(
            true,
          );
      } else {
        expect(Object.is(columnValue(column, i), expected), `${text}: ${feature.name}[${i}]`).toBe(true);
      }
    });
  }
  expect(read.instanceJson.ends.length, text).toBe(rows.length);
  if (read.instanceJson.ascii !== undefined) {
    // A reader that says whether the captured text is ASCII must be right (splitting counts on it).
    const whole = rowsText(read.instanceJson, 0, rows.length);
    expect(read.instanceJson.ascii, text).toBe(Buffer.byteLength(whole) === whole.length);
  }
  rows.forEach((row, i) => {
    const json = rowsText(read.instanceJson, i, i + 1);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(parsed), json).toEqual(captured);
    for (const name of captured) {
      const expected = rawValue(row, name) ?? null;
      expect(Object.is(parsed[name], expected), `${json}: ${name}`).toBe(true);
    }
  });
}

describe('readInstancesText (the text fast path of /predict)', () => {
  it.each([
    ['a feature whose key needs an escape', FEATURES],
    ['plain feature names, some not ASCII', PLAIN_FEATURES],
    ['ASCII feature names (instances can be slices of the body)', ASCII_FEATURES],
  ])('agrees with JSON.parse and the validator on 30,000 bodies written as text, with %s', (_, features) => {
    const fast = new RequestValidator(features, MAX);
    const prng = createPrng(23);
    let valid = 0;
    let plainValid = 0;
    let sliced = 0;
    let slicedNonAscii = 0;
    for (let i = 0; i < 30_000; i += 1) {
      const { text, plain } = generate(prng, features);
      const expected = fullPath(fast, text);
      // Known categories given for most bodies, from one model then the other.
      const known = i % 5 === 4 ? undefined : KNOWN[Math.floor(i / 1000) % 2];
      const actual = fast.instancesText(text, known);
      if (actual !== undefined) {
        expect(expected, `the reader accepted what the full path refuses: ${text}`).not.toBe('refused');
        if (expected !== 'refused')
          checkAgainst(features, actual, expected.rows, expected.ignoredFields, text, known);
        // Only a slice of the body knows whether it is ASCII (checked in checkAgainst).
        if (actual.instanceJson.ascii !== undefined) {
          sliced += 1;
          if (!actual.instanceJson.ascii) slicedNonAscii += 1;
        }
      }
      if (expected !== 'refused') {
        valid += 1;
        if (plain) {
          expect(actual, `a plain valid body not read by the fast path: ${text}`).toBeDefined();
          plainValid += 1;
        }
      }
    }
    // Both outcomes are common, so the comparison covers the reader and the fall-back.
    expect(valid).toBeGreaterThan(3_000);
    expect(plainValid).toBeGreaterThan(2_000);
    expect(valid).toBeLessThan(27_000);
    if (features !== FEATURES) {
      // Slices of bodies that are not ASCII too: the reader turns byte positions into text positions.
      expect(sliced).toBeGreaterThan(300);
      expect(slicedNonAscii).toBeGreaterThan(features === PLAIN_FEATURES ? 300 : 20);
    }
  });

  it('slices the captured JSON out of instances written in captured order, and writes the others', () => {
    const validator = new RequestValidator(FEATURES.slice(0, 4), 10);
    const text =
      '{"instances":[{"age":41,"income":1.50,"city":"Porto","plan":"pro"},' +
      '{ "plan":"basic","income":2e3,"id":7 },{"income":-0,"plan":1}]}';
    const read = validator.instancesText(text);
    const captured = read?.instanceJson as JsonRows;
    expect([0, 1, 2].map((i) => rowsText(captured, i, i + 1))).toEqual([
      '{"age":41,"income":1.50,"city":"Porto","plan":"pro"}',
      '{"age":null,"income":2e3,"city":null,"plan":"basic"}',
      '{"age":null,"income":-0,"city":null,"plan":1}',
    ]);
    expect(rowsText(captured, 0, 3)).toBe(
      '{"age":41,"income":1.50,"city":"Porto","plan":"pro"},{"age":null,"income":2e3,"city":null,"plan":"basic"},' +
        '{"age":null,"income":-0,"city":null,"plan":1}',
    );
    // Instances written in captured order and only commas between them: the body's own text.
    const plain =
      '{"age":1,"income":2,"city":"a","plan":"pro"},{"age":3,"income":4,"city":"b","plan":"basic"}';
    const slice = validator.instancesText(`{"instances":[${plain}]}`)?.instanceJson;
    expect(slice?.pieces).toEqual([plain]);
    expect(Array.from(slice?.ends ?? [])).toEqual([plain.indexOf('},') + 1, plain.length]);
    expect(read?.ignoredFields).toBe(1);
    // A column may be longer than the instances are many: what follows them means nothing.
    expect(
      Array.from(((read as TextInstances).columns.get('income') as DoubleColumn).doubles.slice(0, 3)),
    ).toEqual([1.5, 2000, -0]);
    expect(read?.columns.get('plan')).toEqual(['pro', 'basic', 1]);
  });

  it('leaves to the full path what it must not decide', () => {
    const validator = new RequestValidator(FEATURES.slice(0, 4), 2);
    const ok = '{"income":1,"plan":"pro"}';
    for (const text of [
      '{"instances":[]}',
      `{"instances":[${ok},${ok},${ok}]}`, // more than the limit: 413 on the full path
      '{"instances":[{"income":"1","plan":"pro"}]}',
      '{"instances":[{"income":1,"plan":"gold"}]}',
      '{"instances":[{"income":1,"plan":"\\u0070ro"}]}',
      '{"instances":[{"income":1,"income":2,"plan":"pro"}]}',
      '{"instances":[{"income":1,"plan":"pro","x":{"y":1}}]}',
      '{"instances":[{"income":1e400,"plan":"pro"}]}',
      '{"instances":[{"income":01,"plan":"pro"}]}',
      `{"instances":[${ok}],"extra":1}`,
      `{"instances":[${ok}]}x`,
      // A raw lone surrogate: the full path captures it escaped, as JSON.stringify writes it.
      '{"instances":[{"income":1,"plan":"pro","city":"\ud800"}]}',
      '{"instances":[{"income":1,"plan":"pro","city":"a\udc00"}]}',
      // NUL: the reader's end mark, and not valid JSON anywhere.
      `{"instances":[${ok}]}\u0000`,
      '{"instances":[{"income":1,"plan":"pr\u0000o"}]}',
      '{"instances":[{"income":1\u0000,"plan":"pro"}]}',
    ]) {
      expect(validator.instancesText(text), text).toBeUndefined();
    }
    expect(validator.instancesText(`{"instances":[${ok},${ok}]}`)?.count).toBe(2);
  });

  it('reads more instances than a body of usual instances could hold (short ones, features left out)', () => {
    // Room is made for as many instances as the body holds written with every key; after ten such
    // instances come ones with two of four keys, in another order, so the reader must grow its columns
    // as it goes, keeping what it stored (the first ten are captured as slices of the body).
    const validator = new RequestValidator(FEATURES.slice(0, 4), 5_000);
    const full = (i: number) => `{"age":${i},"income":${i},"city":"c","plan":"pro"}`;
    const short = (i: number) => `{"plan":"pro","income":${i}}`;
    const count = 3_000;
    const instance = (i: number) => (i < 10 ? full(i) : short(i));
    const text = `{"instances":[${Array.from({ length: count }, (_, i) => instance(i)).join(',')}]}`;
    const read = validator.instancesText(text) as TextInstances;
    expect(read.count).toBe(count);
    const income = (read.columns.get('income') as DoubleColumn).doubles.slice(0, count);
    expect(Array.from(income)).toEqual(Array.from({ length: count }, (_, i) => i));
    const age = Array.from((read.columns.get('age') as DoubleColumn).doubles.slice(0, count));
    expect(age.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(age.slice(10).every(Number.isNaN)).toBe(true);
    expect(rowsText(read.instanceJson, 0, count)).toBe(
      Array.from({ length: count }, (_, i) =>
        i < 10 ? full(i) : `{"age":null,"income":${i},"city":null,"plan":"pro"}`,
      ).join(','),
    );
  });

  it('reads bodies larger than the buffer it keeps between requests', () => {
    // Over 1 MB of UTF-8 room (3 bytes per unit): a buffer of its own, then the kept one again.
    const validator = new RequestValidator(FEATURES.slice(0, 4), 20_000);
    const instance = (i: number) => `{"age":${i % 100},"income":${i}.5,"city":"c${i % 7}","plan":"pro"}`;
    const large = `{"instances":[${Array.from({ length: 8_000 }, (_, i) => instance(i)).join(',')}]}`;
    expect(large.length * 3).toBeGreaterThan(1024 * 1024);
    const small = `{"instances":[${instance(1)}]}`;
    for (const text of [small, large, small, large]) {
      const read = validator.instancesText(text) as TextInstances;
      const count = text === large ? 8_000 : 1;
      expect(read.count).toBe(count);
      expect((read.columns.get('income') as DoubleColumn).doubles[count - 1]).toBe(
        text === large ? 7999.5 : 1.5,
      );
      expect(rowsText(read.instanceJson, count - 1, count)).toBe(instance(text === large ? 7_999 : 1));
    }
  });
});
