/**
 * Datasets for the trainer benchmark (`bench/train.ts`): seeded synthetic sets generated here, two
 * real sets shipped in the `vega-datasets` npm package, and scikit-learn's bundled real sets (read
 * through Debian's python3-sklearn). Every set is split into train and test rows with a seeded
 * permutation, and categorical columns are encoded with Driftline's own encoder, so XGBoost and
 * Driftline train on the very same float32 matrix.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Task } from '../pipelines/config/schema.ts';
import type { FeatureEncoding } from '../pipelines/model/types.ts';
import { encodeColumns, fitEncodings, type RawColumn } from '../pipelines/train/encoding.ts';
import { createPrng, type Prng, shuffleInPlace } from '../pipelines/train/gbdt/prng.ts';

/** One benchmark dataset, already split and encoded. */
export interface BenchDataset {
  readonly name: string;
  readonly task: Task;
  readonly classes: readonly string[];
  readonly features: readonly FeatureEncoding[];
  /** Column-major float32, NaN = missing. */
  readonly train: Float32Array[];
  readonly trainLabels: Float64Array;
  readonly test: Float32Array[];
  readonly testLabels: Float64Array;
}

function gaussian(rng: Prng): number {
  // Box–Muller; 1 − u keeps the logarithm finite.
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Splits generated columns (`rows` rows) into the first `trainRows` and the rest. */
function splitAt(
  name: string,
  task: Task,
  classes: readonly string[],
  columns: Float32Array[],
  labels: Float64Array,
  trainRows: number,
): BenchDataset {
  return {
    name,
    task,
    classes,
    features: columns.map((_, j) => ({ name: `x${j}`, type: 'numeric' as const })),
    train: columns.map((c) => c.slice(0, trainRows)),
    trainLabels: labels.slice(0, trainRows),
    test: columns.map((c) => c.slice(trainRows)),
    testLabels: labels.slice(trainRows),
  };
}

/**
 * Binary classification with interactions, non-monotone effects, a step, correlated columns, 5 %
 * missing at random in one column and informative missingness in another; the rest is noise.
 * Bayes AUC is around 0.85, so neither trainer is at a ceiling.
 */
export function syntheticBinary(
  trainRows: number,
  testRows: number,
  featureCount: number,
  seed: number,
): BenchDataset {
  const rows = trainRows + testRows;
  const rng = createPrng(seed);
  const columns = Array.from({ length: featureCount }, () => new Float32Array(rows));
  const labels = new Float64Array(rows);
  const x = new Float64Array(featureCount);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < featureCount; j++) x[j] = gaussian(rng);
    // Columns 10 and 11 correlate with 0 and 1.
    if (featureCount > 11) {
      x[10] = 0.8 * (x[0] as number) + 0.6 * (x[10] as number);
      x[11] = 0.7 * (x[1] as number) + 0.7 * (x[11] as number);
    }
    const v = (j: number): number => x[j % featureCount] as number;
    const f =
      v(0) * v(1) +
      Math.sin(2 * v(2)) +
      0.5 * v(3) * v(3) -
      v(4) +
      (v(5) > 0.5 ? 1 : 0) +
      0.3 * v(6) +
      0.4 * v(8) -
      0.5;
    labels[i] = rng.nextFloat() < logistic(f) ? 1 : 0;
    for (let j = 0; j < featureCount; j++) (columns[j] as Float32Array)[i] = x[j] as number;
    if (featureCount > 8) {
      if (rng.nextFloat() < 0.05) (columns[7] as Float32Array)[i] = Number.NaN;
      // Informative: column 8 is missing mostly when it is large.
      if ((x[8] as number) > 1 && rng.nextFloat() < 0.7) (columns[8] as Float32Array)[i] = Number.NaN;
    }
  }
  return splitAt(`synthetic binary`, 'binary', ['0', '1'], columns, labels, trainRows);
}

