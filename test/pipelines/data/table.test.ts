import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import type { DriftlineConfig, DriftlineConfigInput } from '../../../pipelines/config/schema.ts';
import { readTable as readWithSchema, tableSchemaOf } from '../../../pipelines/data/table.ts';
import { InputError } from '../../../pipelines/errors.ts';
import { tempDir } from '../../helpers/tmp.ts';

const base: DriftlineConfigInput = {
  project: { name: 'table-test' },
  task: 'binary',
  target: 'y',
  features: [
    { name: 'distance', type: 'numeric', nullable: true },
    { name: 'origin', type: 'categorical', nullable: true },
  ],
};
const config = parseConfig(base);

/** Reads with the schema of a config, as training does. */
function readTable(file: string, c: DriftlineConfig, mode: 'required' | 'ignore') {
  return readWithSchema(file, tableSchemaOf(c), mode);
}

let dir = '';
beforeAll(async () => {
  dir = await tempDir('driftline-table-');
});

async function file(name: string, content: string | ArrayBuffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : new Uint8Array(content));
  return path;
}

async function failure(promise: Promise<unknown>): Promise<InputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return error as InputError;
}

describe('readTable reads the same data from CSV, JSON Lines and Parquet', () => {
  const expected = {
    rows: 3,
    distance: [120, Number.NaN, 7.5],
    origin: ['SFO', null, 'JFK'],
    target: ['no', 'yes', 'no'],
  };

  it.each([
    ['data.csv', 'distance,origin,y,extra\n120,SFO,no,1\n,NA,yes,2\n7.5,JFK,no,3\n'],
    [
      'data.jsonl',
      '{"distance":120,"origin":"SFO","y":"no"}\n{"distance":null,"y":"yes"}\n\n{"distance":7.5,"origin":"JFK","y":"no","other":1}\n',
    ],
  ])('%s', async (name, content) => {
    const table = await readTable(await file(name, content), config, 'required');
    expect(table.rows).toBe(expected.rows);
    expect([...(table.features[0]?.values ?? [])]).toEqual(expected.distance);
    expect(table.features[1]?.values).toEqual(expected.origin);
    expect(table.target).toEqual({ kind: 'classes', values: expected.target });
  });

  it('data.parquet (row groups streamed)', async () => {
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'distance', data: [120, null, 7.5], type: 'DOUBLE' },
        { name: 'origin', data: ['SFO', null, 'JFK'], type: 'STRING' },
        { name: 'y', data: ['no', 'yes', 'no'], type: 'STRING' },
      ],
      rowGroupSize: 2,
    });
    const table = await readTable(await file('data.parquet', buffer), config, 'required');
    expect(table.format).toBe('parquet');
    expect([...(table.features[0]?.values ?? [])]).toEqual(expected.distance);
    expect(table.features[1]?.values).toEqual(expected.origin);
    expect(table.target).toEqual({ kind: 'classes', values: expected.target });
  });

  it('drops rows whose target is missing, reads regression targets and a time column', async () => {
    const regression = parseConfig({
      ...base,
      task: 'regression',
      training: { split: { timeColumn: 'at' } },
    });
    const path = await file(
      'reg.csv',
      'at,distance,origin,y\n2001-01-02T10:00,1,A,3.5\n2001-01-01,2,B,\n2001/01/03 08:00,3,C,-1\n',
    );
    const table = await readTable(path, regression, 'required');
    expect(table.rows).toBe(2);
    expect(table.droppedRows).toBe(1);
    expect(table.target).toEqual({ kind: 'values', values: new Float64Array([3.5, -1]) });
    expect([...(table.time ?? [])]).toEqual([Date.parse('2001-01-02T10:00'), Date.parse('2001-01-03T08:00')]);
  });

  it('ignores the target when scoring', async () => {
    const table = await readTable(await file('score.csv', 'distance,origin\n1,A\n'), config, 'ignore');
    expect(table.rows).toBe(1);
    expect(table.target).toBeUndefined();
  });
});

