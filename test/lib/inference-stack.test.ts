/**
 * `Driftline-<stage>-Inference`: what is security- or wiring-relevant in its template — runtime and
 * layer, the alias behind the API, auth, request validation, throttling, logs, IAM, capture delivery.
 */
import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataStack } from '../../lib/data-stack.ts';
import { InferenceStack, PREDICT_READS, RECORD_PREFIXES } from '../../lib/inference-stack.ts';
import { stageConfig } from '../../pipelines/config/schema.ts';
import { CHAMPION_KEY } from '../../pipelines/registry/champion.ts';
import {
  feedbackRequestJsonSchema,
  predictRequestJsonSchema,
} from '../../pipelines/serving/request-json-schema.ts';
import { buildStage, penguinsConfig, projectApp } from './build.ts';

/** The logical id CDK gave a construct's CloudFormation resource. */
function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(resource as CfnElement);
}

const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const arnOf = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });

/** A reference to an output of the prod data stack, for template assertions. */
function dataOutput(output: RegExp): Record<string, unknown> {
  return {
    'Fn::GetStackOutput': Match.objectLike({
      StackName: 'Driftline-prod-Data',
      OutputName: Match.stringLikeRegexp(output.source),
    }),
  };
}

/** The same reference, for vitest's `toEqual`. */
function dataOutputValue(output: RegExp): unknown {
  return {
    'Fn::GetStackOutput': expect.objectContaining({
      StackName: 'Driftline-prod-Data',
      OutputName: expect.stringMatching(output),
    }),
  };
}

const BUCKET_NAME = /^PublishOutputRefDataBucket/;
const BUCKET_ARN = /^PublishOutputFnGetAttDataBucket.*Arn/;
const KEY_ARN = /^PublishOutputFnGetAttDataKey.*Arn/;
const objectArn = (key: string) => ({ 'Fn::Join': ['', [dataOutputValue(BUCKET_ARN), `/${key}`]] });

/** The statements of the IAM policies attached to a role. */
function statementsOf(template: Template, role: IConstruct): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([ref(role)]) },
  });
  return Object.values(policies).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties
        .PolicyDocument.Statement,
  );
}

