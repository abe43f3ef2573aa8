import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_ENTRIES } from '../../contracts/env';
import { functionByService, resourcesOfType, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev', context: { alarmEmail: 'ops@example.com' } });
  prod = synthConcord({ stage: 'prod' });
});

const alarms = (s: Synthesized) => resourcesOfType(s.appStack, 'AWS::CloudWatch::Alarm').map(([id, a]) => ({ id, ...a.Properties }) as Record<string, any>);
const topicId = (s: Synthesized) => resourcesOfType(s.appStack, 'AWS::SNS::Topic')[0][0];
const handlerNames = Object.keys(HANDLER_ENTRIES);

describe('observability (lib/observability.ts)', () => {
  it('FM-7.2: alarms on the iterator age of both stream consumers, with the stage threshold', () => {
    for (const [s, threshold] of [[dev, 30_000], [prod, 10_000]] as const) {
      for (const handler of ['fanout', 'compact']) {
        const { logicalId } = functionByService(s.appStack, handler);
        const found = alarms(s).filter((a) => a.MetricName === 'IteratorAge' && JSON.stringify(a.Dimensions).includes(logicalId));
        expect(found, handler).toHaveLength(1);
        expect(found[0]).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Maximum', Threshold: threshold, ComparisonOperator: 'GreaterThanThreshold' });
      }
    }
  });

  it('FM-7.2: alarms as soon as a batch lands in either on-failure queue', () => {
    const queues = resourcesOfType(dev.appStack, 'AWS::SQS::Queue').map(([id]) => id);
    expect(queues).toHaveLength(2);
    for (const queueId of queues) {
      const found = alarms(dev).filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(queueId));
      expect(found, queueId).toHaveLength(1);
      expect(found[0]).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    }
  });

  it('FM-2.2, FM-7.2: alarms on errors and throttles of every handler', () => {
    for (const handler of handlerNames) {
      const { logicalId } = functionByService(dev.appStack, handler);
      const mine = alarms(dev).filter((a) => a.Namespace === 'AWS/Lambda' && JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: logicalId } }]));
      const expected = ['fanout', 'compact'].includes(handler) ? ['Errors', 'IteratorAge', 'Throttles'] : ['Errors', 'Throttles'];
      expect(mine.map((a) => a.MetricName).sort(), handler).toEqual(expected);
      expect(mine.find((a) => a.MetricName === 'Throttles')).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
  });

  it('FM-2.2: alarms on HTTP API 4xx/5xx, WebSocket errors and connect storms, Aurora capacity and ElastiCache CPU and memory', () => {
    const byMetric = (name: string) => alarms(dev).filter((a) => a.MetricName === name);
    expect(byMetric('5xx')).toHaveLength(1);
    expect(byMetric('4xx')).toHaveLength(1);
    expect(byMetric('ConnectCount')).toHaveLength(1);
    expect(byMetric('ACUUtilization')[0]).toMatchObject({ Namespace: 'AWS/RDS', Threshold: 90 });
    const metricsOf = (a: Record<string, any>) => (a.Metrics ?? []).map((m: any) => m.MetricStat?.Metric).filter(Boolean);
    const wsErrors = alarms(dev).find((a) => metricsOf(a).some((m: any) => m.MetricName === 'IntegrationError'))!;
    expect(metricsOf(wsErrors).map((m: any) => m.MetricName).sort()).toEqual(['ExecutionError', 'IntegrationError']);
    for (const metric of ['EngineCPUUtilization', 'DatabaseMemoryUsagePercentage']) {
      const cache = alarms(dev).find((a) => metricsOf(a).some((m: any) => m.MetricName === metric))!;
      const nodes = metricsOf(cache).map((m: any) => m.Dimensions[0].Value).sort();
      expect(nodes, metric).toEqual(['concord-dev-cache-001', 'concord-dev-cache-002']);
    }
  });

  it('sends every alarm (and its recovery) to one encrypted topic, with Aurora failover events and an optional e-mail', () => {
    const topic = topicId(dev);
    for (const a of alarms(dev)) {
      expect(a.AlarmActions, a.id).toEqual([{ Ref: topic }]);
      expect(a.OKActions, a.id).toEqual([{ Ref: topic }]);
    }
    expect(alarms(dev).length).toBeGreaterThanOrEqual(2 * 2 + 2 * handlerNames.length + 6);
    dev.appStack.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    dev.appStack.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    dev.appStack.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: ['cloudwatch.amazonaws.com', 'events.rds.amazonaws.com'] },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    dev.appStack.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topic } });
    prod.appStack.resourceCountIs('AWS::SNS::Subscription', 0);
    dev.appStack.hasResourceProperties('AWS::RDS::EventSubscription', {
      SnsTopicArn: { Ref: topic },
      SourceType: 'db-cluster',
      EventCategories: Match.arrayWith(['failover', 'failure']),
    });
  });

  it('FM-7.1: traces every handler and charts end-to-end latency (EMF ack latency and fan-out delay) on the dashboard', () => {
    for (const handler of handlerNames) {
      expect(functionByService(dev.appStack, handler).props.TracingConfig, handler).toEqual({ Mode: 'Active' });
      expect(functionByService(dev.appStack, handler).props.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Concord');
    }
    const [[, dashboard]] = resourcesOfType(dev.appStack, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const expected of ['\\"Concord\\",\\"AckLatency\\",\\"service\\",\\"concord-message\\"', '\\"Concord\\",\\"FanoutDelay\\",\\"service\\",\\"concord-fanout\\"', 'IteratorAge', 'ApproximateNumberOfMessagesVisible']) {
      expect(body, expected).toContain(expected);
    }
    expect(body).toContain('p99');
  });
});
