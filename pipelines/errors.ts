/**
 * The typed errors of Driftline. Every failure a user can cause is one of these; the CLI maps them to
 * exit codes and the HTTP handler to status codes, each in exactly one place.
 */

/** One offending field: where it is and what is wrong with it. */
export interface ErrorDetail {
  /** Where the problem is, e.g. `features[4].type` or `row 1043, column "distance"`. */
  readonly path: string;
  /** What is wrong and, where possible, what was expected. */
  readonly message: string;
}

/** What kind of failure this is; decides the exit code and the HTTP status. */
export type ErrorKind =
  | 'usage' // the command line was wrong
  | 'config' // driftline.config.json is missing or invalid
  | 'input' // a data file or request body is invalid
  | 'not_found' // a dataset, run, model or file does not exist
  | 'conflict' // the operation would overwrite something that must not be overwritten
  | 'integrity' // stored bytes do not match their hash
  | 'unavailable'; // a dependency (e.g. the champion model) is not there yet

interface DriftlineErrorOptions {
  readonly details?: readonly ErrorDetail[];
  readonly hint?: string;
  readonly cause?: unknown;
}

/** Base class: a message for people, a machine-readable kind, optional per-field details and a fix. */
export class DriftlineError extends Error {
  override readonly name: string = 'DriftlineError';
  readonly kind: ErrorKind;
  readonly details: readonly ErrorDetail[];
  /** How to fix it, in one sentence. */
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: DriftlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.details = options.details ?? [];
    this.hint = options.hint;
  }
}

/** The configuration file is missing, unreadable or invalid. */
export class ConfigError extends DriftlineError {
  override readonly name = 'ConfigError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('config', message, options);
  }
}

/** A data file or request is invalid (bad value, missing column, empty file …). */
export class InputError extends DriftlineError {
  override readonly name = 'InputError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('input', message, options);
  }
}

/** The command line itself is wrong (unknown option, missing argument, refused overwrite). */
export class UsageError extends DriftlineError {
  override readonly name = 'UsageError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('usage', message, options);
  }
}

/** Something named by the user does not exist. */
export class NotFoundError extends DriftlineError {
  override readonly name = 'NotFoundError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('not_found', message, options);
  }
}

/** True for any error Driftline raised on purpose (as opposed to a bug). */
export function isDriftlineError(error: unknown): error is DriftlineError {
  return error instanceof DriftlineError;
}

/** The write would replace something that must not change, or a compare-and-swap lost a race. */
export class ConflictError extends DriftlineError {
  override readonly name = 'ConflictError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('conflict', message, options);
  }
}

/** Stored bytes do not match the hash they are stored under: corruption or tampering. */
export class IntegrityError extends DriftlineError {
  override readonly name = 'IntegrityError';
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super('integrity', message, options);
  }
}
