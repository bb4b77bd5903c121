/**
 * Shared by the tests that hold the two-part CSV validation of a push to one pass
 * (two-part-validation.test.ts, two-part-fuzz.test.ts): outcomes, refusals as a user sees them, the
 * two-part pass done step by step on one thread, and the comparison of statistics.
 */
import type { expect } from 'vitest';
import { splitOffset } from '../../pipelines/data/csv-split.ts';
import { judgeFindings, type ValidationSummary } from '../../pipelines/data/row-check.ts';
import {
  checkCsvSegment,
  LeadingPass,
  type RowPass,
  readTable,
  type TableSchema,
} from '../../pipelines/data/table.ts';
import type { ValidatedStats } from '../../pipelines/datasets/column-stats.ts';
import { type ColumnStats, SAMPLE_SIZE } from '../../pipelines/datasets/stats.ts';
import { InputError } from '../../pipelines/errors.ts';

export type Outcome = { ok: true; value: ValidatedStats } | { ok: false; error: unknown };

export async function outcome(work: Promise<ValidatedStats>): Promise<Outcome> {
  return work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** A refusal as a user sees it: class, message, details, hint, and the malformed record's problem and line. */
export function shown(error: unknown): unknown {
  const cause = (error as { cause?: { name?: string; problem?: string; line?: number; count?: number } })
    .cause;
  return {
    input: error instanceof InputError,
    message: (error as Error).message,
    details: error instanceof InputError ? error.details : undefined,
    hint: error instanceof InputError ? error.hint : undefined,
    syntax:
      cause?.name === 'CsvSyntaxError'
        ? { problem: cause.problem, line: cause.line, count: cause.count }
        : undefined,
  };
}

/**
 * The two-part pass of `validateWithStats` step by step, both parts on this thread: whether the first
 * part paused at the split (so the second part's findings were used), and the verdict. Undefined when
 * the file is not split at all.
 */
export async function stepwise(
  file: string,
  s: TableSchema,
): Promise<{ paused: boolean; summary?: ValidationSummary; error?: unknown } | undefined> {
  const leading = await LeadingPass.open(file, s, () => {});
  if (leading === undefined) return undefined;
  try {
    const { header, delimiter } = leading;
    const start = await splitOffset(file, delimiter, leading.dataStart);
    if (start === undefined) return undefined;
    const stop = await leading.readTo(start);
    const paused = stop === 'paused';
    if (stop === 'across') await leading.readRest();
    let pass: RowPass = leading.result();
    if (paused) {
      pass = leading.joinedWith(await checkCsvSegment(file, s, { header, delimiter, start }, () => {}));
    }
    try {
      return { paused, summary: judgeFindings(file, 'csv', leading.hasTime, true, s, pass) };
    } catch (error) {
      return { paused, error };
    }
  } finally {
    await leading.close();
  }
}

/** The present values of each numeric column (features, then a numeric target), from a valid file. */
export async function numericValues(file: string, s: TableSchema): Promise<Map<string, Set<number>>> {
  const table = await readTable(file, s, 'required');
  const values = new Map<string, Set<number>>();
  s.features.forEach((f, j) => {
    const column = table.features[j];
    if (column?.type === 'numeric') values.set(f.name, new Set(column.values));
  });
  if (table.target?.kind === 'values') values.set(s.target, new Set(table.target.values));
  return values;
}

/** Within 1e-9 of `expected`, relative (absolute below 1). */
export function close(ex: typeof expect, actual: number | null, expected: number | null, what: string): void {
  if (expected === null || actual === null) {
    ex(actual, what).toBe(expected);
    return;
  }
  ex(Math.abs(actual - expected), what).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

/** The two-part statistics of a column against one pass's, as the claim has them. */
export function expectSameStats(
  ex: typeof expect,
  name: string,
  merged: ColumnStats,
  single: ColumnStats,
  values: ReadonlySet<number> | undefined,
): void {
  if (merged.type === 'categorical' || single.type === 'categorical') {
    ex(merged, name).toEqual(single);
    return;
  }
  const { mean, std, sample, deciles, ...exact } = merged;
  const { mean: mean1, std: std1, sample: sample1, deciles: _deciles, ...exact1 } = single;
  // count, missing, min and max — to the sign of a zero.
  ex(exact, name).toEqual(exact1);
  close(ex, mean, mean1, `${name} mean`);
  close(ex, std, std1, `${name} std`);
  const present = merged.count - merged.missing;
  ex(sample.length, `${name} sample size`).toBe(Math.min(SAMPLE_SIZE, present));
  if (present <= SAMPLE_SIZE) ex(sample, `${name} sample`).toEqual(sample1);
  for (const v of sample) ex(values?.has(v), `${name} sample value ${v}`).toBe(true);
  ex(deciles.length, `${name} deciles`).toBe(present > 0 ? 9 : 0);
}
