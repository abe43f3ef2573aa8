import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_PORT } from '../../lib/cache';
import { functionByService, resourcesOfType, statementsOfRole, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

describe('ElastiCache (lib/cache.ts)', () => {
  it('FM-4.1: is a Multi-AZ Valkey replication group with automatic failover and at least two nodes', () => {
    for (const s of [dev, prod]) {
      s.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        NumCacheClusters: Match.anyValue(),
        MultiAZEnabled: true,
        AutomaticFailoverEnabled: true,
      });
      const [[, group]] = resourcesOfType(s.data, 'AWS::ElastiCache::ReplicationGroup');
      expect(group.Properties.NumCacheClusters).toBeGreaterThanOrEqual(2);
    }
  });

  it('FM-4.1: encrypts in transit (TLS required) and at rest, and keeps snapshots', () => {
    dev.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      SnapshotRetentionLimit: 1,
    });
    prod.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { SnapshotRetentionLimit: 7 });
  });

  it('FM-5.3: takes its AUTH token from a generated Secrets Manager secret by dynamic reference, never as text', () => {
    dev.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('^CacheAuthToken') }, ':SecretString:::}}']] },
    });
    dev.data.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('ElastiCache AUTH token'),
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
    });
  });

  it('FM-4.1: admits only the handler security group, on the cache port', () => {
    const ingress = resourcesOfType(dev.data, 'AWS::EC2::SecurityGroupIngress')
      .map(([, r]) => r.Properties)
      .filter((r) => JSON.stringify(r.GroupId).includes('CacheSecurityGroup'));
    expect(ingress).toHaveLength(1);
    expect(ingress[0]).toMatchObject({ FromPort: CACHE_PORT, ToPort: CACHE_PORT, IpProtocol: 'tcp' });
    expect(JSON.stringify(ingress[0].SourceSecurityGroupId)).toMatch(/Concord-dev-Network:.*HandlerSecurityGroup/);
    dev.data.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Concord cache'),
      SecurityGroupIngress: Match.absent(),
    });
  });

  it('gives the cache URL (rediss://) and the secret ARN to the handlers that use it, and read access to that secret only', () => {
    for (const handler of ['authorizer', 'message', 'disconnect', 'api']) {
      const fn = functionByService(dev.appStack, handler);
      const vars = fn.props.Environment.Variables;
      expect(JSON.stringify(vars.REDIS_URL)).toContain('rediss://');
      expect(vars.CONCORD_REDIS_AUTH_SECRET_ARN).toEqual({ 'Fn::ImportValue': expect.stringMatching(/CacheAuthToken/) });
      const roleId = fn.props.Role['Fn::GetAtt'][0] as string;
      const secretStatements = statementsOfRole(dev.appStack, roleId).filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'));
      expect(secretStatements, handler).toHaveLength(1);
      expect(secretStatements[0].Resource).toEqual(vars.CONCORD_REDIS_AUTH_SECRET_ARN);
    }
    // Out-of-VPC handlers could not reach the cache: they get no URL (the in-process fallback).
    for (const handler of ['connect', 'fanout', 'compact', 'migrate']) {
      expect(functionByService(dev.appStack, handler).props.Environment.Variables.REDIS_URL, handler).toBeUndefined();
    }
  });
});
