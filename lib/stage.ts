/**
 * Naming and tagging shared by every Driftline stack, so a stage's stacks are found, billed and cleaned up
 * together.
 */
import { ConfigError } from '../pipelines/errors.ts';

/** The stage used when `cdk -c stage=NAME` is not given. */
export const DEFAULT_STAGE = 'dev';

/** Same rule as the keys of `stages` in the config, so every stage can be configured there. */
const STAGE_NAME = /^[a-z][a-z0-9]{0,15}$/;

/**
 * Check a stage name taken from the CDK context.
 * @throws ConfigError when it is not 1-16 lowercase letters and digits starting with a letter
 */
export function parseStageName(value: unknown): string {
  if (typeof value === 'string' && STAGE_NAME.test(value)) return value;
  throw new ConfigError(
    `stage ${JSON.stringify(value)} is invalid: expected 1-16 lowercase letters and digits, starting with a letter`,
    { hint: 'Pass a stage such as "-c stage=dev" or "-c stage=prod".' },
  );
}

/** The CloudFormation stack name of one part of a stage, e.g. `Driftline-dev-Data`. */
export function stackName(stage: string, part: string): string {
  return `Driftline-${stage}-${part}`;
}

/** The tags every resource of a stage carries. */
export function stageTags(projectName: string, stage: string): Record<string, string> {
  return { project: projectName, stage, 'managed-by': 'driftline' };
}
