/**
 * `Driftline-<stage>-Inference`: the HTTP API, the predict Lambda with onnxruntime-node, and the
 * delivery of captured traffic and feedback to the data bucket. Stateless: everything it holds is
 * rebuilt from the config, the code and the data stack.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { CONFIG_FILE } from '../pipelines/config/load.ts';
import type { DriftlineConfig } from '../pipelines/config/schema.ts';
import { DriftlineFunction } from './constructs/driftline-function.ts';
import { LogRecordDelivery } from './constructs/log-record-delivery.ts';
import { ONNXRUNTIME_PACKAGES, OnnxRuntimeLayer } from './constructs/onnxruntime-layer.ts';
import { PredictApi } from './constructs/predict-api.ts';
import { acknowledgeFinding, acknowledgeWildcardResource } from './nag-acknowledgements.ts';

/** Names of the stack outputs, for the CLI and scripts that read a deployed stage. */
export const INFERENCE_STACK_OUTPUTS = {
  apiUrl: 'ApiUrl',
  functionName: 'PredictFunctionName',
  aliasArn: 'PredictAliasArn',
  apiKeyId: 'ApiKeyId',
} as const;

/** The alias API Gateway invokes; a deployment moves it to the new version. */
export const LIVE_ALIAS = 'live';

/** The predict handler's source. */
export const PREDICT_ENTRY = fileURLToPath(new URL('../lambdas/predict/handler.ts', import.meta.url));

/** Where the objects the predict function reads are, relative to the store prefix. */
export const PREDICT_READS = ['registry/champion.json', 'runs/*/model.onnx'] as const;
const CHAMPION_POINTER = PREDICT_READS[0];

/** Firehose prefixes of captured traffic and feedback (DESIGN.md, "Storage layout"). */
export const RECORD_PREFIXES = {
  capture: {
    prefix: 'capture/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/',
    errorOutputPrefix:
      'delivery-errors/capture/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/',
  },
  feedback: {
    prefix: 'feedback/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/',
    errorOutputPrefix:
      'delivery-errors/feedback/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/',
  },
} as const;

/** Properties of {@link InferenceStack}. */
export interface InferenceStackProps extends StackProps {
  /** The validated config; the predict function gets it as `driftline.config.json` in its bundle. */
  readonly config: DriftlineConfig;
  /** The stage name, for the service name of logs, traces and metrics. */
  readonly stage: string;
  /** The data bucket (from the data stack): champion pointer and models in, capture and feedback out. */
  readonly dataBucket: s3.IBucket;
  /** The data bucket's KMS key. */
  readonly dataKey: kms.IKey;
  /**
   * The key prefix of the object store inside the bucket (`STORE_PREFIX`), e.g. `team-a/`.
   * @default '' - the bucket root
   */
  readonly storePrefix?: string;
  /**
   * The folder where the config file for the bundle is staged, one subfolder per content hash.
   * @default - `driftline-bundle-config` in the OS temp folder
   */
  readonly configStagingRoot?: string;
}

/**
 * Write the config as the function will read it, under a folder named by its content hash (written
 * under a temporary name and renamed, so concurrent syntheses never read a partial file).
 */
export function stageConfigFile(
  config: DriftlineConfig,
  root = join(tmpdir(), 'driftline-bundle-config'),
): string {
  const text = `${JSON.stringify(config, null, 2)}\n`;
  const folder = join(root, createHash('sha256').update(text).digest('hex').slice(0, 16));
  const file = join(folder, CONFIG_FILE);
  if (!existsSync(file)) {
    mkdirSync(folder, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  }
  return file;
}

function normalizedPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed !== '' && !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(trimmed)) {
    throw new Error(`storePrefix must be a key prefix such as "team-a", got "${prefix}"`);
  }
  return trimmed === '' ? '' : `${trimmed}/`;
}

/**
 * The inference API of one stage:
 * - the predict function ({@link DriftlineFunction}) with the onnxruntime-node layer, its config in the
 *   bundle, and a `live` alias that API Gateway invokes;
 * - read-only access to the champion pointer and the model files, nothing else of the bucket;
 * - the REST API ({@link PredictApi});
 * - capture and feedback log records delivered to `capture/…` and `feedback/…` ({@link LogRecordDelivery});
 * - one KMS key for the stack's log groups, which hold request features until they expire.
 */
export class InferenceStack extends Stack {
  /** The predict function. */
  public readonly predictFunction: DriftlineFunction;
  /** The alias API Gateway invokes. */
  public readonly liveAlias: lambda.Alias;
  /** The onnxruntime-node layer. */
  public readonly onnxRuntimeLayer: OnnxRuntimeLayer;
  /** The HTTP API. */
  public readonly predictApi: PredictApi;
  /** Delivery of captured traffic to `capture/`. */
  public readonly captureDelivery: LogRecordDelivery;
  /** Delivery of feedback to `feedback/`. */
  public readonly feedbackDelivery: LogRecordDelivery;
  /** The key of the stack's log groups. */
  public readonly logsKey: kms.Key;
  /** Powertools service name of the predict function (the `service` dimension of its metrics). */
  public readonly serviceName: string;
  /** CloudWatch namespace of the predict function's metrics. */
  public readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    const { config, stage, dataBucket, dataKey, storePrefix, configStagingRoot, ...stackProps } = props;
    const prefix = normalizedPrefix(storePrefix);
    const configFile = stageConfigFile(config, configStagingRoot);
    super(scope, id, stackProps);

