/**
 * Driftline side of the trainer benchmark (`bench/train.ts`), one training run per process so its
 * peak RSS is its own.
 *
 * Usage: node bench/train-driftline.ts DATA_DIR PREDICTIONS_OUT [THREADS]
 *
 * Reads what bench/train.ts wrote to DATA_DIR, trains with `trainGbdt`, writes the test predictions in
 * the layout of the XGBoost side (binary: P(positive) per row; multiclass: row-major probabilities;
 * regression: values) as float64, and prints one JSON line: training seconds and peak RSS.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GbdtParams, Task } from '../pipelines/config/schema.ts';
import type { FeatureEncoding, FeatureMatrix } from '../pipelines/model/types.ts';
import { predictProba, predictValue, trainGbdt } from '../pipelines/train/gbdt/index.ts';

/** What bench/train.ts writes next to the matrices. */
export interface BenchMeta {
  readonly task: Task;
  readonly classes: readonly string[];
  readonly numClasses: number;
  readonly features: readonly FeatureEncoding[];
  readonly trainRows: number;
  readonly testRows: number;
  readonly cols: number;
  readonly params: GbdtParams;
}

function readMatrix(path: string, rows: number, cols: number): FeatureMatrix {
  const bytes = readFileSync(path);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, rows * cols);
  return { rows, columns: Array.from({ length: cols }, (_, j) => all.subarray(j * rows, (j + 1) * rows)) };
}

function readLabels(path: string): Float64Array {
  const bytes = readFileSync(path);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function main(): void {
  const [dataDir, out, threads] = process.argv.slice(2);
  if (dataDir === undefined || out === undefined) {
    throw new Error('usage: node bench/train-driftline.ts DATA_DIR PREDICTIONS_OUT [THREADS]');
  }
  const meta = JSON.parse(readFileSync(join(dataDir, 'meta.json'), 'utf8')) as BenchMeta;
  const train = readMatrix(join(dataDir, 'train.f32'), meta.trainRows, meta.cols);
  const trainLabels = readLabels(join(dataDir, 'train-labels.f64'));
  const test = readMatrix(join(dataDir, 'test.f32'), meta.testRows, meta.cols);

  const start = performance.now();
  const { model } = trainGbdt({
    task: meta.task,
    features: [...meta.features],
    classes: [...meta.classes],
    train,
    trainLabels,
    params: meta.params,
    seed: 0,
    ...(threads === undefined ? {} : { threads: Number(threads) }),
  });
  const seconds = (performance.now() - start) / 1000;

  let predictions: Float64Array;
  if (meta.task === 'regression') predictions = predictValue(model, test);
  else if (meta.task === 'binary') predictions = predictProba(model, test).filter((_, i) => i % 2 === 1);
  else predictions = predictProba(model, test);
  writeFileSync(out, new Uint8Array(predictions.buffer, predictions.byteOffset, predictions.byteLength));
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, peakRssMb })}\n`);
}

main();
