import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { LinearParams, Task } from '../../../pipelines/config/schema.ts';
import { InputError } from '../../../pipelines/errors.ts';
import { linearRawScores, predictRows, toPredictions } from '../../../pipelines/model/predict.ts';
import type { FeatureEncoding, FeatureMatrix } from '../../../pipelines/model/types.ts';
import { trainLinear } from '../../../pipelines/train/linear.ts';
import { SYSTEM_PYTHON } from '../../helpers/onnx-checker.ts';
import { CLASSES, linearInputs, syntheticDataset } from '../../helpers/onnx-fixtures.ts';

/**
 * scikit-learn (Debian's python3-sklearn) on the same standardised inputs, with the penalty mapped
 * to the trainer's objective: LogisticRegression(C = 1/(n·l2)) and Ridge(alpha = n·l2). newton-cg with
 * a tight tolerance, so the reference sits at the optimum. Reads {task, l2, dataset | columns+labels}
 * as JSON on stdin; for a bundled dataset it also returns the raw columns so both sides train on the
 * same numbers.
 */
const SKLEARN_REFERENCE = `
import json, sys
try:
    import numpy as np
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression, Ridge
except ImportError as error:
    print(f"python3-sklearn is not installed ({error}); run: apt-get install -y --no-install-recommends python3-sklearn", file=sys.stderr)
    sys.exit(3)

req = json.load(sys.stdin)
task, l2 = req["task"], req["l2"]
if "dataset" in req:
    X, y = getattr(datasets, "load_" + req["dataset"])(return_X_y=True)
    columns = [{"type": "numeric", "values": X[:, j].tolist()} for j in range(X.shape[1])]
else:
    columns, y = req["columns"], req["labels"]
y = np.asarray(y, dtype=float)
blocks = []
for c in columns:
    v = np.array([np.nan if x is None else x for x in c["values"]], dtype=float)
    if c["type"] == "numeric":
        v = v.astype(np.float32).astype(float)  # the trainer sees float32 inputs
        seen = v[~np.isnan(v)]
        mean = seen.mean() if seen.size else 0.0
        std = np.sqrt(((seen - mean) ** 2).mean()) if seen.size else 0.0
        z = (v - mean) / (std if std > 0 else 1.0)
        z[np.isnan(z)] = 0.0
        blocks.append(z[:, None])
    else:
        onehot = np.zeros((len(v), c["k"]))
        for i, code in enumerate(v):
            if not np.isnan(code) and 0 <= code < c["k"]:
                onehot[i, int(code)] = 1.0
        blocks.append(onehot)
X = np.hstack(blocks)
n = X.shape[0]
if task == "regression":
    model = Ridge(alpha=n * l2, tol=1e-12).fit(X, y)
    out = {"predictions": model.predict(X).tolist(), "coef": np.atleast_2d(model.coef_).tolist()}
    objective = ((y - model.predict(X)) ** 2).sum() / (2 * n)
else:
    model = LogisticRegression(C=1.0 / (n * l2), solver="newton-cg", tol=1e-10, max_iter=300,
                               multi_class="multinomial" if task == "multiclass" else "auto").fit(X, y)
    proba = model.predict_proba(X)
    out = {"probabilities": proba.tolist(), "coef": model.coef_.tolist()}
    objective = -np.log(proba[np.arange(n), y.astype(int)]).mean()
out["objective"] = float(objective + l2 / 2 * (np.asarray(out["coef"]) ** 2).sum())
out["labels"] = y.tolist()
out["columns"] = columns
json.dump(out, sys.stdout)
`;

interface SklearnResult {
  readonly objective: number;
  readonly coef: number[][];
  readonly probabilities?: number[][];
  readonly predictions?: number[];
  readonly labels: number[];
  readonly columns: { type: 'numeric' | 'categorical'; values: (number | null)[] }[];
}

