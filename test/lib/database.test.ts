import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_NAME, DATABASE_USER } from '../../lib/database';
import { functionByService, resourcesOfType, statementsOfRole, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

describe('Aurora PostgreSQL (lib/database.ts)', () => {
  it('FM-3.3: is encrypted, uses IAM authentication, keeps automated backups and exports its logs', () => {
    for (const [s, retention] of [[dev, 1], [prod, 14]] as const) {
      s.data.hasResourceProperties('AWS::RDS::DBCluster', {
        Engine: 'aurora-postgresql',
        EngineVersion: Match.stringLikeRegexp('^1[6-9]\\.'),
        StorageEncrypted: true,
        EnableIAMDatabaseAuthentication: true,
        BackupRetentionPeriod: retention,
        EnableCloudwatchLogsExports: ['postgresql'],
        DatabaseName: DATABASE_NAME,
        MasterUsername: DATABASE_USER,
        ServerlessV2ScalingConfiguration: { MinCapacity: Match.anyValue(), MaxCapacity: Match.anyValue() },
      });
    }
  });

  it('FM-3.3: is deletion-protected and retained in prod only', () => {
    prod.data.hasResource('AWS::RDS::DBCluster', { Properties: Match.objectLike({ DeletionProtection: true }), DeletionPolicy: 'Retain' });
    dev.data.hasResource('AWS::RDS::DBCluster', { Properties: Match.objectLike({ DeletionProtection: false }), DeletionPolicy: 'Delete' });
  });

  it('FM-6.1: runs a Serverless v2 writer and a reader in the other AZ, first in line for promotion', () => {
    const instances = resourcesOfType(dev.data, 'AWS::RDS::DBInstance').map(([, i]) => i.Properties);
    expect(instances).toHaveLength(2);
    expect(instances.every((i) => i.DBInstanceClass === 'db.serverless' && i.PubliclyAccessible === false)).toBe(true);
    const byTier = new Map(instances.map((i) => [i.PromotionTier, i.AvailabilityZone]));
    expect(byTier.get(0)).toEqual({ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] });
    expect(byTier.get(1)).toEqual({ 'Fn::Select': [1, { 'Fn::GetAZs': '' }] });
  });

  it('FM-5.3: never puts the master password in the template: it is generated and resolved from Secrets Manager, and rotated', () => {
    dev.data.hasResourceProperties('AWS::RDS::DBCluster', {
      MasterUserPassword: { 'Fn::Join': ['', Match.arrayWith(['{{resolve:secretsmanager:', ':SecretString:password::}}'])] },
    });
    dev.data.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: JSON.stringify({ username: DATABASE_USER }) }),
    });
    dev.data.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });

  it('puts RDS Proxy in front, requiring TLS and IAM auth, reachable only from the handler security group', () => {
    dev.data.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: 'concord-dev',
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      Auth: [Match.objectLike({ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED' })],
    });
    const ingress = resourcesOfType(dev.data, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    const intoProxy = ingress.filter((r) => JSON.stringify(r.GroupId).includes('DatabaseProxySecurityGroup'));
    expect(intoProxy).toHaveLength(1);
    expect(intoProxy[0]).toMatchObject({ FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp' });
    expect(JSON.stringify(intoProxy[0].SourceSecurityGroupId)).toMatch(/Concord-dev-Network:.*HandlerSecurityGroup/);
    // Nothing reaches the database tier from an address range.
    expect(ingress.some((r) => r.CidrIp || r.CidrIpv6)).toBe(false);
  });

  it('lets handlers connect through the proxy as exactly the database user (rds-db:connect), with IAM tokens', () => {
    for (const handler of ['message', 'compact', 'api', 'migrate']) {
      const fn = functionByService(dev.appStack, handler);
      expect(fn.props.Environment.Variables).toMatchObject({
        CONCORD_DB_PORT: '5432',
        CONCORD_DB_NAME: DATABASE_NAME,
        CONCORD_DB_USER: DATABASE_USER,
        CONCORD_DB_HOST: { 'Fn::ImportValue': expect.stringMatching(/DatabaseClusterProxy.*Endpoint/) },
      });
      expect(fn.props.Environment.Variables.DATABASE_URL).toBeUndefined();
      const roleId = fn.props.Role['Fn::GetAtt'][0] as string;
      const connect = statementsOfRole(dev.appStack, roleId).filter((s) => s.Action === 'rds-db:connect');
      expect(connect, handler).toHaveLength(1);
      expect(JSON.stringify(connect[0].Resource)).toContain(`/${DATABASE_USER}`);
    }
    for (const handler of ['connect', 'disconnect', 'fanout', 'authorizer']) {
      const fn = functionByService(dev.appStack, handler);
      expect(fn.props.Environment.Variables.CONCORD_DB_HOST, handler).toBeUndefined();
      const roleId = fn.props.Role['Fn::GetAtt'][0] as string;
      expect(statementsOfRole(dev.appStack, roleId).some((s) => s.Action === 'rds-db:connect'), handler).toBe(false);
    }
  });
});
