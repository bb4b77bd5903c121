import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { classificationMetrics, regressionMetrics, rocAuc } from '../../../pipelines/evaluate/metrics.ts';
import { createPrng } from '../../../pipelines/train/gbdt/prng.ts';

describe('metrics on hand-checkable cases', () => {
  it('AUC counts ties as one half', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
  });

  it('binary: accuracy, precision, recall, macro F1, logloss', () => {
    // predicted: 1, 0, 1, 0 ; true: 1, 1, 0, 0
    const m = classificationMetrics([1, 1, 0, 0], [0.2, 0.8, 0.6, 0.4, 0.3, 0.7, 0.9, 0.1], 2);
    expect(m.accuracy).toBe(0.5);
    expect(m.precision).toBe(0.5);
    expect(m.recall).toBe(0.5);
    expect(m.macroF1).toBe(0.5);
    expect(m.logloss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.4) + Math.log(0.3) + Math.log(0.9)) / 4, 12);
  });

  it('regression: rmse, mae, r2', () => {
    expect(regressionMetrics([1, 2, 3], [1, 2, 5])).toEqual({
      rmse: Math.sqrt(4 / 3),
      mae: 2 / 3,
      r2: 1 - 4 / 2,
    });
  });
});

describe('metrics agree with scikit-learn', () => {
  it('on random binary and multiclass predictions', () => {
    const prng = createPrng(3);
    const n = 500;
    const y2 = Array.from({ length: n }, () => prng.nextInt(2));
    const p2 = Array.from({ length: n }, (_, i) => {
      const p = Math.min(0.99, Math.max(0.01, 0.3 * (y2[i] as number) + 0.7 * prng.nextFloat()));
      return [1 - p, p];
    });
    const y3 = Array.from({ length: n }, () => prng.nextInt(3));
    const p3 = Array.from({ length: n }, () => {
      const raw = [prng.nextFloat(), prng.nextFloat(), prng.nextFloat()];
      const s = raw.reduce((a, b) => a + b, 0);
      return raw.map((r) => r / s);
    });
    const script = `
import json, sys
from sklearn import metrics
d = json.load(sys.stdin)
y2, p2, y3, p3 = d["y2"], d["p2"], d["y3"], d["p3"]
pred2 = [int(p[1] > p[0]) for p in p2]
pred3 = [max(range(3), key=lambda c: p[c]) for p in p3]
print(json.dumps({
  "auc": metrics.roc_auc_score(y2, [p[1] for p in p2]),
  "logloss2": metrics.log_loss(y2, p2),
  "f1_2": metrics.f1_score(y2, pred2, average="macro"),
  "precision": metrics.precision_score(y2, pred2),
  "recall": metrics.recall_score(y2, pred2),
  "acc3": metrics.accuracy_score(y3, pred3),
  "f1_3": metrics.f1_score(y3, pred3, average="macro"),
  "logloss3": metrics.log_loss(y3, p3),
}))`;
    const expected = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script], {
        input: JSON.stringify({ y2, p2, y3, p3 }),
      }).toString(),
    );
    const binary = classificationMetrics(y2, p2.flat(), 2);
    const multi = classificationMetrics(y3, p3.flat(), 3);
    expect(binary.auc).toBeCloseTo(expected.auc, 12);
    expect(binary.logloss).toBeCloseTo(expected.logloss2, 12);
    expect(binary.macroF1).toBeCloseTo(expected.f1_2, 12);
    expect(binary.precision).toBeCloseTo(expected.precision, 12);
    expect(binary.recall).toBeCloseTo(expected.recall, 12);
    expect(multi.accuracy).toBeCloseTo(expected.acc3, 12);
    expect(multi.macroF1).toBeCloseTo(expected.f1_3, 12);
    expect(multi.logloss).toBeCloseTo(expected.logloss3, 12);
  });
});
