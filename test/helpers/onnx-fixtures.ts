/**
 * Small synthetic datasets for the exporter and linear-trainer tests: raw rows with numeric and
 * categorical features, missing values, a rare category, and labels for every task; plus helpers that
 * train real models on them through the project's own encoding and trainers.
 */
import type { GbdtParams, LinearParams, Task } from '../../pipelines/config/schema.ts';
import type { RawRow } from '../../pipelines/model/raw.ts';
import type { FeatureEncoding, LinearModel, TreeEnsembleModel } from '../../pipelines/model/types.ts';
import { encodeColumns, fitEncodings, type RawColumn } from '../../pipelines/train/encoding.ts';
import { createPrng } from '../../pipelines/train/gbdt/prng.ts';
import { trainGbdt } from '../../pipelines/train/gbdt/train.ts';
import { trainLinear } from '../../pipelines/train/linear.ts';

/** The features of the synthetic data, in column order. */
export const SPECS = [
  { name: 'age', type: 'numeric' },
  { name: 'income', type: 'numeric' },
  { name: 'city', type: 'categorical' },
  { name: 'plan', type: 'categorical' },
] as const;

const CITIES = ['lisbon', 'porto', 'faro', 'braga', 'evora'];
const PLANS = ['basic', 'plus', 'pro'];

/** Classes used per task. */
export const CLASSES: Record<Task, readonly string[]> = {
  binary: ['stay', 'churn'],
  multiclass: ['low', 'mid', 'high'],
  regression: [],
};

/** A labelled synthetic dataset. */
export interface Dataset {
  readonly rows: RawRow[];
  readonly labels: Float64Array;
}

/**
 * `n` rows: `age` ~10% missing, `income` complete, `city` ~10% missing with a rare category
 * ("sintra", kept out of the index encoding), `plan` complete. Labels follow a noisy linear rule.
 */
export function syntheticDataset(task: Task, n: number, seed: number): Dataset {
  const prng = createPrng(seed);
  const gaussian = (): number => {
    const u = Math.max(prng.nextFloat(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * prng.nextFloat());
  };
  const rows: RawRow[] = [];
  const labels = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const age = 20 + 50 * prng.nextFloat();
    const income = 1000 + 500 * gaussian();
    const cityIndex = prng.nextInt(CITIES.length);
    const city = i % 131 === 0 ? 'sintra' : prng.nextFloat() < 0.1 ? null : (CITIES[cityIndex] as string);
    const planIndex = prng.nextInt(PLANS.length);
    const ageMissing = prng.nextFloat() < 0.1;
    rows.push({ age: ageMissing ? null : age, income, city, plan: PLANS[planIndex] as string });
    const signal =
      0.05 * (age - 45) +
      0.002 * (income - 1000) +
      (city === null ? 0.5 : 0.4 * cityIndex - 0.8) +
      0.7 * planIndex -
      0.7;
    const noisy = signal + 0.8 * gaussian();
    if (task === 'binary') labels[i] = noisy > 0 ? 1 : 0;
    else if (task === 'multiclass') labels[i] = noisy < -0.7 ? 0 : noisy < 0.7 ? 1 : 2;
    else labels[i] = 3 + noisy;
  }
  return { rows, labels };
}

/**
 * Rows that exercise every input path: missing numerics (null, absent, NaN), missing categoricals
 * (null, absent, ""), unseen categories, a number sent for a categorical, extreme values.
 */
export function edgeRows(): RawRow[] {
  return [
    { age: 30, income: 900, city: 'lisbon', plan: 'pro' },
    { age: null, income: 1500, city: 'porto', plan: 'basic' },
    { income: 1200, city: 'faro', plan: 'plus' },
    { age: Number.NaN, income: 800, city: null, plan: 'plus' },
    { age: 50, income: 1100, plan: 'basic' },
    { age: 41, income: 1000, city: '', plan: '' },
    { age: 62, income: 700, city: 'atlantis', plan: 'enterprise' },
    { age: 35, income: 1300, city: 'sintra', plan: 'pro' },
    { age: 25, income: 950, city: 42, plan: 'pro' },
    { age: 1e6, income: -1e6, city: 'braga', plan: 'plus' },
    {},
  ];
}

/** The raw rows as typed columns, as a data loader hands them to the encoders. */
export function rawColumns(rows: readonly RawRow[]): RawColumn[] {
  return SPECS.map((spec): RawColumn => {
    if (spec.type === 'numeric') {
      return {
        type: 'numeric',
        values: Float64Array.from(rows, (r) => {
          const v = r[spec.name];
          return typeof v === 'number' ? v : Number.NaN;
        }),
      };
    }
    return {
      type: 'categorical',
      values: rows.map((r) => {
        const v = r[spec.name];
        return v === null || v === undefined ? null : String(v);
      }),
    };
  });
}

const GBDT_PARAMS: GbdtParams = {
  nEstimators: 25,
  learningRate: 0.3,
  maxDepth: 4,
  minChildWeight: 1,
  lambda: 1,
  subsample: 1,
  colsampleByTree: 1,
  maxBins: 32,
  earlyStoppingRounds: 0,
};

/** A GBDT model trained on {@link syntheticDataset} through the real encoding and trainer. */
export function trainedGbdt(task: Task, n = 400, seed = 7): TreeEnsembleModel {
  const data = syntheticDataset(task, n, seed);
  const columns = rawColumns(data.rows);
  const classes = CLASSES[task];
  const features = fitEncodings(SPECS, columns, data.labels, task, classes.length, 'target');
  return trainGbdt({
    task,
    features,
    classes,
    train: encodeColumns(features, columns),
    trainLabels: data.labels,
    params: GBDT_PARAMS,
    seed,
  }).model;
}

/** The index encodings and encoded matrix of a dataset, as the linear trainer takes them. */
export function linearInputs(task: Task, data: Dataset) {
  const columns = rawColumns(data.rows);
  const features: FeatureEncoding[] = fitEncodings(
    SPECS,
    columns,
    data.labels,
    task,
    CLASSES[task].length,
    'index',
  );
  return { features, train: encodeColumns(features, columns) };
}

/** A linear model trained on {@link syntheticDataset}. */
export function trainedLinear(
  task: Task,
  n = 400,
  seed = 7,
  params: LinearParams = { l2: 1e-3, maxIterations: 500, tolerance: 1e-8 },
): LinearModel {
  const data = syntheticDataset(task, n, seed);
  const { features, train } = linearInputs(task, data);
  return trainLinear({ task, features, classes: CLASSES[task], train, trainLabels: data.labels, params })
    .model;
}
