/**
 * Reading and validating `driftline.config.json`. Every command, the CDK app and every Lambda go through
 * {@link parseConfig}, so a bad file fails the same way everywhere, before anything runs.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { ConfigError, type ErrorDetail } from '../errors.ts';
import { configSchema, type DriftlineConfig } from './schema.ts';

/** The file name every tool looks for by default. */
export const CONFIG_FILE = 'driftline.config.json';

/** `features[4].type` from `['features', 4, 'type']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function quoteAll(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(' | ');
}

/** One zod issue as `expected …, received …`, in words a config author understands. */
function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `required: expected ${issue.expected}`
        : `expected ${issue.expected}, received ${describe(issue.input)}`;
    case 'invalid_value':
      return `expected ${quoteAll(issue.values)}, received ${describe(issue.input)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${quoteAll(issue.keys)} (check the spelling)`;
    case 'invalid_union': {
      // A discriminated union (training.algorithm) reports its options and the enclosing object.
      const { discriminator, options, input } = issue as typeof issue & {
        discriminator?: string;
        options?: unknown[];
      };
      if (discriminator !== undefined && options !== undefined) {
        const received =
          input !== null && typeof input === 'object'
            ? (input as Record<string, unknown>)[discriminator]
            : input;
        return `expected ${quoteAll(options)}, received ${describe(received)}`;
      }
      return issue.message;
    }
    case 'too_small':
    case 'too_big':
      return `${issue.message}, received ${describe(issue.input)}`;
    default:
      return issue.message;
  }
}

/** Zod issues → `{ path: 'features[4].type', message: 'expected …' }`. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.map((issue) => ({ path: formatPath(issue.path), message: issueMessage(issue) }));
}

/**
 * Validate an already-parsed JSON value as a Driftline config.
 * @param source where it came from, for the error message
 * @throws ConfigError listing every offending field
 */
export function parseConfig(value: unknown, source = CONFIG_FILE): DriftlineConfig {
  const result = configSchema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const details = issuesToDetails(result.error.issues);
  throw new ConfigError(`${source} is invalid: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, {
    details,
    hint: `Fix the field${details.length > 1 ? 's' : ''} named above and run "driftline config validate".`,
  });
}

/**
 * Read and validate a config file.
 * @throws ConfigError when the file is missing, is not JSON, or is invalid
 */
export async function loadConfig(file: string): Promise<DriftlineConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(`no config file at ${file}`, {
        hint: 'Create one with "driftline init --data FILE.csv --target COLUMN", or pass --config FILE.',
        cause: error,
      });
    }
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`, {
      hint: 'Fix the JSON syntax (a trailing comma or a missing quote is the usual cause).',
      cause: error,
    });
  }
  return parseConfig(json, file);
}
