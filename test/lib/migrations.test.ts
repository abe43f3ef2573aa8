import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionByService, resourcesOfType, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
});

describe('migrations at deploy (lib/migrations.ts)', () => {
  it('FM-3.4: a custom resource runs the migrate handler through the Provider framework on every deploy that changes it', () => {
    const migrate = functionByService(dev.appStack, 'migrate');
    const [[runId, run]] = resourcesOfType(dev.appStack, 'Custom::ConcordMigrations');
    const frameworkId = run.Properties.ServiceToken['Fn::GetAtt'][0] as string;
    dev.appStack.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'framework.onEvent',
      Environment: { Variables: { USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [migrate.logicalId, 'Arn'] } } },
    });
    expect(resourcesOfType(dev.appStack, 'AWS::Lambda::Function').map(([id]) => id)).toContain(frameworkId);
    // The trigger is the migrate bundle's asset hash: new migrations (bundled into it) re-run.
    expect(run.Properties.BundleHash).toMatch(/^[0-9a-f]{64}$/);
    expect(migrate.props.Code.S3Key).toBe(`${run.Properties.BundleHash}.zip`);
    expect(runId).toMatch(/^MigrationsRun/);
  });

  it('FM-3.4: migrates before the handlers that use the schema are updated', () => {
    const [[runId]] = resourcesOfType(dev.appStack, 'Custom::ConcordMigrations');
    for (const handler of ['message', 'compact', 'api']) {
      const resource = dev.appStack.toJSON().Resources[functionByService(dev.appStack, handler).logicalId];
      expect(resource.DependsOn, handler).toEqual(expect.arrayContaining([runId]));
    }
  });

  it('runs the migrate handler in the VPC with only the database settings', () => {
    const { props } = functionByService(dev.appStack, 'migrate');
    expect(props.VpcConfig).toBeDefined();
    expect(Object.keys(props.Environment.Variables).filter((k) => k.startsWith('CONCORD_')).sort()).toEqual(['CONCORD_DB_HOST', 'CONCORD_DB_NAME', 'CONCORD_DB_PORT', 'CONCORD_DB_USER']);
    expect(props.Timeout).toBeGreaterThanOrEqual(300);
    dev.appStack.hasResourceProperties('AWS::Logs::LogGroup', Match.objectLike({ RetentionInDays: 7 }));
  });
});
