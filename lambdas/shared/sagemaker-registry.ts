/**
 * The model registry on AWS: versions and approval in SageMaker Model Registry, the champion pointer
 * in the data bucket (through the storage port and the same code as the local registry).
 *
 * One model package group per project; each registered model is a versioned model package in it, and
 * SageMaker's `ModelPackageVersion` is the Driftline version number (SageMaker assigns it atomically).
 *
 * What a model package holds. SageMaker never hosts these models (they run as ONNX in Lambda), so
 * the package is the registry record, not a deployable SageMaker model:
 * - `ModelApprovalStatus` and `ApprovalDescription`: the approval decision and its reason;
 * - `ModelPackageDescription`: the optional free-text description;
 * - `CustomerMetadataProperties`: the lineage (`runId`, `datasetVersion`, `modelSha256`, `modelKey`)
 *   and the metrics (`primaryMetric`, `primaryValue`, `metric.<name>` per holdout metric), as strings.
 *   They show in Studio next to each version and come back whole from DescribeModelPackage;
 * - `ClientToken`: derived from the run and the model hash, so a retried registration of the same
 *   model returns the same package instead of minting a second version (within SageMaker's
 *   idempotency window).
 * Left out on purpose: `InferenceSpecification` (it requires an ECR inference image, which does not
 *   exist for an ONNX-on-Lambda model; it is optional for versioned packages); `SourceUri` (documented
 *   as the ARN of a SageMaker model or model package to register or clone — there is neither; the
 *   model's location is `modelKey`); `ModelCard` and `ModelMetrics` (they expect SageMaker's card
 *   and model-quality report formats, which would duplicate the metadata in another shape).
 */
import { createHash } from 'node:crypto';
import type { DescribeModelPackageCommandOutput, ModelPackageSummary } from '@aws-sdk/client-sagemaker';
import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  SageMakerClient,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import type { ErrorDetail } from '../../pipelines/errors.ts';
import { ConflictError, InputError, IntegrityError, NotFoundError } from '../../pipelines/errors.ts';
import type { ChampionRegistryOptions } from '../../pipelines/registry/champion.ts';
import { ChampionRegistry } from '../../pipelines/registry/champion.ts';
import type {
  ListOptions,
  ModelCatalog,
  ModelRegistry,
  ModelStatus,
  ModelVersion,
  RegisterInput,
} from '../../pipelines/registry/registry.ts';
import { MODEL_STATUSES } from '../../pipelines/registry/registry.ts';
import type { ObjectStore } from '../../pipelines/storage/object-store.ts';

/** Created once per Lambda container; tests and callers pass their own through the options. */
const defaultClient = new SageMakerClient({});