describe('readTable refuses bad files with the row and column named', () => {
  it('a value that is not a number', async () => {
    const rows = [
      'distance,origin,y',
      ...Array.from({ length: 1042 }, (_, i) => `${i},A,${i % 2 ? 'yes' : 'no'}`),
      'abc,B,no',
    ];
    const error = await failure(readTable(await file('bad.csv', `${rows.join('\n')}\n`), config, 'required'));
    expect(error.message).toMatch(/bad\.csv: row 1043, column "distance": "abc" is not a number$/);
    expect(error.details).toEqual([
      { path: 'row 1043, column "distance"', message: '"abc" is not a number' },
    ]);
  });

  it('lists several bad values, and stops after 20', async () => {
    const bad = Array.from({ length: 30 }, () => 'x,A,no').join('\n');
    const error = await failure(
      readTable(await file('many.csv', `distance,origin,y\n${bad}\n`), config, 'required'),
    );
    expect(error.details).toHaveLength(20);
    expect(error.message).toMatch(/\(and 19 more; reading stopped\)$/);
  });

  it('a missing value in a non-nullable feature, a range and an allowed-values violation', async () => {
    const strict = parseConfig({
      ...base,
      features: [
        { name: 'distance', type: 'numeric', range: { min: 0 } },
        { name: 'origin', type: 'categorical', values: ['A', 'B'] },
      ],
    });
    const error = await failure(
      readTable(await file('strict.csv', 'distance,origin,y\n,A,no\n-1,C,yes\n'), strict, 'required'),
    );
    expect(error.details).toEqual([
      { path: 'row 1, column "distance"', message: 'missing value, but the feature is not nullable' },
      { path: 'row 2, column "distance"', message: '-1 is below the minimum 0' },
      { path: 'row 2, column "origin"', message: '"C" is not one of the allowed values "A", "B"' },
    ]);
  });

  it('an empty file, a header only, a missing target or feature column', async () => {
    expect((await failure(readTable(await file('empty.csv', ''), config, 'required'))).message).toMatch(
      /empty\.csv is empty/,
    );
    expect(
      (await failure(readTable(await file('h.csv', 'distance,origin,y\n'), config, 'required'))).message,
    ).toMatch(/has no data rows/);
    const noTarget = await failure(
      readTable(await file('nt.csv', 'distance,origin\n1,A\n'), config, 'required'),
    );
    expect(noTarget.message).toMatch(/nt\.csv has no column "y"/);
    const noFeature = await failure(
      readTable(await file('nf.jsonl', '{"distance":1,"y":"no"}\n'), config, 'required'),
    );
    expect(noFeature.message).toMatch(/nf\.jsonl has no column "origin"/);
  });

  it('a target with one class, a feature missing in every row', async () => {
    expect(
      (
        await failure(
          readTable(await file('one.csv', 'distance,origin,y\n1,A,no\n2,B,no\n'), config, 'required'),
        )
      ).message,
    ).toMatch(/the target "y" has a single class "no"/);
    expect(
      (
        await failure(
          readTable(await file('allna.csv', 'distance,origin,y\n,A,no\nNA,B,yes\n'), config, 'required'),
        )
      ).message,
    ).toMatch(/feature "distance" is missing in every row/);
  });

  it('a duplicate header, the wrong delimiter, broken JSON, an unknown extension, a missing file', async () => {
    expect(
      (
        await failure(
          readTable(await file('dup.csv', 'distance,origin,y,y\n1,A,no,no\n'), config, 'required'),
        )
      ).message,
    ).toMatch(/duplicate column "y"/);
    expect(
      (await failure(readTable(await file('tab.csv', 'distance\torigin\ty\n1\tA\tno\n'), config, 'required')))
        .message,
    ).toMatch(/looks tab-separated/);
    expect(
      (await failure(readTable(await file('broken.jsonl', '{"distance":1,\n'), config, 'required'))).message,
    ).toMatch(/broken\.jsonl, line 1: not valid JSON/);
    expect((await failure(readTable(await file('data.xlsx', 'x'), config, 'required'))).message).toMatch(
      /unknown file type "\.xlsx"/,
    );
    expect((await failure(readTable(join(dir, 'absent.csv'), config, 'required'))).message).toMatch(
      /no such file/,
    );
  });
});
