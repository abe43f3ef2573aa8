import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { Network } from '../network';

export interface NetworkStackProps extends StackProps {
  readonly config: StageConfig;
}

/** The VPC, its endpoints and flow logs, and the handler security group. */
export class NetworkStack extends Stack {
  readonly network: Network;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    this.network = new Network(this, 'Network', { config: props.config });
  }
}
