/**
 * Reads a data file into validated columns for training, scoring or pushing a dataset version.
 *
 * Every value is checked against the config's feature schema on the way in, with errors that name the
 * row and column (`row 1043, column "distance": "abc" is not a number`). Nothing half-read is ever
 * returned: either the whole file is valid, or an InputError lists the first problems found.
 *
 * The rules live once: per value in `cell-rules.ts`, per row and per file in `row-check.ts`. Rows
 * travel in batches of cells (`cell-batch.ts`): a CSV file's are read from its bytes (`csv-lane.ts`),
 * JSON Lines' and Parquet's from their records through the same cell rules.
 *
 * A large CSV file can also be checked in two parts at once (`csv-split.ts`): {@link LeadingPass}
 * reads the first on the calling thread, {@link checkCsvSegment} the second on another, and what they
 * found is joined into what one pass finds.
 */

import { extname } from 'node:path';
import type { DriftlineConfig, FeatureSpec, Task } from '../config/schema.ts';
import type { RawColumn } from '../train/encoding.ts';
import { CELL_VALUE, CellBatch } from './cell-batch.ts';
import { categoricalCell, numericCell, timeCell } from './cell-rules.ts';
import { csvInputError } from './csv.ts';
import {
  CsvCellReader,
  categoryCaches,
  FIELD_CATEGORY,
  FIELD_NUMBER,
  FIELD_SKIP,
  FIELD_TIME,
} from './csv-lane.ts';
import { CsvScanner, NEED_MORE, RECORD, type RecordDelimiter } from './csv-scan.ts';
import {
  type CsvSegment,
  type SegmentSyntaxFailure,
  segmentFailureOf,
  syntaxErrorAfter,
} from './csv-split.ts';
import { type DataFormat, openRecords, type RecordSource } from './records.ts';
import {
  judgeFindings,
  mergeFindings,
  type PassFindings,
  RowCheck,
  type ValidationSummary,
} from './row-check.ts';

export type { CellBatch } from './cell-batch.ts';
export type { PassFindings, ValidationSummary } from './row-check.ts';

/**
 * Receives the valid rows of a pass a batch at a time: row r of `batch` is valid when `keep[r]` is 1.
 * Feature j is slot j, the target slot `features.length`, the time slot `features.length + 1`; the
 * batch is reused, so the consumer copies what it keeps.
 */
export type BatchConsumer = (batch: CellBatch, keep: Uint8Array) => void;

/** The target column as read: class labels (as text) or numeric values; rows without one are dropped. */
export type TargetColumn =
  | { readonly kind: 'classes'; readonly values: readonly string[] }
  | { readonly kind: 'values'; readonly values: Float64Array };

/** A validated data file, column-major, in the config's feature order. */
export interface DataTable {
  readonly file: string;
  readonly format: DataFormat;
  readonly rows: number;
  readonly features: readonly RawColumn[];
  /** Present when the target was read. */
  readonly target?: TargetColumn;
  /** Milliseconds since the epoch, when the config names a time column and the file has it. */
  readonly time?: Float64Array;
  /** Rows dropped because their target was missing. */
  readonly droppedRows: number;
}

/** Whether the target column must be present. */
export type TargetMode = 'required' | 'ignore';

/** Growable Float64 storage (rows are not known up front when streaming). */
class FloatColumn {
  private data = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length] = value;
    this.length += 1;
  }
  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/** What a file is read and checked against: the features, the target and the optional time column. */
export interface TableSchema {
  readonly features: readonly FeatureSpec[];
  readonly task: Task;
  readonly target: string;
  readonly timeColumn?: string | undefined;
}

/** The table schema a config describes. */
export function tableSchemaOf(config: DriftlineConfig): TableSchema {
  return {
    features: config.features,
    task: config.task,
    target: config.target,
    timeColumn: config.training.split.timeColumn,
  };
}

/** What one pass reads: the features, the target, the time column. */
interface PassPlan {
  readonly schema: TableSchema;
  readonly readTarget: boolean;
  readonly readTime: boolean;
}

/** Where a CSV pass stopped (see {@link CsvPass.run}). */
export type PassStop = 'end' | 'paused' | 'across';

