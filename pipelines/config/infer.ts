/**
 * Schema inference for `driftline init`: one streaming pass over a CSV decides, per column, whether it
 * is a numeric or categorical feature, whether it has missing values (→ `nullable`), whether it is a
 * time column, or whether it is useless as a feature (constant, entirely missing, an identifier); and
 * it infers the task from the target column.
 */

import { openCsv } from '../data/csv.ts';
import { isMissingCell, parseNumericCell } from '../data/missing.ts';
import { InputError, UsageError } from '../errors.ts';
import { type DriftlineConfigInput, type FeatureType, RESERVED_FEATURE_NAMES, type Task } from './schema.ts';

/** Distinct values tracked per column; beyond this a column is "high cardinality" and counting stops. */
const DISTINCT_CAP = 10_000;
/** A text target with more classes than this is almost certainly the wrong column. */
const MAX_CLASSES = 200;
const DATE_PATTERN = /^\d{4}[-/]\d{2}[-/]\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** What inference decided for one column, and why. */
export interface ColumnReport {
  readonly name: string;
  readonly role: 'feature' | 'target' | 'time' | 'skipped';
  /** For features and the target: numeric or categorical as read from the data. */
  readonly type: FeatureType;
  readonly missing: number;
  /** Distinct non-missing values, or `> 10000`. */
  readonly distinct: number | string;
  /** Why a column was skipped or given its role. */
  readonly note?: string;
}

/** The result of {@link inferSchema}. */
export interface InferredSchema {
  readonly rows: number;
  readonly task: Task;
  /** Class labels found in the target (classification), sorted. */
  readonly classes: readonly string[];
  readonly columns: readonly ColumnReport[];
  /** A config with the inferred sections; everything else takes the schema's defaults. */
  readonly config: DriftlineConfigInput;
  readonly warnings: readonly string[];
}

class ColumnStats {
  missing = 0;
  nonNumeric = 0;
  nonDate = 0;
  overflow = false;
  readonly distinct = new Set<string>();

  add(cell: string): void {
    if (isMissingCell(cell)) {
      this.missing += 1;
      return;
    }
    const text = cell.trim();
    if (parseNumericCell(text) === undefined) this.nonNumeric += 1;
    if (!DATE_PATTERN.test(text)) this.nonDate += 1;
    if (!this.overflow) {
      this.distinct.add(text);
      if (this.distinct.size > DISTINCT_CAP) this.overflow = true;
    }
  }

  get present(): number {
    return this.count - this.missing;
  }

  count = 0;

  get distinctLabel(): number | string {
    return this.overflow ? `> ${DISTINCT_CAP}` : this.distinct.size;
  }

  get type(): FeatureType {
    return this.present > 0 && this.nonNumeric === 0 ? 'numeric' : 'categorical';
  }
}

/** A project name (lowercase, digits and dashes) derived from a file name. */
export function projectNameFrom(file: string): string {
  const base = (file.split(/[\\/]/).pop() ?? 'project').replace(/\.[^.]*$/, '');
  let name = base
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  if (name.length < 3) name = `project-${name}`.replace(/-+$/, '').padEnd(3, 'x');
  return name;
}

function inferTask(target: ColumnStats, requested: Task | undefined, targetName: string): Task {
  const classes = target.distinct.size;
  if (target.present === 0) {
    throw new InputError(`the target column "${targetName}" has no values`, {
      hint: 'Choose a target column that holds the label for each row.',
    });
  }
  if (!target.overflow && classes === 1) {
    throw new InputError(
      `the target column "${targetName}" has a single value "${[...target.distinct][0]}"`,
      {
        hint: 'A model needs at least two classes (or a varying value) to learn from.',
      },
    );
  }
  const numeric = target.type === 'numeric';
  if (requested === 'regression' && !numeric) {
    throw new InputError(`--task regression needs a numeric target, but "${targetName}" has text values`, {
      hint: 'Use --task binary or --task multiclass, or pick a numeric target column.',
    });
  }
  if (requested === 'binary' && classes !== 2) {
    throw new InputError(
      `--task binary needs exactly 2 classes, but "${targetName}" has ${target.distinctLabel}`,
      {
        hint: classes > 2 ? 'Use --task multiclass.' : 'Pick a target with two classes.',
      },
    );
  }
  if (requested === 'multiclass' && (target.overflow || classes > MAX_CLASSES)) {
    throw new InputError(
      `--task multiclass: "${targetName}" has ${target.distinctLabel} classes (at most ${MAX_CLASSES})`,
      {
        hint: 'Is this the right target column? For a continuous target use --task regression.',
      },
    );
  }
  if (requested !== undefined) return requested;
  if (classes === 2) return 'binary';
  if (numeric) return 'regression';
  if (target.overflow || classes > MAX_CLASSES) {
    throw new InputError(
      `the target column "${targetName}" has ${target.distinctLabel} distinct text values`,
      {
        hint: 'Is this the right target column? A classification target has at most 200 classes.',
      },
    );
  }
  return 'multiclass';
}

