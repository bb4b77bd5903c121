/**
 * The serving API with its fast paths for request bodies (read from the text; the validator's plain
 * predicates) against the same API parsing and validating every body the full way (JSON.parse + zod):
 * for the same requests, the same statuses and bodies (prediction ids aside), the same captured
 * records and the same metrics — on the committed models, with real onnxruntime-node. (Both sides
 * write predictions with the same writer, held to the string writer in `predict-body.test.ts`.)
 */
import { describe, expect, it } from 'vitest';
import { ServingApi } from '../../../pipelines/serving/api.ts';
import type { CaptureRecord, CaptureRowsJson, CaptureSink } from '../../../pipelines/serving/capture.ts';
import { type JsonRows, parseRows } from '../../../pipelines/serving/json-rows.ts';
import { MemoryServingLog } from '../../../pipelines/serving/log.ts';
import { MemoryServingMetrics } from '../../../pipelines/serving/metrics.ts';
import { FixedModelSource } from '../../../pipelines/serving/model-source.ts';
import { createPrng, type Prng } from '../../../pipelines/train/gbdt/prng.ts';
import {
  FIXTURE_MODELS,
  type FixtureModelName,
  fixtureModel,
  servingConfig,
} from '../../helpers/serving-fixtures.ts';

/** What a sink was handed, as JSON values. */
interface Captured {
  readonly instances: unknown[];
  readonly predictions: unknown[];
}

class RowsSink implements CaptureSink {
  readonly records: Captured[] = [];
  capture(record: CaptureRecord, rowsJson?: CaptureRowsJson): void {
    const rows = (json: JsonRows | undefined, values: readonly unknown[]) =>
      json === undefined ? JSON.parse(JSON.stringify(values)) : parseRows(json);
    this.records.push({
      instances: rows(rowsJson?.instances, record.instances),
      predictions: rows(rowsJson?.predictions, record.predictions),
    });
  }
  feedback(): void {}
  async close(): Promise<void> {}
}

function pick<T>(prng: Prng, list: readonly T[]): T {
  return list[prng.nextInt(list.length)] as T;
}

/** A `/predict` body as text: mostly valid, in every way a client may write one, sometimes not. */
function body(prng: Prng): string {
  const ws = () => (prng.nextFloat() < 0.1 ? pick(prng, [' ', '\n  ', '\t']) : '');
  const number = (lo: number, hi: number) =>
    prng.nextFloat() < 0.8
      ? String(Math.round((lo + prng.nextFloat() * (hi - lo)) * 100) / 100)
      : pick(prng, ['0', '-0', '1e2', '1.50', '120', '0.000001', '12345678901234567', '1E-3']);
  const instance = () => {
    const fields: [string, string][] = [];
    if (prng.nextFloat() < 0.9) fields.push(['age', prng.nextFloat() < 0.1 ? 'null' : number(0, 120)]);
    fields.push(['income', number(-2000, 3000)]);
    if (prng.nextFloat() < 0.9) {
      fields.push([
        'city',
        pick(prng, [
          '"lisbon"',
          '"porto"',
          '"faro"',
          '"atlantis"',
          '""',
          'null',
          '42',
          '"zürich"',
          '"\\u0061"',
        ]),
      ]);
    }
    fields.push(['plan', pick(prng, ['"basic"', '"plus"', '"pro"'])]);
    if (prng.nextFloat() < 0.1) fields.push(['id', pick(prng, ['7', '"x"', '{"a":1}', 'true'])]);
    if (prng.nextFloat() < 0.2) fields.sort(() => prng.nextFloat() - 0.5);
    if (prng.nextFloat() < 0.02) fields.push(['age', '"12"']); // invalid: a string for a number
    return `{${fields.map(([k, v]) => `${ws()}"${k}"${ws()}:${ws()}${v}`).join(',')}${ws()}}`;
  };
  const count = 1 + prng.nextInt(prng.nextFloat() < 0.1 ? 40 : 4);
  return `{"instances":[${Array.from({ length: count }, instance).join(`,${ws()}`)}]}`;
}

/** The response body with its prediction ids replaced by their position. */
function withoutIds(text: string): string {
  let n = 0;
  return text.replace(/"predictionId":"[0-9a-f-]{36}"/g, () => `"predictionId":${n++}`);
}

describe.each(Object.keys(FIXTURE_MODELS) as FixtureModelName[])('the fast paths on %s', (name) => {
  it('answer 1,500 requests as the full path does', async () => {
    const config = servingConfig(FIXTURE_MODELS[name].task);
    const bytes = await fixtureModel(name);
    const make = async (fastPath: boolean) => {
      const capture = new RowsSink();
      const metrics = new MemoryServingMetrics();
      const log = new MemoryServingLog();
      const models = await FixedModelSource.create(bytes, `${name}.onnx`, config, log);
      return { api: new ServingApi({ config, models, capture, metrics, log, fastPath }), capture, metrics };
    };
    const fast = await make(true);
    const full = await make(false);
    const prng = createPrng(5);
    let ok = 0;
    for (let i = 0; i < 1500; i++) {
      const text = body(prng);
      const request = {
        method: 'POST',
        path: '/predict',
        headers: { 'content-type': 'application/json' },
        body: text,
        isBase64Encoded: false,
      };
      const a = await fast.api.handle(request);
      const b = await full.api.handle(request);
      expect(a.status, text).toBe(b.status);
      expect(withoutIds(a.body), text).toBe(withoutIds(b.body));
      if (a.status === 200) ok += 1;
    }
    expect(ok).toBeGreaterThan(1000);
    // Captured records: the same instances and predictions (ids aside: each side made its own).
    expect(fast.capture.records.length).toBe(full.capture.records.length);
    fast.capture.records.forEach((record, i) => {
      const other = full.capture.records[i] as Captured;
      // As JSON values: the fast path keeps the request's number tokens (`-0`, `1.50`), the full path
      // writes JSON.stringify's (`0`, `1.5`).
      expect(JSON.stringify(record.instances)).toBe(JSON.stringify(other.instances));
      const strip = (p: unknown) => ({ ...(p as object), predictionId: undefined });
      expect(record.predictions.map(strip)).toEqual(other.predictions.map(strip));
    });
    // Metrics: the same observations, latency aside — unknown categories among them (the fast path
    // counts them as it reads, against the loaded model's known values).
    const observed = (m: MemoryServingMetrics) => m.observations.map(({ latencyMs: _, ...rest }) => rest);
    expect(observed(fast.metrics)).toEqual(observed(full.metrics));
    const unknown = fast.metrics.observations.reduce((sum, o) => sum + (o.unknownCategories ?? 0), 0);
    expect(unknown).toBeGreaterThan(100);
    await fast.api.close();
    await full.api.close();
  });
});
