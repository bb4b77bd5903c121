/**
 * Data and models of the serving benchmark (`bench/serve.ts`): a real dataset — 200 000 US domestic
 * flights of 2001 from vega-datasets' `flights-3m.parquet` (every 15th row, so the sample spans the
 * whole file), task "is the departure delay over 15 minutes?" — split 80/20 with a seeded shuffle,
 * GBDT models trained on it with Driftline's own trainer and exported with `exportOnnx`, and the same
 * encoded training matrix written out for XGBoost, so both sides learn from the very same rows.
 *
 * Features: `hour` (departure, fractional), `weekday`, `month`, `distance` (numeric) and `origin`,
 * `destination` (categorical airport codes, ~230 each). Request instances are held-out rows as a
 * client would send them: `{"hour": 13.25, "weekday": 3, …, "origin": "SFO", "destination": "LAX"}`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parseConfig } from '../pipelines/config/load.ts';
import type { DriftlineConfig, DriftlineConfigInput, GbdtParams } from '../pipelines/config/schema.ts';
import { OnnxModel } from '../pipelines/model/onnx-model.ts';
import type { RawRow } from '../pipelines/model/raw.ts';
import type { FeatureEncoding, TreeEnsembleModel } from '../pipelines/model/types.ts';
import { exportOnnx } from '../pipelines/onnx/export.ts';
import { encodeColumns, fitEncodings, type RawColumn } from '../pipelines/train/encoding.ts';
import { createPrng, shuffleInPlace } from '../pipelines/train/gbdt/prng.ts';
import { trainGbdt } from '../pipelines/train/gbdt/train.ts';

/** Keep every this-many-th row of the 3 million: 200 000 rows across the whole file. */
const STRIDE = 15;

/** The classes, negative first (Driftline sorts class names; these sort the same way). */
export const CLASSES = ['delayed', 'on time'] as const;

/** The features in input order. */
export const FEATURE_SPECS = [
  { name: 'hour', type: 'numeric' },
  { name: 'weekday', type: 'numeric' },
  { name: 'month', type: 'numeric' },
  { name: 'distance', type: 'numeric' },
  { name: 'origin', type: 'categorical' },
  { name: 'destination', type: 'categorical' },
] as const;

/** The sample, split; rows are raw (as requests carry them), labels 1 = on time, 0 = delayed. */
export interface FlightsData {
  readonly trainRows: readonly RawRow[];
  readonly trainLabels: Float64Array;
  readonly testRows: readonly RawRow[];
  readonly testLabels: Float64Array;
  /** Categorical encodings fitted on the training rows (what the trainer and XGBoost both see). */
  readonly encodings: readonly FeatureEncoding[];
  /** The encoded training matrix, column-major float32 (NaN = missing). */
  readonly trainColumns: readonly Float32Array[];
}

/** A trained and exported Driftline model. */
export interface BenchModel {
  readonly label: string;
  readonly params: GbdtParams;
  readonly model: TreeEnsembleModel;
  readonly bytes: Uint8Array;
  readonly trees: number;
  readonly nodes: number;
  readonly trainSeconds: number;
}

/** The flights file of the installed vega-datasets package. */
export function flightsFile(): string {
  // The package exports only its entry (build/index.js); the data folder sits next to build/.
  const entry = fileURLToPath(import.meta.resolve('vega-datasets'));
  return join(dirname(entry), '..', 'data', 'flights-3m.parquet');
}

/** Reads the sample (≈ 3 s: the parquet file is decoded column chunk by column chunk). */
export async function loadFlights(seed = 1): Promise<FlightsData> {
  const file = await asyncBufferFromFile(flightsFile());
  const metadata = await parquetMetadataAsync(file);
  const sampled = Math.ceil(Number(metadata.num_rows) / STRIDE);
  const kept: Record<string, unknown[]> = {};
  for (const name of ['date', 'delay', 'distance', 'origin', 'destination']) kept[name] = new Array(sampled);
  await parquetRead({
    file,
    metadata,
    compressors,
    // Chunks may arrive in any order: each value goes to the slot of its row number.
    onChunk: (chunk) => {
      const into = kept[chunk.columnName];
      if (into === undefined) return;
      const data = chunk.columnData as ArrayLike<unknown>;
      for (let r = Math.ceil(chunk.rowStart / STRIDE) * STRIDE; r < chunk.rowEnd; r += STRIDE) {
        into[r / STRIDE] = data[r - chunk.rowStart];
      }
    },
  });
  const dates = kept.date as Date[];
  const delays = kept.delay as bigint[];
  const distances = kept.distance as bigint[];
  const origins = kept.origin as string[];
  const destinations = kept.destination as string[];
  const n = dates.length;
  const rows: RawRow[] = [];
  const labels = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const date = dates[i] as Date;
    rows.push({
      // Minutes resolution, as a schedule gives it.
      hour: Math.round((date.getUTCHours() + date.getUTCMinutes() / 60) * 100) / 100,
      weekday: date.getUTCDay(),
      month: date.getUTCMonth() + 1,
      distance: Number(distances[i]),
      origin: origins[i] ?? null,
      destination: destinations[i] ?? null,
    });
    labels[i] = Number(delays[i]) > 15 ? 0 : 1;
  }

  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, createPrng(seed));
  const cut = Math.round(n * 0.8);
  const trainIdx = order.slice(0, cut);
  const trainRows = trainIdx.map((i) => rows[i] as RawRow);
  const trainLabels = Float64Array.from(trainIdx, (i) => labels[i] as number);
  const testIdx = order.slice(cut);
  const testRows = testIdx.map((i) => rows[i] as RawRow);
  const testLabels = Float64Array.from(testIdx, (i) => labels[i] as number);

  const raw = rawColumns(trainRows);
  const encodings = fitEncodings(FEATURE_SPECS, raw, trainLabels, 'binary', CLASSES.length, 'target');
  return {
    trainRows,
    trainLabels,
    testRows,
    testLabels,
    encodings,
    trainColumns: encodeColumns(encodings, raw).columns,
  };
}

