import type { DescribeModelPackageCommandOutput, ModelApprovalStatus } from '@aws-sdk/client-sagemaker';
import {
  ConflictException,
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  ResourceNotFound,
  SageMakerClient,
  SageMakerServiceException,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { sageMakerRegistry } from '../../../lambdas/shared/sagemaker-registry.ts';
import { ConflictError, InputError, IntegrityError, NotFoundError } from '../../../pipelines/errors.ts';
import { CHAMPION_KEY } from '../../../pipelines/registry/champion.ts';
import type { ModelRegistry, ModelVersion } from '../../../pipelines/registry/registry.ts';
import { MemoryObjectStore } from '../../helpers/memory-store.ts';
import { registration, sha256 } from '../../helpers/registry-fixtures.ts';

const GROUP = 'driftline-churn';
const GROUP_ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/driftline-churn';
const versionArn = (version: number) =>
  `arn:aws:sagemaker:eu-west-1:123456789012:model-package/driftline-churn/${version}`;
const CREATED = new Date('2026-03-01T10:00:00Z');
const MODIFIED = new Date('2026-03-02T11:30:00Z');

const client = new SageMakerClient({ region: 'eu-west-1' });
const sagemaker = mockClient(client);

/** The metadata Driftline stores for run `n` of the fixtures. */
function metadataOf(n: number): Record<string, string> {
  const input = registration(n);
  return {
    runId: input.runId,
    datasetVersion: input.datasetVersion,
    modelSha256: input.modelSha256,
    modelKey: input.modelKey,
    primaryMetric: 'auc',
    primaryValue: String(0.8 + n / 10_000),
    'metric.auc': String(0.8 + n / 10_000),
    'metric.accuracy': '0.75',
    'metric.log_loss': '0.41',
  };
}

/** What DescribeModelPackage returns for the package of run `n`, registered as version `n`. */
function described(
  n: number,
  status: ModelApprovalStatus = 'PendingManualApproval',
  approvalDescription?: string,
): DescribeModelPackageCommandOutput {
  return {
    $metadata: {},
    ModelPackageName: GROUP,
    ModelPackageGroupName: GROUP,
    ModelPackageVersion: n,
    ModelPackageArn: versionArn(n),
    CreationTime: CREATED,
    LastModifiedTime: MODIFIED,
    ModelPackageStatus: 'Completed',
    ModelPackageStatusDetails: { ValidationStatuses: [] },
    ModelApprovalStatus: status,
    ...(approvalDescription === undefined ? {} : { ApprovalDescription: approvalDescription }),
    CustomerMetadataProperties: metadataOf(n),
  };
}

/** The version Driftline reads back from {@link described}. */
function expectedVersion(
  n: number,
  status: ModelVersion['status'] = 'PendingManualApproval',
  reason = '',
): ModelVersion {
  const input = registration(n);
  return {
    version: n,
    runId: input.runId,
    datasetVersion: input.datasetVersion,
    modelSha256: input.modelSha256,
    modelKey: input.modelKey,
    metrics: input.metrics,
    status,
    statusReason: reason,
    createdAt: '2026-03-01T10:00:00.000Z',
    updatedAt: '2026-03-02T11:30:00.000Z',
  };
}

function validationException(message: string): SageMakerServiceException {
  return new SageMakerServiceException({
    name: 'ValidationException',
    $fault: 'client',
    $metadata: {},
    message,
  });
}

/** The input of every call of `command` so far, in order. */
function inputs(command: Parameters<typeof sagemaker.commandCalls>[0]): unknown[] {
  return sagemaker.commandCalls(command).map((call) => call.args[0].input);
}

let store: MemoryObjectStore;
let registry: ModelRegistry;

beforeEach(() => {
  sagemaker.reset();
  store = new MemoryObjectStore();
  registry = sageMakerRegistry({ modelPackageGroupName: GROUP, client, store });
  sagemaker.on(DescribeModelPackageGroupCommand).resolves({
    ModelPackageGroupName: GROUP,
    ModelPackageGroupArn: GROUP_ARN,
    CreationTime: CREATED,
    ModelPackageGroupStatus: 'Completed',
    CreatedBy: {},
  });
});

describe('SageMaker registry: register', () => {
  it('creates a versioned package carrying the lineage and metrics, then reads it back', async () => {
    // Prepare
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: versionArn(1) }).resolves(described(1));

    // Act
    const version = await registry.register(registration(1));

    // Assess
    expect(version).toEqual(expectedVersion(1));
    expect(inputs(DescribeModelPackageGroupCommand)).toEqual([{ ModelPackageGroupName: GROUP }]);
    expect(inputs(CreateModelPackageGroupCommand)).toEqual([]);
    expect(inputs(CreateModelPackageCommand)).toEqual([
      {
        ModelPackageGroupName: GROUP,
        ModelApprovalStatus: 'PendingManualApproval',
        CustomerMetadataProperties: metadataOf(1),
        ClientToken: expect.stringMatching(/^[0-9a-f]{36}$/),
      },
    ]);
    expect(inputs(UpdateModelPackageCommand)).toEqual([]);
    expect(inputs(DescribeModelPackageCommand)).toEqual([{ ModelPackageName: versionArn(1) }]);
  });

  it('sends the same client token for a retried registration and another for another run', async () => {
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(1));

    await registry.register(registration(1));
    await registry.register(registration(1));
    await registry.register(registration(2));

    const tokens = sagemaker
      .commandCalls(CreateModelPackageCommand)
      .map((call) => call.args[0].input.ClientToken);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[2]).not.toBe(tokens[0]);
  });

  it('records an approval decided at registration, with its reason and the description', async () => {
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(UpdateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(1, 'Approved', 'auto-approved: auc 0.80'));

    const version = await registry.register(
      registration(1, {
        status: 'Approved',
        statusReason: 'auto-approved: auc 0.80',
        description: 'weekly retrain',
      }),
    );

    expect(version).toEqual(expectedVersion(1, 'Approved', 'auto-approved: auc 0.80'));
    expect(inputs(CreateModelPackageCommand)).toEqual([
      {
        ModelPackageGroupName: GROUP,
        ModelPackageDescription: 'weekly retrain',
        ModelApprovalStatus: 'Approved',
        CustomerMetadataProperties: metadataOf(1),
        ClientToken: expect.any(String),
      },
    ]);
    expect(inputs(UpdateModelPackageCommand)).toEqual([
      {
        ModelPackageArn: versionArn(1),
        ModelApprovalStatus: 'Approved',
        ApprovalDescription: 'auto-approved: auc 0.80',
      },
    ]);
  });

  it('creates the model package group on first use', async () => {
    sagemaker
      .on(DescribeModelPackageGroupCommand)
      .rejects(validationException(`ModelPackageGroup ${GROUP} does not exist.`));
    sagemaker.on(CreateModelPackageGroupCommand).resolves({ ModelPackageGroupArn: GROUP_ARN });
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(1));

    await registry.register(registration(1));
    await registry.get(1);

    expect(inputs(CreateModelPackageGroupCommand)).toEqual([
      {
        ModelPackageGroupName: GROUP,
        ModelPackageGroupDescription: 'Model versions registered by Driftline',
      },
    ]);
    // The ARN is remembered: no second look-up for get().
    expect(inputs(DescribeModelPackageGroupCommand)).toHaveLength(1);
    expect(inputs(DescribeModelPackageCommand)).toEqual([
      { ModelPackageName: versionArn(1) },
      { ModelPackageName: versionArn(1) },
    ]);
  });

  it('accepts a group that another registration created a moment earlier', async () => {
    sagemaker
      .on(DescribeModelPackageGroupCommand)
      .rejectsOnce(new ResourceNotFound({ message: 'no such group', $metadata: {} }))
      .resolves({ ModelPackageGroupArn: GROUP_ARN, ModelPackageGroupName: GROUP } as never);
    sagemaker
      .on(CreateModelPackageGroupCommand)
      .rejects(validationException(`Model Package Group already exists: ${GROUP_ARN}`));
    sagemaker.on(CreateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(1));

    await expect(registry.register(registration(1))).resolves.toMatchObject({ version: 1 });
    expect(inputs(DescribeModelPackageGroupCommand)).toHaveLength(2);
  });

  it('refuses, before calling SageMaker, metadata that SageMaker cannot hold', async () => {
    const attempt = registry.register(
      registration(1, {
        description: 'line one\nline two',
        metrics: { primary: { name: 'auc', value: 0.9 }, holdout: { 'f1 (macro)': 0.7 } },
      }),
    );

    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toMatchObject({
      details: [
        { path: 'metric.f1 (macro)', message: expect.stringMatching(/metadata keys/) },
        { path: 'description', message: expect.stringMatching(/control characters/) },
      ],
    });
    expect(sagemaker.calls()).toHaveLength(0);
  });

  it('refuses more holdout metrics than SageMaker keeps per version', async () => {
    const holdout = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`m${i}`, i]));
    await expect(
      registry.register(registration(1, { metrics: { primary: { name: 'm0', value: 0 }, holdout } })),
    ).rejects.toThrow(InputError);
    expect(sagemaker.calls()).toHaveLength(0);
  });
});

