/**
 * Worker thread of a push's validation pass: takes the checked batches from the ring in order (see
 * `stats-ring.ts`), accumulates every column's statistics, and posts them back at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CATEGORY_CODES } from '../data/csv-cells.ts';
import { accumulatorsFor, receiveNote, type StatsWorkerData, type StatsWorkerReply } from './column-stats.ts';
import { RingLayout, readRing } from './stats-ring.ts';

function reply(message: StatsWorkerReply): void {
  parentPort?.postMessage(message);
}

reply('started');
const { columns, capacity, memory, port } = workerData as StatsWorkerData;
try {
  const accumulators = accumulatorsFor(columns);
  // Per categorical column, the value of each code; per batch, the values of rows without a code.
  const values = columns.map(() => new Array<string | null>(CATEGORY_CODES).fill(null));
  const texts = new Map<number, Map<number, string | null>>();
  readRing(
    new RingLayout(columns, capacity),
    memory,
    port,
    receiveNote,
    (note) => {
      for (const [k, code, value] of note.codes) (values[k] as (string | null)[])[code] = value;
      if (note.texts.length > 0) {
        const byRow = new Map<number, string | null>();
        for (const [k, r, value] of note.texts) byRow.set(k * capacity + r, value);
        texts.set(note.batch, byRow);
      }
    },
    (view) => {
      const rows = texts.get(view.index);
      accumulators.forEach((accumulator, k) => {
        const cells = view.cells[k] as Float64Array | Int32Array;
        if (accumulator.type === 'numeric') {
          accumulator.acc.addColumn(cells as Float64Array, 0, view.count, view.keep);
        } else {
          const known = values[k] as (string | null)[];
          accumulator.acc.addCodes(
            cells as Int32Array,
            0,
            view.count,
            view.keep,
            (code) => known[code] ?? null,
            (r) => rows?.get(k * capacity + r) ?? null,
          );
        }
      });
      texts.delete(view.index);
    },
  );
  reply({ stats: accumulators.map((a) => a.acc.finish()) });
} catch (error) {
  reply({ error: (error as Error).message });
}
port.close();