    this.serviceName = `${config.project.name}-${stage}-predict`;
    this.metricsNamespace = 'Driftline';

    this.logsKey = new kms.Key(this, 'LogsKey', {
      description: `Driftline ${config.project.name} (${stage}): inference log groups`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.logsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsOfThisAccount',
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': this.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );

    this.onnxRuntimeLayer = new OnnxRuntimeLayer(this, 'OnnxRuntime');
    this.predictFunction = new DriftlineFunction(this, 'Predict', {
      entry: PREDICT_ENTRY,
      description: `Driftline ${config.project.name} (${stage}): predict, feedback, model, health`,
      serviceName: this.serviceName,
      metricsNamespace: this.metricsNamespace,
      timeout: Duration.seconds(15),
      layers: [this.onnxRuntimeLayer],
      externalModules: ONNXRUNTIME_PACKAGES,
      bundledFiles: { [CONFIG_FILE]: configFile },
      logEncryptionKey: this.logsKey,
      environment: {
        DATA_BUCKET: dataBucket.bucketName,
        ...(prefix === '' ? {} : { STORE_PREFIX: prefix }),
      },
    });
    const readable = PREDICT_READS.map((key) => dataBucket.arnForObjects(`${prefix}${key}`));
    this.predictFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadChampionAndModels',
        actions: ['s3:GetObject'],
        resources: readable,
      }),
    );
    // Without s3:ListBucket, S3 answers a GET of a missing key with 403 instead of 404, and "no champion
    // promoted yet" would look like a permissions failure. Listing is allowed for the pointer's own key
    // only, so no other key name is disclosed.
    this.predictFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SeeWhetherTheChampionExists',
        actions: ['s3:ListBucket'],
        resources: [dataBucket.bucketArn],
        conditions: { StringEquals: { 's3:prefix': [`${prefix}${CHAMPION_POINTER}`] } },
      }),
    );
    this.predictFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptDataObjects',
        actions: ['kms:Decrypt'],
        resources: [dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
      }),
    );
    const predictPolicy = this.predictFunction.executionRole.node.tryFindChild('DefaultPolicy');
    if (predictPolicy !== undefined) {
      PREDICT_READS.forEach((key, i) => {
        const arn = readable[i];
        if (key.includes('*') && arn !== undefined) {
          acknowledgeWildcardResource(
            predictPolicy,
            arn,
            'The champion model is whichever run was promoted, so its run id is unknown at deploy time; ' +
              'the pattern admits only model.onnx files of runs, read-only.',
          );
        }
      });
    }
    acknowledgeFinding(
      this.predictFunction,
      'Serverless-LambdaDLQ',
      'API Gateway invokes the function synchronously and returns its errors to the caller; a dead-letter ' +
        'queue only receives failed asynchronous invocations, which this function never gets.',
    );
    this.liveAlias = this.predictFunction.addAlias(LIVE_ALIAS, {
      description: 'The version API Gateway invokes',
    });

    this.predictApi = new PredictApi(this, 'Api', {
      handler: this.liveAlias,
      config,
      logEncryptionKey: this.logsKey,
    });

    const deliveryProps = {
      logGroup: this.predictFunction.functionLogGroup,
      bucket: dataBucket,
      bucketKey: dataKey,
      logEncryptionKey: this.logsKey,
    };
    this.captureDelivery = new LogRecordDelivery(this, 'CaptureDelivery', {
      ...deliveryProps,
      recordKind: 'capture',
      ...RECORD_PREFIXES.capture,
    });
    this.feedbackDelivery = new LogRecordDelivery(this, 'FeedbackDelivery', {
      ...deliveryProps,
      recordKind: 'feedback',
      ...RECORD_PREFIXES.feedback,
    });

    new CfnOutput(this, INFERENCE_STACK_OUTPUTS.apiUrl, {
      description: 'Base URL of the Driftline HTTP API (append predict, feedback, model or health)',
      value: this.predictApi.api.url,
    });
    new CfnOutput(this, INFERENCE_STACK_OUTPUTS.functionName, {
      description: 'The predict Lambda function',
      value: this.predictFunction.functionName,
    });
    new CfnOutput(this, INFERENCE_STACK_OUTPUTS.aliasArn, {
      description: `The "${LIVE_ALIAS}" alias of the predict function, which the API invokes`,
      value: this.liveAlias.functionArn,
    });
    if (this.predictApi.apiKey !== undefined) {
      new CfnOutput(this, INFERENCE_STACK_OUTPUTS.apiKeyId, {
        description: 'The API key id (read its value with "aws apigateway get-api-key --include-value")',
        value: this.predictApi.apiKey.keyId,
      });
    }
  }
}
