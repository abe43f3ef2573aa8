/**
 * Helpers for cdk-nag acknowledgements that must name a finding exactly. cdk-nag renders a
 * token in a finding id as `<LogicalId>` or `<LogicalId.Attribute>`; these build that text from
 * the construct, so an acknowledgement follows a rename instead of silently going stale.
 */
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** `<LogicalId>` or `<LogicalId.Attr>` for a construct's CloudFormation resource. */
export function nagRef(construct: IConstruct, attribute?: string): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource to reference.`);
  const logicalId = Stack.of(element).getLogicalId(element);
  return `<${logicalId}${attribute ? `.${attribute}` : ''}>`;
}

/** Acknowledges each finding id on one construct with the same reason. */
export function acknowledgeEach(construct: IConstruct, ids: readonly string[], reason: string): void {
  Validations.of(construct).acknowledge(...ids.map((id) => ({ id, reason })));
}

/** The stack-level singleton a CDK construct creates (BucketDeployment, LogRetention, ...). */
export function findSingleton(stack: Stack, idPrefix: string): IConstruct {
  const found = stack.node.children.filter((child) => child.node.id.startsWith(idPrefix));
  if (found.length !== 1) {
    throw new Error(`Expected exactly one "${idPrefix}*" singleton in ${stack.stackName}, found ${found.length}.`);
  }
  return found[0];
}
