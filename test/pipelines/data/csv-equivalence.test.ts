/**
 * The fast CSV path (byte scanner, plain-record sweep, cell batches, codes for categories, statistics
 * by column, on a worker thread through shared memory) against the reference it replaced (csv-parse, the
 * rules on each cell's text, the statistics value by value — `test/helpers/push-reference.ts`), on
 * many random files: the same records, the same accepted rows, the same statistics, the same errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { openCsv } from '../../../pipelines/data/csv.ts';
import { CsvScanner, type CsvSyntaxError } from '../../../pipelines/data/csv-scan.ts';
import { readTable, type TableSchema } from '../../../pipelines/data/table.ts';
import { validateWithStats } from '../../../pipelines/datasets/column-stats.ts';
import { InputError } from '../../../pipelines/errors.ts';
import { prngFor, randomCsv, randomSchema, writeCsv } from '../../helpers/push-csv-gen.ts';
import {
  type ReferenceCsvProblem,
  type ReferenceOutcome,
  referenceRecords,
  referenceStats,
  referenceValidate,
} from '../../helpers/push-reference.ts';
import { tempDir } from '../../helpers/tmp.ts';

/** csv-parse's error codes, by the scanner's names for the same problems. */
const PROBLEMS: Record<string, string> = {
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'field-count',
  CSV_QUOTE_NOT_CLOSED: 'unclosed-quote',
  CSV_INVALID_CLOSING_QUOTE: 'closing-quote',
  INVALID_OPENING_QUOTE: 'opening-quote',
};

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-csv-equivalence-');
});

async function outcome<T>(work: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** The structural problem behind an error of the production path, if it is one. */
function syntaxOf(error: unknown): { problem: string; line: number } | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.name === 'CsvSyntaxError') {
    const syntax = cause as CsvSyntaxError;
    return { problem: syntax.problem, line: syntax.line };
  }
  return undefined;
}

function expectSameProblem(error: unknown, problem: ReferenceCsvProblem): void {
  expect(error).toBeInstanceOf(InputError);
  expect(syntaxOf(error)).toEqual({ problem: PROBLEMS[problem.code], line: problem.line });
}

function expectSameError(error: unknown, reference: Extract<ReferenceOutcome, { ok: false }>['error']): void {
  if (!(reference instanceof InputError)) {
    expectSameProblem(error, reference);
    return;
  }
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toBe(reference.message);
  if (reference.details.length > 0) expect((error as InputError).details).toEqual(reference.details);
}

/** Values equal as the same doubles (NaN equals NaN, -0 differs from 0). */
function sameNumbers(actual: ArrayLike<number>, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i += 1) {
    if (!Object.is(actual[i], expected[i]))
      expect({ i, value: actual[i] }).toEqual({ i, value: expected[i] });
  }
}

async function compareTable(file: string, schema: TableSchema, reference: ReferenceOutcome): Promise<void> {
  const result = await outcome(readTable(file, schema, 'required'));
  if (!reference.ok) {
    expect(result.ok).toBe(false);
    if (!result.ok) expectSameError(result.error, reference.error);
    return;
  }
  if (!result.ok) throw result.error;
  const table = result.value;
  expect(table.rows).toBe(reference.summary.rows);
  expect(table.droppedRows).toBe(reference.summary.droppedRows);
  schema.features.forEach((f, j) => {
    const expected = reference.rows.map((r) => r.values[j] ?? null);
    const column = table.features[j];
    if (f.type === 'numeric')
      sameNumbers(
        column?.values as Float64Array,
        expected.map((v) => (v === null ? Number.NaN : (v as number))),
      );
    else expect(column?.values).toEqual(expected);
  });
  const labels = reference.rows.map((r) => r.label);
  if (schema.task === 'regression')
    sameNumbers((table.target?.values ?? []) as Float64Array, labels as number[]);
  else expect(table.target?.values).toEqual(labels);
  if (schema.timeColumn !== undefined)
    sameNumbers(
      table.time ?? [],
      reference.rows.map((r) => r.time),
    );
}

