/** Where runs live in the store (DESIGN.md "Storage layout"). */

/** The folder of the run index: a name no run id can take (run ids start with their UTC start time). */
const INDEX_FOLDER = 'index';

export const runKeys = {
  prefix: 'runs/',
  record: (runId: string) => `runs/${runId}/run.json`,
  artifact: (runId: string, file: string) => `runs/${runId}/${file}`,
  /**
   * Summaries of the runs whose id starts in month `month` (`YYYYMM`, UTC), so that listing reads a
   * few documents instead of every record. One shard per month keeps each far below the size of a ref.
   */
  index: (month: string) => `runs/${INDEX_FOLDER}/${month}.json`,
  indexPrefix: `runs/${INDEX_FOLDER}/`,
};

/** True for an id that would collide with the index folder (see {@link runKeys.index}). */
export function isReservedRunId(runId: string): boolean {
  return runId === INDEX_FOLDER;
}

/**
 * The index shard of a run: the month its id starts with (ids from `newRunId` begin with a UTC
 * timestamp `YYYYMMDDTHHMMSSZ`). `undefined` for an id without one: such a run is never indexed, and
 * listing reads its record.
 */
export function indexKeyOf(runId: string): string | undefined {
  const month = /^(\d{6})\d{2}T/.exec(runId)?.[1];
  return month === undefined ? undefined : runKeys.index(month);
}

/** The run id in a record key `runs/<runId>/run.json`, or `undefined` for any other key. */
export function runIdOfRecordKey(key: string): string | undefined {
  if (!key.startsWith(runKeys.prefix) || key.startsWith(runKeys.indexPrefix)) return undefined;
  const rest = key.slice(runKeys.prefix.length);
  const cut = rest.indexOf('/');
  return cut > 0 && rest.slice(cut) === '/run.json' ? rest.slice(0, cut) : undefined;
}