/**
 * Read a CSV once and infer a config for it.
 * @param file the CSV file
 * @param target the label column
 * @param task the task, when the user gave one (otherwise inferred from the target)
 * @throws NotFoundError for a missing file; InputError for an empty file, a bad header, a missing target
 *   column or a target that cannot be learned
 */
export async function inferSchema(file: string, target: string, task?: Task): Promise<InferredSchema> {
  const csv = await openCsv(file);
  const targetIndex = csv.header.indexOf(target);
  if (targetIndex < 0) {
    await csv.close();
    throw new UsageError(`the file has no column "${target}"`, {
      hint: `Pass --target with one of: ${csv.header.map((h) => JSON.stringify(h)).join(', ')}.`,
    });
  }
  const stats = csv.header.map(() => new ColumnStats());
  let rows = 0;
  for await (const { cells } of csv.rows) {
    rows += 1;
    for (let j = 0; j < stats.length; j += 1) {
      const column = stats[j] as ColumnStats;
      column.count += 1;
      column.add(cells[j] ?? '');
    }
  }
  if (rows === 0) {
    throw new InputError(`${file} has a header but no rows`, {
      hint: 'Add data rows below the header line.',
    });
  }
  const targetStats = stats[targetIndex] as ColumnStats;
  const inferredTask = inferTask(targetStats, task, target);
  const warnings: string[] = [];
  if (targetStats.missing > 0) {
    warnings.push(`${targetStats.missing} of ${rows} rows have no "${target}" value; training skips them`);
  }

  const columns: ColumnReport[] = [];
  const features: NonNullable<DriftlineConfigInput['features']> = [];
  let timeColumn: string | undefined;
  csv.header.forEach((name, j) => {
    const s = stats[j] as ColumnStats;
    const base = { name, type: s.type, missing: s.missing, distinct: s.distinctLabel };
    if (j === targetIndex) {
      columns.push({
        ...base,
        role: 'target',
        type: inferredTask === 'regression' ? 'numeric' : 'categorical',
      });
      return;
    }
    if (RESERVED_FEATURE_NAMES.includes(name)) {
      columns.push({
        ...base,
        role: 'skipped',
        note: 'named like a model output; rename the column to use it',
      });
      return;
    }
    if (s.present === 0) {
      columns.push({ ...base, role: 'skipped', note: 'entirely missing' });
      return;
    }
    if (!s.overflow && s.distinct.size === 1 && s.missing === 0) {
      columns.push({ ...base, role: 'skipped', note: 'constant' });
      return;
    }
    if (s.type === 'categorical' && s.nonDate === 0) {
      if (timeColumn === undefined) {
        timeColumn = name;
        columns.push({ ...base, role: 'time', note: 'dates: used to split train/test by time' });
      } else {
        columns.push({ ...base, role: 'skipped', note: 'dates (a second time column)' });
      }
      return;
    }
    if (s.type === 'categorical' && rows >= 20 && (s.overflow || s.distinct.size === s.present)) {
      columns.push({ ...base, role: 'skipped', note: 'a distinct text value in every row (an identifier?)' });
      return;
    }
    const nullable = s.missing > 0;
    features.push(nullable ? { name, type: s.type, nullable } : { name, type: s.type });
    columns.push({ ...base, role: 'feature', ...(nullable ? { note: 'nullable' } : {}) });
  });
  if (features.length === 0) {
    throw new InputError(`${file} has no usable feature columns besides "${target}"`, {
      hint: 'Every other column is constant, missing, an identifier or a date; add feature columns.',
    });
  }
  for (const c of columns) {
    if (c.role === 'skipped') warnings.push(`column "${c.name}" is not used as a feature: ${c.note}`);
  }

  const classes = inferredTask === 'regression' ? [] : [...targetStats.distinct].sort();
  const config: DriftlineConfigInput = {
    $schema: './schema/driftline.config.schema.json',
    project: { name: projectNameFrom(file) },
    task: inferredTask,
    target,
    features,
    ...(timeColumn === undefined ? {} : { training: { split: { timeColumn } } }),
  };
  return { rows, task: inferredTask, classes, columns, config, warnings };
}
