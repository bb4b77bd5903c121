import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ScoredBatch } from '../../../pipelines/model/onnx-model.ts';
import type { ApiPrediction } from '../../../pipelines/model/predictions.ts';
import {
  type JsonRows,
  joinRows,
  MAX_PIECE,
  parseRows,
  rowsText,
} from '../../../pipelines/serving/json-rows.ts';
import {
  classIndexes,
  float32Json,
  jsonKeys,
  predictBody,
  predictionTexts,
  writePredictions,
  writePredictionsJs,
} from '../../../pipelines/serving/predict-body.ts';
import { wasmPredictionWriter } from '../../../pipelines/serving/predictions-wasm.ts';

const writeClassRowsWasm: NonNullable<ReturnType<typeof wasmPredictionWriter>>['classes'] = (...args) =>
  wasmPredictionWriter()?.classes(...args);
const writeValueRowsWasm: NonNullable<ReturnType<typeof wasmPredictionWriter>>['values'] = (...args) =>
  wasmPredictionWriter()?.values(...args);

import { createPrng } from '../../../pipelines/train/gbdt/prng.ts';

/**
 * The reference: the prediction object of row `i`, built field by field in the API's order, each
 * number the decimal `float32Json` writes. Its `JSON.stringify` is what `predictionTexts` must write.
 */
function reference(scored: ScoredBatch, classes: readonly string[], i: number, id: string): ApiPrediction {
  if (scored.kind === 'values')
    return { predictionId: id, value: Number(float32Json(scored.values[i] as number)) };
  const probabilities: Record<string, number> = Object.create(null);
  classes.forEach((name, c) => {
    probabilities[name] = Number(float32Json(scored.probabilities[i * classes.length + c] as number));
  });
  return { predictionId: id, label: scored.labels[i] as string, probabilities };
}

function classBatch(classes: readonly string[], rows: number): ScoredBatch {
  const probabilities = Float32Array.from(
    { length: rows * classes.length },
    (_, i) => ((i * 7919) % 1000) / 997,
  );
  // New strings, as the model's output is: not the class list's own objects.
  const labels = Array.from({ length: rows }, (_, i) => ` ${classes[i % classes.length]}`.slice(1));
  return { kind: 'classes', labels, probabilities };
}

/** Float32 values of every kind: tiny, subnormal, huge, negative, round, and random bit patterns. */
function float32Samples(): Float32Array {
  const special = [
    0,
    -0,
    1,
    -1,
    0.5,
    0.1,
    1 / 3,
    2 / 3,
    1e-7,
    1.5e-7,
    9.99999e-7,
    1e-6,
    1e-45,
    1.2e-38,
    3e-39,
  ];
  const big = [123456.789, 9999999, 12345678, 99999990, 1e8, 123456789, 3.4e38, -3.4e38, 16777217];
  const bits = new Uint32Array(20_000);
  let state = 12345;
  for (let i = 0; i < bits.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bits[i] = state;
  }
  const random = Array.from(new Float32Array(bits.buffer)).filter(Number.isFinite);
  const probabilities = Array.from({ length: 5000 }, (_, i) => Math.fround((i * 0.7548776662) % 1));
  return Float32Array.from([...special, ...big, ...random, ...probabilities]);
}

describe('float32Json', () => {
  it('writes every float32 so that it reads back as the same float32, canonically, in at most 9 digits', () => {
    for (const value of float32Samples()) {
      const text = float32Json(value);
      const parsed = JSON.parse(text) as number;
      expect(Math.fround(parsed), text).toBe(value === 0 ? 0 : value);
      expect(JSON.stringify(parsed), `${value}`).toBe(text);
      const digits = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '');
      if (Math.abs(value) < 1e8) expect(digits.length, text).toBeLessThanOrEqual(9);
    }
  });

  it('is the 9-digit decimal toPrecision rounds to, as JavaScript writes it, across the float32 range', () => {
    // Every 9,973rd bit pattern (~430,000 values of every sign and exponent), and the special samples.
    const f32 = new Float32Array(1);
    const bits = new Uint32Array(f32.buffer);
    const values = [...float32Samples()];
    for (let b = 0; b < 2 ** 32; b += 9973) {
      bits[0] = b;
      values.push(f32[0] as number);
    }
    let mismatches = 0;
    for (const value of values) {
      if (!Number.isFinite(value) || value === 0) continue;
      const oracle = Math.abs(value) >= 1e8 ? String(value) : String(Number(value.toPrecision(9)));
      if (float32Json(value) !== oracle) mismatches += 1;
    }
    expect(mismatches).toBe(0);
  });

  it('drops the digits a float32 does not have, and writes non-finite values as null', () => {
    expect(float32Json(Math.fround(0.1))).toBe('0.100000001');
    expect(float32Json(0.5)).toBe('0.5');
    expect(float32Json(3)).toBe('3');
    expect(float32Json(-0)).toBe('0');
    expect(float32Json(2 ** -23)).toBe('1.1920929e-7');
    expect(float32Json(2 ** -24)).toBe('5.96046448e-8');
    expect(float32Json(Math.fround(1e-45))).toBe('1.40129846e-45');
    expect(float32Json(Math.fround(3.4e38))).toBe(String(Math.fround(3.4e38)));
    expect(float32Json(Number.NaN)).toBe('null');
    expect(float32Json(Number.POSITIVE_INFINITY)).toBe('null');
  });
});

