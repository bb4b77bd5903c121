/**
 * Benchmark: Driftline's histogram GBDT trainer against XGBoost 1.7.4 (`tree_method=hist`, Debian's
 * python3-xgboost) at the same settings, on synthetic and real datasets.
 *
 * Usage: node bench/train.ts [--quick] [--only SUBSTRING] [--runs N]
 *   --quick      skip the 1M × 50 row
 *   --only S     only datasets whose name contains S
 *   --runs N     timed runs per trainer on the synthetic sets (default 3; the table shows the median)
 *
 * The small real sets are trained on 5 different random train/test splits (one run each): their
 * quality is the mean over the splits, since one split of a few hundred test rows moves AUC or
 * accuracy by more than the differences being compared; their time is the median of the 5 runs.
 * Driftline runs on 1 thread, and also on 2 where its default would use worker threads (at least
 * PARALLEL_MIN_CELLS rows × columns); XGBoost on 1 and 2 (`nthread`). The ratio column compares
 * every time with XGBoost on 1 thread.
 * Each trainer runs in its own child process (so peak RSS is its own) on the very same float32 matrix
 * and train/test split, written to a temporary folder. Quality is computed here from each side's test
 * predictions: AUC (binary), accuracy (multiclass), RMSE (regression). Needs
 * `apt-get install -y --no-install-recommends python3-xgboost python3-sklearn`; without it only the
 * Driftline rows are printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GbdtParams, Task } from '../pipelines/config/schema.ts';
import { classificationMetrics, regressionMetrics, rocAuc } from '../pipelines/evaluate/metrics.ts';
import { PARALLEL_MIN_CELLS } from '../pipelines/train/gbdt/inputs.ts';
import { median } from './stats.ts';
import {
  type BenchDataset,
  flights,
  seattleWeather,
  sklearnDataset,
  syntheticBinary,
  syntheticMulticlass,
  syntheticRegression,
  vegaDataDir,
} from './train-datasets.ts';
import type { BenchMeta } from './train-driftline.ts';

const PYTHON = '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));

/** The comparison settings: XGBoost's defaults where Driftline has the same knob, no early stopping. */
const PARAMS: GbdtParams = {
  nEstimators: 100,
  learningRate: 0.1,
  maxDepth: 6,
  minChildWeight: 1,
  lambda: 1,
  subsample: 1,
  colsampleByTree: 1,
  maxBins: 255,
  earlyStoppingRounds: 0,
};

interface Case {
  /** The dataset, split (and for synthetic sets generated) with this seed. */
  readonly make: (seed: number) => BenchDataset;
  readonly name: string;
  /** Timed runs per trainer and split (the table shows the median over all runs). */
  readonly runs: number;
  /** Train/test splits (the table shows the mean quality over them). */
  readonly splits: number;
}

interface Trainer {
  readonly label: string;
  command(dataDir: string, out: string): [string, string[]];
  /** Run only on datasets of at least this many rows × columns. */
  readonly minCells?: number;
}

interface Run {
  readonly seconds: number;
  readonly peakRssMb: number;
}

function parseArgs(argv: readonly string[]): { quick: boolean; only: string | null; runs: number } {
  let quick = false;
  let only: string | null = null;
  let runs = 3;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--only') only = argv[++i] ?? null;
    else if (arg === '--runs') runs = Number(argv[++i]);
    else
      throw new Error(`unknown argument ${arg}; usage: node bench/train.ts [--quick] [--only S] [--runs N]`);
  }
  return { quick, only, runs };
}

