import type { DynamoDBRecord } from 'aws-lambda';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { triageRecord } from '../../lambdas/stream-records';
import { OP_LOG_ENTRY_FILTER_PATTERN, STREAM_CONSUMERS } from '../../contracts/streams';
import { AUTHORIZER_IDENTITY_SOURCES, WEBSOCKET_STAGE } from '../../lib/realtime';
import { actionsOfRole, functionByService, resourcesOfType, statementsOfRole, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

const roleOf = (s: Synthesized, handler: string) => functionByService(s.appStack, handler).props.Role['Fn::GetAtt'][0] as string;

function mappingFor(s: Synthesized, handler: string) {
  const { logicalId } = functionByService(s.appStack, handler);
  const found = resourcesOfType(s.appStack, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.FunctionName.Ref === logicalId);
  expect(found, `event source mapping of ${handler}`).toHaveLength(1);
  return found[0][1].Properties;
}

/**
 * The subset of Lambda event-filter pattern semantics the op-log filter uses: a list of literals
 * (equality), `anything-but`, and `exists: false` on a leaf.
 */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule) => {
      if (rule && typeof rule === 'object') {
        if ('exists' in rule) return (value !== undefined) === rule.exists;
        if ('anything-but' in rule) return value !== undefined && !(rule['anything-but'] as unknown[]).includes(value);
        throw new Error(`unsupported rule ${JSON.stringify(rule)}`);
      }
      return rule === value;
    });
  }
  const obj = (value ?? {}) as Record<string, unknown>;
  return Object.entries(pattern as Record<string, unknown>).every(([key, sub]) => matches(sub, obj[key]));
}

const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', image: Record<string, unknown> | undefined): DynamoDBRecord =>
  ({ eventID: '1', eventName, dynamodb: { SequenceNumber: '100', NewImage: image } }) as unknown as DynamoDBRecord;

const entryImage = { docId: { S: 'doc-1' }, seq: { N: '7' }, update: { B: 'AAE=' }, userId: { S: 'alice' }, connectionId: { S: 'c1' }, serverTime: { N: '1' } };
const splitEntryImage = { docId: { S: 'doc-1' }, seq: { N: '8' }, partKey: { S: 'doc-1#part#x' }, parts: { N: '3' }, bytes: { N: '900000' }, userId: { S: 'a' }, connectionId: { S: 'c' }, serverTime: { N: '1' } };
const headImage = { docId: { S: 'doc-1' }, seq: { N: '0' }, floor: { N: '40' } };
const partImage = (seq: string) => ({ docId: { S: 'doc-1#part#x' }, seq: { N: seq }, kind: { S: 'part' }, piece: { B: 'AAE=' } });

