/**
 * The Driftline CDK app: `npx cdk synth [-c stage=NAME] [-c config=FILE]`.
 *
 * Reads `driftline.config.json` (or the file in context `config`) and builds the stacks of one stage
 * (context `stage`, default `dev`). A bad config or stage prints its message and exits with 2, as the CLI
 * does, instead of a stack trace.
 */
import { App, type Environment } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.ts';
import { DEFAULT_STAGE } from '../lib/stage.ts';
import { CONFIG_FILE, loadConfig } from '../pipelines/config/load.ts';
import type { DriftlineConfig } from '../pipelines/config/schema.ts';
import { isDriftlineError } from '../pipelines/errors.ts';

/**
 * The account and region the CDK CLI resolved from the current credentials. Without credentials (offline
 * synth) the stacks stay environment-agnostic rather than pinned to the CLI's fallback region.
 */
function deploymentEnvironment(): Environment | undefined {
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  if (account === undefined) return undefined;
  return { account, region: process.env.CDK_DEFAULT_REGION };
}

/**
 * Print a Driftline error as the CLI does (message, then how to fix it) and exit with 2; rethrow anything
 * else, since only a bug deserves a stack trace.
 */
function exitOnDriftlineError(error: unknown, note?: string): never {
  if (!isDriftlineError(error)) throw error;
  console.error(`driftline: ${error.message}`);
  if (error.hint !== undefined) console.error(error.hint);
  if (note !== undefined) console.error(note);
  process.exit(2);
}

const app = new App();
const configFile = String(app.node.tryGetContext('config') ?? CONFIG_FILE);
let config: DriftlineConfig;
try {
  config = await loadConfig(configFile);
} catch (error) {
  exitOnDriftlineError(error, `(cdk reads ./${CONFIG_FILE}, or the file given with -c config=FILE)`);
}
try {
  buildApp({
    app,
    config,
    stage: app.node.tryGetContext('stage') ?? DEFAULT_STAGE,
    env: deploymentEnvironment(),
  });
} catch (error) {
  exitOnDriftlineError(error);
}
app.synth();