describe('InferenceStack (IAM auth, default throttling)', () => {
  let inference: InferenceStack;
  let template: Template;
  beforeAll(() => {
    inference = buildStage('prod').inference;
    template = Template.fromStack(inference);
  });

  describe('the predict function', () => {
    it('runs Node.js 24 on x86_64 with active tracing, bundled as CommonJS (index.handler)', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['x86_64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        MemorySize: 1024,
        Timeout: 15,
      });
    });

    it('has the onnxruntime layer, built for nodejs24.x on x86_64', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Layers: [ref(inference.onnxRuntimeLayer)],
      });
      template.hasResourceProperties('AWS::Lambda::LayerVersion', {
        CompatibleRuntimes: ['nodejs24.x'],
        CompatibleArchitectures: ['x86_64'],
      });
    });

    it('gets the data bucket, Powertools names and source maps from its environment, no store prefix', () => {
      const variables = new Capture();
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: variables } });

      expect(variables.asObject()).toEqual({
        DATA_BUCKET: dataOutputValue(BUCKET_NAME),
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'penguins-prod-predict',
        POWERTOOLS_METRICS_NAMESPACE: 'Driftline',
      });
    });

    it('logs to its own KMS-encrypted log group with a retention', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: ref(inference.predictFunction.functionLogGroup) },
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        RetentionInDays: 30,
        KmsKeyId: arnOf(inference.logsKey),
      });
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    });

    it('is invoked by API Gateway through the "live" alias of a published version', () => {
      template.hasResourceProperties('AWS::Lambda::Alias', {
        Name: 'live',
        FunctionName: ref(inference.predictFunction),
        FunctionVersion: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PredictCurrentVersion'), 'Version'] },
      });
      const uri = new Capture();
      template.allResourcesProperties('AWS::ApiGateway::Method', {
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST', Uri: uri },
      });
      expect(JSON.stringify(uri.asObject())).toContain(JSON.stringify(ref(inference.liveAlias)));
      template.resourceCountIs('AWS::Lambda::Permission', 4);
      template.allResourcesProperties('AWS::Lambda::Permission', {
        FunctionName: ref(inference.liveAlias),
        Principal: 'apigateway.amazonaws.com',
      });
    });
  });

  describe('IAM', () => {
    it('lets the function read only the champion pointer and model files, and decrypt them', () => {
      const statements = statementsOf(template, inference.predictFunction.executionRole);

      expect(statements).toEqual([
        { Effect: 'Allow', Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arnOf(inference.predictFunction.functionLogGroup),
        },
        {
          Sid: 'ReadChampionAndModels',
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: [objectArn('registry/champion.json'), objectArn('runs/*/model.onnx')],
        },
        {
          // Listing only the pointer's own key: a missing champion is a 404, not a 403.
          Sid: 'SeeWhetherTheChampionExists',
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: dataOutputValue(BUCKET_ARN),
          Condition: { StringEquals: { 's3:prefix': ['registry/champion.json'] } },
        },
        {
          Sid: 'DecryptDataObjects',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: dataOutputValue(KEY_ARN),
          Condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        },
      ]);
    });

    it('reads where the registry keeps the champion pointer and where runs keep models', () => {
      expect(PREDICT_READS).toContain(CHAMPION_KEY);
      expect(PREDICT_READS).toContain('runs/*/model.onnx');
    });

    it('never lets the function write or delete in the bucket, and uses no managed policy', () => {
      const actions = statementsOf(template, inference.predictFunction.executionRole).flatMap(
        (s) => s.Action,
      );

      expect(actions.filter((a) => typeof a === 'string' && /^s3:(Put|Delete|\*)/.test(a))).toEqual([]);
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
        },
        ManagedPolicyArns: Match.absent(),
      });
    });

    it('lets each Firehose stream put objects only under its own folders, encrypted with the data key', () => {
      for (const [delivery, kind] of [
        [inference.captureDelivery, 'capture'],
        [inference.feedbackDelivery, 'feedback'],
      ] as const) {
        const statements = statementsOf(template, delivery.deliveryRole);

        expect(statements).toContainEqual({
          Sid: 'WriteRecordObjects',
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
          Resource: expect.arrayContaining([objectArn(`${kind}/*`), objectArn(`delivery-errors/${kind}/*`)]),
        });
        expect(statements).toContainEqual(
          expect.objectContaining({
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: dataOutputValue(KEY_ARN),
          }),
        );
        const actions = statements.flatMap((s) => s.Action);
        expect(actions).not.toContain('s3:GetObject');
        expect(actions.filter((a) => typeof a === 'string' && /^s3:Delete/.test(a))).toEqual([]);
      }
    });
  });

  describe('the API', () => {
    it('is a regional REST API with the four routes, each requiring SigV4', () => {
      template.hasResourceProperties('AWS::ApiGateway::RestApi', {
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
      const routes = Object.entries(inference.predictApi.methods).map(([name, method]) => {
        const resource = template.toJSON().Resources[logicalId(method)];
        return [name, resource.Properties.HttpMethod, resource.Properties.AuthorizationType];
      });
      expect(routes).toEqual([
        ['predict', 'POST', 'AWS_IAM'],
        ['feedback', 'POST', 'AWS_IAM'],
        ['model', 'GET', 'AWS_IAM'],
        ['health', 'GET', 'AWS_IAM'],
      ]);
      for (const path of ['predict', 'feedback', 'model', 'health']) {
        template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: path });
      }
      template.resourceCountIs('AWS::ApiGateway::Resource', 4);
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
      template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    });

    it('validates the POST bodies against models generated from the feature schema', () => {
      const api = inference.predictApi;
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestBody: true,
        ValidateRequestParameters: true,
      });
      for (const name of ['predict', 'feedback'] as const) {
        template.hasResourceProperties('AWS::ApiGateway::Method', {
          HttpMethod: 'POST',
          ResourceId: ref(api.methods[name].resource),
          RequestValidatorId: ref(api.bodyValidator),
          RequestModels: { 'application/json': ref(api.models[name]) },
        });
      }
      const config = penguinsConfig();
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        ContentType: 'application/json',
        Schema: predictRequestJsonSchema(config),
      });
      template.hasResourceProperties('AWS::ApiGateway::Model', {
        ContentType: 'application/json',
        Schema: feedbackRequestJsonSchema(config),
      });
    });

    it('answers a body the model refuses in the API error format', () => {
      const body = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'BAD_REQUEST_BODY',
        StatusCode: '400',
        ResponseTemplates: { 'application/json': body },
      });
      const rendered = body.asString().replace('$context.error.messageString', '"Invalid request body"');
      expect(JSON.parse(rendered)).toEqual({
        error: {
          code: 'invalid_request',
          message: 'Invalid request body',
          details: [{ path: '(root)', message: expect.any(String) }],
        },
      });
    });

    it('throttles the stage with the config defaults, traces it, and logs errors (no bodies)', () => {
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'v1',
        TracingEnabled: true,
        MethodSettings: [
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: 100,
            ThrottlingBurstLimit: 200,
            LoggingLevel: 'ERROR',
            DataTraceEnabled: false,
          }),
        ],
      });
    });

    it('writes JSON access logs to an encrypted log group with a retention', () => {
      const format = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        AccessLogSetting: {
          DestinationArn: Match.objectLike({
            'Fn::Join': ['', Match.arrayWith([ref(inference.predictApi.accessLogGroup)])],
          }),
          Format: format,
        },
      });
      const fields = JSON.parse(format.asString()) as Record<string, string>;
      expect(fields).toMatchObject({
        requestId: '$context.requestId',
        status: '$context.status',
        userArn: '$context.identity.userArn',
        sourceIp: '$context.identity.sourceIp',
        errorResponseType: '$context.error.responseType',
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        RetentionInDays: 365,
        KmsKeyId: arnOf(inference.logsKey),
      });
    });

    it('creates the execution log group API Gateway writes to, with a retention, before the stage', () => {
      const api = inference.predictApi;
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', ref(api.api), '/v1']] },
        RetentionInDays: 30,
      });
      template.hasResource('AWS::ApiGateway::Stage', {
        DependsOn: Match.arrayWith([logicalId(api.executionLogGroup)]),
      });
    });
  });

  describe('capture and feedback delivery', () => {
    it('subscribes one filter per record kind to the function log group, into its own stream', () => {
      for (const [delivery, kind] of [
        [inference.captureDelivery, 'capture'],
        [inference.feedbackDelivery, 'feedback'],
      ] as const) {
        template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
          LogGroupName: ref(inference.predictFunction.functionLogGroup),
          FilterPattern: `{ $.driftline = "${kind}" }`,
          DestinationArn: arnOf(delivery.deliveryStream),
          RoleArn: arnOf(delivery.subscriptionRole),
        });
      }
    });

    it('writes JSON Lines under the time-partitioned prefixes, SSE-KMS with the data key', () => {
      for (const kind of ['capture', 'feedback'] as const) {
        template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
          DeliveryStreamType: 'DirectPut',
          DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
          ExtendedS3DestinationConfiguration: Match.objectLike({
            BucketARN: dataOutput(BUCKET_ARN),
            Prefix: RECORD_PREFIXES[kind].prefix,
            ErrorOutputPrefix: RECORD_PREFIXES[kind].errorOutputPrefix,
            FileExtension: '.jsonl',
            EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: dataOutput(KEY_ARN) } },
            ProcessingConfiguration: {
              Enabled: true,
              Processors: [
                {
                  Type: 'Decompression',
                  Parameters: [{ ParameterName: 'CompressionFormat', ParameterValue: 'GZIP' }],
                },
                {
                  Type: 'CloudWatchLogProcessing',
                  Parameters: [{ ParameterName: 'DataMessageExtraction', ParameterValue: 'true' }],
                },
                { Type: 'AppendDelimiterToRecord' },
              ],
            },
          }),
        });
      }
      expect(RECORD_PREFIXES.capture.prefix).toBe(
        'capture/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/',
      );
      expect(RECORD_PREFIXES.feedback.prefix).toBe(
        'feedback/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/',
      );
    });
  });

  it('exports the API URL, the function name and the alias ARN, and tags every resource', () => {
    template.hasOutput('ApiUrl', {});
    template.hasOutput('PredictFunctionName', { Value: ref(inference.predictFunction) });
    template.hasOutput('PredictAliasArn', { Value: ref(inference.liveAlias) });
    expect(template.findOutputs('ApiKeyId')).toEqual({});
    template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([
        { Key: 'managed-by', Value: 'driftline' },
        { Key: 'project', Value: 'penguins' },
        { Key: 'stage', Value: 'prod' },
      ]),
    });
  });
});