/** A CSV file's scanner, its columns and the field of each column a pass reads (see `RecordSource.csv`). */
interface CsvSource {
  readonly scanner: CsvScanner;
  readonly columns: readonly string[];
  readonly fields: readonly number[];
}

/**
 * The CSV pass: batches read from the scanner's bytes. It can pause where the scanner's limit is (see
 * {@link CsvScanner.limit}) and go on later, for a file validated in two parts.
 */
class CsvPass {
  readonly #scanner: CsvScanner;
  readonly #reader: CsvCellReader;
  readonly #check: RowCheck;
  readonly #batch: CellBatch;
  readonly #onBatch: BatchConsumer;
  /** The row number of the next record. */
  #row = 1;

  constructor(source: CsvSource, plan: PassPlan, check: RowCheck, batch: CellBatch, onBatch: BatchConsumer) {
    const { scanner, fields } = source;
    const { schema, readTarget, readTime } = plan;
    const n = schema.features.length;
    const kinds: number[] = source.columns.map(() => FIELD_SKIP);
    const slots: number[] = source.columns.map(() => -1);
    const use = (field: number, kind: number, slot: number) => {
      kinds[field] = kind;
      slots[field] = slot;
    };
    schema.features.forEach((f, j) => {
      use(fields[j] as number, f.type === 'numeric' ? FIELD_NUMBER : FIELD_CATEGORY, j);
    });
    if (readTarget) use(fields[n] as number, schema.task === 'regression' ? FIELD_NUMBER : FIELD_CATEGORY, n);
    if (readTime) use(fields[readTarget ? n + 1 : n] as number, FIELD_TIME, n + 1);
    this.#scanner = scanner;
    this.#reader = new CsvCellReader(kinds, slots, batch.caches);
    this.#check = check;
    this.#batch = batch;
    this.#onBatch = onBatch;
  }

  /** Records read so far (rows with a problem and dropped rows included). */
  get records(): number {
    return this.#row - 1;
  }

