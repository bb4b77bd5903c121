/**
 * Builds the CDK app the way `cdk synth` does — same `buildApp`, same feature flags from `cdk.json` — so
 * assertions hold for what is deployed.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
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

/** An app with the feature flags of `cdk.json` and no cdk-nag packs. */
export function projectApp(): App {
  return new App({ context: CDK_JSON_CONTEXT });
}

/** One stage of the app as `cdk synth -c stage=…` builds it, and the data stack's template. */
export function buildStage(
  stage: string,
  config: DriftlineConfig = penguinsConfig(),
): DriftlineApp & { dataTemplate: Template } {
  const built = buildApp({ app: projectApp(), config, stage });
  return { ...built, dataTemplate: Template.fromStack(built.data) };
}
