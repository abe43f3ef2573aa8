import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, loadStageConfig } from '../../lib/config';

const from = (context: Record<string, unknown>) => loadStageConfig((key) => context[key]);
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666';

describe('stage configuration (lib/config.ts)', () => {
  it('defaults to dev when no stage is given', () => {
    expect(from({}).stage).toBe('dev');
  });

  it('makes prod the safe stage: retained data, deletion protection, a NAT per AZ, longer backups, stricter alarms', () => {
    const dev = from({ stage: 'dev' });
    const prod = from({ stage: 'prod' });
    expect(prod.removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(prod.deletionProtection).toBe(true);
    expect(prod.natGateways).toBe(2);
    expect(prod.aurora.backupRetention.toDays()).toBeGreaterThan(dev.aurora.backupRetention.toDays());
    expect(prod.cache.snapshotRetentionDays).toBeGreaterThan(dev.cache.snapshotRetentionDays);
    expect(prod.alarms.iteratorAgeMs).toBeLessThan(dev.alarms.iteratorAgeMs);
    expect(prod.auth.mfa).toBe('required');
    expect(dev.removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(dev.deletionProtection).toBe(false);
  });

  it('FM-4.1: every stage keeps at least two cache nodes', () => {
    for (const stage of ['dev', 'prod']) expect(from({ stage }).cache.numCacheClusters).toBeGreaterThanOrEqual(2);
  });

  it('refuses an unknown stage with an actionable message', () => {
    expect(() => from({ stage: 'staging' })).toThrow(ConfigurationError);
    expect(() => from({ stage: 'staging' })).toThrow(/-c stage=dev or -c stage=prod/);
  });

  it('takes a custom domain only with its us-east-1 certificate', () => {
    expect(from({ domainName: 'docs.example.com', certificateArn: CERT }).customDomain).toEqual({ domainName: 'docs.example.com', certificateArn: CERT });
    expect(() => from({ domainName: 'docs.example.com' })).toThrow(/both -c domainName/);
    expect(() => from({ certificateArn: CERT })).toThrow(/both -c domainName/);
    expect(() => from({ domainName: 'docs.example.com', certificateArn: CERT.replace('us-east-1', 'eu-west-1') })).toThrow(/us-east-1/);
    expect(() => from({ domainName: 'Not A Host', certificateArn: CERT })).toThrow(/not a valid/);
  });

  it('validates the optional alarm e-mail and WAF web ACL', () => {
    expect(from({ alarmEmail: 'ops@example.com' }).alarmEmail).toBe('ops@example.com');
    expect(() => from({ alarmEmail: 'ops' })).toThrow(/e-mail/);
    expect(() => from({ webAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y' })).toThrow(/CLOUDFRONT scope/);
    expect(() => from({ stage: 42 })).toThrow(/must be a string/);
  });
});
