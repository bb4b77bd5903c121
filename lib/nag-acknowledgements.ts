/**
 * Acknowledging cdk-nag findings (cdk-nag 3: `Validations.of(construct).acknowledge`), always one rule
 * on one construct's CloudFormation resource, with the reason the finding does not apply.
 */
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/** The CloudFormation resource of a construct (itself when it is one). */
export function cfnResourceOf(construct: IConstruct): CfnResource {
  if (CfnResource.isCfnResource(construct)) return construct;
  const child = construct.node.defaultChild;
  if (child === undefined || !CfnResource.isCfnResource(child)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to acknowledge a finding on`);
  }
  return child;
}

/**
 * Acknowledge the finding `id` (e.g. `AwsSolutions-COG4`, or `AwsSolutions-IAM4[Policy::…]` for one
 * finding of a rule with several) on the CloudFormation resource of `construct`.
 */
export function acknowledgeFinding(construct: IConstruct, id: string, reason: string): void {
  Validations.of(cfnResourceOf(construct)).acknowledge({ id, reason });
}

/**
 * Acknowledge `AwsSolutions-IAM5` for exactly one wildcard `resource` of an IAM policy.
 *
 * cdk-nag names the finding after the resource as it appears in the template, and a resource built from
 * another stack's bucket only gets its final form (a cross-stack reference) when the app is prepared
 * for synthesis. The acknowledgement is therefore recorded by a validation of the policy, which CDK runs
 * after references are resolved and before the cdk-nag plugins inspect the templates; checks must run
 * on a synthesized app (`app.synth()`), as `cdk synth` does.
 */
export function acknowledgeWildcardResource(policy: IConstruct, resource: string, reason: string): void {
  const cfnPolicy = cfnResourceOf(policy);
  let recorded = false;
  cfnPolicy.node.addValidation({
    validate: () => {
      if (!recorded) {
        recorded = true;
        const rendered = flattenCfnReference(Stack.of(cfnPolicy).resolve(resource));
        Validations.of(cfnPolicy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
      }
      return [];
    },
  });
}