function sklearn(request: object): SklearnResult {
  const run = spawnSync(SYSTEM_PYTHON, ['-c', SKLEARN_REFERENCE], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (run.error !== undefined) throw new Error(`cannot run ${SYSTEM_PYTHON}: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`the scikit-learn reference failed:\n${run.stderr.trim()}`);
  return JSON.parse(run.stdout) as SklearnResult;
}

const TIGHT: LinearParams = { l2: 1e-4, maxIterations: 5000, tolerance: 1e-9 };

/** Largest difference between our predictions on the training rows and scikit-learn's. */
function largestDifference(
  task: Task,
  model: ReturnType<typeof trainLinear>['model'],
  train: FeatureMatrix,
  reference: SklearnResult,
): number {
  let largest = 0;
  toPredictions(model, linearRawScores(model, train)).forEach((p, i) => {
    if ('value' in p) {
      largest = Math.max(largest, Math.abs(p.value - (reference.predictions?.[i] as number)));
    } else {
      p.probabilities.forEach((q, k) => {
        largest = Math.max(largest, Math.abs(q - (reference.probabilities?.[i]?.[k] as number)));
      });
    }
  });
  expect(task).toBe(model.task);
  return largest;
}

describe('trainLinear reaches the optimum scikit-learn finds', () => {
  const bundled = [
    ['breast_cancer', 'binary', ['malignant', 'benign']],
    ['wine', 'multiclass', ['class_0', 'class_1', 'class_2']],
    ['diabetes', 'regression', []],
  ] as const;
  for (const [dataset, task, classes] of bundled) {
    for (const l2 of [1e-4, 1e-2]) {
      it(`${task} on scikit-learn's ${dataset} dataset, l2 = ${l2}`, () => {
        // Prepare
        const reference = sklearn({ task, l2, dataset });
        const features: FeatureEncoding[] = reference.columns.map((_, j) => ({
          name: `x${j}`,
          type: 'numeric',
        }));
        const train: FeatureMatrix = {
          rows: reference.labels.length,
          columns: reference.columns.map((c) => Float32Array.from(c.values, (v) => v ?? Number.NaN)),
        };
        // Act
        const result = trainLinear({
          task,
          features,
          classes,
          train,
          trainLabels: Float64Array.from(reference.labels),
          params: { ...TIGHT, l2 },
        });
        // Assess: the same objective value (ours never worse) and the same predictions.
        expect(result.converged).toBe(true);
        expect(result.objective).toBeLessThanOrEqual(
          reference.objective + 1e-9 * Math.max(1, reference.objective),
        );
        expect(reference.objective - result.objective).toBeLessThan(1e-8 * Math.max(1, reference.objective));
        expect(largestDifference(task, result.model, train, reference)).toBeLessThan(
          task === 'regression' ? 1e-8 : 1e-5,
        );
      });
    }
  }

  for (const task of ['binary', 'multiclass', 'regression'] as const) {
    it(`${task} with missing values, one-hot categoricals and a rare category`, () => {
      // Prepare
      const data = syntheticDataset(task, 600, 11);
      const { features, train } = linearInputs(task, data);
      const columns = features.map((f, j) => ({
        type: f.type,
        k: f.type === 'categorical' ? f.categories.length : 0,
        values: Array.from(train.columns[j] as Float32Array, (v) => (Number.isNaN(v) ? null : v)),
      }));
      const reference = sklearn({ task, l2: 1e-3, columns, labels: Array.from(data.labels) });
      // Act
      const result = trainLinear({
        task,
        features,
        classes: CLASSES[task],
        train,
        trainLabels: data.labels,
        params: { ...TIGHT, l2: 1e-3 },
      });
      // Assess
      expect(result.objective).toBeLessThanOrEqual(
        reference.objective + 1e-9 * Math.max(1, reference.objective),
      );
      expect(largestDifference(task, result.model, train, reference)).toBeLessThan(1e-5);
      const flat = reference.coef.flat();
      const ours = result.model.weights.flatMap((w) => Array.from(w));
      ours.forEach((w, j) => {
        expect(Math.abs(w - (flat[j] as number))).toBeLessThan(1e-4);
      });
    });
  }
});

