import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import {
  LogRecordDelivery,
  type LogRecordDeliveryProps,
  staticPrefix,
} from '../../../lib/constructs/log-record-delivery.ts';
import { projectApp } from '../build.ts';

function deliveryProps(
  stack: Stack,
  overrides: Partial<LogRecordDeliveryProps> = {},
): LogRecordDeliveryProps {
  const bucketKey = new kms.Key(stack, 'Key');
  return {
    logGroup: new logs.LogGroup(stack, 'Logs'),
    recordKind: 'capture',
    bucket: new s3.Bucket(stack, 'Bucket', { encryptionKey: bucketKey }),
    bucketKey,
    prefix: 'capture/!{timestamp:yyyy}/',
    errorOutputPrefix: 'errors/capture/!{firehose:error-output-type}/',
    ...overrides,
  };
}

describe('LogRecordDelivery', () => {
  it('buffers five minutes or 5 MiB and keeps delivery errors a month by default', () => {
    const stack = new Stack(projectApp(), 'Test');

    new LogRecordDelivery(stack, 'Capture', deliveryProps(stack));

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: {
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 5 },
        CompressionFormat: 'UNCOMPRESSED',
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: { Service: 'logs.amazonaws.com' },
            Condition: {
              StringLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':logs:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':*',
                    ],
                  ],
                },
              },
            },
          },
        ],
      },
    });
  });

  it('takes the folder of a prefix as everything before its first expression', () => {
    expect(staticPrefix('capture/!{timestamp:yyyy}/')).toBe('capture/');
    expect(staticPrefix('a/b/')).toBe('a/b/');
  });

  it.each([
    [{ prefix: '!{timestamp:yyyy}/' }, 'prefix must start with a folder'],
    [{ prefix: 'capture' }, 'prefix must start with a folder'],
    [{ errorOutputPrefix: 'errors/' }, 'errorOutputPrefix must contain !{firehose:error-output-type}'],
    [{ recordKind: 'Capture Log' }, 'recordKind must be lowercase letters'],
  ])('rejects %j before building anything', (overrides, message) => {
    const stack = new Stack(projectApp(), 'Test');
    const props = deliveryProps(stack, overrides);

    expect(() => new LogRecordDelivery(stack, 'Capture', props)).toThrow(message);
    expect(stack.node.tryFindChild('Capture')).toBeUndefined();
  });
});
