/** Datasets, runs and the registry through the CLI, as a data scientist uses them. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDriftline } from '../../helpers/cli.ts';
import { syntheticConfig, writeSyntheticCsv } from '../../helpers/data-files.ts';
import { tempDir } from '../../helpers/tmp.ts';

let dir = '';
const versions: string[] = [];
beforeAll(async () => {
  dir = await tempDir('driftline-lifecycle-');
  await writeFile(join(dir, 'driftline.config.json'), JSON.stringify(syntheticConfig('binary')));
  await writeSyntheticCsv(dir, 'a.csv', 'binary', 600, 1);
  await writeSyntheticCsv(dir, 'b.csv', 'binary', 700, 2);
});

async function json(argv: string[]): Promise<Record<string, unknown>> {
  const result = await runDriftline([...argv, '--json'], dir);
  expect(result.stderr, argv.join(' ')).toBe('');
  expect(result.code, argv.join(' ')).toBe(0);
  return JSON.parse(result.stdout);
}

describe('driftline data', () => {
  it('push, ls, show, tag, diff, pull', async () => {
    const a = await json(['data', 'push', 'a.csv', '--tag', 'base']);
    const b = await json(['data', 'push', 'b.csv']);
    versions.push(a.version as string, b.version as string);
    expect(b).toMatchObject({ status: 'created', parent: a.version });
    expect(await json(['data', 'push', 'a.csv'])).toMatchObject({ status: 'unchanged', version: a.version });

    const ls = (await json(['data', 'ls'])).versions as { version: string; tags: string[] }[];
    expect(ls.map((v) => [v.version, v.tags])).toEqual([
      [b.version, ['latest']],
      [a.version, ['base']],
    ]);
    expect(await json(['data', 'show', 'base'])).toMatchObject({
      version: a.version,
      rows: 600,
      tags: ['base'],
    });
    expect(await json(['data', 'tag', String(b.version).slice(0, 10), 'candidate'])).toMatchObject({
      version: b.version,
    });
    const diff = await json(['data', 'diff', 'base', 'candidate']);
    expect(diff).toMatchObject({ rows: [600, 700], schemaChanged: false });
    await json(['data', 'pull', 'base', 'copy.csv']);
    expect(await readFile(join(dir, 'copy.csv'))).toEqual(await readFile(join(dir, 'a.csv')));

    const text = await runDriftline(['data', 'ls'], dir);
    expect(text.stdout).toMatch(/synthetic-binary\s+[0-9a-f]{12}\s+700\s+\S+\s+b\.csv\s+candidate,latest/);
  });

  it('bad input: unknown ref exits 1 with the tags listed, bad file exits 2, pull refuses to overwrite', async () => {
    const unknown = await runDriftline(['data', 'show', 'nope'], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /dataset "synthetic-binary" has no tag or version "nope" — tags: base, candidate, latest/,
    );
    await writeFile(join(dir, 'bad.csv'), 'age,income,city,plan,outcome\n1,2,x,y\n');
    expect((await runDriftline(['data', 'push', 'bad.csv'], dir)).code).toBe(2);
    const pull = await runDriftline(['data', 'pull', 'base', 'copy.csv'], dir);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toMatch(/copy\.csv already exists — pass --force/);
  });
});

describe('driftline train, runs and models', () => {
  it('records runs with their lineage and registers model versions', async () => {
    const first = await json(['train', '--data', 'base']);
    const second = await json([
      'train',
      '--set',
      'training.params.maxDepth=3',
      '--set',
      'training.params.learningRate=0.2',
    ]);
    const r1 = first.run as Record<string, unknown>;
    const r2 = second.run as Record<string, unknown>;
    expect(r1).toMatchObject({
      status: 'succeeded',
      dataset: { version: versions[0], rows: 600 },
      modelVersion: 1,
      code: { driftlineVersion: '0.1.0' },
    });
    expect(r2).toMatchObject({
      dataset: { version: versions[1] },
      training: { params: { maxDepth: 3, learningRate: 0.2 } },
      modelVersion: 2,
    });
    expect(second.model).toMatchObject({
      version: 2,
      status: 'PendingManualApproval',
      runId: r2.runId,
      datasetVersion: versions[1],
    });

    const runs = (await json(['runs', 'ls'])).runs as { runId: string }[];
    expect(runs.map((r) => r.runId)).toEqual([r2.runId, r1.runId]);
    const shown = await json(['runs', 'show', String(r1.runId)]);
    expect(shown.artifacts).toMatchObject({
      model: { key: `runs/${r1.runId}/model.onnx`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const compared = await json(['runs', 'compare', String(r1.runId), String(r2.runId)]);
    expect(compared.params).toContainEqual({ name: 'params.maxDepth', a: 6, b: 3, delta: -3 });
    expect(
      (compared.metrics as { name: string; delta?: number }[]).find((m) => m.name === 'test.auc')?.delta,
    ).toEqual(expect.any(Number));
  });

  it('promote, show, ls and rollback keep the champion history', async () => {
    expect(await json(['models', 'promote', '1'])).toMatchObject({ version: 1 });
    expect(await json(['models', 'promote', 'v2', '--reason', 'better auc'])).toMatchObject({
      version: 2,
      reason: 'better auc',
      previous: [{ version: 1 }],
    });
    expect(await json(['models', 'ls'])).toMatchObject({
      champion: 2,
      versions: [{ version: 2, status: 'Approved' }, { version: 1 }],
    });
    const shown = await json(['models', 'show', '2']);
    expect(shown).toMatchObject({
      champion: true,
      modelKey: expect.stringMatching(/^runs\/.+\/model\.onnx$/),
    });
    expect(await json(['models', 'rollback'])).toMatchObject({ version: 1 });
    const again = await runDriftline(['models', 'rollback'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no previous champion/);
    expect((await runDriftline(['models', 'show', 'x'], dir)).code).toBe(2);
    expect((await runDriftline(['models', 'show', '9'], dir)).code).toBe(1);
  });

  it('a bad --set is a config error (exit 2) and trains nothing', async () => {
    const bad = await runDriftline(['train', '--set', 'training.params.maxDepth=deep'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/training\.params\.maxDepth: expected number, received "deep"/);
    expect(((await json(['runs', 'ls'])).runs as unknown[]).length).toBe(2);
  });
});
