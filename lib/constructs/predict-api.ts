/**
 * The Driftline HTTP API on API Gateway (REST, regional, TLS by API Gateway): `POST /predict`,
 * `POST /feedback`, `GET /model`, `GET /health`, all proxied to one Lambda alias.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DriftlineConfig } from '../../pipelines/config/schema.ts';
import {
  feedbackRequestJsonSchema,
  type JsonSchemaDraft4,
  type JsonSchemaTypeName,
  predictRequestJsonSchema,
} from '../../pipelines/serving/request-json-schema.ts';
import { acknowledgeFinding } from '../nag-acknowledgements.ts';

/** The routes of the API and the HTTP method of each. */
export const API_ROUTES = {
  predict: { path: 'predict', method: 'POST' },
  feedback: { path: 'feedback', method: 'POST' },
  model: { path: 'model', method: 'GET' },
  health: { path: 'health', method: 'GET' },
} as const;

/** The name of one route of the API. */
export type ApiRouteName = keyof typeof API_ROUTES;

/** The content type the request models are declared for. */
const JSON_CONTENT_TYPE = 'application/json';

const SCHEMA_TYPES: Record<JsonSchemaTypeName, apigw.JsonSchemaType> = {
  array: apigw.JsonSchemaType.ARRAY,
  boolean: apigw.JsonSchemaType.BOOLEAN,
  integer: apigw.JsonSchemaType.INTEGER,
  null: apigw.JsonSchemaType.NULL,
  number: apigw.JsonSchemaType.NUMBER,
  object: apigw.JsonSchemaType.OBJECT,
  string: apigw.JsonSchemaType.STRING,
};

/** A draft-4 request schema as the API Gateway construct library types it. */
export function apiGatewaySchema(schema: JsonSchemaDraft4): apigw.JsonSchema {
  const { $schema, type, properties, items, required, enum: values, ...rest } = schema;
  return {
    ...rest,
    ...($schema === undefined ? {} : { schema: apigw.JsonSchemaVersion.DRAFT4 }),
    ...(type === undefined
      ? {}
      : { type: typeof type === 'string' ? SCHEMA_TYPES[type] : type.map((t) => SCHEMA_TYPES[t]) }),
    ...(properties === undefined
      ? {}
      : {
          properties: Object.fromEntries(
            Object.entries(properties).map(([name, property]) => [name, apiGatewaySchema(property)]),
          ),
        }),
    ...(items === undefined ? {} : { items: apiGatewaySchema(items) }),
    ...(required === undefined ? {} : { required: [...required] }),
    ...(values === undefined ? {} : { enum: [...values] }),
  };
}

/**
 * The access log line: one JSON object per request (every value a string). The error message is left
 * out: it may hold quotes, which would break the line's JSON; `errorResponseType` names the error.
 * Request and response bodies are never logged.
 */
export function accessLogFormat(): apigw.AccessLogFormat {
  const quoted: Record<string, string> = {
    requestId: apigw.AccessLogField.contextRequestId(),
    extendedRequestId: apigw.AccessLogField.contextExtendedRequestId(),
    requestTime: apigw.AccessLogField.contextRequestTime(),
    requestTimeEpoch: apigw.AccessLogField.contextRequestTimeEpoch(),
    httpMethod: apigw.AccessLogField.contextHttpMethod(),
    resourcePath: apigw.AccessLogField.contextResourcePath(),
    protocol: apigw.AccessLogField.contextProtocol(),
    status: apigw.AccessLogField.contextStatus(),
    responseLength: apigw.AccessLogField.contextResponseLength(),
    responseLatency: apigw.AccessLogField.contextResponseLatency(),
    integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
    integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
    errorResponseType: apigw.AccessLogField.contextErrorResponseType(),
    sourceIp: apigw.AccessLogField.contextIdentitySourceIp(),
    userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
    caller: apigw.AccessLogField.contextIdentityCaller(),
    userArn: apigw.AccessLogField.contextIdentityUserArn(),
    apiKeyId: apigw.AccessLogField.contextIdentityApiKeyId(),
    xrayTraceId: apigw.AccessLogField.contextXrayTraceId(),
  };
  const fields = Object.entries(quoted).map(([name, value]) => `"${name}":"${value}"`);
  return apigw.AccessLogFormat.custom(`{${fields.join(',')}}`);
}

/** Properties of {@link PredictApi}. */
export interface PredictApiProps {
  /** What every route invokes: the predict function's `live` alias. */
  readonly handler: lambda.IFunction;
  /** The validated config: the feature schema, `api.auth` and `api.throttling`. */
  readonly config: Pick<DriftlineConfig, 'project' | 'task' | 'features' | 'api'>;
  /**
   * The API Gateway stage, the first path segment of every URL.
   * @default 'v1'
   */
  readonly stageName?: string;
  /**
   * The KMS key of the access and execution log groups.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * How long access logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * How long execution (error) logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly executionLogRetention?: logs.RetentionDays;
}

/**
 * A regional REST API in front of the predict function:
 * - auth from `api.auth`: SigV4 (`AWS_IAM`) on every method, or an API key with a usage plan;
 * - `api.throttling` on the stage (and on the usage plan), X-Ray tracing, JSON access logs, error-level
 *   execution logs (to a log group created here, with retention);
 * - request validation of the `/predict` and `/feedback` bodies against JSON Schemas generated from
 *   the feature schema, answered in the API's own error format when a body does not fit;
 * - Lambda proxy integrations with the given alias (never `$LATEST`).
 *
 * API Gateway needs an account-level CloudWatch role to write any log: this construct sets it
 * (retained when the stack goes, since every API in the account and region relies on it).
 */
export class PredictApi extends Construct {
  /** The REST API. */
  public readonly api: apigw.RestApi;
  /** The access log group of the stage. */
  public readonly accessLogGroup: logs.LogGroup;
  /** The execution log group API Gateway writes the stage's error logs to. */
  public readonly executionLogGroup: logs.LogGroup;
  /** The request validator of the POST bodies. */
  public readonly bodyValidator: apigw.RequestValidator;
  /** The body models, by route. */
  public readonly models: { readonly predict: apigw.Model; readonly feedback: apigw.Model };
  /** The method of each route. */
  public readonly methods: Readonly<Record<ApiRouteName, apigw.Method>>;
  /** The API key, when `api.auth` is `apiKey`. */
  public readonly apiKey?: apigw.IApiKey;
  /** The usage plan of the API key, when `api.auth` is `apiKey`. */
  public readonly usagePlan?: apigw.UsagePlan;

