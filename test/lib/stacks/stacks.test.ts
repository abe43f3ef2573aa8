import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCycle, resourcesOfType, synthConcord, type Synthesized } from '../support/synth';

let dev: Synthesized;
let prod: Synthesized;
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666';
let custom: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
  custom = synthConcord({ stage: 'prod', context: { domainName: 'docs.example.com', certificateArn: CERT } });
});

const STATEFUL_TYPES = ['AWS::DynamoDB::Table', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::ElastiCache::ReplicationGroup', 'AWS::Cognito::UserPool', 'AWS::SecretsManager::Secret'];

describe('stack composition (lib/app.ts, lib/stacks/*)', () => {
  it('names the stacks per stage and deploys network, then data, then the app', () => {
    expect([dev.stacks.network.stackName, dev.stacks.data.stackName, dev.stacks.app.stackName]).toEqual(['Concord-dev-Network', 'Concord-dev-Data', 'Concord-dev-App']);
    expect(prod.stacks.app.stackName).toBe('Concord-prod-App');
    expect(dev.stacks.data.dependencies).toEqual([dev.stacks.network]);
    expect(new Set(dev.stacks.app.dependencies)).toEqual(new Set([dev.stacks.network, dev.stacks.data]));
  });

  it('keeps every stateful resource in the data stack (the app stack can be replaced without touching data)', () => {
    for (const type of STATEFUL_TYPES) {
      expect(resourcesOfType(dev.data, type).length, type).toBeGreaterThan(0);
      expect(resourcesOfType(dev.appStack, type), type).toHaveLength(0);
      expect(resourcesOfType(dev.network, type), type).toHaveLength(0);
    }
    // The only bucket outside the data stack is the site bucket: build output rewritten by each deploy.
    expect(Object.keys(dev.appStack.findResources('AWS::S3::Bucket'))).toEqual([expect.stringMatching(/^EdgeSiteBucket/)]);
    expect(prod.stacks.data.terminationProtection).toBe(true);
    expect(dev.stacks.data.terminationProtection).toBe(false);
  });

  it('has no dependency cycle in any template (site origin, app client and handlers included), with or without a custom domain', () => {
    for (const s of [dev, prod, custom]) {
      for (const template of [s.network, s.data, s.appStack]) expect(findCycle(template)).toBeNull();
    }
  });

  it('the cycle check itself finds a cycle when there is one', () => {
    const fake = { toJSON: () => ({ Resources: { A: { Type: 'X', Properties: { p: { Ref: 'B' } } }, B: { Type: 'X', Properties: { q: { 'Fn::GetAtt': ['C', 'Arn'] } } }, C: { Type: 'X', DependsOn: ['A'] } } }) };
    expect(findCycle(fake as never)).toEqual(['A', 'B', 'C', 'A']);
  });

  it('outputs the site URL and the socket URL', () => {
    dev.appStack.hasOutput('SiteUrl', { Value: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^EdgeDistribution'), 'DomainName'] }, '/']] } });
    custom.appStack.hasOutput('SiteUrl', { Value: 'https://docs.example.com/' });
    custom.appStack.hasOutput('WebSocketUrl', { Value: 'wss://docs.example.com/ws' });
  });
});
