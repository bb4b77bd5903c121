import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDriftline } from '../../helpers/cli.ts';
import { syntheticConfig, writeSyntheticCsv } from '../../helpers/data-files.ts';
import { tempDir } from '../../helpers/tmp.ts';

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-fit-');
  await writeSyntheticCsv(dir, 'train.csv', 'multiclass', 1200, 5);
  await writeSyntheticCsv(dir, 'score.csv', 'multiclass', 50, 6);
  await writeFile(join(dir, 'driftline.config.json'), JSON.stringify(syntheticConfig('multiclass')));
});

describe('driftline fit', () => {
  it('writes model.onnx, metrics.json and baseline.json and prints the metrics', async () => {
    const result = await runDriftline(['fit', '--data', 'train.csv', '--out', 'model'], dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /gbdt multiclass: 838 train \/ 181 validation \/ 181 test rows \(stratified split\)/,
    );
    expect(result.stdout).toMatch(/macroF1 \*\s+0\.\d{4}\s+0\.\d{4}/);
    expect((await readdir(join(dir, 'model'))).sort()).toEqual([
      'baseline.json',
      'metrics.json',
      'model.onnx',
    ]);
    const metrics = JSON.parse(await readFile(join(dir, 'model', 'metrics.json'), 'utf8'));
    expect(metrics).toMatchObject({
      task: 'multiclass',
      classes: ['high', 'low', 'mid'],
      primary: { metric: 'macroF1' },
    });
    expect(metrics.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses to replace a model without --force, and --json prints the result', async () => {
    const again = await runDriftline(['fit', '--data', 'train.csv', '--out', 'model'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/model\.onnx already exists — pass --force/);
    const forced = await runDriftline(
      ['fit', '--json', '--data', 'train.csv', '--out', 'model', '--force'],
      dir,
    );
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      metrics: { task: 'multiclass' },
    });
  });

  it('a bad data file exits 2 naming the row and column, and writes nothing', async () => {
    await writeFile(
      join(dir, 'bad.csv'),
      'age,income,city,plan,outcome\n30,1000,porto,pro,low\n31,lots,porto,pro,mid\n',
    );
    const result = await runDriftline(['fit', '--data', 'bad.csv', '--out', 'bad-model'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^driftline: .*bad\.csv: row 2, column "income": "lots" is not a number/);
    await expect(readdir(join(dir, 'bad-model'))).rejects.toThrow(/ENOENT/);
  });
});

describe('driftline predict', () => {
  it('writes one JSON prediction per row, shaped like the HTTP API', async () => {
    const result = await runDriftline(['predict', 'score.csv', '--model', 'model'], dir);
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(50);
    for (const p of lines) {
      expect(Object.keys(p)).toEqual(['predictionId', 'label', 'probabilities']);
      expect(Object.keys(p.probabilities)).toEqual(['high', 'low', 'mid']);
      const best = Object.entries(p.probabilities as Record<string, number>).sort(
        (a, b) => b[1] - a[1],
      )[0]?.[0];
      expect(p.label).toBe(best);
      expect(Object.values(p.probabilities as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(
        1,
        5,
      );
    }
    expect(new Set(lines.map((p) => p.predictionId)).size).toBe(50);
  });

  it('--out writes the file; the model file itself works as --model', async () => {
    const result = await runDriftline(
      ['predict', 'score.csv', '--model', 'model/model.onnx', '--out', 'p.jsonl'],
      dir,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/scored 50 rows → .*p\.jsonl/);
    expect((await readFile(join(dir, 'p.jsonl'), 'utf8')).trimEnd().split('\n')).toHaveLength(50);
  });

  it('bad input: no model, a missing model, a bad value', async () => {
    expect((await runDriftline(['predict', 'score.csv'], dir)).code).toBe(2);
    const missing = await runDriftline(['predict', 'score.csv', '--model', 'nowhere'], dir);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/no model at .*nowhere/) });
    await writeFile(join(dir, 'bad-score.csv'), 'age,income,city,plan\n30,x,porto,pro\n');
    const bad = await runDriftline(['predict', 'bad-score.csv', '--model', 'model'], dir);
    expect(bad).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/row 1, column "income": "x" is not a number/),
    });
  });
});
