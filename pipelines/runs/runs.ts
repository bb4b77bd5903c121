/**
 * Experiment runs (the MLflow idea, on the storage port): every training run records what went in —
 * parameters, dataset version, code version — and what came out — metrics, artifact hashes, timings
 * and status — under `runs/<runId>/`. Artifacts are written once (putIfAbsent); `run.json` moves from
 * `running` to `succeeded` or `failed` by compare-and-swap. Every record write is followed by an
 * update of the run index (`run-index.ts`), which `listRuns` reads instead of every record.
 */
import { randomBytes } from 'node:crypto';
import type { DriftlineConfig } from '../config/schema.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { FitMetrics } from '../train/fit.ts';
import { isReservedRunId, runIdOfRecordKey, runKeys } from './layout.ts';
import {
  holdEntry,
  indexRun,
  isFinished,
  type RunSummary,
  readRunIndex,
  sameSummary,
  summaryOf,
} from './run-index.ts';

export { runKeys } from './layout.ts';
export { type RunSummary, summaryOf } from './run-index.ts';

/** A stored artifact of a run. */
export interface RunArtifact {
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** `run.json`. */
export interface RunRecord {
  readonly runId: string;
  readonly project: string;
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly dataset: { readonly name: string; readonly version: string; readonly rows?: number };
  /** The training section of the config as used (after `--set` overrides). */
  readonly training: DriftlineConfig['training'];
  readonly task: DriftlineConfig['task'];
  readonly promotionMetric: string;
  readonly code: {
    readonly driftlineVersion: string;
    readonly gitCommit?: string;
    readonly gitDirty?: boolean;
  };
  readonly metrics?: FitMetrics;
  readonly artifacts?: {
    readonly model: RunArtifact;
    readonly baseline: RunArtifact;
    readonly metrics: RunArtifact;
  };
  /** The registry version the model was registered as. */
  readonly modelVersion?: number;
  readonly error?: { readonly kind: string; readonly message: string };
}

/** A new run id: sortable by start time (UTC, to the second), unique by a random suffix. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Creates `run.json` (usually status `running`), then indexes the run. */
export async function startRun(store: ObjectStore, record: RunRecord): Promise<void> {
  if (isReservedRunId(record.runId)) {
    throw new UsageError(`"${record.runId}" cannot be a run id: the run index lives there`);
  }
  await updateJson<RunRecord>(store, runKeys.record(record.runId), (current) => {
    if (current !== undefined) throw new UsageError(`run ${record.runId} already exists`);
    return record;
  });
  await indexRun(store, record.runId);
}

/**
 * Applies `change` to a run's record by compare-and-swap, then updates the run's index entry. A change
 * to what `runs ls` shows of a finished run holds its entry first (see `run-index.ts`), so the index
 * never keeps a stale summary of a finished run; if the hold fails, the record is left unchanged and
 * the error thrown. A running run's update never fails for the index's sake.
 */
export async function updateRun(
  store: ObjectStore,
  runId: string,
  change: (run: RunRecord) => RunRecord,
): Promise<RunRecord> {
  let held = false;
  let hold: string | undefined;
  let updated: RunRecord | undefined;
  try {
    updated = await updateJson<RunRecord>(store, runKeys.record(runId), async (current) => {
      if (current === undefined) throw new NotFoundError(`no run ${runId}`);
      const next = change(current);
      // Listing trusts a finished run's entry: hold it before the record changes. Once per update:
      // the hold stays while the swap retries.
      if (!held && isFinished(current.status) && !sameSummary(current, next)) {
        hold = await holdEntry(store, runId);
        held = true;
      }
      return next;
    });
  } finally {
    // Also after a failed swap that held the entry: the hold is released with the record as it is.
    if (updated !== undefined || hold !== undefined) await indexRun(store, runId, hold);
  }
  return updated as RunRecord;
}

/** Reads records in batches: fast on a local disk, and at most a few dozen requests in flight on S3. */
async function readSummaries(store: ObjectStore, keys: readonly string[]): Promise<RunSummary[]> {
  const summaries: RunSummary[] = [];
  for (let i = 0; i < keys.length; i += 64) {
    const batch = await Promise.all(keys.slice(i, i + 64).map((k) => readJson<RunRecord>(store, k)));
    for (const r of batch) if (r !== undefined) summaries.push(summaryOf(r.value));
  }
  return summaries;
}

/**
 * Every run, newest first: one listing of `runs/`, the index shards it finds, and the record of each
 * run the index cannot vouch for (missing there, or not finished when it was indexed).
 */
export async function listRuns(store: ObjectStore): Promise<RunSummary[]> {
  const records: { readonly runId: string; readonly key: string }[] = [];
  const shards: string[] = [];
  for await (const info of store.list(runKeys.prefix)) {
    const runId = runIdOfRecordKey(info.key);
    if (runId !== undefined) records.push({ runId, key: info.key });
    else if (info.key.startsWith(runKeys.indexPrefix)) shards.push(info.key);
  }
  const indexed = await readRunIndex(store, shards);
  const fromIndex: RunSummary[] = [];
  const unindexed: string[] = [];
  for (const { runId, key } of records) {
    const summary = indexed.get(runId);
    if (summary !== undefined) fromIndex.push(summary);
    else unindexed.push(key);
  }
  const runs = fromIndex.concat(await readSummaries(store, unindexed));
  return runs.sort((a, b) =>
    a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.runId < b.runId ? 1 : -1,
  );
}

/**
 * A run by id or unique id prefix.
 * @throws NotFoundError; UsageError when a prefix is ambiguous
 */
export async function getRun(store: ObjectStore, ref: string): Promise<RunRecord> {
  const exact = await readJson<RunRecord>(store, runKeys.record(ref)).catch(() => undefined);
  if (exact !== undefined) return exact.value;
  const matches = new Set<string>();
  for await (const info of store.list(`${runKeys.prefix}${ref}`)) {
    const runId = runIdOfRecordKey(info.key);
    if (runId !== undefined) matches.add(runId);
  }
  if (matches.size > 1)
    throw new UsageError(`"${ref}" matches ${matches.size} runs`, { hint: 'give more of the run id' });
  const [only] = matches;
  if (only !== undefined) {
    const found = await readJson<RunRecord>(store, runKeys.record(only));
    if (found !== undefined) return found.value;
  }
  throw new NotFoundError(`no run "${ref}"`, { hint: 'see "driftline runs ls"' });
}

/** One row of `runs compare`: a parameter or metric in both runs. */
export interface ComparedValue {
  readonly name: string;
  readonly a: unknown;
  readonly b: unknown;
  /** b − a for numbers. */
  readonly delta?: number;
}

function flatten(value: unknown, prefix: string, out: Record<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else out[prefix] = value;
}

function compareSection(a: unknown, b: unknown): ComparedValue[] {
  const fa: Record<string, unknown> = {};
  const fb: Record<string, unknown> = {};
  flatten(a, '', fa);
  flatten(b, '', fb);
  const names = [...new Set([...Object.keys(fa), ...Object.keys(fb)])];
  return names.map((name) => {
    const va = fa[name];
    const vb = fb[name];
    return typeof va === 'number' && typeof vb === 'number'
      ? { name, a: va, b: vb, delta: vb - va }
      : { name, a: va, b: vb };
  });
}

/** Parameters and metrics of two runs side by side, with deltas. */
export function compareRuns(
  a: RunRecord,
  b: RunRecord,
): { params: ComparedValue[]; metrics: ComparedValue[]; dataset: ComparedValue[] } {
  return {
    params: compareSection({ ...a.training, task: a.task }, { ...b.training, task: b.task }),
    metrics: compareSection(
      {
        test: a.metrics?.test ?? {},
        validation: a.metrics?.validation ?? {},
        iterations: a.metrics?.iterations,
        trainSeconds: a.metrics?.seconds.train,
      },
      {
        test: b.metrics?.test ?? {},
        validation: b.metrics?.validation ?? {},
        iterations: b.metrics?.iterations,
        trainSeconds: b.metrics?.seconds.train,
      },
    ),
    dataset: compareSection(a.dataset, b.dataset),
  };
}
