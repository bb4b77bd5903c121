import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../../../pipelines/cli/program.ts';
import { DRIFTLINE_VERSION } from '../../../pipelines/version.ts';
import { runDriftline } from '../../helpers/cli.ts';
import { tempDir } from '../../helpers/tmp.ts';

const CUSTOMERS = new URL('../../fixtures/data/customers.csv', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;

let dir = '';
beforeEach(async () => {
  dir = await tempDir('driftline-cli-');
  await copyFile(CUSTOMERS, join(dir, 'customers.csv'));
});

/** Every command path in the tree, e.g. ['config', 'validate']. */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    return c.commands.length > 0 ? commandPaths(c, path) : [path];
  });
}

describe('driftline CLI frame', () => {
  it('--version prints the package version and exits 0', async () => {
    const result = await runDriftline(['--version'], dir);
    expect(result).toEqual({ code: 0, stdout: `${DRIFTLINE_VERSION}\n`, stderr: '' });
  });

  it('every command has --help (exit 0) that lists --json', async () => {
    const paths = commandPaths(await buildProgram({ stdout: () => {}, stderr: () => {}, cwd: dir, env: {} }));
    expect(paths).toEqual(expect.arrayContaining([['init'], ['config', 'validate'], ['demo']]));
    for (const path of paths) {
      const result = await runDriftline([...path, '--help'], dir);
      expect(result.code, path.join(' ')).toBe(0);
      expect(result.stdout).toContain(`Usage: driftline ${path.join(' ')}`);
      expect(result.stdout).toContain('--json');
    }
  });

  it('usage errors exit 2 with one line on stderr', async () => {
    for (const argv of [
      ['frobnicate'],
      ['init', '--data', 'x.csv'],
      ['init', '--data', 'a', '--target', 'b', '--task', 'x'],
      [],
    ]) {
      const result = await runDriftline(argv, dir);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
    }
    const unknown = await runDriftline(['frobnicate'], dir);
    expect(unknown.stderr).toBe(`driftline: unknown command 'frobnicate' — See "driftline --help".\n`);
  });

  it('stack traces appear only with --debug', async () => {
    const plain = await runDriftline(['init', '--data', 'missing.csv', '--target', 'y'], dir);
    expect(plain.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await runDriftline(['--debug', 'init', '--data', 'missing.csv', '--target', 'y'], dir);
    expect(debug.stderr).toMatch(/\n\s+at .*csv\.ts/);
  });
});

describe('driftline init', () => {
  it('writes the inferred config, then refuses to overwrite it without --force', async () => {
    // Act
    const first = await runDriftline(['init', '--data', 'customers.csv', '--target', 'churned'], dir);

    // Assess
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('40 rows; task binary (classes: no, yes)');
    expect(first.stdout).toMatch(/age\s+feature\s+numeric\s+7\s+\d+\s+nullable/);
    const written = JSON.parse(await readFile(join(dir, 'driftline.config.json'), 'utf8'));
    expect(written).toMatchObject({
      project: { name: 'customers' },
      task: 'binary',
      target: 'churned',
      training: { split: { timeColumn: 'signup_date' } },
    });
    expect(written.features).toContainEqual({ name: 'region', type: 'categorical', nullable: true });

    const again = await runDriftline(['init', '--data', 'customers.csv', '--target', 'plan'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/driftline\.config\.json already exists — Pass --force/);
    expect(JSON.parse(await readFile(join(dir, 'driftline.config.json'), 'utf8'))).toEqual(written);

    const forced = await runDriftline(
      ['init', '--data', 'customers.csv', '--target', 'plan', '--force'],
      dir,
    );
    expect(forced.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'driftline.config.json'), 'utf8')).task).toBe('multiclass');
  });

  it('--json prints the result as JSON', async () => {
    const result = await runDriftline(
      ['init', '--json', '--data', 'customers.csv', '--target', 'churned'],
      dir,
    );
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      rows: 40,
      task: 'binary',
      classes: ['no', 'yes'],
      config: join(dir, 'driftline.config.json'),
    });
    expect(json.columns).toHaveLength(8);
  });

  it('bad input exits 2 with the reason; nothing is written', async () => {
    const noTarget = await runDriftline(['init', '--data', 'customers.csv', '--target', 'nope'], dir);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(
      /^driftline: the file has no column "nope" — Pass --target with one of: "customer_id"/,
    );
    await writeFile(join(dir, 'empty.csv'), '');
    const empty = await runDriftline(['init', '--json', '--data', 'empty.csv', '--target', 'y'], dir);
    expect(empty.code).toBe(2);
    expect(JSON.parse(empty.stderr)).toMatchObject({
      error: { code: 'input', message: `${join(dir, 'empty.csv')} is empty` },
    });
    const missing = await runDriftline(['init', '--data', 'nope.csv', '--target', 'y'], dir);
    expect(missing.code).toBe(2);
    await expect(readFile(join(dir, 'driftline.config.json'))).rejects.toThrow(/ENOENT/);
  });
});

describe('driftline config validate', () => {
  it('exits 0 on a good file', async () => {
    await runDriftline(['init', '--data', 'customers.csv', '--target', 'churned'], dir);
    const result = await runDriftline(['config', 'validate'], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /driftline\.config\.json is valid: project "customers", binary on "churned", 5 features/,
    );
    const json = await runDriftline(['config', 'validate', '--json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, features: 5, promotionMetric: 'auc' });
  });

  it('exits 2 and names the field of a wrong feature type', async () => {
    await runDriftline(['init', '--data', 'customers.csv', '--target', 'churned'], dir);
    const file = join(dir, 'driftline.config.json');
    const config = JSON.parse(await readFile(file, 'utf8'));
    config.features[4].type = 'cat';
    await writeFile(file, JSON.stringify(config));

    const result = await runDriftline(['config', 'validate'], dir);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('features[4].type: expected "numeric" | "categorical", received "cat"');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    const json = await runDriftline(['config', 'validate', '--json'], dir);
    expect(JSON.parse(json.stderr).error.details).toEqual([
      { path: 'features[4].type', message: 'expected "numeric" | "categorical", received "cat"' },
    ]);
  });

  it('exits 2 for a missing file, broken JSON, and --config pointing elsewhere', async () => {
    const missing = await runDriftline(['config', 'validate'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /no config file at .*driftline\.config\.json — Create one with "driftline init/,
    );
    await writeFile(join(dir, 'broken.json'), '{"project": ');
    const broken = await runDriftline(['config', 'validate', '--config', 'broken.json'], dir);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken\.json is not valid JSON/);
  });
});

describe('the installed entry point', () => {
  it('runs on Node 24 via npx-style PATH and returns process exit codes', async () => {
    const run = promisify(execFile);
    const bin = join(ROOT, 'bin', 'driftline.ts');
    const env = { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` };
    const version = await run(bin, ['--version'], { env, cwd: dir });
    expect(version.stdout.trim()).toBe(DRIFTLINE_VERSION);
    const failure = await run(bin, ['config', 'validate'], { env, cwd: dir }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringMatching(/^driftline: no config file/) });
    const node = await run('node', ['--version'], { env });
    expect(node.stdout).toMatch(/^v24\./);
  });
});
