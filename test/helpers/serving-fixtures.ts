/**
 * Fixtures of the serving tests: a config whose features carry every validation rule, the committed
 * models under `test/fixtures/models/` (small real models trained on the synthetic data of
 * `onnx-fixtures.ts`, with golden predictions of the JS reference), and a registry seeded with them.
 *
 * Regenerate the committed files with `UPDATE_GOLDEN=1 npx vitest run test/pipelines/serving/golden.test.ts`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../pipelines/config/load.ts';
import type { DriftlineConfig, DriftlineConfigInput, Task } from '../../pipelines/config/schema.ts';
import type { Prediction } from '../../pipelines/model/predict.ts';
import type { RawRow } from '../../pipelines/model/raw.ts';
import type { TrainedModel } from '../../pipelines/model/types.ts';
import { exportOnnx } from '../../pipelines/onnx/export.ts';
import { localRegistry } from '../../pipelines/registry/local-registry.ts';
import type { ModelRegistry, ModelStatus } from '../../pipelines/registry/registry.ts';
import type { ObjectStore } from '../../pipelines/storage/object-store.ts';
import { syntheticDataset, trainedGbdt, trainedLinear } from './onnx-fixtures.ts';

/** The folder of the committed models and golden files. */
export const MODELS_DIR = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

/** The features of the synthetic data, with serving rules: a range, a non-nullable, an allowed list. */
export const SERVING_FEATURES: DriftlineConfigInput['features'] = [
  { name: 'age', type: 'numeric', nullable: true, range: { min: 0, max: 120 } },
  { name: 'income', type: 'numeric', nullable: false },
  { name: 'city', type: 'categorical', nullable: true },
  { name: 'plan', type: 'categorical', nullable: false, values: ['basic', 'plus', 'pro'] },
];

/** A validated config for the serving tests. */
export function servingConfig(task: Task, api: DriftlineConfigInput['api'] = {}): DriftlineConfig {
  return parseConfig({
    project: { name: `serving-${task}` },
    task,
    target: 'outcome',
    features: SERVING_FEATURES,
    api,
  });
}

/** The committed models and how each was made. */
export const FIXTURE_MODELS = {
  'binary-gbdt': { task: 'binary', train: () => trainedGbdt('binary', 400, 7) },
  'binary-linear': { task: 'binary', train: () => trainedLinear('binary', 400, 11) },
  'multiclass-gbdt': { task: 'multiclass', train: () => trainedGbdt('multiclass', 400, 5) },
  'regression-linear': { task: 'regression', train: () => trainedLinear('regression', 400, 3) },
} as const satisfies Record<string, { task: Task; train: () => TrainedModel }>;

export type FixtureModelName = keyof typeof FIXTURE_MODELS;

/** The golden file of one model: the rows scored and the JS reference's predictions. */
export interface GoldenFile {
  readonly model: FixtureModelName;
  readonly sha256: string;
  readonly rows: RawRow[];
  readonly predictions: Prediction[];
}

/**
 * Rows valid under {@link servingConfig} that exercise every input path a JSON request can take:
 * nulls and absent values, `""`, an unseen and a rare category, a number for a categorical, range
 * ends, plus ordinary rows of the synthetic data.
 */
export function goldenRows(): RawRow[] {
  const ordinary = syntheticDataset('binary', 12, 99).rows.map((row) => ({ ...row }));
  return [
    ...ordinary,
    { age: 30, income: 900, city: 'lisbon', plan: 'pro' },
    { age: null, income: 1500, city: 'porto', plan: 'basic' },
    { income: 1200, city: 'faro', plan: 'plus' },
    { age: 50, income: 1100, plan: 'basic' },
    { age: 41, income: 1000, city: '', plan: 'plus' },
    { age: 62, income: 700, city: 'atlantis', plan: 'pro' },
    { age: 35, income: 1300, city: 'sintra', plan: 'pro' },
    { age: 25, income: 950, city: 42, plan: 'pro' },
    { age: 0, income: -1e6, city: 'braga', plan: 'plus' },
    { age: 120, income: 1e6, city: null, plan: 'basic' },
  ];
}

/** The sha256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A committed model's bytes. */
export async function fixtureModel(name: FixtureModelName): Promise<Uint8Array> {
  return new Uint8Array(await readFile(`${MODELS_DIR}${name}.onnx`));
}

/** A committed golden file. */
export async function fixtureGolden(name: FixtureModelName): Promise<GoldenFile> {
  return JSON.parse(await readFile(`${MODELS_DIR}${name}.golden.json`, 'utf8')) as GoldenFile;
}

/** Trains and exports a fixture model again (deterministic: same bytes every time). */
export function rebuildFixture(name: FixtureModelName): { model: TrainedModel; bytes: Uint8Array } {
  const model = FIXTURE_MODELS[name].train();
  return { model, bytes: exportOnnx(model, { graphName: `fixture-${name}` }) };
}

/** What {@link registerModel} stored. */
export interface SeededVersion {
  readonly version: number;
  readonly sha256: string;
  readonly key: string;
}

/**
 * Stores `bytes` as the model of a new training run and registers it as an approved version, as the
 * training pipeline does. `claimedSha256` overrides the hash recorded in the registry (to simulate a
 * corrupt or tampered object).
 */
export async function registerModel(
  store: ObjectStore,
  bytes: Uint8Array,
  options: { claimedSha256?: string; status?: ModelStatus; registry?: ModelRegistry } = {},
): Promise<SeededVersion> {
  const registry = options.registry ?? localRegistry(store);
  const sha256 = sha256Hex(bytes);
  const runId = `run-${sha256.slice(0, 12)}-${Math.random().toString(36).slice(2, 8)}`;
  const key = `runs/${runId}/model.onnx`;
  await store.putIfAbsent(key, bytes);
  const registered = await registry.register({
    runId,
    datasetVersion: sha256Hex(`dataset of ${runId}`),
    modelSha256: options.claimedSha256 ?? sha256,
    modelKey: key,
    metrics: { primary: { name: 'auc', value: 0.8 }, holdout: { auc: 0.8, accuracy: 0.75 } },
    status: options.status ?? 'Approved',
    statusReason: 'test fixture',
  });
  return { version: registered.version, sha256: options.claimedSha256 ?? sha256, key };
}

/** Registers `bytes` and makes it the champion (the `models promote` path). */
export async function promoteModel(
  store: ObjectStore,
  bytes: Uint8Array,
  options: { claimedSha256?: string } = {},
): Promise<SeededVersion> {
  const registry = localRegistry(store);
  const seeded = await registerModel(store, bytes, { ...options, registry });
  await registry.promote(seeded.version, 'test');
  return seeded;
}
