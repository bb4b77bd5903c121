import { createHash } from 'node:crypto';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import {
  listTags,
  listVersions,
  pullDataset,
  pushDataset,
  readManifest,
  resolveVersion,
  setTag,
} from '../../../pipelines/datasets/datasets.ts';
import { diffManifests } from '../../../pipelines/datasets/diff.ts';
import {
  ConflictError,
  InputError,
  IntegrityError,
  NotFoundError,
  UsageError,
} from '../../../pipelines/errors.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import type { ObjectStore } from '../../../pipelines/storage/object-store.ts';
import { syntheticConfig, writeSyntheticCsv } from '../../helpers/data-files.ts';
import { tempDir } from '../../helpers/tmp.ts';

const config = parseConfig(syntheticConfig('binary'));
let dir = '';
let store: FsObjectStore;

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list('')) keys.push(info.key);
  return keys;
}

/** The test's store with its file copy replaced by `putFileIfAbsent`. */
function withFileCopy(putFileIfAbsent: NonNullable<ObjectStore['putFileIfAbsent']>): ObjectStore {
  return {
    location: store.location,
    head: (key) => store.head(key),
    read: (key) => store.read(key),
    readBytes: (key) => store.readBytes(key),
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    putIfMatch: (key, body, etag) => store.putIfMatch(key, body, etag),
    list: (prefix) => store.list(prefix),
    putFileIfAbsent,
  };
}

beforeEach(async () => {
  dir = await tempDir('driftline-datasets-');
  store = new FsObjectStore(join(dir, 'home'));
});

