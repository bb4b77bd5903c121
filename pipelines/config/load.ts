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
 * Applies `key=value` overrides (`training.params.maxDepth=4`) to a parsed config file. The value is
 * read as JSON when it parses (numbers, booleans, quoted strings, objects), else taken as a string.
 * @throws ConfigError for a malformed override or a path through a non-object
 */
export function applyOverrides(json: unknown, overrides: readonly string[]): unknown {
  const root = structuredClone(json) as Record<string, unknown>;
  for (const override of overrides) {
    const eq = override.indexOf('=');
    const path = eq < 0 ? '' : override.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(path)) {
      throw new ConfigError(`--set ${JSON.stringify(override)}: expected key=value with a dotted key`, {
        hint: 'for example --set training.params.maxDepth=4',
      });
    }
    const raw = override.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    const keys = path.split('.');
    let node: Record<string, unknown> = root;
    keys.slice(0, -1).forEach((key, i) => {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new ConfigError(`--set ${path}: ${keys.slice(0, i + 1).join('.')} is not an object`);
      }
      node = node[key] as Record<string, unknown>;
    });
    node[keys[keys.length - 1] as string] = value;
  }
  return root;
}

/**
 * Read and validate a config file, with optional `key=value` overrides applied first.
 * @throws ConfigError when the file is missing, is not JSON, or is invalid
 */
export async function loadConfig(file: string, overrides: readonly string[] = []): Promise<DriftlineConfig> {
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
  return parseConfig(
    overrides.length === 0 ? json : applyOverrides(json, overrides),
    overrides.length === 0 ? file : `${file} with --set ${overrides.join(' ')}`,
  );
}
