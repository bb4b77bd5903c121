/**
 * A push of a file large enough for every part of the fast path: the hash on a worker thread, the
 * file validated in two parts at once (the second on a worker), the bytes streamed to the store while
 * validation goes on. The manifest must hold the reference statistics — exactly, but for the numeric
 * samples merged from the two parts, which must be samples of the column and the same on every push of
 * the same bytes — and a file refused at its last row must leave nothing behind — no version, no
 * staged upload.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import { tableSchemaOf } from '../../../pipelines/data/table.ts';
import { validateWithStats, WORKER_MIN_BYTES } from '../../../pipelines/datasets/column-stats.ts';
import { pushDataset } from '../../../pipelines/datasets/datasets.ts';
import { Sha256Worker, sha256OfFile } from '../../../pipelines/datasets/file-hash.ts';
import { type ColumnStats, SAMPLE_SIZE } from '../../../pipelines/datasets/stats.ts';
import { InputError } from '../../../pipelines/errors.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import { RESERVED_SEGMENT } from '../../../pipelines/storage/object-key.ts';
import { syntheticConfig } from '../../helpers/data-files.ts';
import { writeCsv } from '../../helpers/push-csv-gen.ts';
import { referenceStats, referenceValidate } from '../../helpers/push-reference.ts';
import { tempDir } from '../../helpers/tmp.ts';

const config = parseConfig(syntheticConfig('binary'));
let dir = '';
let store: FsObjectStore;

beforeEach(async () => {
  dir = await tempDir('driftline-push-large-');
  store = new FsObjectStore(join(dir, 'home'));
});

/** A CSV of the synthetic schema just over the size where the push shares its work. */
function largeCsv(lastRow?: string): string {
  const lines = ['age,income,city,plan,outcome'];
  const cities = ['lisbon', 'porto', 'faro', 'NA', ''];
  let bytes = 0;
  for (let i = 0; bytes < WORKER_MIN_BYTES + (1 << 20); i += 1) {
    const line = `${i % 7 === 0 ? '' : 20 + (i % 50)},${(1000 + ((i * 7919) % 50_000) / 100).toFixed(2)},${cities[i % 5]},${['basic', 'plus', 'pro'][i % 3]},${i % 3 === 0 ? 'churn' : 'stay'}`;
    lines.push(line);
    bytes += line.length + 1;
  }
  if (lastRow !== undefined) lines.push(lastRow);
  return `${lines.join('\n')}\n`;
}

/** Statistics equal to the reference's but for the sample (and the rounding of the moments). */
function expectReferenceStats(actual: ColumnStats, expected: ColumnStats, column: readonly unknown[]): void {
  const values = new Set(column);
  if (actual.type === 'categorical' || expected.type === 'categorical') {
    expect(actual).toEqual(expected);
    return;
  }
  const { mean, std, sample, deciles, ...exact } = actual;
  const { mean: mean1, std: std1, sample: _sample, deciles: _deciles, ...exact1 } = expected;
  expect(exact).toEqual(exact1);
  expect(Math.abs((mean ?? 0) - (mean1 ?? 0))).toBeLessThanOrEqual(1e-9 * Math.abs(mean1 ?? 1));
  expect(Math.abs((std ?? 0) - (std1 ?? 0))).toBeLessThanOrEqual(1e-9 * Math.abs(std1 ?? 1));
  expect(sample).toHaveLength(SAMPLE_SIZE);
  expect(sample.every((v) => values.has(v))).toBe(true);
  // The sample is sorted, and the deciles are its deciles, within the column's range.
  expect(sample).toEqual([...sample].sort((a, b) => a - b));
  expect(deciles).toEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => sample[Math.floor((sample.length - 1) * (d / 10))]),
  );
  for (const d of deciles) {
    expect(d).toBeGreaterThanOrEqual(actual.min ?? Number.NaN);
    expect(d).toBeLessThanOrEqual(actual.max ?? Number.NaN);
  }
  // A uniform sample of the same column: each decile within a few percentiles of the reference's
  // (ranks in the whole column; 1,000 values put a decile within ±3 percentiles nearly always).
  const sorted = Float64Array.from(column.filter((v): v is number => typeof v === 'number')).sort();
  const rank = (v: number): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo / sorted.length;
  };
  expected.deciles.forEach((reference, k) => {
    expect(Math.abs(rank(deciles[k] as number) - rank(reference))).toBeLessThan(0.05);
  });
}

describe('a large push', () => {
  it('stores the bytes under their hash, with the reference statistics, the same on every push', async () => {
    // Prepare
    const file = await writeCsv(dir, 'large.csv', largeCsv());
    const schema = tableSchemaOf(config);

    // Act
    const result = await pushDataset(store, config, file);
    const again = await pushDataset(new FsObjectStore(join(dir, 'other-home')), config, file);

    // Assess
    const reference = await referenceValidate(file, schema);
    if (!reference.ok) throw new Error('the reference refused the file');
    expect(result.manifest.rows).toBe(reference.summary.rows);
    const expected = referenceStats(schema, reference.rows);
    expect(Object.keys(result.manifest.stats)).toEqual(Object.keys(expected));
    schema.features.forEach((f, j) => {
      const column = reference.rows.map((r) => r.values[j]);
      expectReferenceStats(
        result.manifest.stats[f.name] as ColumnStats,
        expected[f.name] as ColumnStats,
        column,
      );
    });
    expect(result.manifest.stats[schema.target]).toEqual(expected[schema.target]);
    expect(JSON.stringify(again.manifest.stats)).toBe(JSON.stringify(result.manifest.stats));
    const bytes = (await readFile(file)).length;
    expect((await validateWithStats(file, schema, { bytes })).parts).toBe(2);
    const stored = await readFile(join(dir, 'home', result.manifest.dataKey));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(result.version);
    expect(result.version).toBe(await sha256OfFile(file));
  }, 60_000);

  it('refuses a file whose last row is bad, and leaves no version and no staged upload', async () => {
    const file = await writeCsv(dir, 'bad-end.csv', largeCsv('30,lots,porto,pro,stay'));

    const error = await pushDataset(store, config, file).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/column "income": "lots" is not a number$/);
    const keys: string[] = [];
    for await (const info of store.list('')) keys.push(info.key);
    expect(keys).toEqual([]);
    const staging = join(dir, 'home', RESERVED_SEGMENT, 'staging');
    expect(await readdir(staging).catch(() => [])).toEqual([]);
  }, 60_000);

  it('hashes on a worker thread as on the calling thread: a file, then chunks through the ring', async () => {
    const file = await writeCsv(dir, 'hash.csv', largeCsv());
    const bytes = await readFile(file);
    const hasher = Sha256Worker.start(true);
    try {
      expect(await hasher.hashFile(file)).toBe(await sha256OfFile(file));
      const running = await hasher.begin();
      // Chunks of every size: smaller than a slot, larger than the whole ring, empty.
      const sizes = [1, 1000, 3 << 20, 0, 9 << 20, 12_345];
      let at = 0;
      for (let k = 0; at < bytes.length; k += 1) {
        const size = sizes[k % sizes.length] as number;
        await running.update(bytes.subarray(at, at + size));
        at += size;
      }
      expect(await running.digest()).toBe(createHash('sha256').update(bytes).digest('hex'));
    } finally {
      hasher.stop();
    }
  }, 60_000);
});