describe('pushDataset', () => {
  it('stores the bytes under their sha256 with a manifest, and moves latest', async () => {
    // Prepare
    const file = await writeSyntheticCsv(dir, 'a.csv', 'binary', 300, 1);
    const sha = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');

    // Act
    const result = await pushDataset(store, config, file, { tag: 'first' });

    // Assess
    expect(result).toMatchObject({
      name: 'synthetic-binary',
      version: sha,
      status: 'created',
      tags: ['first'],
    });
    expect((await allKeys()).sort()).toEqual([
      `datasets/synthetic-binary/index.json`,
      `datasets/synthetic-binary/refs/first`,
      `datasets/synthetic-binary/refs/latest`,
      `datasets/synthetic-binary/versions/${sha}/data.csv`,
      `datasets/synthetic-binary/versions/${sha}/manifest.json`,
    ]);
    const manifest = await readManifest(store, 'synthetic-binary', sha);
    expect(manifest).toMatchObject({
      rows: 300,
      format: 'csv',
      sourceFile: 'a.csv',
      parent: null,
      task: 'binary',
      bytes: (await stat(file)).size,
    });
    expect(manifest.columns.map((c) => `${c.name}:${c.role}:${c.type}`)).toEqual([
      'age:feature:numeric',
      'income:feature:numeric',
      'city:feature:categorical',
      'plan:feature:categorical',
      'outcome:target:categorical',
    ]);
    expect(manifest.stats.age).toMatchObject({ type: 'numeric', count: 300 });
    expect(manifest.stats.age?.type === 'numeric' && manifest.stats.age.missing).toBeGreaterThan(10);
    expect(manifest.stats.plan).toMatchObject({ type: 'categorical', distinct: 3, missing: 0 });
    expect(manifest.schemaHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await listTags(store, 'synthetic-binary')).toEqual({ first: sha, latest: sha });
  });

  it('pushing the same bytes again returns the same version and writes nothing', async () => {
    const file = await writeSyntheticCsv(dir, 'a.csv', 'binary', 200, 1);
    const first = await pushDataset(store, config, file);
    const before = await Promise.all(
      (await allKeys()).map(async (k) => [k, (await stat(join(dir, 'home', k))).mtimeMs]),
    );
    const again = await pushDataset(store, config, file);
    expect(again).toMatchObject({ version: first.version, status: 'unchanged' });
    const after = await Promise.all(
      (await allKeys()).map(async (k) => [k, (await stat(join(dir, 'home', k))).mtimeMs]),
    );
    expect(after).toEqual(before);
  });

  it('records the previous latest as the parent', async () => {
    const a = await pushDataset(store, config, await writeSyntheticCsv(dir, 'a.csv', 'binary', 200, 1));
    const b = await pushDataset(store, config, await writeSyntheticCsv(dir, 'b.csv', 'binary', 200, 2));
    expect(b.manifest.parent).toBe(a.version);
    expect((await listVersions(store, 'synthetic-binary')).map((m) => m.version)).toEqual([
      b.version,
      a.version,
    ]);
    expect(await resolveVersion(store, 'synthetic-binary', 'latest')).toBe(b.version);
  });

  it('lists versions from the index, and a version the index lacks from its manifest', async () => {
    const a = await pushDataset(store, config, await writeSyntheticCsv(dir, 'a.csv', 'binary', 200, 1));
    expect(await readFile(join(dir, 'home', 'datasets/synthetic-binary/index.json'), 'utf8')).toContain(
      a.version,
    );
    // A version whose push died after its manifest, before the index: still listed.
    const orphan = { ...a.manifest, version: 'f'.repeat(64), createdAt: '2030-01-01T00:00:00.000Z' };
    await store.putIfAbsent(
      `datasets/synthetic-binary/versions/${orphan.version}/manifest.json`,
      new TextEncoder().encode(JSON.stringify(orphan)),
    );
    expect((await listVersions(store, 'synthetic-binary')).map((v) => v.version)).toEqual([
      orphan.version,
      a.version,
    ]);
  });

  it('refuses a bad file with the row and column named, and stores nothing', async () => {
    await writeFile(
      join(dir, 'bad.csv'),
      'age,income,city,plan,outcome\n30,1000,porto,pro,churn\n31,lots,porto,pro,stay\n',
    );
    const error = await pushDataset(store, config, join(dir, 'bad.csv')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/row 2, column "income": "lots" is not a number/);
    expect(await allKeys()).toEqual([]);
  });

  it('refuses a file that changed between its hash and its copy, and stores no data', async () => {
    // Prepare: a store whose file copy first appends a row to the source, as a writer still busy with
    // the file would.
    const file = await writeSyntheticCsv(dir, 'growing.csv', 'binary', 200, 1);
    const racing = withFileCopy(async (key, source, check) => {
      await appendFile(source, '44,1234.5,porto,pro,stay\n');
      return store.putFileIfAbsent(key, source, check);
    });
    // Act
    const error = await pushDataset(racing, config, file).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).message).toBe(`${file} changed while it was being pushed`);
    expect(await allKeys()).toEqual([]);
    // Once the file is complete, it pushes.
    const pushed = await pushDataset(store, config, file);
    expect(pushed.version).toBe(
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
  });

  it('describes the stored bytes in the manifest when the file grows after it was stored', async () => {
    const file = await writeSyntheticCsv(dir, 'late.csv', 'binary', 200, 2);
    const original = await readFile(file);
    const late = withFileCopy(async (key, source, check) => {
      const result = await store.putFileIfAbsent(key, source, check);
      await appendFile(source, '44,1234.5,porto,pro,stay\n');
      return result;
    });
    const pushed = await pushDataset(late, config, file);
    expect(pushed.version).toBe(createHash('sha256').update(original).digest('hex'));
    expect(pushed.manifest.bytes).toBe(original.length);
    expect((await stat(join(dir, 'home', pushed.manifest.dataKey))).size).toBe(original.length);
  });

  it('refuses bad dataset and tag names', async () => {
    const file = await writeSyntheticCsv(dir, 'a.csv', 'binary', 50, 1);
    await expect(pushDataset(store, config, file, { name: '../escape' })).rejects.toThrow(UsageError);
    await expect(pushDataset(store, config, file, { tag: 'a/b' })).rejects.toThrow(/invalid tag name "a\/b"/);
    expect(await allKeys()).toEqual([]);
  });
});

