/**
 * The model registry port: every model Driftline may serve is a numbered version that leads back to
 * the exact training run, the dataset bytes (sha256) and the model bytes (sha256). On top of the
 * versions sits the champion: the version being served, with the previous champions for rollback.
 *
 * Two adapters keep the versions: the object store (`local-registry.ts`, the layout under
 * `registry/`) and SageMaker Model Registry (`lambdas/shared/sagemaker-registry.ts`). The champion is
 * not a SageMaker concept, so both keep it in the object store through one shared implementation
 * (`champion.ts`). Logic in `pipelines/` only ever sees {@link ModelRegistry}.
 */

import type { ErrorDetail } from '../errors.ts';
import { InputError, NotFoundError } from '../errors.ts';

/** The approval states of a version, spelled as SageMaker Model Registry spells them. */
export const MODEL_STATUSES = ['PendingManualApproval', 'Approved', 'Rejected'] as const;

/** Where a version stands: waiting for a decision, cleared for serving, or turned down. */
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/** The metrics a version was judged on, all measured on the holdout set. */
export interface VersionMetrics {
  /** The promotion metric (`promotion.metric` in the config) and the value this model reached. */
  readonly primary: { readonly name: string; readonly value: number };
  /** Every holdout metric of the run, by name (the primary one included). */
  readonly holdout: Readonly<Record<string, number>>;
}

/** One registered model version. */
export interface ModelVersion {
  /** 1, 2, 3 … per project, in registration order, never reused. */
  readonly version: number;
  /** The training run that produced the model (`runs/<runId>/`). */
  readonly runId: string;
  /** sha256 of the dataset bytes the run trained on. */
  readonly datasetVersion: string;
  /** sha256 of `model.onnx`, checked again before the model is loaded for serving. */
  readonly modelSha256: string;
  /** Where `model.onnx` is in the object store, e.g. `runs/<runId>/model.onnx`. */
  readonly modelKey: string;
  readonly metrics: VersionMetrics;
  readonly status: ModelStatus;
  /** Why the status is what it is (who or which rule decided); empty when nobody said. */
  readonly statusReason: string;
  /** ISO 8601 timestamps. */
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly description?: string;
}

/** What the training pipeline knows when it registers a model. */
export interface RegisterInput {
  readonly runId: string;
  readonly datasetVersion: string;
  readonly modelSha256: string;
  readonly modelKey: string;
  readonly metrics: VersionMetrics;
  readonly description?: string;
  /** @default 'PendingManualApproval' (the pipeline passes `Approved` when the config auto-approves) */
  readonly status?: ModelStatus;
  /** @default '' */
  readonly statusReason?: string;
}

/** One spell of a version as champion. */
export interface ChampionTerm {
  readonly version: number;
  /** ISO 8601 time the version became champion. */
  readonly since: string;
  /** Why it was promoted (or rolled back to). */
  readonly reason: string;
}

/**
 * What serving needs of the champion without asking the registry again: where its model is, the hash
 * to verify before loading it, and its lineage.
 */
export interface ServedModel {
  readonly key: string;
  readonly sha256: string;
  readonly runId: string;
  readonly datasetVersion: string;
  readonly metrics: VersionMetrics;
  /** When the version was registered (≈ trained). */
  readonly createdAt: string;
}

/** The version being served, and the earlier champions a rollback returns to. */
export interface Champion extends ChampionTerm {
  /** The served version's model and lineage (so the inference handler reads one small document). */
  readonly model: ServedModel;
  /**
   * Previous champions, most recent first (at most the last 100); a rollback makes the first one that
   * is still approved champion again.
   */
  readonly previous: readonly ChampionTerm[];
}

/** Options of {@link ModelCatalog.list}. */
export interface ListOptions {
  /** Only the newest `limit` versions. */
  readonly limit?: number;
}

/**
 * The versions half of the registry: what each adapter implements in its own storage. Inputs reach
 * it already checked by {@link checkRegisterInput} and {@link checkReason}.
 */
export interface ModelCatalog {
  /**
   * Registers a model under the next version number. Two concurrent registrations never get the
   * same number and neither is lost. Registering the same run and model bytes again returns the
   * version already registered, so a retried pipeline step does not mint a second one.
   */
  register(input: RegisterInput): Promise<ModelVersion>;
  /** @throws NotFoundError when there is no such version */
  get(version: number): Promise<ModelVersion>;
  /** Every version, newest first. */
  list(options?: ListOptions): Promise<ModelVersion[]>;
  /**
   * Records an approval decision.
   * @throws NotFoundError when there is no such version
   */
  setStatus(version: number, status: ModelStatus, reason: string): Promise<ModelVersion>;
}

