/** Run records and the run index that `runs ls` reads instead of every record. */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../pipelines/config/load.ts';
import { InputError, NotFoundError, UsageError } from '../../../pipelines/errors.ts';
import { FsObjectStore } from '../../../pipelines/local/fs-store.ts';
import {
  getRun,
  listRuns,
  type RunRecord,
  type RunSummary,
  runKeys,
  startRun,
  summaryOf,
  updateRun,
} from '../../../pipelines/runs/runs.ts';
import { jsonBytes, readJson, updateJson } from '../../../pipelines/storage/json.ts';
import type { ObjectStore } from '../../../pipelines/storage/object-store.ts';
import type { FitMetrics } from '../../../pipelines/train/fit.ts';
import { syntheticConfig } from '../../helpers/data-files.ts';
import { MemoryObjectStore } from '../../helpers/memory-store.ts';
import { tempDir } from '../../helpers/tmp.ts';

const config = parseConfig(syntheticConfig('binary'));
const JANUARY = runKeys.index('202601');
const DECEMBER = runKeys.index('202512');

/** A run id of day `day` of January 2026 (or of December 2025 for a negative day), `n` seconds in. */
function runIdOf(day: number, n: number): string {
  const date =
    day > 0 ? `202601${String(day).padStart(2, '0')}` : `202512${String(31 + day).padStart(2, '0')}`;
  return `${date}T${String(100000 + n).slice(1)}0Z-${String(n).padStart(6, '0')}`;
}

function startedAtOf(runId: string): string {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(runId) ?? [];
  return `${y}-${mo}-${d}T${h}:${mi}:${s}.000Z`;
}

function metricsOf(value: number): FitMetrics {
  return {
    task: 'binary',
    algorithm: 'gbdt',
    primary: { metric: 'auc', value },
    test: { auc: value, logloss: 0.5 },
    validation: { auc: value, logloss: 0.5 },
    classes: ['churn', 'stay'],
    rows: { train: 70, validation: 15, test: 15, dropped: 0 },
    split: 'stratified',
    iterations: 10,
    seconds: { train: 1, export: 0.1, evaluate: 0.1 },
  };
}

/** A `running` record as `trainRun` starts it. */
function runningRecord(runId: string): RunRecord {
  return {
    runId,
    project: 'synthetic-binary',
    status: 'running',
    startedAt: startedAtOf(runId),
    dataset: { name: 'synthetic-binary', version: 'a'.repeat(64), rows: 100 },
    training: config.training,
    task: config.task,
    promotionMetric: config.promotion.metric,
    code: { driftlineVersion: 'test' },
  };
}

/** What `trainRun` makes of a record once it succeeded. */
function succeed(run: RunRecord, modelVersion = 1): RunRecord {
  return {
    ...run,
    status: 'succeeded',
    finishedAt: '2026-02-01T00:00:00.000Z',
    metrics: metricsOf(0.8),
    modelVersion,
  };
}

/** What `trainRun` makes of a record once it failed. */
function fail(run: RunRecord): RunRecord {
  return {
    ...run,
    status: 'failed',
    finishedAt: '2026-02-01T00:00:00.000Z',
    error: { kind: 'input', message: 'bad row' },
  };
}

async function shard(
  store: ObjectStore,
  key: string,
): Promise<{
  runs: Record<string, RunSummary>;
  held?: Record<string, string[]>;
}> {
  const found = await readJson<{ runs: Record<string, RunSummary>; held?: Record<string, string[]> }>(
    store,
    key,
  );
  if (found === undefined) throw new Error(`no shard ${key}`);
  return found.value;
}

/** Every run, listed the way `listRuns` did before the index: by reading every record. */
async function listByRecords(store: ObjectStore): Promise<RunSummary[]> {
  const summaries: RunSummary[] = [];
  for await (const info of store.list(runKeys.prefix)) {
    if (!info.key.endsWith('/run.json')) continue;
    const found = await readJson<RunRecord>(store, info.key);
    if (found !== undefined) summaries.push(summaryOf(found.value));
  }
  return summaries.sort((a, b) =>
    a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.runId < b.runId ? 1 : -1,
  );
}

/**
 * The text of a January shard over the size of a ref (as only a writer behind the store's back could
 * leave it): `runs` and summaries of 3,000 runs that do not exist.
 */
function oversizedShard(runs: Record<string, RunSummary>): string {
  const filler = Array.from({ length: 3000 }, (_, i) => summaryOf(succeed(runningRecord(runIdOf(28, i)))));
  const text = JSON.stringify({ runs: { ...Object.fromEntries(filler.map((s) => [s.runId, s])), ...runs } });
  expect(text.length).toBeGreaterThan(1024 * 1024);
  return text;
}