describe('resolving, tagging, pulling', () => {
  it('resolves tags, full ids and prefixes; unknown refs name the tags there are', async () => {
    const { version } = await pushDataset(
      store,
      config,
      await writeSyntheticCsv(dir, 'a.csv', 'binary', 60, 1),
    );
    expect(await resolveVersion(store, 'synthetic-binary', 'latest')).toBe(version);
    expect(await resolveVersion(store, 'synthetic-binary', version)).toBe(version);
    expect(await resolveVersion(store, 'synthetic-binary', version.slice(0, 8))).toBe(version);
    const error = await resolveVersion(store, 'synthetic-binary', 'nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).hint).toMatch(/^tags: latest;/);
    await setTag(store, 'synthetic-binary', 'golden', version);
    expect(await resolveVersion(store, 'synthetic-binary', 'golden')).toBe(version);
  });

  it('pull writes verified bytes; a corrupted object is refused and leaves no file', async () => {
    const file = await writeSyntheticCsv(dir, 'a.csv', 'binary', 60, 1);
    const { manifest } = await pushDataset(store, config, file);
    await pullDataset(store, manifest, join(dir, 'out.csv'));
    expect(await readFile(join(dir, 'out.csv'))).toEqual(await readFile(file));
    await expect(pullDataset(store, manifest, join(dir, 'out.csv'))).rejects.toThrow(ConflictError);

    // Corrupt one byte of the stored object behind the store's back.
    const stored = join(dir, 'home', manifest.dataKey);
    const bytes = await readFile(stored);
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    await writeFile(stored, bytes);
    const error = await pullDataset(store, manifest, join(dir, 'corrupt.csv')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).message).toMatch(/are corrupted/);
    await expect(stat(join(dir, 'corrupt.csv'))).rejects.toThrow(/ENOENT/);
  });
});

describe('diffManifests', () => {
  it('reports schema changes, row counts and a large PSI for a shifted column', async () => {
    const a = await pushDataset(store, config, await writeSyntheticCsv(dir, 'a.csv', 'binary', 1000, 1));
    // The same rows with income shifted by two standard deviations.
    const text = await readFile(join(dir, 'a.csv'), 'utf8');
    const shifted = text
      .trimEnd()
      .split('\n')
      .map((line, i) => {
        if (i === 0) return line;
        const cells = line.split(',');
        cells[1] = String(Number(cells[1]) + 1000);
        return cells.join(',');
      })
      .join('\n');
    await writeFile(join(dir, 'b.csv'), `${shifted}\n`);
    const b = await pushDataset(store, config, join(dir, 'b.csv'));
    const diff = diffManifests(a.manifest, b.manifest);
    expect(diff.schemaChanged).toBe(false);
    expect(diff.rows).toEqual([1000, 1000]);
    const byName = Object.fromEntries(diff.columns.map((c) => [c.name, c]));
    expect(byName.income?.psi).toBeGreaterThan(1);
    expect(byName.age?.psi).toBeLessThan(0.01);
    expect(byName.plan?.psi).toBeLessThan(0.01);

    // A version whose schema differs: "plan" retyped, "extra" added, the target gone.
    const columns = [
      ...b.manifest.columns.slice(0, 3),
      { name: 'plan', role: 'feature' as const, type: 'numeric' as const },
      { name: 'extra', role: 'feature' as const, type: 'numeric' as const },
    ];
    const c = diffManifests(a.manifest, { ...b.manifest, columns, schemaHash: 'different' });
    expect(c).toMatchObject({
      schemaChanged: true,
      added: ['extra'],
      removed: ['outcome'],
      retyped: [{ name: 'plan', from: 'feature:categorical', to: 'feature:numeric' }],
    });
  });
});
