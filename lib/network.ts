/**
 * Network: a VPC across two AZs with
 * - public subnets (NAT gateways only),
 * - private subnets with NAT egress for the handlers that reach Aurora or ElastiCache: they
 *   also call the public `@connections` API, which a VPC cannot reach through an execute-api
 *   interface endpoint with private DNS (see BLUEPRINT §4), so they need NAT,
 * - isolated subnets for Aurora, RDS Proxy and ElastiCache (no route out at all),
 * - gateway endpoints for DynamoDB and S3 (free, and keep that traffic off the NAT),
 * - flow logs to CloudWatch Logs.
 * The handler security group lives here because both the data stack (ingress rules) and the
 * app stack (functions) refer to it.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

export interface NetworkProps {
  readonly config: StageConfig;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Security group of every handler placed in the VPC; the only source allowed into data. */
  readonly handlerSecurityGroup: ec2.SecurityGroup;
  readonly flowLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { config } = props;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'handlers', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
      // Nothing uses the default security group; strip its allow-all rules.
      restrictDefaultSecurityGroup: true,
    });
    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    this.handlerSecurityGroup = new ec2.SecurityGroup(this, 'HandlerSecurityGroup', {
      vpc: this.vpc,
      description: 'Concord handlers in the VPC (message, authorizer, compact, api, migrate)',
      // Handlers call AWS APIs, @connections and Cognito over HTTPS, and the data tier.
      allowAllOutbound: true,
    });
  }
}
