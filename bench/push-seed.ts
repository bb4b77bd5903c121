/**
 * A store for the listing benchmark: 1,000 dataset versions, 1,000 runs and 1,000 model versions,
 * written through the library (the storage port, the run records, the local registry) rather than
 * through 1,000 CLI calls each.
 *
 * The dataset versions are copies of one real pushed manifest under different version ids, each
 * with a data object, so `data ls` walks and reads exactly what it would after 1,000 pushes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DriftlineConfig } from '../pipelines/config/schema.ts';
import { indexVersion, pushDataset, setTag } from '../pipelines/datasets/datasets.ts';
import { datasetKeys, LATEST } from '../pipelines/datasets/layout.ts';
import type { DatasetManifest } from '../pipelines/datasets/manifest.ts';
import { FsObjectStore } from '../pipelines/local/fs-store.ts';
import { localRegistry } from '../pipelines/registry/local-registry.ts';
import { type RunRecord, startRun } from '../pipelines/runs/runs.ts';
import { jsonBytes } from '../pipelines/storage/json.ts';

/** Items of each kind the listing benchmark seeds. */
export const SEEDED = 1000;

/** Runs `work` over `items` with at most `limit` in flight. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(work));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The dataset whose 1,000 versions hold objects over 1 MB (see {@link seedStore}). */
export const LARGE_DATASET = 'bench-push-large';

/**
 * Writes {@link SEEDED} versions of dataset `name`: `first` as pushed, and copies of its manifest under
 * other ids, a second apart, each with a data object of `bytes`.
 * @returns the version ids
 */
async function seedVersions(
  store: FsObjectStore,
  name: string,
  first: { readonly version: string; readonly manifest: DatasetManifest },
  bytes: Uint8Array,
): Promise<string[]> {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const versions = Array.from({ length: SEEDED - 1 }, (_, i) => sha256(`${name}-version-${i}`));
  await inBatches(versions, 32, async (version) => {
    const i = versions.indexOf(version);
    const manifest: DatasetManifest = {
      ...first.manifest,
      name,
      version,
      dataKey: datasetKeys.data(name, version, 'csv'),
      createdAt: new Date(start + i * 1000).toISOString(),
      parent: i === 0 ? first.version : (versions[i - 1] ?? null),
    };
    await store.putIfAbsent(manifest.dataKey, bytes);
    await store.putIfAbsent(datasetKeys.manifest(name, version), jsonBytes(manifest));
    // As a push does: record the version in the listing index.
    await indexVersion(store, manifest);
  });
  await setTag(store, name, LATEST, versions[versions.length - 1] ?? first.version);
  return versions;
}

/**
 * Seeds `home` with {@link SEEDED} dataset versions, runs and model versions of `config`'s project —
 * the dataset versions with data objects the size of `sampleFile` — and {@link SEEDED} versions of
 * {@link LARGE_DATASET} with data objects of 1.1 MB: the filesystem store lists objects of up to 1 MB
 * by their content hash, larger ones by their metadata, so the two show both costs of a listing.
 */
export async function seedStore(home: string, config: DriftlineConfig, sampleFile: string): Promise<void> {
  const store = new FsObjectStore(home);
  const name = config.project.name;
  const first = await pushDataset(store, config, sampleFile);
  const sample = new Uint8Array(await readFile(sampleFile));
  const versions = await seedVersions(store, name, first, sample);
  const large = new Uint8Array(1.1 * 1024 * 1024);
  for (let at = 0; at < large.length; at += sample.length)
    large.set(sample.subarray(0, large.length - at), at);
  const firstLarge = await pushDataset(store, config, sampleFile, { name: LARGE_DATASET });
  await seedVersions(store, LARGE_DATASET, firstLarge, large);
  const start = Date.parse('2026-01-01T00:00:00Z');

  // Runs: succeeded, with metrics, each on one of the dataset versions. startRun indexes each one as
  // training does (the entry of a run started and then updated to this record would be the same). One
  // after the other: every run rewrites the month's index shard, and writers of one shard contend.
  const runIds = Array.from(
    { length: SEEDED },
    (_, i) => `20260101T${String(100000 + i).slice(1)}Z-${sha256(`run-${i}`).slice(0, 6)}`,
  );
  for (const [i, runId] of runIds.entries()) {
    const record: RunRecord = {
      runId,
      project: name,
      status: 'succeeded',
      startedAt: new Date(start + i * 60_000).toISOString(),
      finishedAt: new Date(start + i * 60_000 + 30_000).toISOString(),
      dataset: { name, version: versions[i % versions.length] ?? first.version, rows: first.manifest.rows },
      training: config.training,
      task: config.task,
      promotionMetric: config.promotion.metric,
      code: { driftlineVersion: 'bench' },
      metrics: {
        task: config.task,
        algorithm: config.training.algorithm,
        primary: { metric: config.promotion.metric, value: 0.7 + (i % 100) / 1000 },
        test: { auc: 0.7 + (i % 100) / 1000, logloss: 0.5, accuracy: 0.75 },
        validation: { auc: 0.71, logloss: 0.49, accuracy: 0.76 },
        classes: ['churn', 'stay'],
        rows: { train: 700, validation: 150, test: 150, dropped: 0 },
        split: 'stratified',
        iterations: 120,
        seconds: { train: 1.2, export: 0.1, evaluate: 0.05 },
      },
      modelVersion: i + 1,
    };
    await startRun(store, record);
  }

  // Model versions, registered one after the other as training registers them.
  const registry = localRegistry(store);
  for (const [i, runId] of runIds.entries()) {
    await registry.register({
      runId,
      datasetVersion: versions[i % versions.length] ?? first.version,
      modelSha256: sha256(`model-${i}`),
      modelKey: `runs/${runId}/model.onnx`,
      metrics: {
        primary: { name: config.promotion.metric, value: 0.75 },
        holdout: { auc: 0.75, logloss: 0.45 },
      },
      status: 'Approved',
      statusReason: 'bench',
    });
  }
}