describe('predictionTexts and predictBody', () => {
  it.each([
    ['plain names', ['delayed', 'on time']],
    ['integer-like names (enumerated first by V8)', ['10', 'b', '2', 'a']],
    ['names that are Object.prototype members', ['__proto__', 'constructor', 'toString']],
    ['names needing escapes', ['"quoted"', 'back\\slash', 'línea\nnueva', '\u2028']],
  ])('equal JSON.stringify of the reference objects for %s', (_, classes) => {
    const scored = classBatch(classes, 25);
    const ids = Array.from({ length: 25 }, () => randomUUID());
    const rows = predictionTexts(scored, classes, ids);
    const predictions = ids.map((id, i) => reference(scored, classes, i, id));
    expect(rows).toEqual(predictions.map((p) => JSON.stringify(p)));
    const model = { version: 3, sha256: 'a'.repeat(64) };
    expect(predictBody(joinRows(rows), model)).toBe(JSON.stringify({ predictions, model }));
    // A window of the batch, as `driftline predict` writes it.
    expect(predictionTexts(scored, classes, ids.slice(20), 20)).toEqual(rows.slice(20));
  });

  it('equal JSON.stringify of the reference objects for values, including tiny, huge and negative ones', () => {
    const values = Float32Array.from([0, -0, 1e-30, -2.5, 3.4e38, 0.1, 123456.789]);
    const scored: ScoredBatch = { kind: 'values', values };
    const ids = Array.from(values, () => randomUUID());
    const predictions = ids.map((id, i) => reference(scored, [], i, id));
    const rows = predictionTexts(scored, [], ids);
    expect(rows).toEqual(predictions.map((p) => JSON.stringify(p)));
    const model = { version: null, sha256: 'b'.repeat(64) };
    expect(predictBody(joinRows(rows), model)).toBe(JSON.stringify({ predictions, model }));
    expect(predictBody(joinRows([]), model)).toBe(JSON.stringify({ predictions: [], model }));
    // One model after another (the JSON of the last one is kept): each body names its own.
    for (const served of [
      model,
      { version: 3, sha256: 'b'.repeat(64) },
      { version: 3, sha256: 'c'.repeat(64) },
      model,
    ]) {
      expect(predictBody(joinRows(rows), served)).toBe(JSON.stringify({ predictions, model: served }));
    }
  });
});

describe('classIndexes', () => {
  it.each([
    ['a few classes (compared)', ['no', 'yes', 'maybe']],
    ['many classes (looked up)', Array.from({ length: 20 }, (_, k) => `c${k}`)],
  ])('gives each label its position in the class list, -1 when it is none, for %s', (_, classes) => {
    const labels = [...classes].reverse().map((name) => ` ${name}`.slice(1));
    labels.push('other', '');
    expect(Array.from(classIndexes(labels, classes))).toEqual([
      ...classes.map((_, k) => classes.length - 1 - k),
      -1,
      -1,
    ]);
    expect(Array.from(classIndexes(labels, classes, 2))).toEqual([classes.length - 1, classes.length - 2]);
  });
});