/** Metadata keys of the lineage; metric keys are `metric.<name>`. */
const LINEAGE_KEYS = ['runId', 'datasetVersion', 'modelSha256', 'modelKey'] as const;
const METRIC_PREFIX = 'metric.';
/** SageMaker's limits on `CustomerMetadataProperties`. */
const MAX_METADATA_ENTRIES = 50;
const METADATA_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const METADATA_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u;
/** SageMaker's pattern for `ModelPackageDescription` (no control characters such as newlines). */
const DESCRIPTION = /^[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*$/u;
/** `ListModelPackages` returns at most this many per page. */
const PAGE_SIZE = 100;

/** Options of {@link SageMakerModelCatalog}. */
export interface SageMakerCatalogOptions {
  /** The project's model package group; created on the first registration when missing. */
  readonly modelPackageGroupName: string;
  /** @default 'Model versions registered by Driftline' */
  readonly groupDescription?: string;
  /** @default a client created at module scope */
  readonly client?: SageMakerClient;
  /** How many `DescribeModelPackage` calls `list()` makes at once. @default 8 */
  readonly describeConcurrency?: number;
}

/** The versions of the registry, kept in SageMaker Model Registry. */
export class SageMakerModelCatalog implements ModelCatalog {
  readonly #client: SageMakerClient;
  readonly #group: string;
  readonly #groupDescription: string;
  readonly #concurrency: number;
  /** The group's ARN once seen: version ARNs are derived from it. */
  #groupArn: string | undefined;

  constructor(options: SageMakerCatalogOptions) {
    this.#client = options.client ?? defaultClient;
    this.#group = options.modelPackageGroupName;
    this.#groupDescription = options.groupDescription ?? 'Model versions registered by Driftline';
    this.#concurrency = options.describeConcurrency ?? 8;
  }

  /** {@inheritDoc ModelCatalog.register} */
  async register(input: RegisterInput): Promise<ModelVersion> {
    const metadata = customerMetadata(input);
    await this.#ensureGroup();
    const status = input.status ?? 'PendingManualApproval';
    const created = await this.#client.send(
      new CreateModelPackageCommand({
        ModelPackageGroupName: this.#group,
        ...(input.description === undefined ? {} : { ModelPackageDescription: input.description }),
        ModelApprovalStatus: status,
        CustomerMetadataProperties: metadata,
        ClientToken: clientToken(this.#group, input),
      }),
    );
    const arn = created.ModelPackageArn;
    if (arn === undefined) throw new IntegrityError('SageMaker created a model package but returned no ARN');
    // CreateModelPackage has no field for the approval reason; UpdateModelPackage does.
    if ((input.statusReason ?? '') !== '') {
      await this.#client.send(
        new UpdateModelPackageCommand({
          ModelPackageArn: arn,
          ModelApprovalStatus: status,
          ApprovalDescription: input.statusReason,
        }),
      );
    }
    return this.#describe(arn, `model package ${arn}`);
  }

  /** {@inheritDoc ModelCatalog.get} */
  async get(version: number): Promise<ModelVersion> {
    return this.#describe(await this.#versionArn(version), `model version ${version}`);
  }

  /** {@inheritDoc ModelCatalog.list} */
  async list(options: ListOptions = {}): Promise<ModelVersion[]> {
    const summaries = await this.#summaries(options.limit);
    // The summaries lack the lineage and the approval reason: describe each, a few at a time.
    const versions = await mapConcurrently(summaries, this.#concurrency, (summary) =>
      this.#describe(summary.ModelPackageArn ?? '', `model package ${summary.ModelPackageArn}`),
    );
    return versions.sort((a, b) => b.version - a.version).slice(0, options.limit);
  }

  /** {@inheritDoc ModelCatalog.setStatus} */
  async setStatus(version: number, status: ModelStatus, reason: string): Promise<ModelVersion> {
    const arn = await this.#versionArn(version);
    try {
      await this.#client.send(
        new UpdateModelPackageCommand({
          ModelPackageArn: arn,
          ModelApprovalStatus: status,
          ApprovalDescription: reason,
        }),
      );
    } catch (error) {
      throw this.#translate(error, `model version ${version}`);
    }
    return this.#describe(arn, `model version ${version}`);
  }

  /** The newest `limit` (or all) package summaries of the group, newest first. */
  async #summaries(limit: number | undefined): Promise<ModelPackageSummary[]> {
    const summaries: ModelPackageSummary[] = [];
    let nextToken: string | undefined;
    do {
      const wanted = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - summaries.length);
      let page: { ModelPackageSummaryList?: ModelPackageSummary[]; NextToken?: string };
      try {
        page = await this.#client.send(
          new ListModelPackagesCommand({
            ModelPackageGroupName: this.#group,
            ModelPackageType: 'Versioned',
            SortBy: 'CreationTime',
            SortOrder: 'Descending',
            MaxResults: wanted,
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        );
      } catch (error) {
        if (isNotFound(error)) return []; // no group yet: nothing registered
        throw error;
      }
      summaries.push(...(page.ModelPackageSummaryList ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined && (limit === undefined || summaries.length < limit));
    return summaries;
  }

  async #describe(arn: string, what: string): Promise<ModelVersion> {
    let described: DescribeModelPackageCommandOutput;
    try {
      described = await this.#client.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
    } catch (error) {
      throw this.#translate(error, what);
    }
    return toModelVersion(described);
  }

  /**
   * The ARN of a version. SageMaker names a versioned package `<group>/<version>` and its ARN is the
   * group's ARN with `model-package-group/` replaced by `model-package/`, plus `/<version>`; deriving
   * it saves scanning the group for the version.
   */
  async #versionArn(version: number): Promise<string> {
    const groupArn = await this.#findGroup();
    if (groupArn === undefined) {
      throw new NotFoundError(
        `there is no model version ${version}: model package group ${this.#group} does not exist yet`,
      );
    }
    return `${groupArn.replace(':model-package-group/', ':model-package/')}/${version}`;
  }

  async #findGroup(): Promise<string | undefined> {
    if (this.#groupArn !== undefined) return this.#groupArn;
    try {
      const found = await this.#client.send(
        new DescribeModelPackageGroupCommand({ ModelPackageGroupName: this.#group }),
      );
      this.#groupArn = groupArn(found.ModelPackageGroupArn, this.#group);
      return this.#groupArn;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #ensureGroup(): Promise<string> {
    const found = await this.#findGroup();
    if (found !== undefined) return found;
    try {
      const created = await this.#client.send(
        new CreateModelPackageGroupCommand({
          ModelPackageGroupName: this.#group,
          ModelPackageGroupDescription: this.#groupDescription,
        }),
      );
      this.#groupArn = groupArn(created.ModelPackageGroupArn, this.#group);
      return this.#groupArn;
    } catch (error) {
      if (!(error instanceof Error && /already exists/i.test(error.message))) throw error;
    }
    // Another registration created it between our look-up and our create.
    const raced = await this.#findGroup();
    if (raced === undefined)
      throw new IntegrityError(`model package group ${this.#group} exists and does not`);
    return raced;
  }

  /** SageMaker's errors as Driftline's, where they mean one of ours. */
  #translate(error: unknown, what: string): unknown {
    if (isNotFound(error)) {
      return new NotFoundError(`there is no ${what} in model package group ${this.#group}`, { cause: error });
    }
    if (error instanceof Error && error.name === 'ConflictException') {
      return new ConflictError(`${what} was being changed by someone else; try again`, { cause: error });
    }
    return error;
  }
}

