/**
 * The one place where results and errors become CLI output and exit codes.
 *
 * Exit codes: 0 success, 1 failure, 2 usage or config error (DESIGN.md). With `--json` a result is one
 * JSON document on stdout and an error one JSON line on stderr; otherwise text for people, and an
 * error is one line on stderr (the stack trace only with `--debug`).
 */
import { type DriftlineError, type ErrorKind, isDriftlineError } from '../errors.ts';
import type { CliIo } from './io.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USAGE_KINDS: ReadonlySet<ErrorKind> = new Set(['usage', 'config', 'input']);

/** The exit code for an error: 2 for what the user can fix in the command, config or input; else 1. */
export function exitCodeFor(error: unknown): number {
  return isDriftlineError(error) && USAGE_KINDS.has(error.kind) ? EXIT_USAGE : EXIT_FAILURE;
}

/** Options every command has. */
export interface OutputOptions {
  readonly json: boolean;
  readonly debug: boolean;
}

/** Prints one command's result: `data` as JSON with `--json`, else the text from `render`. */
export function printResult<T>(
  io: CliIo,
  options: OutputOptions,
  data: T,
  render: (data: T) => string,
): void {
  if (options.json) io.stdout(`${JSON.stringify(data, null, 2)}\n`);
  else {
    const text = render(data);
    if (text !== '') io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }
}

function errorJson(error: unknown): Record<string, unknown> {
  if (isDriftlineError(error)) {
    const e: DriftlineError = error;
    return {
      error: {
        code: e.kind,
        message: e.message,
        ...(e.hint === undefined ? {} : { hint: e.hint }),
        details: e.details,
      },
    };
  }
  return {
    error: { code: 'internal', message: error instanceof Error ? error.message : String(error), details: [] },
  };
}

/** Reports an error on stderr and returns the exit code to use. */
export function reportError(io: CliIo, options: OutputOptions, error: unknown): number {
  if (options.json) {
    io.stderr(`${JSON.stringify(errorJson(error))}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    const hint = isDriftlineError(error) && error.hint !== undefined ? ` — ${error.hint}` : '';
    const prefix = isDriftlineError(error) ? 'driftline: ' : 'driftline: internal error: ';
    io.stderr(`${prefix}${message.replace(/\s*\n\s*/g, ' ')}${hint}\n`);
  }
  if (options.debug && error instanceof Error && error.stack !== undefined) io.stderr(`${error.stack}\n`);
  return exitCodeFor(error);
}

/** Renders rows as an aligned text table. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))))];
  const widths = headers.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, j) => c.padEnd(widths[j] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
