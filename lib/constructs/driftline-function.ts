/**
 * The one place every Driftline Lambda gets its defaults: Node.js 24 on x86_64, X-Ray tracing, its own
 * log group with a retention, a role with only what the function is granted, and a CommonJS bundle
 * built locally with esbuild (minified, with source maps).
 */

import { existsSync } from 'node:fs';
import { findPackageJSON } from 'node:module';
import { basename, isAbsolute } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeFinding } from '../nag-acknowledgements.ts';
import { futurePath } from './prop-checks.ts';

/** Modules the Node.js 24 runtime provides, left out of every bundle. */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*'];

/**
 * The identifier `import.meta` becomes in the CommonJS bundle; the banner defines it with the `url`,
 * `dirname` and `filename` of the bundle file, as an ES module would see them.
 */
const IMPORT_META = '__driftline_import_meta';
const IMPORT_META_BANNER =
  `const ${IMPORT_META}={url:require('node:url').pathToFileURL(__filename).href,` +
  'dirname:__dirname,filename:__filename};';

/** Properties of {@link DriftlineFunction}. */
export interface DriftlineFunctionProps {
  /** The TypeScript entry file (absolute path). */
  readonly entry: string;
  /**
   * The exported handler function of the entry.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * What the function does, shown in the console.
   * @default - none
   */
  readonly description?: string;
  /**
   * Extra environment variables.
   * @default - only the defaults: NODE_OPTIONS (source maps) and the Powertools service and namespace
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * The Powertools service name (`POWERTOOLS_SERVICE_NAME`): logs, traces and metrics are labelled with it.
   * @default 'driftline'
   */
  readonly serviceName?: string;
  /**
   * The CloudWatch namespace of the function's metrics (`POWERTOOLS_METRICS_NAMESPACE`).
   * @default 'Driftline'
   */
  readonly metricsNamespace?: string;
  /**
   * Memory in MB (Lambda gives CPU in proportion to it).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Layers to attach (x86_64, Node.js 24 compatible).
   * @default - none
   */
  readonly layers?: readonly lambda.ILayerVersion[];
  /**
   * Modules left out of the bundle because a layer provides them (the runtime's AWS SDK is always left
   * out). They are loaded with `require`, which finds `/opt/nodejs/node_modules` through `NODE_PATH`.
   * @default - none
   */
  readonly externalModules?: readonly string[];
  /**
   * Files copied into the bundle next to the handler, as `{ "<name in the bundle>": "<absolute source path>" }`.
   * @default - none
   */
  readonly bundledFiles?: Readonly<Record<string, string>>;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The KMS key that encrypts the log group. Its key policy must let CloudWatch Logs use it.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.DESTROY - Driftline keeps what must last (captured traffic) in S3, not in logs
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * The most concurrent executions the function may use.
   * @default - the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
}

/** A POSIX shell word for `value`. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Check the props before anything is built.
 * @throws Error naming the construct and the offending prop
 */
function checkProps(path: string, props: DriftlineFunctionProps): void {
  if (!isAbsolute(props.entry) || !existsSync(props.entry)) {
    throw new Error(`${path}: entry must be an existing absolute path, got ${props.entry}`);
  }
  for (const [name, source] of Object.entries(props.bundledFiles ?? {})) {
    if (name !== basename(name) || name === '' || name === '.' || name === '..') {
      throw new Error(`${path}: bundledFiles key "${name}" must be a plain file name`);
    }
    if (!isAbsolute(source) || !existsSync(source)) {
      throw new Error(`${path}: bundledFiles["${name}"] must be an existing absolute path, got ${source}`);
    }
  }
  // Without a local esbuild, NodejsFunction silently switches to Docker bundling, which this project
  // does not use (and which cannot see the absolute paths of bundledFiles).
  if (findPackageJSON('esbuild', import.meta.url) === undefined) {
    throw new Error(`${path}: esbuild is not installed; run "npm ci" (it is a devDependency)`);
  }
}

/**
 * A Node.js Lambda function with Driftline's defaults:
 * - runtime `nodejs24.x` on x86_64 (the architecture of the onnxruntime-node layer), X-Ray tracing on;
 * - a log group of its own (sibling construct `<id>LogGroup`) with a retention and optional KMS key;
 * - a role of its own (sibling `<id>Role`) allowed only to write to that log group and to X-Ray —
 *   no `AWSLambdaBasicExecutionRole`, whose log permissions cover every log group;
 * - bundled locally by esbuild as CommonJS (so layer modules load through `NODE_PATH`), minified, with
 *   source maps (`--enable-source-maps`) and original names kept (error classes are told apart by
 *   `name`); `import.meta.url` / `dirname` / `filename` keep working in the bundle.
 */
export class DriftlineFunction extends nodejs.NodejsFunction {
  /** The function's log group. */
  public readonly functionLogGroup: logs.LogGroup;
  /** The function's execution role. */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: DriftlineFunctionProps) {
    const path = futurePath(scope, id);
    checkProps(path, props);

    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${path}`,
    });
    const copies = Object.entries(props.bundledFiles ?? {});

    super(scope, id, {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      layers: props.layers === undefined ? undefined : [...props.layers],
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'driftline',
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'Driftline',
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.CJS,
        // Warnings and errors only: a successful build prints nothing but CDK's "Bundling asset" line.
        logLevel: nodejs.LogLevel.WARNING,
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: [...RUNTIME_PROVIDED_MODULES, ...(props.externalModules ?? [])],
        define: { 'import.meta': IMPORT_META },
        banner: IMPORT_META_BANNER,
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir, outputDir) =>
            copies.map(([name, source]) => `cp ${shellQuote(source)} ${shellQuote(`${outputDir}/${name}`)}`),
        },
      },
    });

    logGroup.grantWrite(role);
    this.functionLogGroup = logGroup;
    this.executionRole = role;
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (policy !== undefined) {
      acknowledgeFinding(
        policy,
        'AwsSolutions-IAM5[Resource::*]',
        'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no ' +
          'resource-level permissions: "*" is the only resource they accept.',
      );
    }
  }
}
