/**
 * Worker thread of a push's validation pass over a large CSV file: validates the file's second part
 * (see `validateWithStats` in `column-stats.ts`), accumulates its columns' statistics, and posts what
 * it found and where its accumulators are, to be joined with the first part's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkCsvSegment } from '../data/table.ts';
import { type SegmentWorkerData, type SegmentWorkerReply, secondPartStats } from './column-stats.ts';

function reply(message: SegmentWorkerReply): void {
  parentPort?.postMessage(message);
}

const { file, schema, segment } = workerData as SegmentWorkerData;
try {
  const stats = secondPartStats(schema);
  const pass = await checkCsvSegment(file, schema, segment, (batch, keep) => stats.add(batch, keep));
  reply({ pass, states: stats.states() });
} catch (error) {
  reply({ error: (error as Error).message });
}