  /**
   * Reads on to the end of the file or to the stop at 20 problems (`end`, the scanner closed), or to
   * the scanner's limit: `paused` there when a record ends exactly there, `across` when one goes on
   * past it (its first bytes read; lift the limit and run again to read on).
   * @throws CsvSyntaxError (the scanner closed)
   */
  async run(): Promise<PassStop> {
    const scanner = this.#scanner;
    const reader = this.#reader;
    const check = this.#check;
    const batch = this.#batch;
    const onBatch = this.#onBatch;
    // The records already in the buffer, in a plain loop, which V8 optimizes better than one that awaits.
    const drain = (): number => {
      for (;;) {
        const step = reader.read(scanner, batch, this.#row);
        if (step !== RECORD) return step;
        this.#row += batch.count;
        if (check.checkBatch(batch)) onBatch(batch, check.keep);
        else if (check.stopped) return step;
      }
    };
    try {
      while (drain() === NEED_MORE) {
        if (scanner.atLimit) return scanner.unread === 0 ? 'paused' : 'across';
        await scanner.fill();
      }
    } catch (error) {
      await scanner.close();
      throw error;
    }
    await scanner.close();
    return 'end';
  }
}

/** The pass over any other format: batches filled from the records' values by the cell rules. */
async function recordPass(
  source: RecordSource,
  plan: PassPlan,
  check: RowCheck,
  batch: CellBatch,
  onBatch: BatchConsumer,
): Promise<void> {
  const { schema, readTarget, readTime } = plan;
  const features = schema.features;
  const n = features.length;
  const timeAt = readTarget ? n + 1 : n;
  const capacity = batch.capacity;
  const flush = (): boolean => {
    if (batch.count === 0) return true;
    if (check.checkBatch(batch)) onBatch(batch, check.keep);
    return !check.stopped;
  };
  batch.reset(1);
  for await (const record of source.records) {
    const r = batch.count;
    const values = record.values;
    if (readTarget) {
      const raw = values[n];
      if (schema.task === 'regression') batch.setNumber(n * capacity + r, numericCell(raw));
      else batch.setCategory(n * capacity + r, categoricalCell(raw));
    }
    if (readTime) batch.setNumber((n + 1) * capacity + r, timeCell(values[timeAt]));
    for (let j = 0; j < n; j += 1) {
      const raw = values[j];
      if (features[j]?.type === 'numeric') batch.setNumber(j * capacity + r, numericCell(raw));
      else batch.setCategory(j * capacity + r, categoricalCell(raw));
    }
    batch.count = r + 1;
    if (batch.count === capacity) {
      if (!flush()) return;
      batch.reset(record.row + 1);
    }
  }
  flush();
}

/** One pass over a file (see {@link checkRows}). */
export interface RowPass {
  readonly format: DataFormat;
  /** Whether the schema names a time column and the file has it. */
  readonly hasTime: boolean;
  readonly findings: PassFindings;
  /**
   * What stopped the reading midway — a malformed record, a line that is not JSON — if anything:
   * `judgeFindings` weighs it against the bad values found before it.
   */
  readonly failure?: unknown;
}

/**
 * The pass of {@link forEachValidBatch}, with what it found left to judge (`judgeFindings`): for
 * callers that decide what to do with the rows before the verdict, such as the statistics of a push.
 * @throws InputError for an absent column, an empty file or an unknown format
 */
export async function checkRows(
  file: string,
  schema: TableSchema,
  target: TargetMode,
  onBatch: BatchConsumer,
): Promise<RowPass> {
  const readTarget = target === 'required';
  const source = await openRecords(file, passColumns(schema, readTarget));
  const hasTime = schema.timeColumn !== undefined && source.columns.includes(schema.timeColumn);
  const plan: PassPlan = { schema, readTarget, readTime: hasTime };
  // The bytes of a CSV file are read field by field into one slot each; a field feeding two slots (a
  // feature that is also the time column) is read through the records instead.
  const used = source.csv?.fields ?? [];
  const csv = new Set(used).size === used.length ? source.csv : undefined;
  const { batch, check } = passParts(plan, csv !== undefined);
  const pass = { format: source.format, hasTime };
  try {
    if (csv !== undefined) {
      try {
        // No limit: the pass reads to the end.
        await new CsvPass({ ...csv, columns: source.columns }, plan, check, batch, onBatch).run();
      } catch (error) {
        throw csvInputError(file, error, source.columns);
      }
    } else await recordPass(source, plan, check, batch, onBatch);
  } catch (failure) {
    return { ...pass, findings: check.findings(), failure };
  }
  return { ...pass, findings: check.findings() };
}

/** The columns a pass reads: the features, the target when read, the time column. */
function passColumns(schema: TableSchema, readTarget: boolean): string[] {
  const wanted = [...schema.features.map((f) => f.name), ...(readTarget ? [schema.target] : [])];
  return schema.timeColumn === undefined ? wanted : [...wanted, schema.timeColumn];
}

/** The batch a pass fills and the check of its rows; `bytes`: read from a CSV file's bytes. */
function passParts(plan: PassPlan, bytes: boolean): { batch: CellBatch; check: RowCheck } {
  const { schema, readTarget, readTime } = plan;
  const { features } = schema;
  // Categorical slots get a cache of codes when the bytes are read; the records carry text.
  const categorical = [
    ...features.map((f) => f.type === 'categorical'),
    readTarget && schema.task !== 'regression',
    false,
  ];
  const batch = new CellBatch(
    slotCount(features),
    bytes ? categoryCaches(categorical) : categorical.map(() => undefined),
  );
  const check = new RowCheck(
    schema,
    { readTarget, readTime, timeColumn: schema.timeColumn ?? '' },
    batch.capacity,
  );
  return { batch, check };
}

/** Slots of a pass: the features, the target, the time column. */
function slotCount(features: readonly FeatureSpec[]): number {
  return features.length + 2;
}

/** What the pass over the second part of a split CSV file found, in that part's own row and line numbers. */
export interface SegmentPass {
  readonly findings: PassFindings;
  /** The malformed record that stopped it, if one did. */
  readonly failure?: SegmentSyntaxFailure;
}

/**
 * The pass over the first part of a CSV file validated in two parts (see `csv-split.ts`), on this
 * thread, target required. It reads up to where the second part starts, and pauses there if a record
 * ends exactly there: then what it found is joined with what the pass over the second part found
 * ({@link LeadingPass.joinedWith}). Otherwise — once it reads on ({@link LeadingPass.readRest}), or if
 * it stopped before — it is the pass of {@link checkRows} over the whole file.
 */
export class LeadingPass {
  readonly file: string;
  /** The file's columns, as its header names them. */
  readonly header: readonly string[];
  readonly hasTime: boolean;
  readonly delimiter: RecordDelimiter;
  /** The file offset where the records start, after the header. */
  readonly dataStart: number;
  readonly #scanner: CsvScanner;
  readonly #pass: CsvPass;
  readonly #check: RowCheck;
  #failure: unknown;

