import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { StageConfig } from '../pipelines/config/schema.ts';
import { VersionedDataBucket } from './constructs/versioned-data-bucket.ts';

/** Names of the stack outputs, for the CLI and scripts that read a deployed stage. */
export const DATA_STACK_OUTPUTS = {
  bucketName: 'DataBucketName',
  keyArn: 'DataKeyArn',
} as const;

/** Properties of {@link DataStack}. */
export interface DataStackProps extends StackProps {
  /**
   * The stage's settings from `driftline.config.json`: whether its data is ephemeral and how long
   * noncurrent object versions are kept.
   */
  readonly stageConfig: StageConfig;
}

/**
 * The stateful part of a stage: the KMS key and the versioned data bucket (with its access-log bucket).
 * Kept apart from the stateless stacks so those can be replaced freely. Unless the stage is ephemeral, the
 * key and buckets are retained when the stack is deleted and the stack has termination protection; an
 * ephemeral stage's data is emptied and destroyed with it.
 */
export class DataStack extends Stack {
  /** The data bucket every other stack reads and writes. */
  public readonly bucket: s3.IBucket;
  /** The customer-managed key of the data bucket; grants on the bucket include it. */
  public readonly key: kms.IKey;
  /** The bucket holding the data bucket's server access logs. */
  public readonly accessLogsBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { stageConfig, ...stackProps } = props;
    super(scope, id, {
      terminationProtection: !stageConfig.ephemeral,
      ...stackProps,
    });

    const data = new VersionedDataBucket(this, 'Data', {
      noncurrentVersionDays: stageConfig.noncurrentVersionDays,
      removalPolicy: stageConfig.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: stageConfig.ephemeral,
    });
    this.bucket = data.bucket;
    this.key = data.encryptionKey;
    this.accessLogsBucket = data.accessLogsBucket;

    new CfnOutput(this, DATA_STACK_OUTPUTS.bucketName, {
      description: 'The Driftline data bucket (datasets, runs, capture, monitoring)',
      value: this.bucket.bucketName,
    });
    new CfnOutput(this, DATA_STACK_OUTPUTS.keyArn, {
      description: 'The KMS key that encrypts the data bucket',
      value: this.key.keyArn,
    });
  }
}
