/**
 * One training run from a validated table to served-model artifacts: split → encode → train → export
 * to ONNX → score the holdout with onnxruntime (so the metrics describe the exact artifact that will
 * be served) → drift baseline. Used by `driftline fit`, the training pipeline's Lambda and the local
 * state machine alike.
 */
import { availableParallelism } from 'node:os';
import type { DriftlineConfig } from '../config/schema.ts';
import { splitRows } from '../data/split.ts';
import type { DataTable } from '../data/table.ts';
import { type Baseline, buildBaseline } from '../drift/baseline.ts';
import { InputError } from '../errors.ts';
import { type Metrics, taskMetrics } from '../evaluate/metrics.ts';
import { OnnxModel, type ScoredBatch } from '../model/onnx-model.ts';
import type { TrainedModel } from '../model/types.ts';
import { exportOnnx } from '../onnx/export.ts';
import { encodeColumns, fitEncodings, type RawColumn } from './encoding.ts';
import { trainGbdt } from './gbdt/train.ts';
import { trainLinear } from './linear.ts';

/** Everything a run produces. */
export interface FitResult {
  readonly model: TrainedModel;
  readonly onnx: Uint8Array;
  readonly metrics: FitMetrics;
  readonly baseline: Baseline;
}

/** `metrics.json`: holdout metrics of the exported model, and how the run went. */
export interface FitMetrics {
  readonly task: DriftlineConfig['task'];
  readonly algorithm: DriftlineConfig['training']['algorithm'];
  /** The promotion metric and its test value. */
  readonly primary: { readonly metric: string; readonly value: number };
  readonly test: Metrics;
  readonly validation: Metrics;
  readonly classes: readonly string[];
  readonly rows: {
    readonly train: number;
    readonly validation: number;
    readonly test: number;
    readonly dropped: number;
  };
  readonly split: 'time' | 'random' | 'stratified';
  /** Boosting rounds kept (GBDT) or optimiser iterations (linear). */
  readonly iterations: number;
  readonly seconds: { readonly train: number; readonly export: number; readonly evaluate: number };
}