/** Runs in two months: succeeded, failed and running, as training leaves them. */
async function seedRuns(store: ObjectStore): Promise<string[]> {
  const ids = [runIdOf(-1, 1), runIdOf(-1, 2), runIdOf(3, 3), runIdOf(3, 4), runIdOf(9, 5), runIdOf(9, 6)];
  for (const [i, runId] of ids.entries()) {
    await startRun(store, runningRecord(runId));
    if (i % 3 === 0) await updateRun(store, runId, (r) => succeed(r, i + 1));
    if (i % 3 === 1) await updateRun(store, runId, fail);
  }
  return ids;
}

describe('summaryOf', () => {
  it('keeps what runs ls shows, and the optional fields only when the record has them', () => {
    // Prepare
    const runId = runIdOf(3, 1);

    // Act
    const running = summaryOf(runningRecord(runId));
    const done = summaryOf(succeed(runningRecord(runId), 4));

    // Assess
    expect(running).toEqual({
      runId,
      project: 'synthetic-binary',
      status: 'running',
      startedAt: startedAtOf(runId),
      dataset: { name: 'synthetic-binary', version: 'a'.repeat(64), rows: 100 },
      algorithm: 'gbdt',
      promotionMetric: 'auc',
    });
    expect(Object.keys(running)).not.toContain('primary');
    expect(done).toMatchObject({
      status: 'succeeded',
      finishedAt: '2026-02-01T00:00:00.000Z',
      primary: { metric: 'auc', value: 0.8 },
      modelVersion: 4,
    });
    expect(summaryOf(fail(runningRecord(runId))).error).toEqual({ kind: 'input', message: 'bad row' });
  });
});

