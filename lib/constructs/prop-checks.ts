/**
 * Checks shared by the constructs' props. They run before a construct adds itself to the tree, so a
 * rejected construct leaves nothing half-built behind.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The path a construct `id` will have under `scope`, for error messages written before it exists. */
export function futurePath(scope: Construct, id: string): string {
  return scope.node.path === '' ? id : `${scope.node.path}/${id}`;
}

/**
 * @throws Error unless `value` is a whole number of days, at least 1
 */
export function requireWholeDays(path: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${path}: ${name} must be a whole number of days >= 1, got ${value}`);
  }
}

/**
 * Emptying a bucket only makes sense when CloudFormation then deletes it; with any other policy the
 * objects would be lost while the bucket stays.
 * @throws Error when `autoDeleteObjects` is set without `RemovalPolicy.DESTROY`
 */
export function requireDestroyForAutoDelete(
  path: string,
  removalPolicy: RemovalPolicy,
  autoDeleteObjects: boolean,
): void {
  if (autoDeleteObjects && removalPolicy !== RemovalPolicy.DESTROY) {
    throw new Error(`${path}: autoDeleteObjects requires removalPolicy DESTROY`);
  }
}
