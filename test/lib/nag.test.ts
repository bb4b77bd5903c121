import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';
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

describe('cdk-nag', () => {
  it.each(['dev', 'prod'])(
    'finds nothing unacknowledged in the %s stage (AwsSolutions and Serverless)',
    (stage) => {
      // Prepare
      const { app } = buildApp({ app: projectApp(), config: penguinsConfig(), stage });

      // Act
      const awsSolutions = new AwsSolutionsChecks(app).validateScope(app);
      const serverless = new ServerlessChecks(app).validateScope(app);

      // Assess
      expect(awsSolutions.violations).toEqual([]);
      expect(serverless.violations).toEqual([]);
    },
  );

  it('acknowledges only AwsSolutions-S1 on the access-log bucket itself, with a reason', () => {
    const { app } = buildApp({ app: projectApp(), config: penguinsConfig(), stage: 'dev' });

    const found = acknowledgements(app);

    expect(found).toEqual([
      {
        path: 'Driftline-dev-Data/Data/AccessLogs/Bucket/Resource',
        id: 'AwsSolutions-S1',
        reason: expect.any(String),
      },
    ]);
    expect(found[0]?.reason.length).toBeGreaterThan(40);
  });

  it('runs on synth and fails it on an unacknowledged finding', () => {
    const { app, data } = buildApp({ app: projectApp(), config: penguinsConfig(), stage: 'prod' });
    new s3.Bucket(data, 'Unlogged', { enforceSSL: true });

    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });
});