describe('the run index', () => {
  it('is written when a run starts and when it is updated, in the shard of its month', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const runId = runIdOf(3, 1);

    // Act
    await startRun(store, runningRecord(runId));
    const started = await shard(store, JANUARY);
    const finished = await updateRun(store, runId, (r) => succeed(r, 2));

    // Assess
    expect(started.runs[runId]).toEqual(summaryOf(runningRecord(runId)));
    expect((await shard(store, JANUARY)).runs[runId]).toEqual(summaryOf(finished));
    expect((await shard(store, JANUARY)).held).toBeUndefined();
  });

  it('shards by the month of the run id, and lists newest first across shards', async () => {
    // Prepare
    const store = new MemoryObjectStore();

    // Act
    const ids = await seedRuns(store);

    // Assess
    expect(Object.keys((await shard(store, DECEMBER)).runs).sort()).toEqual(ids.slice(0, 2));
    expect(Object.keys((await shard(store, JANUARY)).runs).sort()).toEqual(ids.slice(2));
    expect((await listRuns(store)).map((r) => r.runId)).toEqual([...ids].reverse());
  });

  it('lists what reading every record lists, reading only the shards and the running runs', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    await seedRuns(store);
    store.resetCalls();

    // Act
    const listed = await listRuns(store);
    const reads = store.calls.readBytes;
    const lists = store.calls.list;

    // Assess
    expect(listed).toEqual(await listByRecords(store));
    expect(listed.map((r) => r.status)).toEqual([
      'running',
      'failed',
      'succeeded',
      'running',
      'failed',
      'succeeded',
    ]);
    // Two shards, and the records of the two running runs: the index vouches for finished runs only.
    expect(reads).toBe(4);
    expect(lists).toBe(1);
  });

  it('lists the same with the index as without it', async () => {
    // Prepare
    const home = join(await tempDir('driftline-runs-'), 'home');
    const store = new FsObjectStore(home);
    await seedRuns(store);
    const withIndex = await listRuns(store);

    // Act
    await rm(join(home, 'runs', 'index'), { recursive: true });
    const withoutIndex = await listRuns(store);

    // Assess
    expect(withoutIndex).toEqual(withIndex);
    expect(withIndex).toHaveLength(6);
  });

  it('still lists a run whose process died between its record and its index entry', async () => {
    // Prepare: a record written with the store directly, as if the process died before indexing it.
    const store = new MemoryObjectStore();
    await seedRuns(store);
    const orphan = succeed(runningRecord(runIdOf(20, 9)), 9);
    await store.putIfAbsent(runKeys.record(orphan.runId), jsonBytes(orphan));

    // Act
    const listed = await listRuns(store);

    // Assess
    expect((await shard(store, JANUARY)).runs[orphan.runId]).toBeUndefined();
    expect(listed[0]).toEqual(summaryOf(orphan));
    expect(listed).toEqual(await listByRecords(store));
  });

  it('corrects a stale running entry from the record', async () => {
    // Prepare: the run ended, but its process died before indexing that.
    const home = join(await tempDir('driftline-runs-'), 'home');
    const store = new FsObjectStore(home);
    const runId = runIdOf(3, 1);
    await startRun(store, runningRecord(runId));
    await updateJson<RunRecord>(store, runKeys.record(runId), (r) => (r === undefined ? r : succeed(r, 3)));

    // Act
    const listed = await listRuns(store);

    // Assess
    expect((await shard(store, JANUARY)).runs[runId]?.status).toBe('running');
    expect(listed).toEqual([expect.objectContaining({ runId, status: 'succeeded', modelVersion: 3 })]);
  });

  it('never keeps a stale entry of a finished run, even when indexing its change fails', async () => {
    // Prepare: a finished, indexed run; then a store on which every index write after the record's fails.
    const store = new MemoryObjectStore();
    const runId = runIdOf(3, 1);
    await startRun(store, runningRecord(runId));
    await updateRun(store, runId, (r) => succeed(r, 1));
    let recordWritten = false;
    const failing: ObjectStore = {
      location: store.location,
      head: (key) => store.head(key),
      read: (key) => store.read(key),
      readBytes: (key) => store.readBytes(key),
      putIfAbsent: (key, body) => store.putIfAbsent(key, body),
      list: (prefix) => store.list(prefix),
      putIfMatch: async (key, body, etag) => {
        if (recordWritten && key.startsWith(runKeys.indexPrefix)) throw new Error('disk gone');
        const written = await store.putIfMatch(key, body, etag);
        if (key === runKeys.record(runId)) recordWritten = true;
        return written;
      },
    };

    // Act: a change of what runs ls shows of the finished run (e.g. re-registered as version 7).
    const updated = await updateRun(failing, runId, (r) => ({ ...r, modelVersion: 7 }));

    // Assess: the entry was held before the record changed, and stays held; listing reads the record.
    expect(updated.modelVersion).toBe(7);
    const index = await shard(store, JANUARY);
    expect(index.runs[runId]).toBeUndefined();
    expect(index.held?.[runId]).toHaveLength(1);
    expect((await listRuns(store))[0]?.modelVersion).toBe(7);
  });

  it('releases the hold of a finished run once its change is indexed; an unchanged summary writes nothing', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const runId = runIdOf(3, 1);
    await startRun(store, runningRecord(runId));
    await updateRun(store, runId, fail);

    // Act
    const changed = await updateRun(store, runId, (r) => succeed(r, 5));
    store.resetCalls();
    await updateRun(store, runId, (r) => ({ ...r, code: { ...r.code, gitCommit: 'abc' } }));

    // Assess
    expect(await shard(store, JANUARY)).toEqual({ runs: { [runId]: summaryOf(changed) } });
    expect(store.calls.putIfMatch).toBe(1);
  });

  it('refuses to change a finished run when its entry cannot be held, and changes nothing', async () => {
    // Prepare: a shard grown past the size of a ref behind the store's back, vouching for the run.
    const store = new MemoryObjectStore();
    const runId = runIdOf(3, 1);
    await startRun(store, runningRecord(runId));
    const done = await updateRun(store, runId, (r) => succeed(r, 1));
    store.poke(JANUARY, oversizedShard({ [runId]: summaryOf(done) }));

    // Act
    const error = await updateRun(store, runId, (r) => ({ ...r, modelVersion: 2 })).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InputError);
    expect((await readJson<RunRecord>(store, runKeys.record(runId)))?.value.modelVersion).toBe(1);
    expect((await listRuns(store))[0]?.modelVersion).toBe(1);
  });

  it('tolerates an oversized shard: runs start and end, and are listed from their records', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    store.poke(JANUARY, oversizedShard({}));
    const runId = runIdOf(3, 1);

    // Act
    await startRun(store, runningRecord(runId));
    await updateRun(store, runId, (r) => succeed(r, 1));

    // Assess
    expect((await shard(store, JANUARY)).runs[runId]).toBeUndefined();
    expect(await listRuns(store)).toEqual([
      expect.objectContaining({ runId, status: 'succeeded', modelVersion: 1 }),
    ]);
  });

  it('tolerates a corrupt shard, and replaces it on the next index write', async () => {
    // Prepare
    const home = join(await tempDir('driftline-runs-'), 'home');
    const store = new FsObjectStore(home);
    const ids = await seedRuns(store);
    await writeFile(join(home, 'runs', 'index', '202601.json'), '{"runs": {');
    const expected = await listByRecords(store);

    // Act
    const listed = await listRuns(store);
    const runId = runIdOf(20, 9);
    await startRun(store, runningRecord(runId));
    await updateRun(store, runId, (r) => succeed(r, 9));

    // Assess
    expect(listed).toEqual(expected);
    expect(Object.keys((await shard(store, JANUARY)).runs)).toEqual([runId]);
    expect((await listRuns(store)).map((r) => r.runId)).toEqual([runId, ...[...ids].reverse()]);
  });

  it('reads a run from its record when its finished entry is malformed', async () => {
    // Prepare: parseable shards whose finished entries lack what runs ls prints.
    const store = new MemoryObjectStore();
    await seedRuns(store);
    const expected = await listByRecords(store);
    for (const key of [JANUARY, DECEMBER]) {
      await updateJson<{ runs: Record<string, Record<string, unknown>> }>(store, key, (current) => ({
        ...current,
        runs: Object.fromEntries(
          Object.entries(current?.runs ?? {}).map(([id, entry], i) => {
            const { dataset: _dataset, algorithm: _algorithm, ...rest } = entry;
            return [id, i % 2 === 0 ? rest : { ...entry, dataset: 'not an object' }];
          }),
        ),
      }));
    }
    // Act / Assess
    expect(await listRuns(store)).toEqual(expected);
  });

  it('keeps every run in the index when many runs start and end at once', async () => {
    // Prepare
    const store = new FsObjectStore(join(await tempDir('driftline-runs-'), 'home'));
    const ids = Array.from({ length: 24 }, (_, i) => runIdOf(1 + (i % 5), i));

    // Act
    await Promise.all(ids.map((runId) => startRun(store, runningRecord(runId))));
    await Promise.all(
      ids.map((runId, i) => updateRun(store, runId, (r) => (i % 2 === 0 ? succeed(r, i) : fail(r)))),
    );

    // Assess
    const index = await shard(store, JANUARY);
    expect(Object.keys(index.runs).sort()).toEqual([...ids].sort());
    expect(Object.values(index.runs).every((s) => s.status !== 'running')).toBe(true);
    expect(index.held).toBeUndefined();
    expect(await listRuns(store)).toEqual(await listByRecords(store));
  });
});