  private constructor(
    file: string,
    source: CsvSource,
    delimiter: RecordDelimiter,
    plan: PassPlan,
    onBatch: BatchConsumer,
  ) {
    const { batch, check } = passParts(plan, true);
    this.file = file;
    this.header = source.columns;
    this.hasTime = plan.readTime;
    this.delimiter = delimiter;
    this.dataStart = source.scanner.offset;
    this.#scanner = source.scanner;
    this.#pass = new CsvPass(source, plan, check, batch, onBatch);
    this.#check = check;
  }

  /**
   * Opens `file` for the pass, on its first record; undefined when its records cannot be split
   * (another format, a UTF-16 file, no record delimiter after the header, a feature that is also the
   * time column) — then nothing is left open.
   * @throws InputError as {@link checkRows}
   */
  static async open(
    file: string,
    schema: TableSchema,
    onBatch: BatchConsumer,
  ): Promise<LeadingPass | undefined> {
    if (extname(file).toLowerCase() !== '.csv') return undefined;
    const source = await openRecords(file, passColumns(schema, true));
    const csv = source.csv;
    if (csv === undefined) return undefined;
    const delimiter = csv.scanner.delimiter;
    if (new Set(csv.fields).size !== csv.fields.length || delimiter === undefined || csv.scanner.offset < 0) {
      await csv.scanner.close();
      return undefined;
    }
    const hasTime = schema.timeColumn !== undefined && source.columns.includes(schema.timeColumn);
    const plan: PassPlan = { schema, readTarget: true, readTime: hasTime };
    return new LeadingPass(file, { ...csv, columns: source.columns }, delimiter, plan, onBatch);
  }

  /**
   * Reads up to the file offset `start` (after the current one): `paused` when a record ends exactly
   * there; `across` when a record goes on past it (then {@link LeadingPass.readRest} reads on); `end`
   * when the pass stopped before it, at 20 problems or at a malformed record.
   */
  async readTo(start: number): Promise<PassStop> {
    this.#scanner.limit(start);
    return this.#run();
  }

  /** Reads on to the end of the file, from where {@link LeadingPass.readTo} stopped. */
  async readRest(): Promise<void> {
    this.#scanner.lift();
    await this.#run();
  }

  async #run(): Promise<PassStop> {
    try {
      return await this.#pass.run();
    } catch (error) {
      this.#failure = csvInputError(this.file, error, this.header);
      return 'end';
    }
  }

