import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AccessLogBucket } from './access-log-bucket.ts';
import { futurePath, requireDestroyForAutoDelete, requireWholeDays } from './prop-checks.ts';

/** Properties of {@link VersionedDataBucket}. */
export interface VersionedDataBucketProps {
  /**
   * The customer-managed key that encrypts every object (SSE-KMS with an S3 bucket key).
   * @default - a new key with yearly rotation, removed with the same policy as the bucket
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where S3 server access logs go. Must not be encrypted with SSE-KMS: S3 cannot deliver logs there.
   * @default - a new {@link AccessLogBucket}, removed with the same policy as the bucket
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * Key prefix of this bucket's logs in the access-log bucket.
   * @default 'data-bucket/'
   */
  readonly accessLogsPrefix?: string;
  /**
   * Days a replaced or deleted object version is kept before it expires. Dataset versions are immutable
   * and content-addressed, so S3 versioning is only a second line of defence against mistakes.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
  /**
   * What happens to the bucket (and the key and log bucket this construct creates) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Empty the bucket (and the log bucket this construct creates) before CloudFormation deletes it.
   * Requires `removalPolicy: RemovalPolicy.DESTROY`.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
}

/** Incomplete multipart uploads are never readable; a week covers any upload still in progress. */
const ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7);

/** A deleted key's KMS waiting period; only used when the key is destroyed with its stage. */
const EPHEMERAL_KEY_PENDING_WINDOW = Duration.days(7);

/**
 * The bucket that holds datasets, runs, captured traffic and monitoring state: versioned, encrypted with a
 * customer-managed KMS key (with an S3 bucket key to keep KMS calls and cost down), private, TLS-only,
 * with server access logs in a separate bucket and noncurrent versions expiring.
 */
export class VersionedDataBucket extends Construct {
  /** The data bucket. */
  public readonly bucket: s3.Bucket;
  /** The key that encrypts the bucket's objects. */
  public readonly encryptionKey: kms.IKey;
  /** The bucket that receives this bucket's server access logs. */
  public readonly accessLogsBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: VersionedDataBucketProps = {}) {
    const noncurrentVersionDays = props.noncurrentVersionDays ?? 90;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = props.autoDeleteObjects ?? false;
    const path = futurePath(scope, id);
    requireWholeDays(path, 'noncurrentVersionDays', noncurrentVersionDays);
    requireDestroyForAutoDelete(path, removalPolicy, autoDeleteObjects);
    if (props.accessLogsBucket?.encryptionKey !== undefined) {
      throw new Error(
        `${path}: accessLogsBucket must use S3-managed encryption; S3 cannot deliver access logs to a bucket ` +
          'encrypted with a KMS key',
      );
    }
    super(scope, id);

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `Encrypts the Driftline data bucket ${this.node.path}`,
        enableKeyRotation: true,
        removalPolicy,
        ...(removalPolicy === RemovalPolicy.DESTROY ? { pendingWindow: EPHEMERAL_KEY_PENDING_WINDOW } : {}),
      });

    this.accessLogsBucket =
      props.accessLogsBucket ??
      new AccessLogBucket(this, 'AccessLogs', { removalPolicy, autoDeleteObjects }).bucket;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: props.accessLogsPrefix ?? 'data-bucket/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(noncurrentVersionDays),
          abortIncompleteMultipartUploadAfter: ABORT_INCOMPLETE_UPLOADS_AFTER,
        },
        {
          // A delete marker with no versions left behind it only slows listings down.
          id: 'remove-expired-delete-markers',
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
      autoDeleteObjects,
    });
  }
}