  constructor(scope: Construct, id: string, props: PredictApiProps) {
    super(scope, id);
    const { api: apiConfig } = props.config;
    const stageName = props.stageName ?? 'v1';
    const useApiKey = apiConfig.auth === 'apiKey';

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.api = new apigw.RestApi(this, 'Api', {
      description: `Driftline ${props.config.project.name}: predict, feedback, model, health`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName,
        tracingEnabled: true,
        throttlingRateLimit: apiConfig.throttling.rateLimit,
        throttlingBurstLimit: apiConfig.throttling.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: accessLogFormat(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
      },
      defaultMethodOptions: useApiKey
        ? { authorizationType: apigw.AuthorizationType.NONE, apiKeyRequired: true }
        : { authorizationType: apigw.AuthorizationType.IAM },
      apiKeySourceType: useApiKey ? apigw.ApiKeySourceType.HEADER : undefined,
    });

    // API Gateway creates this group on the first error log, without retention or key; creating it
    // first (under the name API Gateway uses) gives it both.
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${stageName}`,
      retention: props.executionLogRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.deploymentStage.node.addDependency(this.executionLogGroup);

    // No method declares required parameters, so parameter validation only makes the validator complete.
    this.bodyValidator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    this.models = {
      predict: this.api.addModel('PredictRequest', {
        contentType: JSON_CONTENT_TYPE,
        description: 'POST /predict body, generated from the feature schema',
        schema: apiGatewaySchema(predictRequestJsonSchema(props.config)),
      }),
      feedback: this.api.addModel('FeedbackRequest', {
        contentType: JSON_CONTENT_TYPE,
        description: 'POST /feedback body',
        schema: apiGatewaySchema(feedbackRequestJsonSchema(props.config)),
      }),
    };
    // A body the model refuses gets the API's error shape rather than API Gateway's {"message": …}.
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: {
        [JSON_CONTENT_TYPE]:
          '{"error":{"code":"invalid_request","message":$context.error.messageString,' +
          '"details":[{"path":"(root)","message":"the body does not match the request schema of this API"}]}}',
      },
    });

    const integration = new apigw.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    const bodyOf: Partial<Record<ApiRouteName, apigw.Model>> = this.models;
    const methods: Partial<Record<ApiRouteName, apigw.Method>> = {};
    for (const [name, route] of Object.entries(API_ROUTES) as [
      ApiRouteName,
      (typeof API_ROUTES)[ApiRouteName],
    ][]) {
      const model = bodyOf[name];
      methods[name] = this.api.root
        .addResource(route.path)
        .addMethod(
          route.method,
          integration,
          model === undefined
            ? {}
            : { requestValidator: this.bodyValidator, requestModels: { [JSON_CONTENT_TYPE]: model } },
        );
    }
    this.methods = methods as Record<ApiRouteName, apigw.Method>;

    if (useApiKey) {
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        description: `Driftline ${props.config.project.name} callers`,
        throttle: { rateLimit: apiConfig.throttling.rateLimit, burstLimit: apiConfig.throttling.burstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      this.apiKey = this.api.addApiKey('ApiKey', {
        description: `Driftline ${props.config.project.name} (${Stack.of(this).stackName})`,
      });
      this.usagePlan.addApiKey(this.apiKey);
    }
    this.acknowledgeFindings(useApiKey);
  }

  /** The cdk-nag findings that do not apply to this API, each on the resource it is about. */
  private acknowledgeFindings(useApiKey: boolean): void {
    for (const method of Object.values(this.methods)) {
      acknowledgeFinding(
        method,
        'AwsSolutions-COG4',
        useApiKey
          ? 'The config sets api.auth to apiKey: callers are services holding an API key of a throttled usage ' +
              'plan, not users of a Cognito user pool.'
          : 'Callers are AWS principals (the Driftline CLI, pipelines, other services) that sign requests with ' +
              'SigV4 and are authorised by IAM policies; there are no end users for a Cognito user pool.',
      );
      if (useApiKey) {
        acknowledgeFinding(
          method,
          'AwsSolutions-APIG4',
          'The config sets api.auth to apiKey: every method requires an API key bound to a usage plan with ' +
            'throttling, chosen for callers that cannot sign with SigV4 (IAM authorization is the default).',
        );
      }
    }
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole !== undefined) {
      acknowledgeFinding(
        cloudWatchRole,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'This is the account-level role API Gateway itself uses to write the logs of every API in the region; ' +
          'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy made for exactly that role.',
      );
    }
    acknowledgeFinding(
      this.api.deploymentStage,
      'AwsSolutions-APIG3',
      'Every method requires SigV4 (or an API key) and the stage is throttled from api.throttling; a WAF web ' +
        'ACL would add a fixed monthly cost to an API designed to cost nothing when idle.',
    );
  }
}