describe('SageMaker registry: get and list', () => {
  it('describes a version by the ARN derived from its group', async () => {
    sagemaker.on(DescribeModelPackageCommand).resolves(described(3, 'Approved', 'ok'));

    expect(await registry.get(3)).toEqual(expectedVersion(3, 'Approved', 'ok'));
    expect(inputs(DescribeModelPackageCommand)).toEqual([{ ModelPackageName: versionArn(3) }]);
  });

  it.each([
    [
      'ValidationException "does not exist"',
      validationException(`ModelPackage ${versionArn(9)} does not exist.`),
    ],
    ['ResourceNotFound', new ResourceNotFound({ message: 'not found', $metadata: {} })],
  ])('maps %s to NotFoundError', async (_name, error) => {
    sagemaker.on(DescribeModelPackageCommand).rejects(error);

    const attempt = registry.get(9);

    await expect(attempt).rejects.toThrow(NotFoundError);
    await expect(attempt).rejects.toThrow(`there is no model version 9 in model package group ${GROUP}`);
    await expect(attempt).rejects.toMatchObject({ cause: error });
  });

  it('leaves other validation errors as they are', async () => {
    const error = validationException('1 validation error detected: Value at modelPackageName failed');
    sagemaker.on(DescribeModelPackageCommand).rejects(error);
    await expect(registry.get(9)).rejects.toBe(error);
  });

  it('knows no version at all before the group exists', async () => {
    sagemaker
      .on(DescribeModelPackageGroupCommand)
      .rejects(validationException(`ModelPackageGroup ${GROUP} does not exist.`));

    await expect(registry.get(1)).rejects.toThrow(`model package group ${GROUP} does not exist yet`);
    expect(inputs(DescribeModelPackageCommand)).toEqual([]);
  });

  it('refuses a package registered without Driftline lineage', async () => {
    sagemaker.on(DescribeModelPackageCommand).resolves({ ...described(2), CustomerMetadataProperties: {} });
    await expect(registry.get(2)).rejects.toThrow(IntegrityError);
    await expect(registry.get(2)).rejects.toThrow(
      /was not registered by Driftline: it lacks runId, datasetVersion/,
    );
  });

  it('lists every page, newest first, describing each package', async () => {
    // Prepare
    sagemaker
      .on(ListModelPackagesCommand)
      .resolvesOnce({
        ModelPackageSummaryList: [3, 2].map((v) => ({
          ModelPackageArn: versionArn(v),
          ModelPackageVersion: v,
          CreationTime: CREATED,
          ModelPackageStatus: 'Completed',
        })),
        NextToken: 'page-2',
      })
      .resolvesOnce({
        ModelPackageSummaryList: [
          {
            ModelPackageArn: versionArn(1),
            ModelPackageVersion: 1,
            CreationTime: CREATED,
            ModelPackageStatus: 'Completed',
          },
        ],
      });
    for (const v of [1, 2, 3]) {
      sagemaker.on(DescribeModelPackageCommand, { ModelPackageName: versionArn(v) }).resolves(described(v));
    }

    // Act
    const listed = await registry.list();

    // Assess
    expect(listed).toEqual([expectedVersion(3), expectedVersion(2), expectedVersion(1)]);
    const page = {
      ModelPackageGroupName: GROUP,
      ModelPackageType: 'Versioned',
      SortBy: 'CreationTime',
      SortOrder: 'Descending',
      MaxResults: 100,
    };
    expect(inputs(ListModelPackagesCommand)).toEqual([page, { ...page, NextToken: 'page-2' }]);
    expect(inputs(DescribeModelPackageCommand)).toEqual(
      expect.arrayContaining([1, 2, 3].map((v) => ({ ModelPackageName: versionArn(v) }))),
    );
  });

  it('asks only for the newest few when limited', async () => {
    sagemaker.on(ListModelPackagesCommand).resolves({
      ModelPackageSummaryList: [
        { ModelPackageArn: versionArn(3), CreationTime: CREATED, ModelPackageStatus: 'Completed' },
      ],
      NextToken: 'more',
    });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(3));

    expect((await registry.list({ limit: 1 })).map((v) => v.version)).toEqual([3]);
    expect(inputs(ListModelPackagesCommand)).toEqual([
      {
        ModelPackageGroupName: GROUP,
        ModelPackageType: 'Versioned',
        SortBy: 'CreationTime',
        SortOrder: 'Descending',
        MaxResults: 1,
      },
    ]);
  });

  it('lists nothing when the group does not exist', async () => {
    sagemaker
      .on(ListModelPackagesCommand)
      .rejects(new ResourceNotFound({ message: 'no group', $metadata: {} }));
    expect(await registry.list()).toEqual([]);
  });
});