describe('InferenceStack (API key auth, configured throttling)', () => {
  let inference: InferenceStack;
  let template: Template;
  beforeAll(() => {
    const config = penguinsConfig({ api: { auth: 'apiKey', throttling: { rateLimit: 25, burstLimit: 50 } } });
    inference = buildStage('prod', config).inference;
    template = Template.fromStack(inference);
  });

  it('requires an API key on every method instead of SigV4', () => {
    template.allResourcesProperties('AWS::ApiGateway::Method', {
      AuthorizationType: 'NONE',
      ApiKeyRequired: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'HEADER' });
  });

  it('binds the key to a usage plan on the stage, throttled like the stage', () => {
    const api = inference.predictApi;
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 })],
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 25, BurstLimit: 50 },
      ApiStages: [{ ApiId: ref(api.api), Stage: ref(api.api.deploymentStage) }],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    expect(api.usagePlan).toBeDefined();
    if (api.usagePlan !== undefined) {
      template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
        KeyType: 'API_KEY',
        UsagePlanId: ref(api.usagePlan),
      });
    }
    template.hasOutput('ApiKeyId', {});
  });
});

describe('InferenceStack with a store prefix', () => {
  function stacks(storePrefix: string) {
    const app = projectApp();
    const config = penguinsConfig();
    const data = new DataStack(app, 'Data', { stageConfig: stageConfig(config, 'dev') });
    const inference = new InferenceStack(app, 'Inference', {
      config,
      stage: 'dev',
      dataBucket: data.bucket,
      dataKey: data.key,
      storePrefix,
    });
    return { data, inference };
  }

  it('passes STORE_PREFIX and reads the champion and models under it only', () => {
    const { inference } = stacks('/team-a/');
    const template = Template.fromStack(inference);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STORE_PREFIX: 'team-a/' }) },
    });
    const reads = statementsOf(template, inference.predictFunction.executionRole).find(
      (s) => s.Sid === 'ReadChampionAndModels',
    );
    expect(JSON.stringify(reads?.Resource)).toContain('"/team-a/registry/champion.json"');
    expect(JSON.stringify(reads?.Resource)).toContain('"/team-a/runs/*/model.onnx"');
  });

  it('rejects a prefix that is not a key prefix', () => {
    expect(() => stacks('team a')).toThrow('storePrefix must be a key prefix such as "team-a", got "team a"');
  });
});