function hasXgboost(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import xgboost, sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function writeDataset(dataset: BenchDataset, dir: string): void {
  const trainRows = dataset.trainLabels.length;
  const testRows = dataset.testLabels.length;
  const cols = dataset.train.length;
  const columnMajor = (columns: Float32Array[], rows: number): Uint8Array => {
    const all = new Float32Array(rows * cols);
    columns.forEach((c, j) => {
      all.set(c, j * rows);
    });
    return new Uint8Array(all.buffer);
  };
  writeFileSync(join(dir, 'train.f32'), columnMajor(dataset.train, trainRows));
  writeFileSync(join(dir, 'test.f32'), columnMajor(dataset.test, testRows));
  writeFileSync(join(dir, 'train-labels.f64'), new Uint8Array(dataset.trainLabels.buffer));
  const meta: BenchMeta = {
    task: dataset.task,
    classes: dataset.classes,
    numClasses: dataset.classes.length,
    features: dataset.features,
    trainRows,
    testRows,
    cols,
    params: PARAMS,
  };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
}

function runChild(trainer: Trainer, dataDir: string, out: string): Run {
  const [file, args] = trainer.command(dataDir, out);
  const stdout = execFileSync(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Run;
}

function readPredictions(path: string): Float64Array {
  const bytes = readFileSync(path);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The primary metric from the project's own metric code (the one `fit` and `train` report). */
function quality(dataset: BenchDataset, predictions: Float64Array): { name: string; value: number } {
  if (dataset.task === 'binary') return { name: 'AUC', value: rocAuc(dataset.testLabels, predictions) };
  if (dataset.task === 'multiclass') {
    const { accuracy } = classificationMetrics(dataset.testLabels, predictions, dataset.classes.length);
    return { name: 'accuracy', value: accuracy ?? Number.NaN };
  }
  return { name: 'RMSE', value: regressionMetrics(dataset.testLabels, predictions).rmse ?? Number.NaN };
}

function main(): void {
  const { quick, only, runs } = parseArgs(process.argv.slice(2));
  const withXgboost = hasXgboost();
  const vega = vegaDataDir();
  const cases: Case[] = [
    { name: 'synthetic binary', make: (seed) => syntheticBinary(100_000, 25_000, 20, seed), runs, splits: 1 },
    {
      name: 'synthetic multiclass',
      make: (seed) => syntheticMulticlass(50_000, 12_500, seed),
      runs,
      splits: 1,
    },
    {
      name: 'synthetic regression',
      make: (seed) => syntheticRegression(100_000, 25_000, seed),
      runs,
      splits: 1,
    },
  ];
  const real = { runs: 1, splits: 5 };
  if (vega !== null) {
    cases.push({ name: 'vega flights-20k', make: (seed) => flights(vega, seed), ...real });
    cases.push({ name: 'vega seattle-weather', make: (seed) => seattleWeather(vega, seed), ...real });
  }
  if (withXgboost) {
    const sklearn = (loader: string, task: Task) => (seed: number) =>
      sklearnDataset(PYTHON, loader, task, seed);
    cases.push({ name: 'sklearn breast_cancer', make: sklearn('load_breast_cancer', 'binary'), ...real });
    cases.push({ name: 'sklearn digits', make: sklearn('load_digits', 'multiclass'), ...real });
    cases.push({ name: 'sklearn diabetes', make: sklearn('load_diabetes', 'regression'), ...real });
  }
  if (!quick) {
    cases.push({
      name: 'synthetic binary 1M',
      make: (seed) => syntheticBinary(1_000_000, 100_000, 50, seed),
      runs: 1,
      splits: 1,
    });
  }

  const node = process.execPath;
  // Driftline on 2 threads only where its default would use them (enough rows × features).
  const trainers: Trainer[] = [1, 2].map((threads) => ({
    label: `Driftline ${threads}t`,
    command: (d: string, o: string): [string, string[]] => [
      node,
      [join(here, 'train-driftline.ts'), d, o, String(threads)],
    ],
    minCells: threads === 1 ? 0 : PARALLEL_MIN_CELLS,
  }));
  if (withXgboost) {
    for (const threads of [1, 2]) {
      trainers.push({
        label: `XGBoost ${threads}t`,
        command: (d, o) => [PYTHON, [join(here, 'train-xgboost.py'), d, String(threads), o]],
      });
    }
  }

  const header = [
    'dataset',
    'rows×cols',
    'splits',
    'trainer',
    'train s',
    'vs XGB 1t',
    'metric',
    'value',
    'Δ vs XGB 1t',
    'peak RSS MB',
  ];
  const table: string[][] = [];
  const root = mkdtempSync(join(tmpdir(), 'driftline-bench-train-'));
  try {
    for (const c of cases) {
      if (only !== null && !c.name.includes(only)) continue;
      let active: Trainer[] = [];
      const seconds = new Map<string, number[]>(trainers.map((t) => [t.label, []]));
      const rss = new Map<string, number[]>(trainers.map((t) => [t.label, []]));
      const metrics = new Map<string, number[]>(trainers.map((t) => [t.label, []]));
      let shape = '';
      let metricName = '';
      for (let split = 0; split < c.splits; split++) {
        const dataset = c.make(1000 + split);
        shape = `${dataset.trainLabels.length}×${dataset.train.length}`;
        const cells = dataset.trainLabels.length * dataset.train.length;
        active = trainers.filter((t) => cells >= (t.minCells ?? 0));
        const dir = join(root, `${c.name.replace(/[^a-z0-9]+/gi, '-')}-${split}`);
        mkdirSync(dir);
        writeDataset(dataset, dir);
        // Interleave the trainers' runs so a busy moment on the shared machine does not hit one side only.
        for (let r = 0; r < c.runs; r++) {
          for (const t of active) {
            const run = runChild(t, dir, join(dir, `${t.label}.pred`));
            seconds.get(t.label)?.push(run.seconds);
            rss.get(t.label)?.push(run.peakRssMb);
          }
        }
        for (const t of active) {
          const q = quality(dataset, readPredictions(join(dir, `${t.label}.pred`)));
          metricName = q.name;
          metrics.get(t.label)?.push(q.value);
        }
        rmSync(dir, { recursive: true, force: true });
      }
      const results = new Map<
        string,
        { seconds: number; rss: number; metric: { name: string; value: number } }
      >();
      for (const t of active) {
        const values = metrics.get(t.label) ?? [];
        results.set(t.label, {
          seconds: median(seconds.get(t.label) ?? []),
          rss: median(rss.get(t.label) ?? []),
          metric: { name: metricName, value: values.reduce((a, b) => a + b, 0) / values.length },
        });
      }
      const reference = results.get('XGBoost 1t');
      for (const t of trainers) {
        const res = results.get(t.label);
        if (res === undefined) continue;
        const ratio = reference === undefined ? '' : `${(res.seconds / reference.seconds).toFixed(2)}×`;
        let delta = '';
        if (reference !== undefined && t.label !== 'XGBoost 1t') {
          const d = res.metric.value - reference.metric.value;
          delta = `${d >= 0 ? '+' : ''}${d.toFixed(4)}`;
          if (res.metric.name === 'RMSE') delta += ` (${((100 * d) / reference.metric.value).toFixed(2)}%)`;
        }
        table.push([
          c.name,
          shape,
          String(c.splits),
          t.label,
          res.seconds.toFixed(3),
          ratio,
          res.metric.name,
          res.metric.value.toFixed(4),
          delta,
          res.rss.toFixed(0),
        ]);
      }
      process.stderr.write(`done: ${c.name}\n`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const widths = header.map((h, j) => Math.max(h.length, ...table.map((row) => (row[j] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, j) => (j >= 4 ? cell.padStart(widths[j] ?? 0) : cell.padEnd(widths[j] ?? 0))).join(' | ')} |`;
  console.log(
    `GBDT training: ${PARAMS.nEstimators} rounds, depth ${PARAMS.maxDepth}, learning rate ${PARAMS.learningRate}, ` +
      `lambda ${PARAMS.lambda}, min_child_weight ${PARAMS.minChildWeight}, ${PARAMS.maxBins} bins, no early stopping; ` +
      `each trainer in its own process; time = median of ${runs} runs on the synthetic sets (1 for 1M), of one run ` +
      'per split on the real ones; quality on the test split (mean over the splits)',
  );
  if (!withXgboost) console.log('(XGBoost not found at /usr/bin/python3: Driftline rows only)');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
}

main();