/** Class labels and per-row class indices (classification) or values (regression). */
export function encodeLabels(
  config: DriftlineConfig,
  table: DataTable,
): { classes: string[]; labels: Float64Array } {
  const target = table.target;
  if (target === undefined) throw new InputError(`the data has no target column "${config.target}"`);
  if (target.kind === 'values') return { classes: [], labels: target.values };
  // Sorted, so the binary positive class is the later one ("1" over "0", "yes" over "no", "true" over "false").
  const classes = [...new Set(target.values)].sort();
  if (config.task === 'binary' && classes.length !== 2) {
    throw new InputError(
      `the task is binary but the target "${config.target}" has ${classes.length} classes`,
      {
        hint: 'set "task": "multiclass" in driftline.config.json, or fix the target column',
      },
    );
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  return { classes, labels: Float64Array.from(target.values, (v) => index.get(v) as number) };
}

function subset(column: RawColumn, rows: Uint32Array): RawColumn {
  if (column.type === 'numeric')
    return { type: 'numeric', values: Float64Array.from(rows, (i) => column.values[i] as number) };
  return { type: 'categorical', values: Array.from(rows, (i) => column.values[i] ?? null) };
}

function pick(values: Float64Array, rows: Uint32Array): Float64Array {
  return Float64Array.from(rows, (i) => values[i] as number);
}

function predictionColumns(scored: ScoredBatch, classes: readonly string[]): Record<string, RawColumn> {
  if (scored.kind === 'values')
    return { value: { type: 'numeric', values: Float64Array.from(scored.values) } };
  const k = classes.length;
  const columns: Record<string, RawColumn> = {};
  classes.forEach((c, j) => {
    columns[`probability:${c}`] = {
      type: 'numeric',
      values: Float64Array.from(
        { length: scored.labels.length },
        (_, i) => scored.probabilities[i * k + j] as number,
      ),
    };
  });
  columns.label = { type: 'categorical', values: [...scored.labels] };
  return columns;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/**
 * Trains, exports and evaluates one model on `table`.
 * @param datasetVersion the content hash of the dataset version, recorded in the model's metadata
 * @throws InputError when the data cannot train the configured task
 */
export async function fitModel(
  config: DriftlineConfig,
  table: DataTable,
  datasetVersion?: string,
): Promise<FitResult> {
  const { task, training } = config;
  const { classes, labels } = encodeLabels(config, table);
  const split = splitRows(
    table.rows,
    { seed: training.seed, ...training.split },
    table.time,
    task === 'regression' ? undefined : labels,
  );
  const part = (rows: Uint32Array) => ({
    columns: table.features.map((c) => subset(c, rows)),
    labels: pick(labels, rows),
  });
  const train = part(split.train);
  const valid = part(split.validation);
  const test = part(split.test);
  const specs = config.features.map((f) => ({ name: f.name, type: f.type }));

  const started = process.hrtime.bigint();
  let model: TrainedModel;
  let iterations: number;
  if (training.algorithm === 'gbdt') {
    const encodings = fitEncodings(specs, train.columns, train.labels, task, classes.length, 'target');
    const result = trainGbdt({
      task,
      features: encodings,
      classes,
      train: encodeColumns(encodings, train.columns),
      trainLabels: train.labels,
      valid: encodeColumns(encodings, valid.columns),
      validLabels: valid.labels,
      params: training.params,
      seed: training.seed,
    });
    model = result.model;
    iterations = result.bestIteration;
  } else {
    const encodings = fitEncodings(specs, train.columns, train.labels, task, classes.length, 'index');
    const result = trainLinear({
      task,
      features: encodings,
      classes,
      train: encodeColumns(encodings, train.columns),
      trainLabels: train.labels,
      params: training.params,
    });
    model = result.model;
    iterations = result.iterations;
  }
  const trainSeconds = seconds(started);

  const exportStarted = process.hrtime.bigint();
  const onnx = exportOnnx(model, {
    graphName: config.project.name,
    ...(datasetVersion === undefined ? {} : { datasetVersion }),
  });
  const exportSeconds = seconds(exportStarted);

  const evaluateStarted = process.hrtime.bigint();
  // The holdout is scored in a few big batches: every core helps.
  const served = await OnnxModel.load(onnx, { intraOpThreads: availableParallelism() });
  let testScored: ScoredBatch;
  let validMetrics: Metrics;
  let testMetrics: Metrics;
  try {
    const metricsOf = (scored: ScoredBatch, y: Float64Array) =>
      taskMetrics(task, y, scored.kind === 'values' ? scored.values : scored.probabilities, classes.length);
    testScored = await served.runColumns(test.columns);
    testMetrics = metricsOf(testScored, test.labels);
    validMetrics = metricsOf(await served.runColumns(valid.columns), valid.labels);
  } finally {
    await served.release();
  }
  const evaluateSeconds = seconds(evaluateStarted);

  const baseline = buildBaseline(
    Object.fromEntries(config.features.map((f, j) => [f.name, train.columns[j] as RawColumn])),
    predictionColumns(testScored, classes),
    split.train.length,
    training.seed,
  );
  const metric = config.promotion.metric;
  return {
    model,
    onnx,
    baseline,
    metrics: {
      task,
      algorithm: training.algorithm,
      primary: { metric, value: testMetrics[metric] ?? Number.NaN },
      test: testMetrics,
      validation: validMetrics,
      classes,
      rows: {
        train: split.train.length,
        validation: split.validation.length,
        test: split.test.length,
        dropped: table.droppedRows,
      },
      split: split.method,
      iterations,
      seconds: { train: trainSeconds, export: exportSeconds, evaluate: evaluateSeconds },
    },
  };
}