async function compareStats(
  file: string,
  schema: TableSchema,
  reference: ReferenceOutcome,
  shared: boolean,
): Promise<void> {
  // Two threads: the statistics are accumulated on a worker thread, as for a large file.
  const result = await outcome(validateWithStats(file, schema, { bytes: 0, threads: shared ? 2 : 1 }));
  if (!reference.ok) {
    expect(result.ok).toBe(false);
    if (!result.ok) expectSameError(result.error, reference.error);
    return;
  }
  if (!result.ok) throw result.error;
  expect(result.value.threads).toBe(shared ? 2 : 1);
  expect(result.value.summary).toMatchObject(reference.summary);
  expect(result.value.stats).toEqual(referenceStats(schema, reference.rows));
}

describe('the byte scanner reads the records csv-parse reads', () => {
  it.each(Array.from({ length: 300 }, (_, k) => k))('random file %i', async (k) => {
    // Prepare
    const prng = prngFor(1000 + k);
    const schema = randomSchema(prng);
    const text = randomCsv(prng, schema, { rows: 1 + prng.nextInt(40), awkward: 0.3, broken: k % 3 === 0 });
    const file = await writeCsv(dir, `records-${k}.csv`, text);

    // Act
    const expected = await referenceRecords(file);
    const records: string[][] = [];
    let failure: unknown;
    try {
      const csv = await openCsv(file);
      records.push([...csv.header]);
      for await (const row of csv.rows) records.push([...row.cells]);
    } catch (error) {
      failure = error;
    }

    // Assess: the header is trimmed; everything else is the same, error and line included.
    const reference = expected.records.map((r, i) => (i === 0 ? r.map((c) => c.trim()) : r));
    if (expected.problem === undefined) {
      if (reference.length === 0) expect((failure as Error).message).toMatch(/is empty/);
      else {
        expect(failure).toBeUndefined();
        expect(records).toEqual(reference);
      }
    } else {
      expectSameProblem(failure, expected.problem);
      expect(records).toEqual(reference.slice(0, records.length));
    }
  });
});

describe('validation: the same rows, statistics and errors as the reference', () => {
  it.each(Array.from({ length: 200 }, (_, k) => k))('random file %i', async (k) => {
    const prng = prngFor(5000 + k);
    const schema = randomSchema(prng);
    const text = randomCsv(prng, schema, {
      rows: 1 + prng.nextInt(k % 10 === 0 ? 3000 : 200),
      awkward: [0, 0.02, 0.1, 0.3][k % 4],
      broken: k % 7 === 0,
      categories: k % 10 === 0 ? 3000 : 6,
    });
    const file = await writeCsv(dir, `rows-${k}.csv`, text);
    const reference = await referenceValidate(file, schema);

    await compareTable(file, schema, reference);
    await compareStats(file, schema, reference, false);
    if (k % 5 === 0) await compareStats(file, schema, reference, true);
  });

  it('clean files (every batch on the column-by-column path), with and without the worker', async () => {
    for (let k = 0; k < 20; k += 1) {
      const prng = prngFor(9000 + k);
      const schema = randomSchema(prng);
      const file = await writeCsv(dir, `clean-${k}.csv`, randomCsv(prng, schema, { rows: 5000, awkward: 0 }));
      const reference = await referenceValidate(file, schema);
      await compareTable(file, schema, reference);
      await compareStats(file, schema, reference, k % 2 === 0);
    }
  });

  it('a feature that is also the time column', async () => {
    const schema: TableSchema = {
      features: [
        { name: 'day', type: 'categorical', nullable: false },
        { name: 'n', type: 'numeric', nullable: true },
      ],
      task: 'regression',
      target: 'y',
      timeColumn: 'day',
    };
    const lines = [
      'n,day,y',
      ...Array.from(
        { length: 500 },
        (_, i) => `${i},2001-01-${String(1 + (i % 28)).padStart(2, '0')},${i / 7}`,
      ),
    ];
    const file = await writeCsv(dir, 'shared-field.csv', `${lines.join('\n')}\n`);
    const reference = await referenceValidate(file, schema);
    expect(reference.ok).toBe(true);
    await compareTable(file, schema, reference);
    await compareStats(file, schema, reference, false);
    await compareStats(file, schema, reference, true);
  });

  it('more than 20 bad values spread over several columns', async () => {
    const schema: TableSchema = {
      features: [
        { name: 'a', type: 'numeric', nullable: false },
        { name: 'b', type: 'categorical', nullable: false, values: ['x', 'y'] },
        { name: 'c', type: 'numeric', nullable: true, range: { min: 0 } },
        { name: 'd', type: 'categorical', nullable: true },
      ],
      task: 'binary',
      target: 'y',
    };
    const lines = ['a,b,c,d,y'];
    for (let i = 0; i < 3000; i += 1) {
      const bad = i % 97 === 5;
      lines.push(
        `${bad && i % 2 ? 'z' : i},${bad ? 'w' : 'x'},${bad ? -1 : i},d${i % 4},${i % 2 ? 'yes' : 'no'}`,
      );
    }
    const file = await writeCsv(dir, 'many-bad.csv', `${lines.join('\n')}\n`);
    const reference = await referenceValidate(file, schema);
    expect(reference.ok).toBe(false);
    await compareTable(file, schema, reference);
    await compareStats(file, schema, reference, false);
    await compareStats(file, schema, reference, true);
  });
});

