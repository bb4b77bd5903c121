/**
 * Scoring speed of an exported Driftline model in onnxruntime-node: 100 trees of depth 6 on 20
 * numeric features (the size the model-core issue sets a target for), batch 1 and batch 1000.
 * Prints one table: median and p95 per call, rows per second, and the target.
 *
 * Run: `npm run bench:score` (part of `npm run bench`).
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { table } from '../pipelines/cli/output.ts';
import { OnnxModel } from '../pipelines/model/onnx-model.ts';
import { exportOnnx } from '../pipelines/onnx/export.ts';
import type { OnnxFeed } from '../pipelines/onnx/inputs.ts';
import { createPrng } from '../pipelines/train/gbdt/prng.ts';
import { trainGbdt } from '../pipelines/train/gbdt/train.ts';
import { median, quantile } from './stats.ts';

const FEATURES = 20;
const TRAIN_ROWS = 50_000;

// A model with exactly 100 full-depth trees: no early stopping, enough rows that trees reach depth 6.
const rng = createPrng(7);
const columns = Array.from({ length: FEATURES }, () =>
  Float32Array.from({ length: TRAIN_ROWS }, () => rng.nextFloat() * 2 - 1),
);
const labels = Float64Array.from({ length: TRAIN_ROWS }, (_, i) => {
  const s =
    (columns[0]?.[i] ?? 0) * (columns[1]?.[i] ?? 0) +
    Math.sin(3 * (columns[2]?.[i] ?? 0)) +
    0.5 * (columns[3]?.[i] ?? 0);
  return s + 0.3 * (rng.nextFloat() - 0.5) > 0 ? 1 : 0;
});
const features = columns.map((_, j) => ({ name: `x${j}`, type: 'numeric' as const }));
const { model } = trainGbdt({
  task: 'binary',
  features,
  classes: ['0', '1'],
  train: { rows: TRAIN_ROWS, columns },
  trainLabels: labels,
  params: {
    nEstimators: 100,
    learningRate: 0.1,
    maxDepth: 6,
    minChildWeight: 1,
    lambda: 1,
    subsample: 1,
    colsampleByTree: 1,
    maxBins: 255,
    earlyStoppingRounds: 0,
  },
  seed: 1,
});
const bytes = exportOnnx(model);
const leaves = model.trees.reduce((s, t) => s + t.left.filter((l) => l === -1).length, 0);
// One intra-op thread is what the Lambda handler uses; all cores is what `driftline predict` uses on
// a file. The target holds for the machine, so both are measured in the same run.
const threadCounts = [...new Set([1, availableParallelism()])];

function feeds(batch: number): Record<string, OnnxFeed> {
  return Object.fromEntries(
    features.map((f, j) => [
      f.name,
      { type: 'float32', data: (columns[j] as Float32Array).slice(0, batch), dims: [batch, 1] } as OnnxFeed,
    ]),
  );
}

const rows: unknown[][] = [];
for (const threads of threadCounts) {
  const onnx = await OnnxModel.load(bytes, { intraOpThreads: threads });
  try {
    for (const [batch, iterations, target] of [
      [1, 5000, 0.05],
      [1000, 1000, 3],
    ] as const) {
      const input = feeds(batch);
      for (let i = 0; i < 200; i += 1) await onnx.run(input); // warm-up
      const times: number[] = [];
      for (let i = 0; i < iterations; i += 1) {
        const t0 = performance.now();
        await onnx.run(input);
        times.push(performance.now() - t0);
      }
      const m = median(times);
      rows.push([
        batch,
        threads,
        m.toFixed(4),
        quantile(times, 0.95).toFixed(4),
        Math.round((batch * 1000) / m),
        `< ${target}`,
        m < target ? 'met' : 'MISSED',
      ]);
    }
  } finally {
    await onnx.release();
  }
}
rows.sort((a, b) => (a[0] as number) - (b[0] as number));

console.log(
  `ONNX scoring: ${model.trees.length} trees, max depth 6, ${leaves} leaves, ${FEATURES} features, model ${(bytes.length / 1024).toFixed(0)} KB, onnxruntime-node, ${availableParallelism()} cores, load average ${loadavg()[0]?.toFixed(2)}\n`,
);
console.log(table(['batch', 'intra-op threads', 'median ms', 'p95 ms', 'rows/s', 'target ms', ''], rows));