describe('trainLinear', () => {
  it('converges with the default parameters and separates a real dataset', () => {
    const reference = sklearn({ task: 'binary', l2: 1e-4, dataset: 'breast_cancer' });
    const train: FeatureMatrix = {
      rows: reference.labels.length,
      columns: reference.columns.map((c) => Float32Array.from(c.values, (v) => v ?? Number.NaN)),
    };
    const result = trainLinear({
      task: 'binary',
      features: reference.columns.map((_, j) => ({ name: `x${j}`, type: 'numeric' })),
      classes: ['malignant', 'benign'],
      train,
      trainLabels: Float64Array.from(reference.labels),
      params: { l2: 1e-4, maxIterations: 500, tolerance: 1e-7 },
    });
    expect(result.converged).toBe(true);
    const predictions = toPredictions(result.model, linearRawScores(result.model, train));
    const correct = predictions.filter(
      (p, i) => 'label' in p && p.label === (reference.labels[i] === 1 ? 'benign' : 'malignant'),
    ).length;
    expect(correct / predictions.length).toBeGreaterThan(0.97);
  });

  it('standardises numerics over the observed values and imputes the mean for a missing one', () => {
    // Prepare: x = [1, 3, NaN, 5, 7]; a constant column c.
    const features: FeatureEncoding[] = [
      { name: 'x', type: 'numeric' },
      { name: 'c', type: 'numeric' },
    ];
    const train: FeatureMatrix = {
      rows: 5,
      columns: [Float32Array.of(1, 3, Number.NaN, 5, 7), Float32Array.of(2, 2, 2, 2, 2)],
    };
    // Act
    const { model } = trainLinear({
      task: 'regression',
      features,
      classes: [],
      train,
      trainLabels: Float64Array.of(1, 2, 3, 4, 5),
      params: { l2: 1e-3, maxIterations: 10, tolerance: 1e-7 },
    });
    // Assess
    expect(Array.from(model.inputMean)).toEqual([4, 2]);
    expect(model.inputScale[0]).toBeCloseTo(Math.sqrt(5), 12);
    expect(model.inputScale[1]).toBe(1);
    const [missing, atMean] = predictRows(model, [
      { x: null, c: 2 },
      { x: 4, c: 2 },
    ]);
    expect(missing).toEqual(atMean);
  });

  it('gives unknown and missing categories all-zero indicators', () => {
    const task = 'binary';
    const data = syntheticDataset(task, 300, 5);
    const { features, train } = linearInputs(task, data);
    const { model } = trainLinear({
      task,
      features,
      classes: CLASSES[task],
      train,
      trainLabels: data.labels,
      params: TIGHT,
    });
    // city's indicators contribute nothing for unseen, rare (pooled), missing and "" alike.
    const [unseen, rare, missing, empty] = predictRows(model, [
      { age: 40, income: 1000, city: 'atlantis', plan: 'pro' },
      { age: 40, income: 1000, city: 'sintra', plan: 'pro' },
      { age: 40, income: 1000, city: null, plan: 'pro' },
      { age: 40, income: 1000, city: '', plan: 'pro' },
    ]);
    expect(rare).toEqual(unseen);
    expect(missing).toEqual(unseen);
    expect(empty).toEqual(unseen);
    expect(model.inputMean.length).toBe(2 + 5 + 3);
  });

  it('is deterministic: the same input gives bit-identical weights', () => {
    for (const task of ['binary', 'multiclass', 'regression'] as const) {
      const data = syntheticDataset(task, 300, 9);
      const { features, train } = linearInputs(task, data);
      const input = {
        task,
        features,
        classes: CLASSES[task],
        train,
        trainLabels: data.labels,
        params: TIGHT,
      };
      expect(trainLinear(input).model).toEqual(trainLinear(input).model);
    }
  });

  it('centres the softmax biases (the model is canonical)', () => {
    const data = syntheticDataset('multiclass', 300, 9);
    const { features, train } = linearInputs('multiclass', data);
    const { model } = trainLinear({
      task: 'multiclass',
      features,
      classes: CLASSES.multiclass,
      train,
      trainLabels: data.labels,
      params: TIGHT,
    });
    expect(Math.abs(model.bias.reduce((a, b) => a + b, 0))).toBeLessThan(1e-12);
  });

  it('solves ridge without a penalty even when the indicators are collinear with the bias', () => {
    // Every row has a category, so the indicators sum to 1: singular without a penalty.
    const features: FeatureEncoding[] = [
      { name: 'c', type: 'categorical', categories: ['a', 'b'], codes: [0, 1], unknownCode: -1 },
    ];
    const train: FeatureMatrix = { rows: 4, columns: [Float32Array.of(0, 1, 0, 1)] };
    const { model } = trainLinear({
      task: 'regression',
      features,
      classes: [],
      train,
      trainLabels: Float64Array.of(1, 3, 1, 3),
      params: { l2: 0, maxIterations: 10, tolerance: 1e-7 },
    });
    const [a, b] = predictRows(model, [{ c: 'a' }, { c: 'b' }]);
    expect(a).toEqual({ value: expect.closeTo(1, 6) });
    expect(b).toEqual({ value: expect.closeTo(3, 6) });
  });

  it('reports inputs that do not fit as InputError', () => {
    const features: FeatureEncoding[] = [{ name: 'x', type: 'numeric' }];
    const train: FeatureMatrix = { rows: 2, columns: [Float32Array.of(1, 2)] };
    const params = TIGHT;
    const base = {
      task: 'binary' as const,
      features,
      classes: ['n', 'y'],
      train,
      trainLabels: Float64Array.of(0, 1),
      params,
    };
    expect(() => trainLinear({ ...base, classes: ['only'] })).toThrow(InputError);
    expect(() => trainLinear({ ...base, trainLabels: Float64Array.of(0, 2) })).toThrow(/row 1 has label 2/);
    expect(() => trainLinear({ ...base, trainLabels: Float64Array.of(0) })).toThrow(/1 labels for 2 rows/);
    const targetEncoded: FeatureEncoding[] = [
      { name: 'c', type: 'categorical', categories: ['a', 'b'], codes: [1, 2], unknownCode: 0 },
    ];
    expect(() => trainLinear({ ...base, features: targetEncoded })).toThrow(/not index-encoded/);
  });
});
