/**
 * Experiment runs (the MLflow idea, on the storage port): every training run records what went in —
 * parameters, dataset version, code version — and what came out — metrics, artifact hashes, timings
 * and status — under `runs/<runId>/`. Artifacts are written once (putIfAbsent); `run.json` moves from
 * `running` to `succeeded` or `failed` by compare-and-swap.
 */
import { randomBytes } from 'node:crypto';
import type { DriftlineConfig } from '../config/schema.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { FitMetrics } from '../train/fit.ts';

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

export const runKeys = {
  prefix: 'runs/',
  record: (runId: string) => `runs/${runId}/run.json`,
  artifact: (runId: string, file: string) => `runs/${runId}/${file}`,
};

/** A new run id: sortable by start time (UTC, to the second), unique by a random suffix. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Creates `run.json` (status `running`). */
export async function startRun(store: ObjectStore, record: RunRecord): Promise<void> {
  await updateJson<RunRecord>(store, runKeys.record(record.runId), (current) => {
    if (current !== undefined) throw new UsageError(`run ${record.runId} already exists`);
    return record;
  });
}

/** Applies `change` to a run's record by compare-and-swap. */
export async function updateRun(
  store: ObjectStore,
  runId: string,
  change: (run: RunRecord) => RunRecord,
): Promise<RunRecord> {
  const updated = await updateJson<RunRecord>(store, runKeys.record(runId), (current) => {
    if (current === undefined) throw new NotFoundError(`no run ${runId}`);
    return change(current);
  });
  return updated as RunRecord;
}

/** Every run, newest first. */
export async function listRuns(store: ObjectStore): Promise<RunRecord[]> {
  const keys: string[] = [];
  for await (const info of store.list(runKeys.prefix))
    if (info.key.endsWith('/run.json')) keys.push(info.key);
  const runs: RunRecord[] = [];
  for (let i = 0; i < keys.length; i += 64) {
    const batch = await Promise.all(keys.slice(i, i + 64).map((k) => readJson<RunRecord>(store, k)));
    for (const r of batch) if (r !== undefined) runs.push(r.value);
  }
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
    if (info.key.endsWith('/run.json')) matches.add(info.key.split('/')[1] ?? '');
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
