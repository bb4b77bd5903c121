/**
 * The run index (the dataset index's idea, sharded by month): `runs/index/<YYYYMM>.json` holds what
 * `runs ls` shows of each run whose id starts in that month, so listing 1,000 runs reads one document
 * instead of 1,000 records. The records stay the truth, and the index can only ever lag behind them
 * in ways listing detects:
 * - a record is written first and its entry after, by compare-and-swap with the record re-read inside
 *   the swap, so whichever writer indexes a run last has seen its latest record;
 * - listing trusts only entries of finished runs (`succeeded` / `failed`) and reads the record of any
 *   other run: one missing from the index (its process died between record and entry, the shard was
 *   refused for size or unreadable, or the run predates the index) or still `running` there (its
 *   process may have died before indexing the end of the run);
 * - a change to a finished run's summary first holds its entry (drops it, adds a hold token), then
 *   writes the record, then indexes it and releases the hold: a process dying in between leaves a
 *   held entry, which listing does not trust, never a stale one.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError } from '../errors.ts';
import { jsonBytes, readJson, updateJson } from '../storage/json.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { FitMetrics } from '../train/fit.ts';
import { indexKeyOf, runKeys } from './layout.ts';
import type { RunRecord } from './runs.ts';

/** What `runs ls` shows of a run: its record without parameters, code version, artifacts and metrics. */
export interface RunSummary {
  readonly runId: string;
  readonly project: string;
  readonly status: RunRecord['status'];
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly dataset: { readonly name: string; readonly version: string; readonly rows?: number };
  /** `training.algorithm` of the record. */
  readonly algorithm: RunRecord['training']['algorithm'];
  readonly promotionMetric: string;
  /** `metrics.primary` of the record (the promotion metric's test value), once the run has metrics. */
  readonly primary?: FitMetrics['primary'];
  readonly modelVersion?: number;
  readonly error?: { readonly kind: string; readonly message: string };
}

/** The summary of a record; optional fields only when the record has them, so equal runs serialise equally. */
export function summaryOf(record: RunRecord): RunSummary {
  const { name, version, rows } = record.dataset;
  const primary = record.metrics?.primary;
  return {
    runId: record.runId,
    project: record.project,
    status: record.status,
    startedAt: record.startedAt,
    ...(record.finishedAt === undefined ? {} : { finishedAt: record.finishedAt }),
    dataset: rows === undefined ? { name, version } : { name, version, rows },
    algorithm: record.training.algorithm,
    promotionMetric: record.promotionMetric,
    ...(primary === undefined ? {} : { primary: { metric: primary.metric, value: primary.value } }),
    ...(record.modelVersion === undefined ? {} : { modelVersion: record.modelVersion }),
    ...(record.error === undefined
      ? {}
      : { error: { kind: record.error.kind, message: record.error.message } }),
  };
}

/** True once a run has ended (`succeeded` / `failed`): only such entries can stand in for a record. */
export function isFinished(status: RunRecord['status']): boolean {
  return status === 'succeeded' || status === 'failed';
}

/** True when two records show the same in `runs ls` (compared as stored: NaN and null alike). */
export function sameSummary(a: RunRecord, b: RunRecord): boolean {
  return JSON.stringify(summaryOf(a)) === JSON.stringify(summaryOf(b));
}

/** One shard, `runs/index/<YYYYMM>.json`. */
interface RunIndexShard {
  /** Summaries by run id. */
  readonly runs: Readonly<Record<string, RunSummary>>;
  /** Hold tokens by run id: changes of a finished run in progress; such an entry is not trusted. */
  readonly held?: Readonly<Record<string, readonly string[]>>;
}

