/** Writes the synthetic datasets of `onnx-fixtures.ts` as data files, for tests of whole commands. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriftlineConfigInput, Task } from '../../pipelines/config/schema.ts';
import { CLASSES, SPECS, syntheticDataset } from './onnx-fixtures.ts';

/** The config of the synthetic data for `task` (features age, income, city, plan; target `outcome`). */
export function syntheticConfig(
  task: Task,
  overrides: Partial<DriftlineConfigInput> = {},
): DriftlineConfigInput {
  return {
    project: { name: `synthetic-${task}` },
    task,
    target: 'outcome',
    features: SPECS.map((s) => ({ name: s.name, type: s.type, nullable: true })),
    training: { params: { nEstimators: 60, earlyStoppingRounds: 10 } },
    ...overrides,
  };
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

/**
 * Writes `n` synthetic rows of `task` as CSV to `dir/name` and returns the path; class labels are the
 * task's class names, regression targets the value.
 */
export async function writeSyntheticCsv(
  dir: string,
  name: string,
  task: Task,
  n: number,
  seed: number,
): Promise<string> {
  const data = syntheticDataset(task, n, seed);
  const classes = CLASSES[task];
  const lines = [[...SPECS.map((s) => s.name), 'outcome'].join(',')];
  data.rows.forEach((row, i) => {
    const label = data.labels[i] as number;
    const target = task === 'regression' ? String(label) : (classes[label] as string);
    lines.push([...SPECS.map((s) => cell(row[s.name])), target].join(','));
  });
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}
