import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { ConfigError } from '../../pipelines/errors.ts';
import { buildStage, CDK_JSON_CONTEXT, PENGUINS, penguinsConfig, projectApp } from './build.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STAGE_TAGS = [
  { Key: 'managed-by', Value: 'driftline' },
  { Key: 'project', Value: 'penguins' },
  { Key: 'stage', Value: 'prod' },
];

describe('buildApp', () => {
  it('names the data stack Driftline-<stage>-Data', () => {
    const { data } = buildStage('prod');

    expect(data.stackName).toBe('Driftline-prod-Data');
    expect(data.artifactId).toBe('Driftline-prod-Data');
  });

  it('names the inference stack Driftline-<stage>-Inference, deployed after the data stack', () => {
    const { data, inference } = buildStage('prod');

    expect(inference.stackName).toBe('Driftline-prod-Inference');
    expect(inference.artifactId).toBe('Driftline-prod-Inference');
    expect(inference.dependencies).toContain(data);
  });

  it('tags the stack and every taggable resource with project, stage and managed-by', () => {
    const { data, dataTemplate } = buildStage('prod');

    expect(data.tags.tagValues()).toEqual({ project: 'penguins', stage: 'prod', 'managed-by': 'driftline' });
    const tagged = { Tags: Match.arrayWith(STAGE_TAGS) };
    dataTemplate.allResourcesProperties('AWS::KMS::Key', tagged);
    dataTemplate.allResourcesProperties('AWS::S3::Bucket', tagged);
  });

  it.each(['Prod', 'dev-1', '', 'a'.repeat(17)])('rejects the stage name %j with a ConfigError', (stage) => {
    expect(() => buildApp({ app: projectApp(), config: penguinsConfig(), stage })).toThrow(ConfigError);
  });

  it('names the offending stage in the error', () => {
    expect(() => buildApp({ app: projectApp(), config: penguinsConfig(), stage: 'Prod' })).toThrow(
      'stage "Prod" is invalid: expected 1-16 lowercase letters and digits, starting with a letter',
    );
  });
});

describe('bin/app.ts', () => {
  const scratch: string[] = [];
  afterEach(() => {
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** Run the entry point the way the CDK CLI does: context and output directory in the environment. */
  function runApp(context: Record<string, unknown>): {
    status: number | null;
    stderr: string;
    outdir: string;
  } {
    const outdir = mkdtempSync(join(tmpdir(), 'driftline-cdk-'));
    scratch.push(outdir);
    const result = spawnSync(process.execPath, ['bin/app.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
    });
    return { status: result.status, stderr: result.stderr, outdir };
  }

  function writeConfig(value: unknown): string {
    const dir = mkdtempSync(join(tmpdir(), 'driftline-config-'));
    scratch.push(dir);
    const file = join(dir, 'driftline.config.json');
    writeFileSync(file, JSON.stringify(value));
    return file;
  }

  it('synthesizes the stage given in the context from the config given in the context', () => {
    const config = writeConfig(PENGUINS);

    const run = runApp({ ...CDK_JSON_CONTEXT, config, stage: 'prod' });

    // CDK announces each bundled asset on stderr; anything else there would be a warning or an error.
    expect(run.stderr.replace(/^Bundling asset \S+\.\.\.\n/gm, '')).toBe('');
    expect(run.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.artifacts)).toEqual(
      expect.arrayContaining(['Driftline-prod-Data', 'Driftline-prod-Inference']),
    );
  });

  it('prints an invalid config field and exits 2, without a stack trace', () => {
    const config = writeConfig({ ...PENGUINS, task: 'clustering' });

    const run = runApp({ ...CDK_JSON_CONTEXT, config });

    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`driftline: ${config} is invalid: task: expected`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints a missing config file and exits 2', () => {
    const missing = join(tmpdir(), 'driftline-no-such-dir', 'driftline.config.json');

    const run = runApp({ ...CDK_JSON_CONTEXT, config: missing });

    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`driftline: no config file at ${missing}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints an invalid stage and exits 2', () => {
    const config = writeConfig(PENGUINS);

    const run = runApp({ ...CDK_JSON_CONTEXT, config, stage: 'Prod' });

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('driftline: stage "Prod" is invalid');
  });
});