/** Five classes from noisy non-linear class scores (argmax with Gumbel noise). */
export function syntheticMulticlass(trainRows: number, testRows: number, seed: number): BenchDataset {
  const featureCount = 20;
  const k = 5;
  const rows = trainRows + testRows;
  const rng = createPrng(seed);
  const weights = Array.from({ length: k * 8 }, () => gaussian(rng));
  const columns = Array.from({ length: featureCount }, () => new Float32Array(rows));
  const labels = new Float64Array(rows);
  const x = new Float64Array(featureCount);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < featureCount; j++) x[j] = gaussian(rng);
    const basis = [
      x[0] as number,
      x[1] as number,
      Math.sin(2 * (x[2] as number)),
      (x[3] as number) * (x[4] as number),
      Math.abs(x[5] as number),
      (x[6] as number) > 0 ? 1 : -1,
      (x[7] as number) ** 2,
      Math.tanh(2 * (x[8] as number)),
    ];
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let b = 0; b < basis.length; b++) s += (weights[c * 8 + b] as number) * (basis[b] as number);
      s -= Math.log(-Math.log(1 - rng.nextFloat()));
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    labels[i] = best;
    for (let j = 0; j < featureCount; j++) (columns[j] as Float32Array)[i] = x[j] as number;
    if (rng.nextFloat() < 0.05) (columns[9] as Float32Array)[i] = Number.NaN;
  }
  return splitAt('synthetic multiclass', 'multiclass', ['a', 'b', 'c', 'd', 'e'], columns, labels, trainRows);
}

/** Friedman #1 (five informative uniform columns) plus 15 noise columns, with unit Gaussian noise. */
export function syntheticRegression(trainRows: number, testRows: number, seed: number): BenchDataset {
  const featureCount = 20;
  const rows = trainRows + testRows;
  const rng = createPrng(seed);
  const columns = Array.from({ length: featureCount }, () => new Float32Array(rows));
  const labels = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < featureCount; j++) (columns[j] as Float32Array)[i] = rng.nextFloat();
    const v = (j: number): number => (columns[j] as Float32Array)[i] as number;
    labels[i] =
      10 * Math.sin(Math.PI * v(0) * v(1)) + 20 * (v(2) - 0.5) ** 2 + 10 * v(3) + 5 * v(4) + gaussian(rng);
  }
  return splitAt('synthetic regression', 'regression', [], columns, labels, trainRows);
}

/** The vega-datasets folder: the installed package, else an `npm pack` extracted under /tmp. */
export function vegaDataDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(require.resolve('vega-datasets/package.json'), '..', 'data');
    if (existsSync(dir)) return dir;
  } catch {
    // not installed: fall through to the unpacked tarball
  }
  const unpacked = '/tmp/vega-datasets/package/data';
  return existsSync(unpacked) ? unpacked : null;
}

/** Shuffled train/test row split (80/20) and Driftline encoding of raw columns. */
function fromRaw(
  name: string,
  task: Task,
  classes: readonly string[],
  specs: { name: string; type: 'numeric' | 'categorical' }[],
  raw: RawColumn[],
  labels: Float64Array,
  seed: number,
): BenchDataset {
  const rows = labels.length;
  const order = Array.from({ length: rows }, (_, i) => i);
  shuffleInPlace(order, createPrng(seed));
  const cut = Math.round(rows * 0.8);
  const pick = (rowsOf: number[]): RawColumn[] =>
    raw.map(
      (c): RawColumn =>
        c.type === 'numeric'
          ? { type: 'numeric', values: Float64Array.from(rowsOf, (r) => c.values[r] as number) }
          : { type: 'categorical', values: rowsOf.map((r) => c.values[r] ?? null) },
    );
  const trainRows = order.slice(0, cut);
  const testRows = order.slice(cut);
  const trainRaw = pick(trainRows);
  const trainLabels = Float64Array.from(trainRows, (r) => labels[r] as number);
  const encodings = fitEncodings(specs, trainRaw, trainLabels, task, classes.length, 'target');
  return {
    name,
    task,
    classes,
    features: encodings,
    train: [...encodeColumns(encodings, trainRaw).columns],
    trainLabels,
    test: [...encodeColumns(encodings, pick(testRows)).columns],
    testLabels: Float64Array.from(testRows, (r) => labels[r] as number),
  };
}

/**
 * vega-datasets `flights-20k.json`: is the departure delay over 15 minutes? Features: hour, weekday,
 * month, distance, and origin and destination airports as categoricals (~220 each).
 */
