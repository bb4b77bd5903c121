/**
 * Delivery of one kind of structured log record (a JSON log line whose `driftline` field names the
 * kind) from a log group to the data bucket: a CloudWatch Logs subscription filter feeds an Amazon Data
 * Firehose stream, which decompresses the CloudWatch Logs batches, keeps only the log messages (one JSON
 * line each) and writes them as `.jsonl` objects under a time-partitioned prefix, encrypted with the
 * bucket's KMS key. No Lambda in between: decompression and message extraction are Firehose's own
 * processors.
 *
 * The L1 delivery stream is used on purpose: the L2 `S3Bucket` destination grants read-write on the
 * whole bucket, and the data bucket holds immutable datasets that nothing here may touch. This role may
 * only put objects under the record prefix and the error prefix.
 */
import { ArnFormat, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag-acknowledgements.ts';
import { futurePath } from './prop-checks.ts';

/** The log field that names a record's kind; the predict handler sets it on capture and feedback lines. */
export const RECORD_KIND_FIELD = 'driftline';

/** Properties of {@link LogRecordDelivery}. */
export interface LogRecordDeliveryProps {
  /** The log group the records are written to. */
  readonly logGroup: logs.ILogGroup;
  /** The value of the `driftline` field that selects the records, e.g. `capture`. */
  readonly recordKind: string;
  /** The bucket to write to. */
  readonly bucket: s3.IBucket;
  /** The bucket's KMS key: objects are written with SSE-KMS under it. */
  readonly bucketKey: kms.IKey;
  /**
   * Firehose S3 prefix of the delivered objects; its part before the first `!{` expression must be a
   * folder (end with `/`), which is all the stream may write to. E.g.
   * `capture/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`.
   */
  readonly prefix: string;
  /**
   * Firehose S3 prefix of records that could not be processed or delivered; must contain
   * `!{firehose:error-output-type}` and, like `prefix`, start with a folder.
   */
  readonly errorOutputPrefix: string;
  /**
   * How long Firehose buffers before writing an object.
   * @default Duration.minutes(5)
   */
  readonly bufferingInterval?: Duration;
  /**
   * How much Firehose buffers before writing an object.
   * @default Size.mebibytes(5)
   */
  readonly bufferingSize?: Size;
  /**
   * The KMS key of the log group that receives Firehose's delivery errors.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * How long Firehose's delivery errors are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly errorLogRetention?: logs.RetentionDays;
}

/** The folder a Firehose prefix writes under: everything before its first `!{…}` expression. */
export function staticPrefix(prefix: string): string {
  const expression = prefix.indexOf('!{');
  return expression === -1 ? prefix : prefix.slice(0, expression);
}

function checkProps(path: string, props: LogRecordDeliveryProps): void {
  if (!/^[a-z][a-z0-9-]*$/.test(props.recordKind)) {
    throw new Error(
      `${path}: recordKind must be lowercase letters, digits and "-", got "${props.recordKind}"`,
    );
  }
  for (const name of ['prefix', 'errorOutputPrefix'] as const) {
    const folder = staticPrefix(props[name]);
    if (!/^[a-z0-9][a-z0-9-]*(\/[a-z0-9-]+)*\/$/.test(folder)) {
      throw new Error(
        `${path}: ${name} must start with a folder such as "capture/" before any !{…} expression, got "${props[name]}"`,
      );
    }
  }
  if (!props.errorOutputPrefix.includes('!{firehose:error-output-type}')) {
    throw new Error(`${path}: errorOutputPrefix must contain !{firehose:error-output-type}`);
  }
}

/**
 * A subscription filter `{ $.driftline = "<kind>" }` on a log group, and the Firehose stream that
 * writes the matching log lines, one per line, to `s3://<bucket>/<prefix>…/*.jsonl` (SSE-KMS).
 *
 * Firehose partitions by its own arrival time, which trails the record's `time` by up to the buffering
 * interval plus log delivery; readers select records by their `time`, not by the folder alone.
 */
export class LogRecordDelivery extends Construct {
  /** The Firehose delivery stream. */
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  /** The role Firehose assumes to write to the bucket. */
  public readonly deliveryRole: iam.Role;
  /** The role CloudWatch Logs assumes to put records into the stream. */
  public readonly subscriptionRole: iam.Role;
  /** The subscription filter on the source log group. */
  public readonly subscriptionFilter: logs.SubscriptionFilter;
  /** Where Firehose logs delivery errors. */
  public readonly errorLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: LogRecordDeliveryProps) {
    checkProps(futurePath(scope, id), props);
    super(scope, id);
    const stack = Stack.of(this);

    this.errorLogGroup = new logs.LogGroup(this, 'DeliveryErrors', {
      retention: props.errorLogRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const errorStream = new logs.LogStream(this, 'S3Delivery', {
      logGroup: this.errorLogGroup,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.deliveryRole = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `Firehose delivery of "${props.recordKind}" log records to the data bucket`,
    });
    const objectArns = [staticPrefix(props.prefix), staticPrefix(props.errorOutputPrefix)].map((folder) =>
      props.bucket.arnForObjects(`${folder}*`),
    );
    this.deliveryRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'LocateBucket',
        actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
        resources: [props.bucket.bucketArn],
      }),
    );
    this.deliveryRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteRecordObjects',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: objectArns,
      }),
    );
    this.deliveryRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptRecordObjects',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.bucketKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      }),
    );
    this.deliveryRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'LogDeliveryErrors',
        actions: ['logs:PutLogEvents'],
        resources: [
          stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: `${this.errorLogGroup.logGroupName}:log-stream:${errorStream.logStreamName}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Stream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: props.bucket.bucketArn,
        roleArn: this.deliveryRole.roleArn,
        prefix: props.prefix,
        errorOutputPrefix: props.errorOutputPrefix,
        fileExtension: '.jsonl',
        compressionFormat: 'UNCOMPRESSED',
        bufferingHints: {
          intervalInSeconds: (props.bufferingInterval ?? Duration.minutes(5)).toSeconds(),
          sizeInMBs: (props.bufferingSize ?? Size.mebibytes(5)).toMebibytes(),
        },
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.bucketKey.keyArn } },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'Decompression',
              parameters: [{ parameterName: 'CompressionFormat', parameterValue: 'GZIP' }],
            },
            {
              type: 'CloudWatchLogProcessing',
              parameters: [{ parameterName: 'DataMessageExtraction', parameterValue: 'true' }],
            },
            // One JSON line per record: the objects are JSON Lines, as the local capture sink writes them.
            { type: 'AppendDelimiterToRecord' },
          ],
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: this.errorLogGroup.logGroupName,
          logStreamName: errorStream.logStreamName,
        },
      },
    });
    this.deliveryStream.node.addDependency(this.deliveryRole);
    const deliveryPolicy = this.deliveryRole.node.tryFindChild('DefaultPolicy');
    if (deliveryPolicy !== undefined) {
      for (const arn of objectArns) {
        acknowledgeWildcardResource(
          deliveryPolicy,
          arn,
          'Firehose names each object it writes (time partition, stream name, timestamp, random id), ' +
            'so the keys are only known by their folder; the role may put objects under that folder only.',
        );
      }
    }

    this.subscriptionRole = new iam.Role(this, 'SubscriptionRole', {
      assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', {
        conditions: {
          StringLike: { 'aws:SourceArn': stack.formatArn({ service: 'logs', resource: '*' }) },
        },
      }),
      description: `CloudWatch Logs subscription putting "${props.recordKind}" log records into Firehose`,
    });
    this.subscriptionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PutRecords',
        actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        resources: [this.deliveryStream.attrArn],
      }),
    );

    const destination: logs.ILogSubscriptionDestination = {
      bind: () => ({ arn: this.deliveryStream.attrArn, role: this.subscriptionRole }),
    };
    this.subscriptionFilter = new logs.SubscriptionFilter(this, 'Subscription', {
      logGroup: props.logGroup,
      destination,
      filterPattern: logs.FilterPattern.stringValue(`$.${RECORD_KIND_FIELD}`, '=', props.recordKind),
    });
    // CloudWatch Logs test-delivers when the filter is created: the role must already allow it.
    this.subscriptionFilter.node.addDependency(this.subscriptionRole);
  }
}
