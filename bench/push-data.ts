/**
 * The synthetic data of the push benchmark: the shape of the synthetic test dataset (two numeric
 * features, two categorical ones, a binary target, some missing values), about 27 bytes a row — a
 * narrow file, the hardest case for a validating reader, which pays per row and per cell.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { DriftlineConfigInput } from '../pipelines/config/schema.ts';
import { createPrng } from '../pipelines/train/gbdt/prng.ts';

/** The config the benchmark writes next to its data. */
export const BENCH_CONFIG: DriftlineConfigInput = {
  project: { name: 'bench-push' },
  task: 'binary',
  target: 'outcome',
  features: [
    { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
    { name: 'income', type: 'numeric' },
    { name: 'city', type: 'categorical', nullable: true },
    { name: 'plan', type: 'categorical', values: ['basic', 'plus', 'pro'] },
  ],
};

const CITIES = ['lisbon', 'porto', 'faro', 'braga', 'evora', 'coimbra', 'aveiro', 'NA'];
const PLANS = ['basic', 'plus', 'pro'];

/**
 * Writes a CSV of at least `bytes` bytes for {@link BENCH_CONFIG} to `file`.
 * @returns the rows written
 */
export async function writeBenchCsv(file: string, bytes: number, seed = 1): Promise<number> {
  const prng = createPrng(seed);
  const out = createWriteStream(file);
  out.write('age,income,city,plan,outcome\n');
  let written = 0;
  let rows = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let k = 0; k < 10_000; k += 1) {
      const age = prng.nextFloat() < 0.1 ? '' : String(18 + prng.nextInt(70));
      const income = (800 + prng.nextFloat() * 4000).toFixed(2);
      const city = CITIES[prng.nextInt(CITIES.length)] as string;
      const plan = PLANS[prng.nextInt(PLANS.length)] as string;
      lines.push(`${age},${income},${city},${plan},${prng.nextFloat() < 0.3 ? 'churn' : 'stay'}`);
    }
    const chunk = `${lines.join('\n')}\n`;
    written += chunk.length;
    rows += lines.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await finished(out);
  return rows;
}