export function flights(dir: string, seed: number): BenchDataset {
  const records = JSON.parse(readFileSync(join(dir, 'flights-20k.json'), 'utf8')) as {
    date: string;
    delay: number;
    distance: number;
    origin: string;
    destination: string;
  }[];
  const n = records.length;
  const hour = new Float64Array(n);
  const weekday = new Float64Array(n);
  const month = new Float64Array(n);
  const distance = new Float64Array(n);
  const labels = new Float64Array(n);
  records.forEach((r, i) => {
    const [day, time] = r.date.split(' ') as [string, string];
    const [y, m, d] = day.split('/').map(Number) as [number, number, number];
    const [hh, mm] = time.split(':').map(Number) as [number, number];
    hour[i] = hh + mm / 60;
    weekday[i] = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
    month[i] = m;
    distance[i] = r.distance;
    labels[i] = r.delay > 15 ? 1 : 0;
  });
  return fromRaw(
    'vega flights-20k (delay>15)',
    'binary',
    ['on time', 'delayed'],
    [
      { name: 'hour', type: 'numeric' },
      { name: 'weekday', type: 'numeric' },
      { name: 'month', type: 'numeric' },
      { name: 'distance', type: 'numeric' },
      { name: 'origin', type: 'categorical' },
      { name: 'destination', type: 'categorical' },
    ],
    [
      { type: 'numeric', values: hour },
      { type: 'numeric', values: weekday },
      { type: 'numeric', values: month },
      { type: 'numeric', values: distance },
      { type: 'categorical', values: records.map((r) => r.origin) },
      { type: 'categorical', values: records.map((r) => r.destination) },
    ],
    labels,
    seed,
  );
}

/** vega-datasets `seattle-weather.csv`: the day's weather (5 classes) from precipitation, temperatures, wind, month. */
export function seattleWeather(dir: string, seed: number): BenchDataset {
  const lines = readFileSync(join(dir, 'seattle-weather.csv'), 'utf8').trim().split('\n').slice(1);
  const classes = ['drizzle', 'fog', 'rain', 'snow', 'sun'];
  const n = lines.length;
  const cols = Array.from({ length: 5 }, () => new Float64Array(n));
  const labels = new Float64Array(n);
  lines.forEach((line, i) => {
    const [date, precipitation, tmax, tmin, wind, weather] = line.split(',') as string[];
    const values = [
      Number(precipitation),
      Number(tmax),
      Number(tmin),
      Number(wind),
      Number(date?.slice(5, 7)),
    ];
    values.forEach((v, j) => {
      (cols[j] as Float64Array)[i] = v;
    });
    labels[i] = classes.indexOf(weather ?? '');
  });
  return fromRaw(
    'vega seattle-weather',
    'multiclass',
    classes,
    ['precipitation', 'temp_max', 'temp_min', 'wind', 'month'].map((name) => ({
      name,
      type: 'numeric' as const,
    })),
    cols.map((values): RawColumn => ({ type: 'numeric', values })),
    labels,
    seed,
  );
}

/** scikit-learn's bundled sets through Debian's python3-sklearn (no download): X as rows, y. */
export function sklearnDataset(python: string, loader: string, task: Task, seed: number): BenchDataset {
  const json = execFileSync(
    python,
    [
      '-c',
      `import json, sklearn.datasets as d; b = d.${loader}(); print(json.dumps({"X": b.data.tolist(), "y": b.target.tolist()}))`,
    ],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const { X, y } = JSON.parse(json) as { X: number[][]; y: number[] };
  const featureCount = X[0]?.length ?? 0;
  const raw = Array.from(
    { length: featureCount },
    (_, j): RawColumn => ({ type: 'numeric', values: Float64Array.from(X, (row) => row[j] as number) }),
  );
  const k = task === 'regression' ? 0 : Math.max(...y) + 1;
  return fromRaw(
    `sklearn ${loader.replace('load_', '')}`,
    task,
    Array.from({ length: k }, (_, c) => String(c)),
    raw.map((_, j) => ({ name: `f${j}`, type: 'numeric' as const })),
    raw,
    Float64Array.from(y),
    seed,
  );
}
