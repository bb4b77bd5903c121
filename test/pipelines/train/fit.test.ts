import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import type { Task } from '../../../pipelines/config/schema.ts';
import { splitRows } from '../../../pipelines/data/split.ts';
import { readTable, tableSchemaOf } from '../../../pipelines/data/table.ts';
import { taskMetrics } from '../../../pipelines/evaluate/metrics.ts';
import { predictRows } from '../../../pipelines/model/predict.ts';
import type { RawRow } from '../../../pipelines/model/raw.ts';
import { encodeLabels, fitModel } from '../../../pipelines/train/fit.ts';
import { syntheticConfig, writeSyntheticCsv } from '../../helpers/data-files.ts';
import { tempDir } from '../../helpers/tmp.ts';

const TASKS: Task[] = ['binary', 'multiclass', 'regression'];

describe.each(TASKS)('fitModel (%s)', (task) => {
  it.each(['gbdt', 'linear'] as const)(
    '%s: holdout metrics come from the exported ONNX model and match the reference',
    async (algorithm) => {
      // Prepare
      const dir = await tempDir();
      const file = await writeSyntheticCsv(dir, 'data.csv', task, 1500, 11);
      const config = parseConfig(
        syntheticConfig(task, algorithm === 'linear' ? { training: { algorithm: 'linear' } } : {}),
      );
      const table = await readTable(file, tableSchemaOf(config), 'required');

      // Act
      const result = await fitModel(config, table, 'a'.repeat(64));

      // Assess: recompute the test metrics with the JS reference on the same split.
      const { labels, classes } = encodeLabels(config, table);
      const split = splitRows(
        table.rows,
        { seed: config.training.seed, ...config.training.split },
        undefined,
        task === 'regression' ? undefined : labels,
      );
      const rows: RawRow[] = Array.from(split.test, (i) =>
        Object.fromEntries(config.features.map((f, j) => [f.name, table.features[j]?.values[i] ?? null])),
      );
      const reference = predictRows(result.model, rows);
      const flat = reference.flatMap((p) => ('value' in p ? [p.value] : p.probabilities));
      const expected = taskMetrics(
        task,
        Float64Array.from(split.test, (i) => labels[i] as number),
        flat,
        classes.length,
      );
      expect(Object.keys(result.metrics.test).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, value] of Object.entries(expected)) {
        expect(result.metrics.test[name as keyof typeof expected], name).toBeCloseTo(value, 4);
      }
      expect(result.metrics.rows).toEqual({
        train: split.train.length,
        validation: split.validation.length,
        test: split.test.length,
        dropped: 0,
      });
      expect(result.metrics.primary.metric).toBe(config.promotion.metric);
      // The synthetic signal is learnable: well above chance.
      if (task === 'binary') expect(result.metrics.test.auc).toBeGreaterThan(0.8);
      if (task === 'multiclass') expect(result.metrics.test.accuracy).toBeGreaterThan(0.6);
      if (task === 'regression') expect(result.metrics.test.r2).toBeGreaterThan(0.5);
      expect(Object.keys(result.baseline.features)).toEqual(['age', 'income', 'city', 'plan']);
      expect(Object.keys(result.baseline.predictions)).toEqual(
        task === 'regression' ? ['value'] : [...classes.map((c) => `probability:${c}`), 'label'],
      );
    },
  );
});

describe('fitModel determinism', () => {
  it('the same data, config and seed give a byte-identical model; another seed does not', async () => {
    const dir = await tempDir();
    const file = await writeSyntheticCsv(dir, 'data.csv', 'binary', 800, 3);
    const config = parseConfig(
      syntheticConfig('binary', {
        training: { params: { nEstimators: 30, subsample: 0.8, colsampleByTree: 0.75 } },
      }),
    );
    const table = await readTable(file, tableSchemaOf(config), 'required');
    const a = await fitModel(config, table);
    const b = await fitModel(config, table);
    expect(Buffer.from(b.onnx).equals(Buffer.from(a.onnx))).toBe(true);
    expect(b.baseline).toEqual(a.baseline);
    const other = await fitModel(
      parseConfig({
        ...syntheticConfig('binary'),
        training: { seed: 7, params: { nEstimators: 30, subsample: 0.8, colsampleByTree: 0.75 } },
      }),
      table,
    );
    expect(Buffer.from(other.onnx).equals(Buffer.from(a.onnx))).toBe(false);
  });
});
