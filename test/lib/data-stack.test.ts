import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildStage, penguinsConfig } from './build.ts';

/** The logical id CDK gave a construct's CloudFormation resource, computed rather than hard-coded. */
function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Assert properties of one resource, picked by the construct that created it. */
function expectProperties(
  template: Template,
  construct: IConstruct,
  properties: Record<string, unknown>,
): void {
  template.templateMatches({ Resources: { [logicalId(construct)]: { Properties: properties } } });
}

const BLOCK_ALL_PUBLIC_ACCESS = {
  BlockPublicAcls: true,
  BlockPublicPolicy: true,
  IgnorePublicAcls: true,
  RestrictPublicBuckets: true,
};

const TLS_ONLY = Match.objectLike({
  Effect: 'Deny',
  Action: 's3:*',
  Principal: { AWS: '*' },
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
});

const TLS_1_2_OR_LATER = Match.objectLike({
  Effect: 'Deny',
  Action: 's3:*',
  Principal: { AWS: '*' },
  Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
});

describe('DataStack', () => {
  describe('the KMS key', () => {
    it('is customer-managed with automatic rotation', () => {
      // Prepare / Act
      const { data, dataTemplate } = buildStage('prod');

      // Assess
      dataTemplate.resourceCountIs('AWS::KMS::Key', 1);
      expectProperties(dataTemplate, data.key, { EnableKeyRotation: true });
    });
  });

  describe('the data bucket', () => {
    it('is encrypted with SSE-KMS using the stack key and an S3 bucket key', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.bucket, {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: data.resolve(data.key.keyArn),
              },
            },
          ],
        },
      });
    });

    it('is versioned, blocks all public access and disables ACLs', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.bucket, {
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: BLOCK_ALL_PUBLIC_ACCESS,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
    });

    it('denies every request that is not TLS 1.2 or later', () => {
      const { data, dataTemplate } = buildStage('prod');

      dataTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: data.resolve(data.bucket.bucketName),
        PolicyDocument: { Statement: Match.arrayWith([TLS_ONLY, TLS_1_2_OR_LATER]) },
      });
    });

    it('writes its server access logs to the separate log bucket', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.bucket, {
        LoggingConfiguration: {
          DestinationBucketName: data.resolve(data.accessLogsBucket.bucketName),
          LogFilePrefix: 'data-bucket/',
        },
      });
      expect(logicalId(data.accessLogsBucket)).not.toBe(logicalId(data.bucket));
    });

    it('expires noncurrent versions after the schema default of 90 days', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.bucket, {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
          ]),
        },
      });
    });

    it('expires noncurrent versions after the days configured for the stage', () => {
      const config = penguinsConfig({ stages: { prod: { noncurrentVersionDays: 30 } } });

      const { data, dataTemplate } = buildStage('prod', config);

      expectProperties(dataTemplate, data.bucket, {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
          ]),
        },
      });
    });
  });

  describe('the access-log bucket', () => {
    it('uses S3-managed encryption, which S3 server access logging can write to', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.accessLogsBucket, {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
    });

    it('is private, versioned and expires its logs', () => {
      const { data, dataTemplate } = buildStage('prod');

      expectProperties(dataTemplate, data.accessLogsBucket, {
        PublicAccessBlockConfiguration: BLOCK_ALL_PUBLIC_ACCESS,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              Status: 'Enabled',
              ExpirationInDays: 365,
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            }),
          ],
        },
        AccessControl: Match.absent(),
      });
    });

    it('is TLS-only and lets S3 log delivery write only for the data bucket', () => {
      const { data, dataTemplate } = buildStage('prod');

      dataTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: data.resolve(data.accessLogsBucket.bucketName),
        PolicyDocument: {
          Statement: Match.arrayWith([
            TLS_ONLY,
            TLS_1_2_OR_LATER,
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
              Condition: {
                ArnLike: { 'aws:SourceArn': data.resolve(data.bucket.bucketArn) },
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              },
            }),
          ]),
        },
      });
    });
  });

  describe('removal', () => {
    it('retains the key and both buckets in a stage that is not ephemeral', () => {
      const { data, dataTemplate } = buildStage('prod');

      const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
      dataTemplate.allResources('AWS::KMS::Key', retained);
      dataTemplate.allResources('AWS::S3::Bucket', retained);
      dataTemplate.resourceCountIs('AWS::S3::Bucket', 2);
      dataTemplate.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      expect(data.terminationProtection).toBe(true);
    });

    it('destroys and empties everything in an ephemeral stage', () => {
      const { data, dataTemplate } = buildStage('dev');

      const deleted = { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' };
      dataTemplate.allResources('AWS::KMS::Key', deleted);
      dataTemplate.allResources('AWS::S3::Bucket', deleted);
      dataTemplate.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
      for (const bucket of [data.bucket, data.accessLogsBucket]) {
        dataTemplate.hasResourceProperties('Custom::S3AutoDeleteObjects', {
          BucketName: data.resolve(bucket.bucketName),
        });
      }
      // The shortest KMS waiting period, so a torn-down stage does not leave a key around for a month.
      expectProperties(dataTemplate, data.key, { PendingWindowInDays: 7 });
      expect(data.terminationProtection).toBe(false);
    });
  });

  describe('outputs', () => {
    it('exports the bucket name and the key ARN', () => {
      const { data, dataTemplate } = buildStage('prod');

      dataTemplate.hasOutput('DataBucketName', { Value: data.resolve(data.bucket.bucketName) });
      dataTemplate.hasOutput('DataKeyArn', { Value: data.resolve(data.key.keyArn) });
    });
  });
});
