/**
 * A recorded training run: dataset version in, registered model version out, everything in between
 * recorded in the run. The local `driftline train` calls it; its steps are the pipeline's steps.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriftlineConfig } from '../config/schema.ts';
import { readTable, tableSchemaOf } from '../data/table.ts';
import { materialise } from '../datasets/datasets.ts';
import { isDriftlineError } from '../errors.ts';
import type { ModelRegistry, ModelVersion } from '../registry/registry.ts';
import { newRunId, type RunArtifact, type RunRecord, runKeys, startRun, updateRun } from '../runs/runs.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { DRIFTLINE_VERSION } from '../version.ts';
import { fitModel } from './fit.ts';

/** What a training run needs besides the config. */
export interface TrainRunOptions {
  /** The dataset (default: the project name) and the version reference (default `latest`). */
  readonly datasetName?: string;
  readonly dataRef?: string;
  /** The code version, when known (git commit of the project). */
  readonly code?: { readonly gitCommit?: string; readonly gitDirty?: boolean };
}

/** The outcome of a successful run. */
export interface TrainRunResult {
  readonly run: RunRecord;
  readonly model: ModelVersion;
}

async function storeArtifact(
  store: ObjectStore,
  runId: string,
  file: string,
  bytes: Uint8Array,
): Promise<RunArtifact> {
  const key = runKeys.artifact(runId, file);
  await store.putIfAbsent(key, bytes);
  return { key, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

function finite(metrics: Readonly<Record<string, number | undefined>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(metrics).filter((e): e is [string, number] => Number.isFinite(e[1])),
  );
}

/**
 * Trains on a dataset version, records the run and registers the model (status
 * `PendingManualApproval`: promotion is a separate, deliberate step).
 * A failure is recorded in the run (status `failed`) and rethrown.
 */
export async function trainRun(
  store: ObjectStore,
  registry: ModelRegistry,
  config: DriftlineConfig,
  options: TrainRunOptions = {},
): Promise<TrainRunResult> {
  const name = options.datasetName ?? config.project.name;
  const work = await mkdtemp(join(tmpdir(), 'driftline-train-'));
  try {
    // Reading the version verifies its bytes against the version id before anything trains on them.
    const { manifest, file } = await materialise(store, name, options.dataRef ?? 'latest', work);
    const runId = newRunId();
    await startRun(store, {
      runId,
      project: config.project.name,
      status: 'running',
      startedAt: new Date().toISOString(),
      dataset: { name, version: manifest.version, rows: manifest.rows },
      training: config.training,
      task: config.task,
      promotionMetric: config.promotion.metric,
      code: { driftlineVersion: DRIFTLINE_VERSION, ...options.code },
    });
    try {
      const table = await readTable(file, tableSchemaOf(config), 'required');
      const fit = await fitModel(config, table, manifest.version);
      const encoder = new TextEncoder();
      const metricsBytes = encoder.encode(`${JSON.stringify(fit.metrics, null, 2)}\n`);
      const artifacts = {
        metrics: await storeArtifact(store, runId, 'metrics.json', metricsBytes),
        baseline: await storeArtifact(
          store,
          runId,
          'baseline.json',
          encoder.encode(`${JSON.stringify(fit.baseline)}\n`),
        ),
        model: await storeArtifact(store, runId, 'model.onnx', fit.onnx),
      };
      const model = await registry.register({
        runId,
        datasetVersion: manifest.version,
        modelSha256: artifacts.model.sha256,
        modelKey: artifacts.model.key,
        metrics: {
          primary: { name: fit.metrics.primary.metric, value: fit.metrics.primary.value },
          holdout: finite(fit.metrics.test),
        },
        status: 'PendingManualApproval',
        statusReason: `trained by run ${runId}; promote with "driftline models promote"`,
      });
      const run = await updateRun(store, runId, (r) => ({
        ...r,
        status: 'succeeded',
        finishedAt: new Date().toISOString(),
        metrics: fit.metrics,
        artifacts,
        modelVersion: model.version,
      }));
      return { run, model };
    } catch (error) {
      await updateRun(store, runId, (r) => ({
        ...r,
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: {
          kind: isDriftlineError(error) ? error.kind : 'internal',
          message: error instanceof Error ? error.message : String(error),
        },
      })).catch(() => undefined);
      throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