/** Options of {@link sageMakerRegistry}. */
export interface SageMakerRegistryOptions extends SageMakerCatalogOptions, ChampionRegistryOptions {
  /** Where the champion pointer lives: the data bucket's store. */
  readonly store: ObjectStore;
}

/** The model registry on AWS: SageMaker Model Registry for versions, the bucket for the champion. */
export function sageMakerRegistry(options: SageMakerRegistryOptions): ModelRegistry {
  return new ChampionRegistry(new SageMakerModelCatalog(options), options.store, options);
}

/**
 * SageMaker reports a missing resource as `ResourceNotFound` on some calls and as a
 * `ValidationException` saying "does not exist" on others (DescribeModelPackage,
 * DescribeModelPackageGroup).
 */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ResourceNotFound') return true;
  return (
    error.name === 'ValidationException' && /does not exist|not found|cannot be found/i.test(error.message)
  );
}

function groupArn(arn: string | undefined, group: string): string {
  if (arn === undefined || !arn.includes(':model-package-group/')) {
    throw new IntegrityError(`SageMaker returned no usable ARN for model package group ${group}: ${arn}`);
  }
  return arn;
}

/** The lineage and metrics as SageMaker metadata, checked against SageMaker's limits first. */
function customerMetadata(input: RegisterInput): Record<string, string> {
  const entries: [string, string][] = [
    ['runId', input.runId],
    ['datasetVersion', input.datasetVersion],
    ['modelSha256', input.modelSha256],
    ['modelKey', input.modelKey],
    ['primaryMetric', input.metrics.primary.name],
    ['primaryValue', String(input.metrics.primary.value)],
    ...Object.entries(input.metrics.holdout).map(([name, value]): [string, string] => [
      `${METRIC_PREFIX}${name}`,
      String(value),
    ]),
  ];
  const details: ErrorDetail[] = [];
  if (entries.length > MAX_METADATA_ENTRIES) {
    details.push({
      path: 'metrics.holdout',
      message: `SageMaker keeps at most ${MAX_METADATA_ENTRIES - 6} holdout metrics per version, got ${entries.length - 6}`,
    });
  }
  for (const [key, value] of entries) {
    if (!METADATA_KEY.test(key)) {
      details.push({
        path: key,
        message: 'SageMaker metadata keys allow letters, digits, spaces and _.:/=+-@',
      });
    }
    if (!METADATA_VALUE.test(value)) {
      details.push({
        path: key,
        message: 'SageMaker metadata values are 1-256 characters: letters, digits, spaces and _.:/=+-@',
      });
    }
  }
  if (input.description !== undefined && !DESCRIPTION.test(input.description)) {
    details.push({ path: 'description', message: 'SageMaker refuses control characters (such as newlines)' });
  }
  if (details.length > 0) {
    throw new InputError(`SageMaker Model Registry cannot hold the registration of run ${input.runId}`, {
      details,
    });
  }
  return Object.fromEntries(entries);
}

