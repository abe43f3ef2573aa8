import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { resourcesOfType, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

describe('network (lib/network.ts)', () => {
  it('FM-2.3: spreads every subnet tier over two availability zones', () => {
    const subnets = resourcesOfType(dev.network, 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(6);
    const azIndexes = subnets.map(([, s]) => JSON.stringify(s.Properties.AvailabilityZone['Fn::Select'][0]));
    expect(new Set(azIndexes)).toEqual(new Set(['0', '1']));
    const tiers = subnets.map(([, s]) => s.Properties.Tags.find((t: { Key: string }) => t.Key === 'aws-cdk:subnet-type').Value);
    expect(tiers.sort()).toEqual(['Isolated', 'Isolated', 'Private', 'Private', 'Public', 'Public']);
  });

  it('FM-2.3: gives prod a NAT gateway per AZ (dev shares one), so private handlers keep egress to @connections', () => {
    dev.network.resourceCountIs('AWS::EC2::NatGateway', 1);
    prod.network.resourceCountIs('AWS::EC2::NatGateway', 2);
    // Every private (handler) subnet routes 0.0.0.0/0 through a NAT gateway.
    const natRoutes = resourcesOfType(prod.network, 'AWS::EC2::Route').filter(([, r]) => r.Properties.NatGatewayId);
    expect(natRoutes).toHaveLength(2);
  });

  it('keeps DynamoDB and S3 traffic on gateway endpoints', () => {
    for (const service of ['dynamodb', 's3']) {
      dev.network.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([`.${service}`])] }),
      });
    }
  });

  it('records flow logs of all traffic to CloudWatch Logs with the stage retention', () => {
    dev.network.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    dev.network.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    prod.network.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('creates the handler security group with no ingress at all', () => {
    dev.network.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Concord handlers'),
      SecurityGroupIngress: Match.absent(),
    });
  });
});
