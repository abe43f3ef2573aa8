import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_ENTRIES } from '../../contracts/env';
import { loadStageConfig } from '../../lib/config';
import { HandlerFactory, LAMBDA_RUNTIME } from '../../lib/lambda-defaults';
import { functionByService, resourcesOfType, scratchDir, statementsOfRole, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;
const handlers = Object.keys(HANDLER_ENTRIES);

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

describe('Lambda defaults factory (lib/lambda-defaults.ts)', () => {
  it('builds one function per handler entry of contracts/env.ts, and no other Concord function', () => {
    for (const handler of handlers) expect(() => functionByService(dev.appStack, handler), handler).not.toThrow();
    const concord = resourcesOfType(dev.appStack, 'AWS::Lambda::Function').filter(([, f]) => String(f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME ?? '').startsWith('concord-'));
    expect(concord).toHaveLength(handlers.length);
  });

  it('uses the newest Node.js runtime on ARM64 with source maps, the ESM bundle entry and the service name', () => {
    expect(LAMBDA_RUNTIME.name).toBe('nodejs24.x');
    for (const handler of handlers) {
      const { props } = functionByService(dev.appStack, handler);
      expect(props, handler).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
      expect(props.Environment.Variables).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: `concord-${handler}`, POWERTOOLS_LOG_LEVEL: 'DEBUG' });
      expect(functionByService(prod.appStack, handler).props.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('INFO');
    }
  });

  it('FM-7.1: logs JSON into an explicit log group per function, with the stage retention', () => {
    for (const [s, days] of [[dev, 7], [prod, 90]] as const) {
      const groups = new Map(resourcesOfType(s.appStack, 'AWS::Logs::LogGroup').map(([id, g]) => [id, g.Properties]));
      for (const handler of handlers) {
        const { props } = functionByService(s.appStack, handler);
        expect(props.LoggingConfig.LogFormat, handler).toBe('JSON');
        const groupId = props.LoggingConfig.LogGroup.Ref as string;
        expect(groups.get(groupId)?.RetentionInDays, handler).toBe(days);
      }
    }
  });

  it('gives each function its own role with no AWS managed policy, writing only to its own log group', () => {
    const roles = new Map(resourcesOfType(dev.appStack, 'AWS::IAM::Role').map(([id, r]) => [id, r.Properties]));
    for (const handler of handlers) {
      const { props } = functionByService(dev.appStack, handler);
      const roleId = props.Role['Fn::GetAtt'][0] as string;
      expect(roles.get(roleId)?.ManagedPolicyArns, handler).toBeUndefined();
      const logStatements = statementsOfRole(dev.appStack, roleId).filter((st) => JSON.stringify(st.Action).includes('logs:'));
      expect(logStatements, handler).toEqual([
        { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [props.LoggingConfig.LogGroup.Ref, 'Arn'] } },
      ]);
      // Wildcard resources only where AWS offers nothing narrower: X-Ray, ENIs for VPC functions,
      // and ListStreams for stream consumers.
      const wildcard = statementsOfRole(dev.appStack, roleId).filter((st) => st.Resource === '*').flatMap((st) => [st.Action].flat());
      for (const action of wildcard) expect(action, handler).toMatch(/^(xray:|dynamodb:ListStreams$|ec2:(Create|Describe|Delete|Assign|Unassign)[A-Za-z]*(NetworkInterface|Subnets|PrivateIpAddresses))/);
      expect(wildcard.some((a) => a.startsWith('ec2:')), handler).toBe(props.VpcConfig !== undefined);
    }
  });

  it('refuses to build a handler whose entry file is missing, naming the file and the contract', () => {
    const root = scratchDir('concord-no-handlers-');
    const factory = new HandlerFactory({ config: loadStageConfig(() => undefined), repoRoot: root });
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Scratch');
    expect(() => factory.create(stack, 'Fanout', 'fanout', { description: 'x', timeout: Duration.seconds(10) })).toThrow(
      new RegExp(`${join(root, 'lambdas', 'fanout.ts').replace(/[/.]/g, '\\$&')}.*HANDLER_ENTRIES\\.fanout`),
    );
  });
});
