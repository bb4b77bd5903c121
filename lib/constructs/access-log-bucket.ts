import { Duration, FeatureFlags, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { futurePath, requireDestroyForAutoDelete, requireWholeDays } from './prop-checks.ts';

/** Properties of {@link AccessLogBucket}. */
export interface AccessLogBucketProps {
  /**
   * Days an access-log object is kept before it expires.
   * @default 365
   */
  readonly logRetentionDays?: number;
  /**
   * Days a deleted or overwritten log object is kept as a noncurrent version, so a deletion can be undone
   * within that window.
   * @default 30
   */
  readonly noncurrentVersionDays?: number;
  /**
   * What happens to the bucket when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Empty the bucket before CloudFormation deletes it. Requires `removalPolicy: RemovalPolicy.DESTROY`.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
}

/**
 * The target of S3 server access logs: private, TLS-only, versioned, and expiring its logs.
 *
 * It is encrypted with S3-managed keys because S3 server access logging cannot deliver to a bucket whose
 * default encryption is SSE-KMS. Log delivery is granted by a bucket policy (ACLs stay disabled), which
 * needs the `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` feature flag; the construct refuses to build
 * without it rather than silently falling back to the `LogDeliveryWrite` ACL.
 */
export class AccessLogBucket extends Construct {
  /** The bucket that receives the access logs. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogBucketProps = {}) {
    const logRetentionDays = props.logRetentionDays ?? 365;
    const noncurrentVersionDays = props.noncurrentVersionDays ?? 30;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = props.autoDeleteObjects ?? false;
    const path = futurePath(scope, id);
    requireWholeDays(path, 'logRetentionDays', logRetentionDays);
    requireWholeDays(path, 'noncurrentVersionDays', noncurrentVersionDays);
    requireDestroyForAutoDelete(path, removalPolicy, autoDeleteObjects);
    if (!FeatureFlags.of(scope).isEnabled(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY)) {
      throw new Error(
        `${path}: set the feature flag "${cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY}": true in cdk.json ` +
          'so log delivery is granted by a bucket policy instead of an ACL',
      );
    }
    super(scope, id);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(logRetentionDays),
          noncurrentVersionExpiration: Duration.days(noncurrentVersionDays),
        },
      ],
      removalPolicy,
      autoDeleteObjects,
    });

    const cfnBucket = this.bucket.node.defaultChild;
    if (cfnBucket !== undefined) {
      Validations.of(cfnBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'This bucket is the server access log target: logging it to itself would add a log record for every ' +
          'log delivery, and logging it to yet another bucket would only move the same finding there.',
      });
    }
  }
}