  /** What the pass found, once it has read the whole file (or stopped). */
  result(): RowPass {
    const pass = { format: 'csv' as const, hasTime: this.hasTime, findings: this.#check.findings() };
    return this.#failure === undefined ? pass : { ...pass, failure: this.#failure };
  }

  /**
   * What one pass over the whole file finds, from this pass paused where the second part starts and
   * the pass over that part: its problems after this one's, renumbered, and its malformed record with
   * the line it is on in the file.
   */
  joinedWith(second: SegmentPass): RowPass {
    const findings = mergeFindings(this.#check.findings(), second.findings, this.#pass.records);
    const pass = { format: 'csv' as const, hasTime: this.hasTime, findings };
    if (second.failure === undefined) return pass;
    const error = syntaxErrorAfter(second.failure, this.#scanner.lineBreaks);
    return { ...pass, failure: csvInputError(this.file, error, this.header) };
  }

  /** Releases the file; safe to call more than once. */
  close(): Promise<void> {
    return this.#scanner.close();
  }
}

/**
 * The pass over the second part of a CSV file validated in two parts, target required: from the
 * record at `segment.start` to the end of the file, rows numbered from 1 and lines from its start.
 * Its result counts only if the pass over the first part ends exactly there ({@link LeadingPass}).
 * @throws what the scanner throws but a malformed record
 */
export async function checkCsvSegment(
  file: string,
  schema: TableSchema,
  segment: CsvSegment,
  onBatch: BatchConsumer,
): Promise<SegmentPass> {
  const { header } = segment;
  const hasTime = schema.timeColumn !== undefined && header.includes(schema.timeColumn);
  const plan: PassPlan = { schema, readTarget: true, readTime: hasTime };
  const fields = passColumns(schema, true).map((c) => header.indexOf(c));
  const { batch, check } = passParts(plan, true);
  const scanner = await CsvScanner.openAt(file, segment.start, header.length, segment.delimiter);
  try {
    await new CsvPass({ scanner, columns: header, fields }, plan, check, batch, onBatch).run();
  } catch (error) {
    const failure = segmentFailureOf(error);
    if (failure === undefined) throw error;
    return { findings: check.findings(), failure };
  }
  return { findings: check.findings() };
}

/**
 * Validates every row of `file` against `schema` and hands the valid rows to `onBatch`, a batch at a
 * time — as long as no problem has been found. A consumer must not act on the rows until the promise
 * resolves: it rejects at the end of the pass (or once 20 bad values are found).
 * @param target `required`: the target column must exist, rows with a missing target are dropped;
 *   `ignore`: the target is not read (scoring)
 * @throws InputError naming the row and column of each bad value (up to 20), an absent column, an empty
 *   file, a feature that is missing in every row, or a target with a single class
 */
export async function forEachValidBatch(
  file: string,
  schema: TableSchema,
  target: TargetMode,
  onBatch: BatchConsumer,
): Promise<ValidationSummary> {
  const pass = await checkRows(file, schema, target, onBatch);
  return judgeFindings(file, pass.format, pass.hasTime, target === 'required', schema, pass);
}

/**
 * Reads and validates `file` against `schema` (see {@link tableSchemaOf}) into memory, column-major.
 * @throws InputError as {@link forEachValidBatch}
 */
export async function readTable(file: string, schema: TableSchema, target: TargetMode): Promise<DataTable> {
  const { features } = schema;
  const n = features.length;
  const numeric = features.map((f) => (f.type === 'numeric' ? new FloatColumn() : undefined));
  const text = features.map((f) => (f.type === 'categorical' ? ([] as (string | null)[]) : undefined));
  const classes: string[] = [];
  const values = new FloatColumn();
  const time = new FloatColumn();
  const regression = schema.task === 'regression';
  const summary = await forEachValidBatch(file, schema, target, (batch, keep) => {
    const { capacity, numbers } = batch;
    for (let r = 0; r < batch.count; r += 1) {
      if (keep[r] === 0) continue;
      for (let j = 0; j < n; j += 1) {
        const cell = j * capacity + r;
        numeric[j]?.push(numbers[cell] as number);
        text[j]?.push(batch.status[cell] === CELL_VALUE ? batch.category(cell, j) : null);
      }
      if (target === 'required') {
        const cell = n * capacity + r;
        if (regression) values.push(numbers[cell] as number);
        else classes.push(batch.category(cell, n) ?? '');
      }
      time.push(numbers[(n + 1) * capacity + r] as number);
    }
  });
  let targetColumn: TargetColumn | undefined;
  if (target === 'required') {
    targetColumn =
      schema.task === 'regression'
        ? { kind: 'values', values: values.toArray() }
        : { kind: 'classes', values: classes };
  }
  const columns: RawColumn[] = schema.features.map((f, j) =>
    f.type === 'numeric'
      ? { type: 'numeric', values: (numeric[j] as FloatColumn).toArray() }
      : { type: 'categorical', values: text[j] as (string | null)[] },
  );
  return {
    file,
    format: summary.format,
    rows: summary.rows,
    features: columns,
    ...(targetColumn === undefined ? {} : { target: targetColumn }),
    ...(summary.hasTime ? { time: time.toArray() } : {}),
    droppedRows: summary.droppedRows,
  };
}
