/**
 * The whole Driftline CDK app for one stage. `bin/app.ts` and the tests both build it here, so the tests
 * check exactly what `cdk synth` produces.
 */
import { type App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { type DriftlineConfig, stageConfig } from '../pipelines/config/schema.ts';
import { DataStack } from './data-stack.ts';
import { InferenceStack } from './inference-stack.ts';
import { parseStageName, stackName, stageTags } from './stage.ts';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** The validated `driftline.config.json`. */
  readonly config: DriftlineConfig;
  /**
   * The stage to build: 1-16 lowercase letters and digits, starting with a letter. Its settings come from
   * `config.stages[stage]`, with the schema's defaults when the config does not mention it.
   */
  readonly stage: string;
  /**
   * The app to add the stacks to. Its context must hold the feature flags of `cdk.json` (the CDK CLI
   * passes them; tests pass them explicitly): the constructs rely on them and reject an app without them.
   */
  readonly app: App;
  /**
   * Account and region of every stack.
   * @default - environment-agnostic stacks
   */
  readonly env?: Environment;
}

/** The app and its stacks. */
export interface DriftlineApp {
  /** The CDK app, with tags and the cdk-nag packs applied. */
  readonly app: App;
  /** `Driftline-<stage>-Data`: the key and the data bucket. */
  readonly data: DataStack;
  /** `Driftline-<stage>-Inference`: the HTTP API, the predict function and capture delivery. */
  readonly inference: InferenceStack;
}

/**
 * Build every stack of one stage, tag everything with project, stage and `managed-by`, and register the
 * cdk-nag AwsSolutions and Serverless packs, which fail synthesis on any unacknowledged finding.
 * @throws ConfigError when the stage name is invalid
 */
export function buildApp(options: BuildAppOptions): DriftlineApp {
  const stage = parseStageName(options.stage);
  const app = options.app;
  const settings = stageConfig(options.config, stage);
  const tags = stageTags(options.config.project.name, stage);

  const common = { env: options.env, tags };
  const data = new DataStack(app, stackName(stage, 'Data'), {
    ...common,
    stackName: stackName(stage, 'Data'),
    description: `Driftline ${options.config.project.name} (${stage}): KMS key and versioned data bucket`,
    stageConfig: settings,
  });
  const inference = new InferenceStack(app, stackName(stage, 'Inference'), {
    ...common,
    stackName: stackName(stage, 'Inference'),
    description: `Driftline ${options.config.project.name} (${stage}): HTTP API, predict function, capture delivery`,
    config: options.config,
    stage,
    dataBucket: data.bucket,
    dataKey: data.key,
  });

  // Stack-level tags (above) reach what CloudFormation tags at deploy time; these put the same tags on
  // every taggable resource in the template, where reviews and tests can see them.
  for (const [key, value] of Object.entries(tags)) Tags.of(app).add(key, value);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, data, inference };
}
