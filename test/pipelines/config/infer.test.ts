import { readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inferSchema, projectNameFrom } from '../../../pipelines/config/infer.ts';
import { parseConfig } from '../../../pipelines/config/load.ts';
import { UsageError } from '../../../pipelines/errors.ts';
import { tempDir } from '../../helpers/tmp.ts';

const CUSTOMERS = new URL('../../fixtures/data/customers.csv', import.meta.url).pathname;

describe('inferSchema on a CSV with numeric, categorical and partly-missing columns', () => {
  it('types each column, marks missing ones nullable and infers a binary task', async () => {
    // Act
    const schema = await inferSchema(CUSTOMERS, 'churned');

    // Assess
    expect(schema.rows).toBe(40);
    expect(schema.task).toBe('binary');
    expect(schema.classes).toEqual(['no', 'yes']);
    expect(schema.config.features).toEqual([
      { name: 'age', type: 'numeric', nullable: true },
      { name: 'plan', type: 'categorical' },
      { name: 'monthly_spend', type: 'numeric' },
      { name: 'region', type: 'categorical', nullable: true },
      { name: 'support_calls', type: 'numeric' },
    ]);
    expect(schema.config.training).toEqual({ split: { timeColumn: 'signup_date' } });
    const byName = Object.fromEntries(schema.columns.map((c) => [c.name, c]));
    expect(byName.customer_id).toMatchObject({ role: 'skipped', note: expect.stringMatching(/identifier/) });
    expect(byName.signup_date).toMatchObject({ role: 'time' });
    // 4 empty cells and 3 "NA" cells in the age column.
    expect(byName.age).toMatchObject({ role: 'feature', missing: 7 });
    expect(byName.region).toMatchObject({ role: 'feature', missing: 6 });
    expect(schema.warnings).toEqual([
      'column "customer_id" is not used as a feature: a distinct text value in every row (an identifier?)',
    ]);
    // What init writes is a valid config.
    expect(() => parseConfig(schema.config)).not.toThrow();
  });

  it('takes the task from the caller when given and checks it fits the target', async () => {
    expect((await inferSchema(CUSTOMERS, 'support_calls', 'multiclass')).task).toBe('multiclass');
    expect((await inferSchema(CUSTOMERS, 'monthly_spend')).task).toBe('regression');
    await expect(inferSchema(CUSTOMERS, 'plan', 'regression')).rejects.toThrow(/needs a numeric target/);
    await expect(inferSchema(CUSTOMERS, 'plan', 'binary')).rejects.toThrow(
      /exactly 2 classes, but "plan" has 3/,
    );
  });

  it('infers multiclass for a text target with more than two classes', async () => {
    const schema = await inferSchema(CUSTOMERS, 'plan');
    expect(schema.task).toBe('multiclass');
    expect(schema.classes).toEqual(['basic', 'plus', 'pro']);
  });
});

describe('inferSchema: bad input gets a clear error', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await tempDir();
  });

  async function csv(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  it('a missing file', async () => {
    await expect(inferSchema(join(dir, 'nope.csv'), 'y')).rejects.toThrow(/^no such file: .*nope\.csv$/);
  });

  it('an empty file, and a header without rows', async () => {
    await expect(inferSchema(await csv('empty.csv', ''), 'y')).rejects.toThrow(/empty\.csv is empty/);
    await expect(inferSchema(await csv('header.csv', 'a,y\n'), 'y')).rejects.toThrow(
      /has a header but no rows/,
    );
  });

  it('a missing target column lists the columns there are', async () => {
    const error = await inferSchema(await csv('t.csv', 'a,b\n1,2\n'), 'label').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('the file has no column "label"');
    expect((error as UsageError).hint).toBe('Pass --target with one of: "a", "b".');
  });

  it('leaves no file open when it refuses a file', async () => {
    // Linux lists a process's open descriptors in /proc/self/fd.
    const open = async (file: string) =>
      (
        await Promise.all(
          (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
        )
      ).filter((target) => target === file).length;
    const file = await csv('refused.csv', 'a,b\n1,2\n');
    for (const target of ['label', 'b']) await inferSchema(file, target).catch(() => undefined);
    expect(await open(file)).toBe(0);
  });

  it('a target with one class', async () => {
    await expect(inferSchema(await csv('one.csv', 'a,y\n1,k\n2,k\n'), 'y')).rejects.toThrow(
      /single value "k"/,
    );
  });

  it('a duplicate header, a semicolon file, a ragged row', async () => {
    await expect(inferSchema(await csv('dup.csv', 'a,y,a\n1,2,3\n'), 'y')).rejects.toThrow(
      /duplicate column "a" in the header \(columns 1 and 3\)/,
    );
    await expect(inferSchema(await csv('semi.csv', 'a;y\n1;2\n'), 'y')).rejects.toThrow(
      /looks semicolon-separated/,
    );
    await expect(inferSchema(await csv('ragged.csv', 'a,y\n1,2\n1,2,3\n'), 'y')).rejects.toThrow(
      /line 3: the row has 3 fields but the header has 2/,
    );
  });

  it('no usable feature', async () => {
    await expect(inferSchema(await csv('nofeat.csv', 'k,y\n1,a\n1,b\n'), 'y')).rejects.toThrow(
      /no usable feature columns/,
    );
  });
});

describe('projectNameFrom', () => {
  it('derives a valid resource name from a file name', () => {
    expect(projectNameFrom('/data/My Flights_2001.csv')).toBe('my-flights-2001');
    expect(projectNameFrom('2024.csv')).toBe('project');
    expect(projectNameFrom('x.csv')).toBe('project-x');
  });
});
