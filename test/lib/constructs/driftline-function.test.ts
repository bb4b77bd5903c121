import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { DriftlineFunction } from '../../../lib/constructs/driftline-function.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { projectApp, stagedAssetDir } from '../build.ts';

const ENTRY = fileURLToPath(new URL('./fixtures/hello-handler.ts', import.meta.url));

function stackWithFunction(props: Partial<ConstructorParameters<typeof DriftlineFunction>[2]> = {}) {
  const app = projectApp();
  const stack = new Stack(app, 'Test');
  const fn = new DriftlineFunction(stack, 'Hello', { entry: ENTRY, ...props });
  return { app, stack, fn, template: Template.fromStack(stack) };
}

describe('DriftlineFunction', () => {
  it('defaults to Node.js 24 on x86_64, active tracing, 1024 MB, 30 s, CommonJS index.handler', () => {
    // Act
    const { template } = stackWithFunction();

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      TracingConfig: { Mode: 'Active' },
      MemorySize: 1024,
      Timeout: 30,
      Handler: 'index.handler',
      FunctionName: Match.absent(),
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'driftline',
          POWERTOOLS_METRICS_NAMESPACE: 'Driftline',
        },
      },
    });
  });

  it('logs to its own log group, kept a month and deleted with the stack', () => {
    const { stack, fn, template } = stackWithFunction();

    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: stack.resolve(fn.functionLogGroup.logGroupName) },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 30, LogGroupName: Match.absent() },
      DeletionPolicy: 'Delete',
    });
  });

  it('has a role of its own, with no managed policy, writing only to its log group and X-Ray', () => {
    const { stack, fn, template } = stackWithFunction();

    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      },
      ManagedPolicyArns: Match.absent(),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [stack.resolve(fn.executionRole.roleName)],
      PolicyDocument: {
        Statement: [
          { Effect: 'Allow', Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: stack.resolve(fn.functionLogGroup.logGroupArn),
          },
        ],
      },
    });
  });

  it('takes overrides: memory, timeout, retention, environment, service name', () => {
    const { template } = stackWithFunction({
      memorySize: 2048,
      timeout: Duration.seconds(10),
      logRetention: logs.RetentionDays.ONE_WEEK,
      environment: { GREETING: 'hi' },
      serviceName: 'hello',
      metricsNamespace: 'Hello',
    });

    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      Timeout: 10,
      Environment: {
        Variables: Match.objectLike({
          GREETING: 'hi',
          POWERTOOLS_SERVICE_NAME: 'hello',
          POWERTOOLS_METRICS_NAMESPACE: 'Hello',
        }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('bundles a CommonJS file that keeps import.meta working, with the bundled files next to it', async () => {
    // Prepare
    const dir = await tempDir('driftline-fn-');
    const greeting = join(dir, 'greeting.txt');
    writeFileSync(greeting, 'hello');
    const { app, fn } = stackWithFunction({ bundledFiles: { 'greeting.txt': greeting } });
    const task = join(dir, 'task');
    cpSync(stagedAssetDir(app, fn), task, { recursive: true });

    // Act
    const run = spawnSync(
      process.execPath,
      ['-e', "require('./task/index.js').handler().then((r) => console.log(JSON.stringify(r)))"],
      { cwd: dir, encoding: 'utf8' },
    );

    // Assess
    expect(readdirSync(task).sort()).toEqual(['greeting.txt', 'index.js', 'index.js.map']);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      url: pathToFileURL(join(task, 'index.js')).href,
      dirname: task,
      greeting: true,
    });
  });

  it('rejects an entry that is not an existing absolute path', () => {
    const stack = new Stack(projectApp(), 'Test');

    expect(() => new DriftlineFunction(stack, 'Fn', { entry: 'hello-handler.ts' })).toThrow(
      'Test/Fn: entry must be an existing absolute path, got hello-handler.ts',
    );
    expect(stack.node.tryFindChild('FnLogGroup')).toBeUndefined();
  });

  it.each([['../escape.txt'], ['sub/file.txt'], ['..']])('rejects the bundled file name %j', (name) => {
    const stack = new Stack(projectApp(), 'Test');

    expect(
      () => new DriftlineFunction(stack, 'Fn', { entry: ENTRY, bundledFiles: { [name]: ENTRY } }),
    ).toThrow(`Test/Fn: bundledFiles key "${name}" must be a plain file name`);
  });

  it('rejects a bundled file that does not exist', () => {
    const stack = new Stack(projectApp(), 'Test');

    expect(
      () =>
        new DriftlineFunction(stack, 'Fn', { entry: ENTRY, bundledFiles: { 'a.json': '/no/such/a.json' } }),
    ).toThrow('Test/Fn: bundledFiles["a.json"] must be an existing absolute path, got /no/such/a.json');
  });
});