describe('concurrent changes of one finished run', () => {
  it('leave the entry of its last record, and no hold', async () => {
    // Prepare
    const store = new FsObjectStore(join(await tempDir('driftline-runs-'), 'home'));
    const runId = runIdOf(3, 1);
    await startRun(store, runningRecord(runId));
    await updateRun(store, runId, (r) => succeed(r, 1));

    // Act
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        updateRun(store, runId, (r) => ({ ...r, modelVersion: (r.modelVersion ?? 0) + 1 + i })),
      ),
    );

    // Assess
    const record = (await readJson<RunRecord>(store, runKeys.record(runId)))?.value;
    expect(record).toBeDefined();
    expect(await shard(store, JANUARY)).toEqual({ runs: { [runId]: summaryOf(record as RunRecord) } });
  });
});

describe('run ids and lookups', () => {
  it('getRun finds runs by prefix and is not confused by the index', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const ids = await seedRuns(store);

    // Act
    const byPrefix = await getRun(store, (ids[4] ?? '').slice(0, 16));

    // Assess
    expect(byPrefix.runId).toBe(ids[4]);
    await expect(getRun(store, 'index')).rejects.toBeInstanceOf(NotFoundError);
    await expect(getRun(store, '202601')).rejects.toBeInstanceOf(UsageError);
  });

  it('refuses the run id of the index folder', async () => {
    const store = new MemoryObjectStore();
    await expect(startRun(store, runningRecord('index'))).rejects.toBeInstanceOf(UsageError);
  });

  it('lists a run whose id has no month from its record (it is never indexed)', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const run = { ...runningRecord('run-0001'), startedAt: '2026-01-02T00:00:00.000Z' };

    // Act
    await startRun(store, run);
    await updateRun(store, run.runId, (r) => succeed(r, 1));

    // Assess
    const keys: string[] = [];
    for await (const info of store.list(runKeys.indexPrefix)) keys.push(info.key);
    expect(keys).toEqual([]);
    expect(await listRuns(store)).toEqual([
      expect.objectContaining({ runId: 'run-0001', status: 'succeeded' }),
    ]);
  });
});
