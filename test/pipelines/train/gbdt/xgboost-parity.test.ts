/**
 * Parity with the reference: on data whose every distinct value gets its own bin (so both trainers
 * see the same candidate splits), Driftline and XGBoost 1.7 `tree_method=hist` must grow the same
 * trees, i.e. give the same raw scores up to float32 rounding. Runs where Debian's python3-xgboost
 * is installed (`/usr/bin/python3`), is skipped elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../../pipelines/config/schema.ts';
import { predictRaw, trainGbdt } from '../../../../pipelines/train/gbdt/index.ts';
import { createPrng } from '../../../../pipelines/train/gbdt/prng.ts';
import { numericFeatures, params } from './helpers.ts';

const PYTHON = '/usr/bin/python3';

function hasXgboost(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import xgboost'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const XGBOOST_SCRIPT = `
import sys, numpy as np, xgboost as xgb
path, rows, cols, objective, rounds, depth, eta, lam, mcw = sys.argv[1:10]
rows, cols = int(rows), int(cols)
x = np.fromfile(path + "/x.f32", dtype=np.float32).reshape(cols, rows).T.copy()
y = np.fromfile(path + "/y.f64")
base = float(np.float32(y.mean()))
params = dict(tree_method="hist", objective=objective, base_score=base, max_depth=int(depth), eta=float(eta),
              reg_lambda=float(lam), min_child_weight=float(mcw), max_bin=255, nthread=1)
booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), int(rounds))
booster.predict(xgb.DMatrix(x, missing=np.nan), output_margin=True).astype(np.float64).tofile(path + "/raw.f64")
`;

describe.skipIf(!hasXgboost())('parity with XGBoost hist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'driftline-gbdt-parity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Integer-valued columns (30 levels) with 10 % missing in one, and a target from `task`. */
  function data(task: Task, seed: number): { columns: Float32Array[]; y: Float64Array } {
    const rows = 3000;
    const rng = createPrng(seed);
    const columns = Array.from({ length: 4 }, () => new Float32Array(rows));
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      for (const c of columns) c[i] = Math.floor(rng.nextFloat() * 30);
      const [a, b, c] = [columns[0]?.[i] ?? 0, columns[1]?.[i] ?? 0, columns[2]?.[i] ?? 0];
      const missing = rng.nextFloat() < 0.1;
      if (missing) (columns[1] as Float32Array)[i] = Number.NaN;
      const f = (a - 15) / 5 + Math.sin(c / 3) + (missing ? 1 : (b - 15) / 10);
      y[i] =
        task === 'binary'
          ? rng.nextFloat() < 1 / (1 + Math.exp(-f))
            ? 1
            : 0
          : f + 0.3 * (rng.nextFloat() - 0.5);
    }
    return { columns, y };
  }

  it.each([
    ['binary', 'binary:logistic'],
    ['regression', 'reg:squarederror'],
  ] as const)('%s: the same raw scores after 20 rounds of depth-3 trees', (task, objective) => {
    // Prepare
    const { columns, y } = data(task, 5);
    const rows = y.length;
    const all = new Float32Array(rows * columns.length);
    columns.forEach((c, j) => {
      all.set(c, j * rows);
    });
    writeFileSync(join(dir, 'x.f32'), new Uint8Array(all.buffer));
    writeFileSync(join(dir, 'y.f64'), new Uint8Array(y.buffer));
    const p = params({ nEstimators: 20, maxDepth: 3, learningRate: 0.3, lambda: 1, minChildWeight: 1 });

    // Act
    const { model } = trainGbdt({
      task,
      features: numericFeatures(columns.length),
      classes: task === 'binary' ? ['0', '1'] : [],
      train: { rows, columns },
      trainLabels: y,
      params: p,
      seed: 1,
    });
    const ours = predictRaw(model, { rows, columns });
    execFileSync(PYTHON, [
      '-c',
      XGBOOST_SCRIPT,
      dir,
      String(rows),
      String(columns.length),
      objective,
      String(p.nEstimators),
      String(p.maxDepth),
      String(p.learningRate),
      String(p.lambda),
      String(p.minChildWeight),
    ]);
    const bytes = readFileSync(join(dir, 'raw.f64'));
    const theirs = new Float64Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );

    // Assess: XGBoost keeps gradients in float32, hence the tolerance.
    expect(theirs.length).toBe(rows);
    let worst = 0;
    for (let i = 0; i < rows; i++)
      worst = Math.max(worst, Math.abs((ours[i] as number) - (theirs[i] as number)));
    expect(worst).toBeLessThan(1e-5);
  });
});
