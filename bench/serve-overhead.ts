/**
 * Part (a) of the serving benchmark: what the predict handler costs on top of the model itself.
 *
 * Both sides score the same instances with the same loaded session:
 * - bare: `OnnxModel.run` on feeds built beforehand — onnxruntime and the tensor wrapping only;
 * - handler: an API Gateway proxy event carrying the JSON body → `createHandler(...)` (middy, the
 *   serving API: body checks, the body read and validated — straight from the text, the fast path
 *   these plain bodies take —, feeds, the same run, prediction ids, capture record, JSON response),
 *   with capture on (sample rate 1.0, the default) through the Lambda's
 *   own sink — each record formatted as the log line it becomes, then dropped — and no-op metrics and log.
 * Iterations alternate between the two (in both orders), so drift of the machine hits both alike;
 * the table takes medians after a warm-up.
 */
import { createHandler } from '../lambdas/predict/create-handler.ts';
import { LogCaptureSink } from '../lambdas/shared/capture-log-sink.ts';
import type { DriftlineConfig } from '../pipelines/config/schema.ts';
import type { OnnxModel, ScoredBatch } from '../pipelines/model/onnx-model.ts';
import type { RawRow } from '../pipelines/model/raw.ts';
import { columnsFeeds, type OnnxFeed, onnxFeeds } from '../pipelines/onnx/inputs.ts';
import type { KnownCategories } from '../pipelines/serving/known-categories.ts';
import { NoopServingMetrics } from '../pipelines/serving/metrics.ts';
import { FixedModelSource } from '../pipelines/serving/model-source.ts';
import { writePredictions } from '../pipelines/serving/predict-body.ts';
import { RequestValidator } from '../pipelines/serving/validation.ts';
import { benchContext, DiscardedLines, predictEvent, SILENT_LOG } from './serve-events.ts';
import { median } from './stats.ts';

/** A step's median time right after a run of the model and straight after that (µs). */
export interface StepTimes {
  readonly afterRun: number;
  readonly warm: number;
}

/** One batch size's result; times in microseconds. */
export interface OverheadResult {
  readonly batch: number;
  readonly iterations: number;
  readonly bareUs: number;
  readonly handlerUs: number;
  /**
   * `JSON.parse` of the request body plus `JSON.stringify` of the response value, alone: the part of
   * the overhead any JSON-over-HTTP handler pays, whatever it does in between.
   */
  readonly jsonUs: number;
  /**
   * The handler's main steps timed alone on the same bodies (medians, µs): reading and validating the
   * body, writing the predictions and their ids, the capture line (record to encoded line) — each
   * right after a run of the model, with the caches it leaves, and again at once, with warm caches.
   */
  readonly steps: {
    readonly read: StepTimes;
    readonly write: StepTimes;
    readonly capture: StepTimes;
  };
}

/** How many timed iterations per batch size: about the same wall time for each. */
function iterationsFor(batch: number): number {
  if (batch <= 1) return 20_000;
  if (batch <= 100) return 4_000;
  return 600;
}

/**
 * Measures bare run vs handler for each batch size on `rows` (held-out instances).
 * @param scale multiplies the iteration counts (e.g. 0.2 for a quick look)
 */