describe('SageMaker registry: status and champion', () => {
  it('sets the approval status and its reason', async () => {
    sagemaker.on(UpdateModelPackageCommand).resolves({ ModelPackageArn: versionArn(2) });
    sagemaker.on(DescribeModelPackageCommand).resolves(described(2, 'Rejected', 'calibration is off'));

    const version = await registry.setStatus(2, 'Rejected', 'calibration is off');

    expect(version).toEqual(expectedVersion(2, 'Rejected', 'calibration is off'));
    expect(inputs(UpdateModelPackageCommand)).toEqual([
      {
        ModelPackageArn: versionArn(2),
        ModelApprovalStatus: 'Rejected',
        ApprovalDescription: 'calibration is off',
      },
    ]);
  });

  it('maps a concurrent modification to ConflictError and a missing version to NotFoundError', async () => {
    sagemaker
      .on(UpdateModelPackageCommand)
      .rejectsOnce(new ConflictException({ message: 'being modified', $metadata: {} }))
      .rejectsOnce(validationException(`ModelPackage ${versionArn(8)} does not exist.`));

    await expect(registry.setStatus(2, 'Approved', 'x')).rejects.toThrow(ConflictError);
    await expect(registry.setStatus(8, 'Approved', 'x')).rejects.toThrow(NotFoundError);
  });

  it('keeps the champion in the bucket and approves a pending version it promotes', async () => {
    // Prepare: version 1 waits for approval in SageMaker.
    sagemaker
      .on(DescribeModelPackageCommand, { ModelPackageName: versionArn(1) })
      .resolvesOnce(described(1))
      .resolves(described(1, 'Approved', 'approved by promotion: beats baseline'));
    sagemaker.on(UpdateModelPackageCommand).resolves({ ModelPackageArn: versionArn(1) });

    // Act
    const champion = await registry.promote(1, 'beats baseline');

    // Assess
    expect(champion).toMatchObject({ version: 1, reason: 'beats baseline', previous: [] });
    expect(inputs(UpdateModelPackageCommand)).toEqual([
      {
        ModelPackageArn: versionArn(1),
        ModelApprovalStatus: 'Approved',
        ApprovalDescription: 'approved by promotion: beats baseline',
      },
    ]);
    expect(JSON.parse(store.text(CHAMPION_KEY) ?? '{}')).toMatchObject({ version: 1 });
    expect(await registry.champion()).toEqual(champion);
  });

  it('refuses to promote a rejected package and to reject the champion', async () => {
    sagemaker
      .on(DescribeModelPackageCommand, { ModelPackageName: versionArn(1) })
      .resolves(described(1, 'Approved'));
    sagemaker
      .on(DescribeModelPackageCommand, { ModelPackageName: versionArn(2) })
      .resolves(described(2, 'Rejected', 'bias'));
    await registry.promote(1, 'go');

    await expect(registry.promote(2, 'go')).rejects.toThrow('version 2 was rejected (bias)');
    await expect(registry.setStatus(1, 'Rejected', 'oops')).rejects.toThrow(ConflictError);
    expect(inputs(UpdateModelPackageCommand)).toEqual([]);
  });

  it('rolls back to the previous champion that SageMaker still shows as approved', async () => {
    for (const v of [1, 2, 3]) {
      sagemaker
        .on(DescribeModelPackageCommand, { ModelPackageName: versionArn(v) })
        .resolves(described(v, 'Approved'));
    }
    await registry.promote(1, 'v1');
    await registry.promote(2, 'v2');
    await registry.promote(3, 'v3');
    // Someone rejected version 2 in the SageMaker console since.
    sagemaker
      .on(DescribeModelPackageCommand, { ModelPackageName: versionArn(2) })
      .resolves(described(2, 'Rejected'));

    const champion = await registry.rollback('v3 misbehaves');

    expect(champion).toMatchObject({ version: 1, reason: 'v3 misbehaves', previous: [] });
    const served = await registry.get(champion.version);
    expect([served.runId, served.datasetVersion, served.modelSha256]).toEqual([
      'run-0001',
      sha256('dataset for run-0001'),
      sha256('model of run-0001'),
    ]);
  });
});
