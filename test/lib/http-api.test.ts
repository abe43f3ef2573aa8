import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTE } from '../../lib/http-api';
import { actionsOfRole, functionByService, resourcesOfType, statementsOfRole, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
});

describe('HTTP API (lib/http-api.ts)', () => {
  it('routes every /api/* request to the api handler (payload v2)', () => {
    const api = functionByService(dev.appStack, 'api');
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: `ANY ${API_ROUTE}` });
    const integration = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Integration').find(([, i]) => JSON.stringify(i.Properties.IntegrationUri).includes(api.logicalId))!;
    expect(integration[1].Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  it('FM-1.8: throttles its $default stage and writes JSON access logs', () => {
    const [[, stage]] = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Stage').filter(([, s]) => s.Properties.StageName === '$default');
    expect(stage.Properties).toMatchObject({ AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, DetailedMetricsEnabled: true } });
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format as string)).toMatchObject({ requestId: '$context.requestId', status: '$context.status', path: '$context.path' });
  });

  it('lets the api handler write documents, live connections (role changes) and the op log (restores), without Scan or wildcards', () => {
    const roleId = functionByService(dev.appStack, 'api').props.Role['Fn::GetAtt'][0] as string;
    const dynamo = statementsOfRole(dev.appStack, roleId).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    const writes = dynamo.filter((s) => JSON.stringify(s.Action).match(/PutItem|DeleteItem|UpdateItem/));
    expect(writes.map((s) => JSON.stringify(s.Resource).match(/Tables(OpLog|Connections|Documents)/)![0]).sort()).toEqual(['TablesConnections', 'TablesDocuments', 'TablesOpLog']);
    expect(actionsOfRole(dev.appStack, roleId).filter((a) => a === 'dynamodb:Scan' || a.endsWith('*'))).toEqual([]);
    expect(JSON.stringify(dynamo.map((s) => s.Resource))).toContain('/index/byMember');
    expect(JSON.stringify(dynamo.map((s) => s.Resource))).toContain('/index/byDocument');
    expect(actionsOfRole(dev.appStack, roleId)).not.toContain('execute-api:ManageConnections');
  });
});