function rawColumns(rows: readonly RawRow[]): RawColumn[] {
  return FEATURE_SPECS.map((spec): RawColumn => {
    if (spec.type === 'numeric') {
      return { type: 'numeric', values: Float64Array.from(rows, (r) => Number(r[spec.name] ?? Number.NaN)) };
    }
    return { type: 'categorical', values: rows.map((r) => (r[spec.name] ?? null) as string | null) };
  });
}

/** The Driftline config the benchmark serves with: these features, no ranges, defaults elsewhere. */
export function benchConfigInput(): DriftlineConfigInput {
  return {
    project: { name: 'bench-serve-flights' },
    task: 'binary',
    target: 'on_time',
    features: FEATURE_SPECS.map((f) => ({ ...f, nullable: f.type === 'categorical' })),
  };
}

/** {@link benchConfigInput}, validated. */
export function benchConfig(): DriftlineConfig {
  return parseConfig(benchConfigInput());
}

/** The GBDT settings of one benchmark model: XGBoost's defaults but for trees and depth. */
export function gbdtParams(nEstimators: number, maxDepth: number): GbdtParams {
  return {
    nEstimators,
    learningRate: 0.1,
    maxDepth,
    minChildWeight: 1,
    lambda: 1,
    subsample: 1,
    colsampleByTree: 1,
    maxBins: 255,
    earlyStoppingRounds: 0,
  };
}

/** Trains and exports one model on the training rows. */
export function trainBenchModel(data: FlightsData, label: string, params: GbdtParams): BenchModel {
  const started = performance.now();
  const { model } = trainGbdt({
    task: 'binary',
    features: data.encodings,
    classes: CLASSES,
    train: { rows: data.trainLabels.length, columns: data.trainColumns },
    trainLabels: data.trainLabels,
    params,
    seed: 1,
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const bytes = exportOnnx(model, { graphName: `bench-serve-${label}` });
  const nodes = model.trees.reduce((sum, tree) => sum + tree.left.length, 0);
  return { label, params, model, bytes, trees: model.trees.length, nodes, trainSeconds };
}

/**
 * Writes what the XGBoost side needs into `dir`: `train.f32` (row-major float32, rows × features,
 * NaN = missing), `labels.f32`, and `meta.json` (features with their category → code maps, classes,
 * training parameters). The Python server encodes request categories with the same maps, which is
 * what a hand-written Python service does with a fitted encoder.
 */
export function writeXgboostInputs(dir: string, data: FlightsData, params: GbdtParams): void {
  mkdirSync(dir, { recursive: true });
  const rows = data.trainLabels.length;
  writeFileSync(join(dir, 'train.f32'), rowMajor(data.trainColumns, rows));
  const test = encodeColumns(data.encodings, rawColumns(data.testRows));
  writeFileSync(join(dir, 'test.f32'), rowMajor(test.columns, data.testRows.length));
  writeFileSync(join(dir, 'labels.f32'), new Uint8Array(Float32Array.from(data.trainLabels).buffer));
  const features = data.encodings.map((f) =>
    f.type === 'numeric'
      ? { name: f.name, type: f.type }
      : {
          name: f.name,
          type: f.type,
          codes: Object.fromEntries(f.categories.map((c, k) => [c, f.codes[k]])),
          unknownCode: f.unknownCode,
        },
  );
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify(
      { rows, testRows: data.testRows.length, features, classes: CLASSES, params: { ...params } },
      null,
      1,
    ),
  );
}

function rowMajor(columns: readonly Float32Array[], rows: number): Uint8Array {
  const cols = columns.length;
  const matrix = new Float32Array(rows * cols);
  columns.forEach((column, j) => {
    for (let i = 0; i < rows; i++) matrix[i * cols + j] = column[i] as number;
  });
  return new Uint8Array(matrix.buffer);
}

/** Scores of the positive class ("on time") for the test rows, from an exported model. */
export async function testScores(bytes: Uint8Array, data: FlightsData): Promise<Float32Array> {
  const model = await OnnxModel.load(bytes);
  try {
    const scored = await model.runColumns(rawColumns(data.testRows));
    if (scored.kind !== 'classes') throw new Error('expected a classifier');
    return Float32Array.from(
      { length: data.testRows.length },
      (_, i) => scored.probabilities[i * 2 + 1] as number,
    );
  } finally {
    await model.release();
  }
}