describe('realtime (lib/realtime.ts)', () => {
  it('FM-1.2, FM-2.1: API Gateway holds every socket (no servers or load balancers of ours)', () => {
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET' });
    for (const s of [dev, prod]) {
      for (const template of [s.network, s.data, s.appStack]) {
        for (const type of ['AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::EC2::Instance', 'AWS::AutoScaling::AutoScalingGroup', 'AWS::ECS::Service']) {
          template.resourceCountIs(type, 0);
        }
      }
    }
  });

  it('routes $connect through the cookie REQUEST authorizer, and $default / $disconnect to their handlers', () => {
    const [[authorizerId]] = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Authorizer');
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.header.Cookie', 'route.request.querystring.doc'],
      AuthorizerUri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [functionByService(dev.appStack, 'authorizer').logicalId, 'Arn'] }])] }),
    });
    expect(AUTHORIZER_IDENTITY_SOURCES).toContain('route.request.header.Cookie');
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$connect', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
    const routes = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey).sort();
    expect(routes).toEqual(['$connect', '$default', '$disconnect', 'ANY /api/{proxy+}']);
    const integrations = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Integration').map(([, i]) => JSON.stringify(i.Properties.IntegrationUri));
    for (const handler of ['connect', 'message', 'disconnect', 'api']) {
      const { logicalId } = functionByService(dev.appStack, handler);
      expect(integrations.filter((uri) => uri.includes(`"${logicalId}"`)), handler).toHaveLength(1);
    }
  });

  it('FM-1.8: the stage is named ws, throttles, and writes JSON access logs (through the account logging role)', () => {
    dev.appStack.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: WEBSOCKET_STAGE,
      AutoDeploy: true,
      DefaultRouteSettings: { DetailedMetricsEnabled: true, ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
    prod.appStack.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'ws', DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: 2000 }) });
    const [[, stage]] = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Stage').filter(([, st]) => st.Properties.StageName === 'ws');
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format as string);
    expect(format).toMatchObject({ requestId: '$context.requestId', connectionId: '$context.connectionId', routeKey: '$context.routeKey', status: '$context.status' });
    dev.appStack.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: Match.anyValue() });
    expect(Object.values(dev.appStack.findResources('AWS::ApiGatewayV2::Stage')).find((r) => r.Properties.StageName === 'ws')?.DependsOn).toEqual(
      expect.arrayContaining([expect.stringMatching(/^ApiGatewayLogging/)]),
    );
    expect(functionByService(dev.appStack, 'message').props.Environment.Variables.CONCORD_RATE_LIMIT_PER_SECOND).toBe('50');
  });

  it('FM-1.2: fan-out posts to every connection of the document through @connections of this API', () => {
    const fanout = functionByService(dev.appStack, 'fanout');
    const apiId = resourcesOfType(dev.appStack, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET')![0];
    expect(fanout.props.Environment.Variables.CONCORD_CONNECTIONS_ENDPOINT).toEqual({
      'Fn::Join': ['', ['https://', { Ref: apiId }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/ws']],
    });
    const manage = statementsOfRole(dev.appStack, roleOf(dev, 'fanout')).filter((s) => s.Action === 'execute-api:ManageConnections');
    expect(manage).toHaveLength(1);
    expect(JSON.stringify(manage[0].Resource)).toContain(`{"Ref":"${apiId}"},"/ws/POST/@connections/*"`);
    // Listing a document's connections is a Query on the byDocument index.
    const query = statementsOfRole(dev.appStack, roleOf(dev, 'fanout')).find((s) => JSON.stringify(s.Action).includes('dynamodb:Query') && JSON.stringify(s.Resource).includes('/index/byDocument'));
    expect(query).toBeDefined();
  });

  it('FM-1.3: exactly two consumers (fan-out and compaction) read the op-log stream; nothing polls on a schedule', () => {
    const mappings = resourcesOfType(dev.appStack, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(2);
    for (const [, m] of mappings) expect(m.Properties.EventSourceArn).toEqual({ 'Fn::ImportValue': expect.stringMatching(/TablesOpLog.*StreamArn/) });
    expect(mappingFor(dev, 'fanout').StartingPosition).toBe('LATEST');
    expect(mappingFor(dev, 'compact').StartingPosition).toBe('TRIM_HORIZON');
    for (const template of [dev.network, dev.data, dev.appStack]) {
      template.resourceCountIs('AWS::Events::Rule', 0);
      template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    }
  });

  it('FM-4.2: both consumers bisect failing batches, retry a bounded number of times, drop records past a maximum age, report partial failures and send the rest to an encrypted SQS queue', () => {
    for (const [s, retries, ageSeconds] of [[dev, 5, 3600], [prod, 10, 21600]] as const) {
      for (const handler of ['fanout', 'compact']) {
        const props = mappingFor(s, handler);
        expect(props).toMatchObject({
          BisectBatchOnFunctionError: true,
          MaximumRetryAttempts: retries,
          MaximumRecordAgeInSeconds: ageSeconds,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        });
        const queueId = props.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0] as string;
        s.appStack.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
        expect(resourcesOfType(s.appStack, 'AWS::SQS::Queue').map(([id]) => id)).toContain(queueId);
      }
    }
    expect(mappingFor(prod, 'fanout').ParallelizationFactor).toBe(4);
    // Dev runs exactly the settings the local stack's stream emulator uses (contracts/streams.ts).
    for (const consumer of STREAM_CONSUMERS) {
      expect(mappingFor(dev, consumer.handler), consumer.handler).toMatchObject({
        BatchSize: consumer.batchSize,
        MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds,
        BisectBatchOnFunctionError: consumer.bisectBatchOnError,
        MaximumRetryAttempts: consumer.retryAttempts,
        MaximumRecordAgeInSeconds: consumer.maxRecordAgeSeconds,
      });
    }
  });

  it('FM-4.2: the stream filter admits exactly what the handlers treat as entries (same rule as lambdas/stream-records.ts)', () => {
    const pattern = JSON.parse(mappingFor(dev, 'fanout').FilterCriteria.Filters[0].Pattern as string);
    expect(pattern).toEqual(OP_LOG_ENTRY_FILTER_PATTERN);
    expect(mappingFor(dev, 'compact').FilterCriteria.Filters[0].Pattern).toBe(JSON.stringify(pattern));
    const cases: [string, DynamoDBRecord][] = [
      ['entry insert', record('INSERT', entryImage)],
      ['split entry insert', record('INSERT', splitEntryImage)],
      ['head insert (seq 0)', record('INSERT', headImage)],
      ['first part (seq 0)', record('INSERT', partImage('0'))],
      ['later part (seq 2)', record('INSERT', partImage('2'))],
      ['head floor raised', record('MODIFY', headImage)],
      ['entry removed by compaction', record('REMOVE', undefined)],
    ];
    for (const [name, r] of cases) {
      const admitted = matches(pattern, { eventName: r.eventName, dynamodb: r.dynamodb });
      expect(admitted, name).toBe(triageRecord(r).kind === 'entry');
    }
    expect(cases.filter(([, r]) => matches(pattern, { eventName: r.eventName, dynamodb: r.dynamodb })).map(([n]) => n)).toEqual(['entry insert', 'split entry insert']);
  });

  it('keeps fan-out and connect outside the VPC, and puts the handlers that need Aurora or ElastiCache in private subnets with NAT', () => {
    for (const handler of ['fanout', 'connect']) expect(functionByService(dev.appStack, handler).props.VpcConfig, handler).toBeUndefined();
    for (const handler of ['message', 'authorizer', 'disconnect', 'compact', 'api', 'migrate']) {
      const vpc = functionByService(dev.appStack, handler).props.VpcConfig;
      expect(vpc, handler).toBeDefined();
      expect(JSON.stringify(vpc.SubnetIds)).toMatch(/NetworkVpchandlersSubnet1.*NetworkVpchandlersSubnet2/);
      expect(JSON.stringify(vpc.SecurityGroupIds)).toMatch(/HandlerSecurityGroup/);
    }
  });

  it('grants each realtime handler only the table actions it performs (least privilege)', () => {
    const dynamo = (handler: string) => actionsOfRole(dev.appStack, roleOf(dev, handler)).filter((a) => a.startsWith('dynamodb:'));
    const tablesTouched = (handler: string) =>
      [...new Set(statementsOfRole(dev.appStack, roleOf(dev, handler)).filter((s) => JSON.stringify(s.Action).includes('dynamodb:')).flatMap((s) => [JSON.stringify(s.Resource).match(/Tables(OpLog|Connections|Documents)/g) ?? []].flat()))].sort();
    expect(dynamo('connect').sort()).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(tablesTouched('connect')).toEqual(['TablesConnections']);
    expect(dynamo('authorizer').some((a) => /Put|Update|Delete|Write/.test(a))).toBe(false);
    expect(tablesTouched('authorizer')).toEqual(['TablesDocuments']);
    expect(tablesTouched('message')).toEqual(['TablesConnections', 'TablesOpLog']);
    expect(tablesTouched('fanout')).toEqual(['TablesConnections', 'TablesOpLog']);
    const fanoutOpLog = statementsOfRole(dev.appStack, roleOf(dev, 'fanout')).filter((s) => JSON.stringify(s.Resource).includes('TablesOpLog'));
    expect(fanoutOpLog.flatMap((s) => s.Action).some((a: string) => /Put|Update|Delete|Write/.test(a)), 'fan-out never writes the op log').toBe(false);
    for (const handler of ['connect', 'disconnect', 'message', 'fanout', 'compact', 'authorizer', 'api', 'migrate']) {
      const actions = actionsOfRole(dev.appStack, roleOf(dev, handler));
      expect(actions.filter((a) => a.endsWith('*') || a === 'dynamodb:Scan'), handler).toEqual([]);
    }
    expect(statementsOfRole(dev.appStack, roleOf(dev, 'message')).filter((s) => s.Action === 'execute-api:ManageConnections').flatMap((s) => s.Resource)).toHaveLength(2);
    expect(statementsOfRole(dev.appStack, roleOf(dev, 'disconnect')).filter((s) => s.Action === 'execute-api:ManageConnections').flatMap((s) => s.Resource)).toHaveLength(1);
    expect(actionsOfRole(dev.appStack, roleOf(dev, 'connect'))).not.toContain('execute-api:ManageConnections');
  });
});