export async function measureOverhead(
  bytes: Uint8Array,
  config: DriftlineConfig,
  rows: readonly RawRow[],
  batches: readonly number[],
  scale = 1,
): Promise<OverheadResult[]> {
  const models = await FixedModelSource.create(bytes, 'bench-model.onnx', config, SILENT_LOG);
  const capture = new LogCaptureSink(new DiscardedLines().write, { service: 'driftline' });
  const handler = createHandler(
    { config, models, capture, metrics: new NoopServingMetrics(), log: SILENT_LOG },
    { log: SILENT_LOG },
  );
  const context = benchContext();
  const loaded = models.loaded();
  if (loaded === undefined) throw new Error('the model did not load');
  const onnx = loaded.onnx;
  const results: OverheadResult[] = [];
  try {
    for (const batch of batches) {
      // A few different request bodies in rotation, as traffic would be; each side sees the same ones.
      const variants = Array.from({ length: 8 }, (_, v) => {
        const start = (v * batch) % Math.max(1, rows.length - batch);
        const instances = rows.slice(start, start + batch);
        return {
          feeds: onnxFeeds(onnx.features, instances) as Readonly<Record<string, OnnxFeed>>,
          event: predictEvent(JSON.stringify({ instances }), `bench-${batch}-${v}`),
        };
      });
      const iterations = Math.max(50, Math.round(iterationsFor(batch) * scale));
      const warmup = Math.max(20, Math.round(iterations / 5));
      const bare: number[] = [];
      const full: number[] = [];
      let lastBody = '';
      for (let i = 0; i < warmup + iterations; i++) {
        const variant = variants[i % variants.length];
        if (variant === undefined) throw new Error('no variant');
        const timeBare = async (): Promise<number> => {
          const t = performance.now();
          await onnx.run(variant.feeds);
          return performance.now() - t;
        };
        const timeHandler = async (): Promise<number> => {
          const t = performance.now();
          const result = await handler(variant.event, context);
          const elapsed = performance.now() - t;
          if (result.statusCode !== 200)
            throw new Error(`the handler answered ${result.statusCode}: ${result.body}`);
          lastBody = result.body;
          return elapsed;
        };
        let b: number;
        let h: number;
        if (i % 2 === 0) {
          b = await timeBare();
          h = await timeHandler();
        } else {
          h = await timeHandler();
          b = await timeBare();
        }
        if (i >= warmup) {
          bare.push(b);
          full.push(h);
        }
      }
      // The response is written by hand (pipelines/serving/predict-body.ts): it must be exactly what
      // JSON.stringify would give, which re-serialising the parsed text reproduces.
      if (JSON.stringify(JSON.parse(lastBody)) !== lastBody) {
        throw new Error('the /predict body differs from JSON.stringify of the same value');
      }
      const steps = await measureSteps(onnx, config, loaded.knownCategories, variants, iterations);
      const response: unknown = JSON.parse(lastBody);
      const json: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const body = variants[i % variants.length]?.event.body ?? '';
        const t = performance.now();
        JSON.parse(body);
        JSON.stringify(response);
        json.push(performance.now() - t);
      }
      results.push({
        batch,
        iterations,
        bareUs: median(bare) * 1000,
        handlerUs: median(full) * 1000,
        jsonUs: median(json) * 1000,
        steps,
      });
    }
  } finally {
    await models.close();
  }
  return results;
}

/**
 * Times the handler's main steps alone, each on the same request bodies ({@link OverheadResult.steps}),
 * twice in a row: first right after a run of the model (untimed), then again at once. onnxruntime's
 * run evicts much of what the steps use from the CPU's caches (a 1 MB model's trees fill a core's
 * L2), so the first time pays the cache misses and the second does not; in the handler a step runs
 * with a cache somewhere between the two.
 */
async function measureSteps(
  onnx: OnnxModel,
  config: DriftlineConfig,
  knownCategories: KnownCategories,
  variants: readonly {
    readonly event: { readonly body: string | null };
    readonly feeds: Readonly<Record<string, OnnxFeed>>;
  }[],
  iterations: number,
): Promise<OverheadResult['steps']> {
  const validator = new RequestValidator(config.features, config.api.maxInstances);
  const sink = new LogCaptureSink(new DiscardedLines().write, { service: 'driftline' });
  const times = { read: [[], []], write: [[], []], capture: [[], []] } as Record<
    'read' | 'write' | 'capture',
    [number[], number[]]
  >;
  /** Runs `step` after a run of the model (given what it scored), then again; returns its first result. */
  const twice = async <T>(
    name: keyof typeof times,
    feeds: Readonly<Record<string, OnnxFeed>>,
    step: (scored: ScoredBatch) => T,
  ) => {
    const scored = await onnx.run(feeds);
    let result: T | undefined;
    for (const when of times[name]) {
      const t = performance.now();
      const value = step(scored);
      when.push(performance.now() - t);
      result ??= value;
    }
    return result as T;
  };
  for (let i = 0; i < iterations; i++) {
    const body = variants[i % variants.length]?.event.body ?? '';
    const other = (variants[(i + 1) % variants.length] as (typeof variants)[number]).feeds;
    const instances = await twice('read', other, () => validator.instancesText(body, knownCategories));
    if (instances === undefined) throw new Error('the bench body did not take the fast path');
    const feeds = columnsFeeds(onnx.features, instances.columns, instances.count);
    const written = await twice('write', feeds, (scored) =>
      writePredictions(scored, onnx.classes, instances.count),
    );
    await twice('capture', other, () =>
      sink.capture(
        {
          type: 'capture',
          time: new Date().toISOString(),
          model: { version: 1, sha256: onnx.sha256 },
          instances: [],
          predictions: [],
        },
        { instances: instances.instanceJson, predictions: written.predictions },
      ),
    );
  }
  const us = ([cold, warm]: [number[], number[]]) => ({
    afterRun: median(cold) * 1000,
    warm: median(warm) * 1000,
  });
  return { read: us(times.read), write: us(times.write), capture: us(times.capture) };
}
