/**
 * Safety of `driftline data push` across real processes: parallel pushes lose nothing, and a push
 * killed midway leaves no partial version visible.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { listVersions, resolveVersion, sha256File } from '../../../pipelines/datasets/datasets.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import { RESERVED_SEGMENT } from '../../../pipelines/storage/object-key.ts';
import { syntheticConfig, writeSyntheticCsv } from '../../helpers/data-files.ts';
import { tempDir } from '../../helpers/tmp.ts';

const BIN = new URL('../../../bin/driftline.ts', import.meta.url).pathname;
const run = promisify(execFile);

let dir = '';
beforeEach(async () => {
  dir = await tempDir('driftline-push-');
  await writeFile(join(dir, 'driftline.config.json'), JSON.stringify(syntheticConfig('binary')));
});

function push(file: string): Promise<{ stdout: string }> {
  return run(process.execPath, [BIN, 'data', 'push', file, '--json'], {
    cwd: dir,
    env: { ...process.env, DRIFTLINE_HOME: 'home' },
  });
}

describe('data push across processes', () => {
  it('parallel pushes of different files: every version present, latest names one of them', async () => {
    const files = await Promise.all(
      Array.from({ length: 6 }, (_, k) => writeSyntheticCsv(dir, `part-${k}.csv`, 'binary', 400, 100 + k)),
    );
    const results = await Promise.all(files.map((f) => push(f)));
    const pushed = results.map((r) => JSON.parse(r.stdout).version as string);
    expect(new Set(pushed).size).toBe(6);

    const store = new FsObjectStore(join(dir, 'home'));
    const versions = (await listVersions(store, 'synthetic-binary')).map((m) => m.version);
    expect(versions.sort()).toEqual([...pushed].sort());
    expect(pushed).toContain(await resolveVersion(store, 'synthetic-binary', 'latest'));
    for (const [k, file] of files.entries()) expect(pushed[k]).toBe(await sha256File(file));
  });

  it('a push killed while storing leaves no partial version, and the next push works', async () => {
    // Prepare: a file big enough that storing it takes a while.
    const big = join(dir, 'big.csv');
    const out = createWriteStream(big);
    out.write('age,income,city,plan,outcome\n');
    for (let i = 0; i < 600_000; i += 1)
      out.write(`${20 + (i % 50)},${1000 + (i % 997)},porto,pro,${i % 3 === 0 ? 'churn' : 'stay'}\n`);
    out.end();
    await finished(out);
    const staging = join(dir, 'home', RESERVED_SEGMENT, 'staging');

    // Act: kill the push as soon as its staged upload appears.
    const child: ChildProcess = spawn(process.execPath, [BIN, 'data', 'push', big], {
      cwd: dir,
      env: { ...process.env, DRIFTLINE_HOME: 'home' },
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    let staged = false;
    for (let i = 0; i < 4000 && !staged && child.exitCode === null; i += 1) {
      staged = (await readdir(staging).catch(() => [])).length > 0;
      if (!staged) await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(staged).toBe(true);

    // Assess: nothing visible; the object key holds nothing partial.
    const store = new FsObjectStore(join(dir, 'home'));
    expect(await listVersions(store, 'synthetic-binary')).toEqual([]);
    const sha = await sha256File(big);
    const data = await store.head(`datasets/synthetic-binary/versions/${sha}/data.csv`);
    if (data !== undefined) expect(await sha256File(join(dir, 'home', data.key))).toBe(sha);

    const again = JSON.parse((await push(big)).stdout);
    expect(again).toMatchObject({ version: sha, status: 'created', rows: 600_000 });
    expect((await listVersions(store, 'synthetic-binary')).map((m) => m.version)).toEqual([sha]);
  });
});
