import { describe, expect, it } from 'vitest';
import { binColumns } from '../../../../pipelines/train/gbdt/binning.ts';
import { createWorkspace } from '../../../../pipelines/train/gbdt/grow.ts';
import { MIN_PARALLEL_WORK } from '../../../../pipelines/train/gbdt/histogram-threads.ts';
import { createPrng } from '../../../../pipelines/train/gbdt/prng.ts';

function workspace(threads: number, rows: number, features: number) {
  const rng = createPrng(1);
  const columns = Array.from({ length: features }, () =>
    Float32Array.from({ length: rows }, () => (rng.nextFloat() < 0.05 ? Number.NaN : rng.nextFloat())),
  );
  const binned = binColumns(columns, rows, 64, 1, threads > 1);
  const ws = createWorkspace(binned, 1, 4, threads);
  for (let i = 0; i < rows; i++) {
    ws.grad[i] = rng.nextFloat() - 0.5;
    ws.hess[i] = rng.nextFloat();
    ws.rowIndex[i] = i;
  }
  return ws;
}

describe('threaded histogram building', () => {
  it('starts its worker and builds the same histograms as one thread, bit for bit', () => {
    // Prepare: a node big enough to be split across threads, over every other row.
    const rows = 20_000;
    const features = Int32Array.from({ length: 7 }, (_, j) => j);
    expect((rows / 2) * features.length).toBeGreaterThan(MIN_PARALLEL_WORK);
    const one = workspace(1, rows, 7);
    const two = workspace(2, rows, 7);
    try {
      expect(two.builder.threads).toBe(2);
      for (const ws of [one, two]) {
        for (let i = 0; i < rows / 2; i++) ws.rowIndex[i] = 2 * i;
      }

      // Act: all rows in order, then the rows listed in rowIndex.
      one.builder.build(0, features, 0, rows, true, one.grad, one.hess);
      two.builder.build(0, features, 0, rows, true, two.grad, two.hess);
      one.builder.build(1, features, 0, rows / 2, false, one.grad, one.hess);
      two.builder.build(1, features, 0, rows / 2, false, two.grad, two.hess);

      // Assess
      expect([...(two.builder.hists[0] as Float64Array)]).toEqual([
        ...(one.builder.hists[0] as Float64Array),
      ]);
      expect([...(two.builder.hists[1] as Float64Array)]).toEqual([
        ...(one.builder.hists[1] as Float64Array),
      ]);
      expect((one.builder.hists[0] as Float64Array).some((v) => v !== 0)).toBe(true);
    } finally {
      two.builder.close();
    }
  });
});