describe('writePredictions', () => {
  const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  /** Entropy from a seeded generator, so runs repeat. */
  const seeded = (seed: number) => {
    const prng = createPrng(seed);
    return (bytes: Uint8Array) => {
      for (let k = 0; k < bytes.length; k++) bytes[k] = prng.nextInt(256);
    };
  };

  /** The whole text of rows and where each ends. */
  const whole = (rows: JsonRows) => ({
    text: rowsText(rows, 0, rows.ends.length),
    ends: Array.from(rows.ends),
  });

  /** The ids of written predictions, read back from their JSON. */
  const idsOf = (rows: JsonRows) =>
    (parseRows(rows) as { predictionId: string }[]).map((prediction) => prediction.predictionId);

  /** The texts predictionTexts writes for the same ids, joined: what writePredictions must give. */
  function expectSameAsTexts(scored: ScoredBatch, classes: readonly string[], count: number): void {
    const written = writePredictions(scored, classes, count, seeded(count));
    const ids = idsOf(written.predictions);
    expect(ids).toHaveLength(count);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(count);
    expect(whole(written.predictions)).toEqual(whole(joinRows(predictionTexts(scored, classes, ids))));
    const rows = written.predictions;
    if (rows.ascii) expect(Buffer.byteLength(whole(rows).text)).toBe(whole(rows).text.length);
    // Pieces short enough for V8's young generation (the byte path: ASCII class names).
    const ascii = classes.every((name) => /^[\x20-\x7e]*$/.test(JSON.stringify(name)));
    for (const piece of ascii ? rows.pieces : []) expect(piece.length).toBeLessThanOrEqual(MAX_PIECE);
  }

  it.each([
    ['plain names', ['delayed', 'on time']],
    ['integer-like names', ['10', 'b', '2', 'a']],
    ['names that are Object.prototype members', ['__proto__', 'constructor', 'toString']],
    ['names needing escapes (the string path)', ['"quoted"', 'back\\slash', 'línea\nnueva', '\u2028']],
    ['more classes than are compared one by one', Array.from({ length: 12 }, (_, k) => `class ${k}`)],
  ])('writes what predictionTexts writes, for %s', (_, classes) => {
    expectSameAsTexts(classBatch(classes, 300), classes, 300);
    expectSameAsTexts(classBatch(classes, 1), classes, 1);
    expectSameAsTexts(classBatch(classes, 0), classes, 0);
  });

  it('writes a label outside the class list too (no exported model gives one)', () => {
    const scored: ScoredBatch = {
      kind: 'classes',
      labels: ['a', 'ñu'.repeat(50), 'b'],
      probabilities: Float32Array.from([0.5, 0.5, 0.25, 0.75, 1, 0]),
    };
    expectSameAsTexts(scored, ['a', 'b'], 3);
  });

  it('has room for the longest numbers and labels', () => {
    const classes = ['a', 'x'.repeat(300), 'b'];
    const rows = 2000;
    // Every probability as long as a float32 gets in JSON; labels the longest class.
    const probabilities = new Float32Array(rows * classes.length).fill(-3.4028234663852886e38);
    const labels = Array.from({ length: rows }, () => classes[1] as string);
    expectSameAsTexts({ kind: 'classes', labels, probabilities }, classes, rows);
    const values = Float32Array.from({ length: rows }, (_, i) =>
      i % 2 === 0 ? -3.4028234663852886e38 : -1.4e-45,
    );
    expectSameAsTexts({ kind: 'values', values }, [], rows);
  });

  it('writes random version 4 UUIDs from the system entropy by default', () => {
    const scored = classBatch(['a', 'b'], 1000);
    const ids = [
      ...idsOf(writePredictions(scored, ['a', 'b'], 1000).predictions),
      ...idsOf(writePredictions(scored, ['a', 'b'], 1000).predictions),
    ];
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(2000);
  });
});