/** A shard as read, with both maps present (possibly empty). */
interface ShardView {
  readonly runs: Readonly<Record<string, unknown>>;
  readonly held: Readonly<Record<string, unknown>>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shard in a stored value; anything malformed counts as empty (the index is only a cache). */
function viewOf(value: unknown): ShardView {
  return {
    runs: isObject(value) && isObject(value.runs) ? value.runs : {},
    held: isObject(value) && isObject(value.held) ? value.held : {},
  };
}

function own(map: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function tokensOf(shard: ShardView, runId: string): string[] {
  const tokens = own(shard.held, runId);
  return Array.isArray(tokens) ? tokens.filter((t): t is string => typeof t === 'string') : [];
}

/** The shard with `runId`'s summary and hold tokens replaced (removed when absent / empty). */
function withEntry(
  shard: ShardView,
  runId: string,
  summary: RunSummary | undefined,
  tokens: readonly string[],
): RunIndexShard {
  const { [runId]: _summary, ...runs } = shard.runs as Record<string, RunSummary>;
  const { [runId]: _tokens, ...held } = shard.held as Record<string, readonly string[]>;
  const nextHeld = tokens.length === 0 ? held : { ...held, [runId]: tokens };
  return {
    runs: summary === undefined ? runs : { ...runs, [runId]: summary },
    ...(Object.keys(nextHeld).length === 0 ? {} : { held: nextHeld }),
  };
}

/**
 * Replaces a shard that is not JSON by an empty one (compare-and-swap on the bytes read): its runs
 * are listed from their records until they are indexed again.
 * @returns whether the shard was corrupt
 */
async function resetIfCorrupt(store: ObjectStore, key: string): Promise<boolean> {
  const found = await store.readBytes(key);
  if (found === undefined) return false;
  try {
    JSON.parse(new TextDecoder().decode(found.bytes));
    return false;
  } catch {
    // Not JSON: replaced below.
  }
  const empty: RunIndexShard = { runs: {} };
  await store.putIfMatch(key, jsonBytes(empty), found.etag).catch((error: unknown) => {
    // Someone else replaced it first; the retry reads whatever they wrote.
    if (!(error instanceof ConflictError)) throw error;
  });
  return true;
}

/** Updates a shard by compare-and-swap; a shard that is not JSON is replaced by an empty one first. */
async function updateShard(
  store: ObjectStore,
  key: string,
  change: (shard: ShardView) => RunIndexShard | undefined | Promise<RunIndexShard | undefined>,
): Promise<void> {
  const apply = (current: RunIndexShard | undefined) => change(viewOf(current));
  try {
    await updateJson<RunIndexShard>(store, key, apply);
  } catch (error) {
    if (!(error instanceof SyntaxError) || !(await resetIfCorrupt(store, key))) throw error;
    await updateJson<RunIndexShard>(store, key, apply);
  }
}

/**
 * Brings a run's index entry in line with its record, after the record was written, and releases
 * `hold` (from {@link holdEntry}). Writes nothing when the entry is already right.
 *
 * Never throws: the record is the truth and has been written, and every way this can fail (a shard
 * refused for size, endless contention, a store error) leaves the entry missing, `running` or held,
 * which listing does not trust — it reads the record instead. Failing the caller would be worse: a
 * run whose start "failed" after its record was created would stay `running` for ever, and a run
 * whose end "failed" would be recorded again as failed.
 */
export async function indexRun(store: ObjectStore, runId: string, hold?: string): Promise<void> {
  const key = indexKeyOf(runId);
  if (key === undefined) return;
  try {
    await updateShard(store, key, async (shard) => {
      // Read inside the compare-and-swap: a record written after this read brings its own indexRun,
      // whose swap comes after this one (or makes this one retry and read again).
      const record = await readJson<RunRecord>(store, runKeys.record(runId));
      const summary = record === undefined ? undefined : summaryOf(record.value);
      const tokens = tokensOf(shard, runId);
      const kept = tokens.filter((t) => t !== hold);
      const same = JSON.stringify(own(shard.runs, runId)) === JSON.stringify(summary);
      return same && kept.length === tokens.length ? undefined : withEntry(shard, runId, summary, kept);
    });
  } catch {
    // See above: listing reads the record of a run whose entry could not be written.
  }
}

/**
 * Holds a run's entry before its finished record changes: drops the summary and adds a hold token,
 * so listing reads the record until {@link indexRun} releases the hold — also if this process dies
 * before it does. Dropping the summary also keeps the hold from growing the shard.
 * @returns the token to release, or `undefined` for a run that is never indexed
 * @throws whatever prevented the hold: the record must then not be changed
 */
export async function holdEntry(store: ObjectStore, runId: string): Promise<string | undefined> {
  const key = indexKeyOf(runId);
  if (key === undefined) return undefined;
  const token = randomBytes(8).toString('hex');
  await updateShard(store, key, (shard) =>
    withEntry(shard, runId, undefined, [...tokensOf(shard, runId), token]),
  );
  return token;
}

/** True for an entry listing may use instead of the record: a finished run, in its own shard, not held. */
function isTrusted(shard: ShardView, key: string, runId: string, entry: unknown): entry is RunSummary {
  return (
    isObject(entry) &&
    entry.runId === runId &&
    (entry.status === 'succeeded' || entry.status === 'failed') &&
    typeof entry.startedAt === 'string' &&
    // Shape of what `runs ls` prints: a malformed entry sends the run to its record instead.
    isObject(entry.dataset) &&
    typeof entry.dataset.name === 'string' &&
    typeof entry.dataset.version === 'string' &&
    typeof entry.algorithm === 'string' &&
    typeof entry.promotionMetric === 'string' &&
    indexKeyOf(runId) === key &&
    tokensOf(shard, runId).length === 0
  );
}

/**
 * The summaries listing may use instead of records, by run id, from the shards at `keys`. A shard
 * that cannot be read or parsed counts as empty: its runs are read from their records.
 */
export async function readRunIndex(
  store: ObjectStore,
  keys: readonly string[],
): Promise<Map<string, RunSummary>> {
  const trusted = new Map<string, RunSummary>();
  for (let i = 0; i < keys.length; i += 64) {
    const batch = keys.slice(i, i + 64);
    const shards = await Promise.all(
      batch.map((key) =>
        readJson<unknown>(store, key).then(
          (found) => viewOf(found?.value),
          () => viewOf(undefined),
        ),
      ),
    );
    shards.forEach((shard, j) => {
      const key = batch[j] ?? '';
      for (const [runId, entry] of Object.entries(shard.runs)) {
        if (isTrusted(shard, key, runId, entry)) trusted.set(runId, entry);
      }
    });
  }
  return trusted;
}