/** Same run and model → same token → SageMaker returns the package it already created. */
function clientToken(group: string, input: RegisterInput): string {
  return createHash('sha256')
    .update(`${group}\n${input.runId}\n${input.modelSha256}`)
    .digest('hex')
    .slice(0, 36);
}

/** A described package as a {@link ModelVersion}; refuses packages Driftline did not register. */
function toModelVersion(described: DescribeModelPackageCommandOutput): ModelVersion {
  const arn = described.ModelPackageArn ?? described.ModelPackageName ?? 'a model package';
  const metadata = described.CustomerMetadataProperties ?? {};
  const version = described.ModelPackageVersion;
  const created = described.CreationTime;
  const lacking = [
    ...[...LINEAGE_KEYS, 'primaryMetric', 'primaryValue'].filter((key) => metadata[key] === undefined),
    ...(version === undefined ? ['ModelPackageVersion'] : []),
    ...(created === undefined ? ['CreationTime'] : []),
  ];
  if (lacking.length > 0 || version === undefined || created === undefined) {
    throw new IntegrityError(`${arn} was not registered by Driftline: it lacks ${lacking.join(', ')}`, {
      hint: 'Register models through the training pipeline so every version leads back to its run and data.',
    });
  }
  const status = described.ModelApprovalStatus;
  if (status === undefined || !(MODEL_STATUSES as readonly string[]).includes(status)) {
    throw new IntegrityError(`${arn} has an unknown approval status ${status}`);
  }
  const holdout: Record<string, number> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith(METRIC_PREFIX)) holdout[key.slice(METRIC_PREFIX.length)] = number(value, key, arn);
  }
  return {
    version,
    runId: metadata.runId ?? '',
    datasetVersion: metadata.datasetVersion ?? '',
    modelSha256: metadata.modelSha256 ?? '',
    modelKey: metadata.modelKey ?? '',
    metrics: {
      primary: {
        name: metadata.primaryMetric ?? '',
        value: number(metadata.primaryValue, 'primaryValue', arn),
      },
      holdout,
    },
    status: status as ModelStatus,
    statusReason: described.ApprovalDescription ?? '',
    createdAt: created.toISOString(),
    updatedAt: (described.LastModifiedTime ?? created).toISOString(),
    ...(described.ModelPackageDescription === undefined || described.ModelPackageDescription === ''
      ? {}
      : { description: described.ModelPackageDescription }),
  };
}

function number(text: string | undefined, key: string, arn: string): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(value)) {
    throw new IntegrityError(`${arn}: metadata ${key} is not a number (${text})`);
  }
  return value;
}

/** `map` with at most `limit` calls in flight, results in input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await map(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
