import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AccessLogBucket } from '../../../lib/constructs/access-log-bucket.ts';
import { projectApp } from '../build.ts';

describe('AccessLogBucket', () => {
  it('keeps logs for the days it is given', () => {
    // Prepare
    const stack = new Stack(projectApp(), 'Test');

    // Act
    new AccessLogBucket(stack, 'Logs', { logRetentionDays: 30, noncurrentVersionDays: 3 });

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          { ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 3 }, Status: 'Enabled' },
        ],
      },
    });
  });

  it('empties itself on deletion when asked to, with DESTROY', () => {
    const stack = new Stack(projectApp(), 'Test');

    const logs = new AccessLogBucket(stack, 'Logs', {
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const template = Template.fromStack(stack);
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', {
      BucketName: stack.resolve(logs.bucket.bucketName),
    });
  });

  it('rejects autoDeleteObjects unless the removal policy is DESTROY', () => {
    const stack = new Stack(projectApp(), 'Test');

    expect(() => new AccessLogBucket(stack, 'Logs', { autoDeleteObjects: true })).toThrow(
      'Test/Logs: autoDeleteObjects requires removalPolicy DESTROY',
    );
  });

  it.each([
    ['logRetentionDays', { logRetentionDays: 0 }],
    ['noncurrentVersionDays', { noncurrentVersionDays: 2.5 }],
  ])('rejects a bad %s', (name, props) => {
    const stack = new Stack(projectApp(), 'Test');

    expect(() => new AccessLogBucket(stack, 'Logs', props)).toThrow(
      `${name} must be a whole number of days >= 1`,
    );
  });

  it('refuses to build without the feature flag that grants log delivery by bucket policy', () => {
    // An app without cdk.json's context would fall back to the LogDeliveryWrite ACL, which fails to deploy
    // on buckets with ACLs disabled.
    const stack = new Stack(new App(), 'Test');

    expect(() => new AccessLogBucket(stack, 'Logs')).toThrow(
      /"@aws-cdk\/aws-s3:serverAccessLogsUseBucketPolicy": true in cdk.json/,
    );
  });
});