describe('the scanner across its buffer', () => {
  it('records split over reads, a record longer than the buffer, every line ending', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const prng = prngFor(eol.length);
      const schema = randomSchema(prng);
      // A few MB with quoted line breaks and one value of 2.5 MB, so reads end mid-record and the
      // buffer has to grow.
      const body = randomCsv(prng, schema, { rows: 40_000, awkward: 0.2 });
      const [header, ...rest] = body.split(eol);
      const huge = `"${'x'.repeat(2_500_000)}"`;
      const firstRow = rest[0]?.split(',') ?? [];
      const file = await writeCsv(
        dir,
        `big-${eol.length}.csv`,
        [
          header,
          ...rest.slice(0, 20_000),
          firstRow.map((c, i) => (i === 0 ? huge : c)).join(','),
          ...rest.slice(20_000),
        ].join(eol),
      );
      const expected = await referenceRecords(file);
      const csv = await openCsv(file).catch((e: unknown) => e);
      if (csv instanceof Error) {
        expect(expected.problem).toBeDefined();
        continue;
      }
      const records = [[...(csv as Awaited<ReturnType<typeof openCsv>>).header]];
      let failure: unknown;
      try {
        for await (const row of (csv as Awaited<ReturnType<typeof openCsv>>).rows)
          records.push([...row.cells]);
      } catch (error) {
        failure = error;
      }
      const reference = expected.records.map((r, i) => (i === 0 ? r.map((c) => c.trim()) : r));
      if (expected.problem !== undefined) expectSameProblem(failure, expected.problem);
      else expect(failure).toBeUndefined();
      expect(records.length).toBe(reference.length);
      expect(records).toEqual(reference);
      const outcomeOf = await referenceValidate(file, schema);
      await compareStats(file, schema, outcomeOf, false);
    }
  });

  it('reads a UTF-16LE file (byte order mark FF FE) as text', async () => {
    const text = 'city,n\nZürich,1\n"São, Paulo",2\n日本,3\n';
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const file = await writeCsv(dir, 'utf16.csv', bytes);
    const csv = await openCsv(file);
    const rows: string[][] = [];
    for await (const row of csv.rows) rows.push([...row.cells]);
    expect(csv.header).toEqual(['city', 'n']);
    expect(rows).toEqual((await referenceRecords(file)).records.slice(1));
  });

  it('keeps padding readable after every field for the readers of short fields', async () => {
    const file = await writeCsv(dir, 'short.csv', 'a\n1');
    const scanner = await CsvScanner.open(file);
    try {
      expect(scanner.bytes.length).toBeGreaterThan(8);
    } finally {
      await scanner.close();
    }
  });
});
