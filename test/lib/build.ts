/**
 * Builds the CDK app the way `cdk synth` does — same `buildApp`, same feature flags from `cdk.json` — so
 * assertions hold for what is deployed.
 *
 * Every app of one test file shares one cloud-assembly folder (removed after the file): CDK stages an
 * asset once per folder, so the predict bundle is built and the 47 MB onnxruntime layer copied once per
 * file rather than once per app.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { IConstruct } from 'constructs';
import { afterAll } from 'vitest';
import { buildApp, type DriftlineApp } from '../../lib/app.ts';
import { parseConfig } from '../../pipelines/config/load.ts';
import type { DriftlineConfig, DriftlineConfigInput } from '../../pipelines/config/schema.ts';

/** The `context` of the committed `cdk.json`: the feature flags the CLI passes to the app. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/** The demo config, with an ephemeral `dev` stage and no `prod` entry (so prod gets the defaults). */
export const PENGUINS: DriftlineConfigInput = {
  project: { name: 'penguins' },
  task: 'multiclass',
  target: 'species',
  features: [
    { name: 'island', type: 'categorical' },
    { name: 'bill_length_mm', type: 'numeric', nullable: true },
    { name: 'body_mass_g', type: 'numeric', nullable: true },
  ],
  stages: { dev: { ephemeral: true } },
};

/** A validated config: {@link PENGUINS} with `overrides` on top. */
export function penguinsConfig(overrides: Partial<DriftlineConfigInput> = {}): DriftlineConfig {
  return parseConfig({ ...PENGUINS, ...overrides });
}

let assemblyDir: string | undefined;
afterAll(() => {
  if (assemblyDir !== undefined) rmSync(assemblyDir, { recursive: true, force: true });
  assemblyDir = undefined;
});

/** The cloud-assembly folder shared by the apps of the current test file. */
export function sharedAssemblyDir(): string {
  assemblyDir ??= mkdtempSync(join(tmpdir(), 'driftline-cdk-test-'));
  return assemblyDir;
}

/** An app with the feature flags of `cdk.json` and no cdk-nag packs. */
export function projectApp(): App {
  return new App({ context: CDK_JSON_CONTEXT, outdir: sharedAssemblyDir() });
}

/** One stage of the app as `cdk synth -c stage=…` builds it, and the data stack's template. */
export function buildStage(
  stage: string,
  config: DriftlineConfig = penguinsConfig(),
): DriftlineApp & { dataTemplate: Template } {
  const built = buildApp({ app: projectApp(), config, stage });
  return { ...built, dataTemplate: Template.fromStack(built.data) };
}

/**
 * The folder CDK staged for the asset of a function or layer (its `Code` child) in the app's cloud
 * assembly: what `cdk deploy` zips and uploads.
 */
export function stagedAssetDir(app: App, construct: IConstruct): string {
  const code = construct.node.tryFindChild('Code');
  if (!(code instanceof s3assets.Asset)) throw new Error(`${construct.node.path} has no asset code`);
  return isAbsolute(code.assetPath) ? code.assetPath : join(app.outdir, code.assetPath);
}