describe('the WebAssembly prediction writer', () => {
  const seeded = (seed: number) => {
    const prng = createPrng(seed);
    return (bytes: Uint8Array) => {
      for (let k = 0; k < bytes.length; k++) bytes[k] = prng.nextInt(256);
    };
  };
  const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
  const text = (rows: { pieces: readonly string[] }) => rows.pieces.join('');

  /** writePredictions (WebAssembly first) and the JavaScript writer alone give the same rows. */
  function expectSameAsJs(scored: ScoredBatch, classes: readonly string[], count: number, seed: number) {
    const actual = writePredictions(scored, classes, count, seeded(seed)).predictions;
    const expected = writePredictionsJs(scored, classes, count, seeded(seed)).predictions;
    expect(text(actual)).toBe(text(expected));
    expect(Array.from(actual.ends)).toEqual(Array.from(expected.ends));
    expect(actual.ascii).toBe(expected.ascii);
  }

  it('writes the bytes of the JavaScript writer for every kind of float32 value', () => {
    const samples = float32Samples();
    // In batches of 1,000 (so some batches hold a number of 1e8 or more, which JavaScript writes).
    for (let at = 0; at < samples.length; at += 1000) {
      const values = samples.slice(at, at + 1000);
      expectSameAsJs({ kind: 'values', values }, [], values.length, at);
    }
    // Each value of magnitude below 1e8 written here: none of these batches leaves it to JavaScript.
    const small = samples.filter((v) => Math.abs(v) < 1e8);
    const texts = { open: bytes('{"predictionId":"'), rest: [bytes('","value":')] };
    const written = writeValueRowsWasm(small.length, texts, small, 200, seeded(1));
    expect(written).toBeDefined();
    const js = writePredictionsJs({ kind: 'values', values: small }, [], small.length, seeded(1)).predictions;
    expect(text(written as { pieces: string[] })).toBe(text(js));
    // Of 1e8 and more, it leaves the batch to the JavaScript writer, with the ids' random bytes.
    const left = writeValueRowsWasm(1, texts, Float32Array.of(1e8), 200, seeded(1));
    expect(left).toEqual({ random: expect.any(Uint8Array) });
  });

  it.each([
    ['two classes', ['delayed', 'on time']],
    ['integer-like names (another key order)', ['10', 'b', '2', 'a']],
    ['twelve classes', Array.from({ length: 12 }, (_, k) => `class ${k}`)],
  ])('writes the bytes of the JavaScript writer for class predictions, with %s', (_, classes) => {
    const samples = float32Samples().filter((v) => v >= 0 && v <= 1);
    const prng = createPrng(5);
    for (const rows of [1, 7, 1000]) {
      const probabilities = Float32Array.from(
        { length: rows * classes.length },
        () => samples[prng.nextInt(samples.length)] as number,
      );
      const labels = Array.from({ length: rows }, () => classes[prng.nextInt(classes.length)] as string);
      expectSameAsJs({ kind: 'classes', labels, probabilities }, classes, rows, rows);
      // Written by the WebAssembly writer itself, given the fixed texts built here from the class names.
      const { names, prefixes } = jsonKeys(classes);
      const texts = {
        open: bytes('{"predictionId":"'),
        rest: [
          ...classes.map((name) =>
            bytes(`","label":${JSON.stringify(name)},"probabilities":{${prefixes[0]}`),
          ),
          ...prefixes.slice(1).map((prefix) => bytes(`,${prefix}`)),
        ],
      };
      const columns = names.map((name) => classes.indexOf(name));
      const indexes = classIndexes(labels, classes);
      const wasm = writeClassRowsWasm(rows, texts, indexes, probabilities, columns, 1000, seeded(rows));
      const js = writePredictionsJs({ kind: 'classes', labels, probabilities }, classes, rows, seeded(rows));
      expect(text(wasm as { pieces: string[] })).toBe(text(js.predictions));
    }
  });

  it('leaves a label outside the classes to the JavaScript writer', () => {
    const classes = ['a', 'b'];
    const texts = {
      open: bytes('{"predictionId":"'),
      rest: [
        bytes('","label":"a","probabilities":{"a":'),
        bytes('","label":"b","probabilities":{"a":'),
        bytes(',"b":'),
      ],
    };
    const probabilities = Float32Array.of(0.25, 0.75, 0.5, 0.5);
    const ok = writeClassRowsWasm(2, texts, Int32Array.of(1, 0), probabilities, [0, 1], 200, seeded(3));
    expect(ok).toBeDefined();
    const js = writePredictionsJs(
      { kind: 'classes', labels: ['b', 'a'], probabilities },
      classes,
      2,
      seeded(3),
    ).predictions;
    expect(text(ok as { pieces: string[] })).toBe(text(js));
    const left = writeClassRowsWasm(2, texts, Int32Array.of(1, -1), probabilities, [0, 1], 200, seeded(3));
    expect(left).toEqual({ random: expect.any(Uint8Array) });
    expectSameAsJs({ kind: 'classes', labels: ['b', 'c'], probabilities }, classes, 2, 3);
  });
});
