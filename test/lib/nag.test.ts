import { type App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import type { DriftlineConfig } from '../../pipelines/config/schema.ts';
import { penguinsConfig, projectApp } from './build.ts';

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every `Validations.of(x).acknowledge(...)` in the tree, with the construct it sits on. */
function acknowledgements(root: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        // aws-cdk-lib stores rule ids without a known prefix as annotation rules.
        found.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

/**
 * The app of one stage, synthesized as `cdk synth` does it: references between stacks are resolved
 * (findings on resources built from the data stack's bucket are named after their final form), and the
 * cdk-nag packs registered by `buildApp` have run — synth throws on any unacknowledged finding.
 */
function synthesizedApp(stage: string, config: DriftlineConfig = penguinsConfig()): App {
  const { app } = buildApp({ app: projectApp(), config, stage });
  app.synth();
  return app;
}

/** `AwsSolutions-IAM5[Resource::<data bucket ARN>/<folder>*]`, whatever the bucket reference renders as. */
function bucketWildcard(folder: string): unknown {
  const escaped = folder.replaceAll('/', '\\/').replaceAll('*', '\\*');
  return expect.stringMatching(new RegExp(`^AwsSolutions-IAM5\\[Resource::.*DataBucket.*\\}${escaped}\\]$`));
}

describe('cdk-nag', () => {
  it.each(['dev', 'prod'])(
    'finds nothing unacknowledged in the %s stage (AwsSolutions and Serverless)',
    (stage) => {
      // Prepare
      const app = synthesizedApp(stage);

      // Act
      const awsSolutions = new AwsSolutionsChecks(app).validateScope(app);
      const serverless = new ServerlessChecks(app).validateScope(app);

      // Assess
      expect(awsSolutions.violations).toEqual([]);
      expect(serverless.violations).toEqual([]);
    },
  );

  it('finds nothing unacknowledged with API-key auth', () => {
    const app = synthesizedApp('prod', penguinsConfig({ api: { auth: 'apiKey' } }));

    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
    expect(new ServerlessChecks(app).validateScope(app).violations).toEqual([]);
  });

  it('acknowledges exactly these findings, one rule on one resource each, with a reason', () => {
    const app = synthesizedApp('dev');

    const found = acknowledgements(app);

    const methods = ['predict/POST', 'feedback/POST', 'model/GET', 'health/GET'];
    const expected = [
      { path: 'Driftline-dev-Data/Data/AccessLogs/Bucket/Resource', id: 'AwsSolutions-S1' },
      {
        path: 'Driftline-dev-Inference/PredictRole/DefaultPolicy/Resource',
        id: 'AwsSolutions-IAM5[Resource::*]',
      },
      {
        path: 'Driftline-dev-Inference/PredictRole/DefaultPolicy/Resource',
        id: bucketWildcard('/runs/*/model.onnx'),
      },
      { path: 'Driftline-dev-Inference/Predict/Resource', id: 'Serverless-LambdaDLQ' },
      {
        path: 'Driftline-dev-Inference/Api/Api/CloudWatchRole/Resource',
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      },
      { path: 'Driftline-dev-Inference/Api/Api/DeploymentStage.v1/Resource', id: 'AwsSolutions-APIG3' },
      ...methods.map((method) => ({
        path: `Driftline-dev-Inference/Api/Api/Default/${method}/Resource`,
        id: 'AwsSolutions-COG4',
      })),
      ...['capture', 'feedback'].flatMap((kind) => {
        const path = `Driftline-dev-Inference/${kind === 'capture' ? 'Capture' : 'Feedback'}Delivery/DeliveryRole/DefaultPolicy/Resource`;
        return [
          { path, id: bucketWildcard(`/${kind}/*`) },
          { path, id: bucketWildcard(`/delivery-errors/${kind}/*`) },
        ];
      }),
    ];
    expect(found).toHaveLength(expected.length);
    expect(found).toEqual(
      expect.arrayContaining(expected.map((ack) => ({ ...ack, reason: expect.any(String) }))),
    );
    for (const ack of found) expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(40);
  });

  it('acknowledges API-key methods for AwsSolutions-APIG4 only when api.auth is apiKey', () => {
    const withKey = acknowledgements(synthesizedApp('prod', penguinsConfig({ api: { auth: 'apiKey' } })));
    const withIam = acknowledgements(synthesizedApp('prod'));

    expect(withKey.filter((a) => a.id === 'AwsSolutions-APIG4').map((a) => a.path)).toEqual([
      'Driftline-prod-Inference/Api/Api/Default/predict/POST/Resource',
      'Driftline-prod-Inference/Api/Api/Default/feedback/POST/Resource',
      'Driftline-prod-Inference/Api/Api/Default/model/GET/Resource',
      'Driftline-prod-Inference/Api/Api/Default/health/GET/Resource',
    ]);
    expect(withIam.filter((a) => a.id === 'AwsSolutions-APIG4')).toEqual([]);
  });

  it('runs on synth and fails it on an unacknowledged finding', () => {
    const { app, data } = buildApp({ app: projectApp(), config: penguinsConfig(), stage: 'prod' });
    new s3.Bucket(data, 'Unlogged', { enforceSSL: true });

    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });
});