/**
 * The model registry: versions with approval, plus the champion.
 *
 * Promotion rules: only an approved version serves. Promoting a version that waits for approval
 * approves it first (promoting is an explicit decision by a person or by the promotion gate, so it
 * is the approval; the reason is recorded on the version). A rejected version is never promoted, and
 * the champion cannot be rejected or sent back to pending while it serves: roll back or promote
 * another version first.
 */
export interface ModelRegistry extends ModelCatalog {
  /** The version being served, or `undefined` before the first promotion. */
  champion(): Promise<Champion | undefined>;
  /**
   * Makes `version` the champion; the current champion becomes the most recent previous one.
   * Promoting the current champion again changes nothing.
   * @throws NotFoundError when there is no such version
   * @throws ConflictError when the version was rejected
   */
  promote(version: number, reason: string): Promise<Champion>;
  /**
   * Makes the most recent previous champion that is still approved the champion again. The version
   * rolled back from leaves the history (a second rollback goes one step further back).
   * @throws ConflictError "no previous champion" when there is none to return to
   */
  rollback(reason: string): Promise<Champion>;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Longest status reason or description, SageMaker's limit for both. */
export const MAX_TEXT_LENGTH = 1024;

/**
 * Checks a registration before any adapter sees it, so both adapters refuse the same inputs.
 * @throws InputError listing every offending field
 */
export function checkRegisterInput(input: RegisterInput): void {
  const details: ErrorDetail[] = [];
  if (input.runId === '' || input.runId.includes('/')) {
    details.push({ path: 'runId', message: 'expected a run id (non-empty, no "/")' });
  }
  if (!SHA256.test(input.datasetVersion)) {
    details.push({
      path: 'datasetVersion',
      message: 'expected the sha256 of the dataset: 64 lowercase hex digits',
    });
  }
  if (!SHA256.test(input.modelSha256)) {
    details.push({
      path: 'modelSha256',
      message: 'expected the sha256 of model.onnx: 64 lowercase hex digits',
    });
  }
  if (input.modelKey === '' || input.modelKey.startsWith('/')) {
    details.push({
      path: 'modelKey',
      message: 'expected an object store key such as runs/<runId>/model.onnx',
    });
  }
  const { primary, holdout } = input.metrics;
  if (primary.name === '') details.push({ path: 'metrics.primary.name', message: 'expected a metric name' });
  if (!Number.isFinite(primary.value)) {
    details.push({
      path: 'metrics.primary.value',
      message: `expected a finite number, got ${primary.value}`,
    });
  }
  for (const [name, value] of Object.entries(holdout)) {
    if (name === '')
      details.push({ path: 'metrics.holdout', message: 'expected metric names to be non-empty' });
    if (!Number.isFinite(value)) {
      details.push({ path: `metrics.holdout.${name}`, message: `expected a finite number, got ${value}` });
    }
  }
  if (input.status !== undefined && !MODEL_STATUSES.includes(input.status)) {
    details.push({ path: 'status', message: `expected one of ${MODEL_STATUSES.join(', ')}` });
  }
  if ((input.statusReason ?? '').length > MAX_TEXT_LENGTH) {
    details.push({ path: 'statusReason', message: `expected at most ${MAX_TEXT_LENGTH} characters` });
  }
  if ((input.description ?? '').length > MAX_TEXT_LENGTH) {
    details.push({ path: 'description', message: `expected at most ${MAX_TEXT_LENGTH} characters` });
  }
  if (details.length > 0) {
    throw new InputError(`cannot register run ${JSON.stringify(input.runId)}: the registration is invalid`, {
      details,
    });
  }
}

/**
 * Checks a status reason (stored as SageMaker's `ApprovalDescription`, hence the limit).
 * @throws InputError when it is too long
 */
export function checkReason(reason: string): void {
  if (reason.length > MAX_TEXT_LENGTH) {
    throw new InputError(`the reason is ${reason.length} characters long`, {
      details: [{ path: 'reason', message: `expected at most ${MAX_TEXT_LENGTH} characters` }],
    });
  }
}

/**
 * Checks that `version` can name a version at all, so adapters never build keys or ARNs from junk.
 * @throws NotFoundError when it is not a positive integer
 */
export function checkVersionNumber(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new NotFoundError(`there is no model version ${version}: versions are numbered 1, 2, 3 …`);
  }
}
