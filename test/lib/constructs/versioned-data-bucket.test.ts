import { type App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { VersionedDataBucket } from '../../../lib/constructs/versioned-data-bucket.ts';
import { projectApp } from '../build.ts';

function newStack(app: App = projectApp()): Stack {
  return new Stack(app, 'Test');
}

describe('VersionedDataBucket', () => {
  it('creates its own rotating key and access-log bucket by default, retained', () => {
    // Prepare
    const stack = newStack();

    // Act
    const data = new VersionedDataBucket(stack, 'Data');

    // Assess
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { PendingWindowInDays: Match.absent() },
    });
    expect(data.accessLogsBucket).not.toBe(data.bucket);
  });

  it('uses the key and log bucket it is given instead of creating them', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'SharedKey', { enableKeyRotation: true });
    const logs = new s3.Bucket(stack, 'SharedLogs');

    const data = new VersionedDataBucket(stack, 'Data', { encryptionKey: key, accessLogsBucket: logs });

    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::S3::Bucket', 2);
    expect(data.encryptionKey).toBe(key);
    expect(data.accessLogsBucket).toBe(logs);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { KMSMasterKeyID: stack.resolve(key.keyArn) } },
        ],
      },
      LoggingConfiguration: { DestinationBucketName: stack.resolve(logs.bucketName) },
    });
  });

  it('logs under the prefix it is given', () => {
    const stack = newStack();

    new VersionedDataBucket(stack, 'Data', { accessLogsPrefix: 'penguins/' });

    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'penguins/' },
    });
  });

  it('rejects autoDeleteObjects unless the removal policy is DESTROY', () => {
    const stack = newStack();

    expect(() => new VersionedDataBucket(stack, 'Data', { autoDeleteObjects: true })).toThrow(
      'Test/Data: autoDeleteObjects requires removalPolicy DESTROY',
    );
    expect(
      () =>
        new VersionedDataBucket(stack, 'Snapshot', {
          autoDeleteObjects: true,
          removalPolicy: RemovalPolicy.SNAPSHOT,
        }),
    ).toThrow(/autoDeleteObjects requires removalPolicy DESTROY/);
  });

  it('rejects an access-log bucket encrypted with a KMS key', () => {
    const stack = newStack();
    const logs = new s3.Bucket(stack, 'KmsLogs', { encryption: s3.BucketEncryption.KMS });

    expect(() => new VersionedDataBucket(stack, 'Data', { accessLogsBucket: logs })).toThrow(
      'Test/Data: accessLogsBucket must use S3-managed encryption',
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects noncurrentVersionDays %s before building anything', (days) => {
    const stack = newStack();

    expect(() => new VersionedDataBucket(stack, 'Data', { noncurrentVersionDays: days })).toThrow(
      /noncurrentVersionDays must be a whole number of days >= 1/,
    );
    // Nothing was half-built into the stack.
    expect(stack.node.tryFindChild('Data')).toBeUndefined();
  });
});
