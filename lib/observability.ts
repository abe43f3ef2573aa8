/**
 * Observability (FM-2.2, FM-7.1, FM-7.2): one dashboard and a set of alarms, all notifying one
 * encrypted SNS topic (plus an optional e-mail subscription), and RDS events (failover, failure)
 * on the same topic.
 *
 * Alarms: stream iterator age of both consumers (back-pressure), on-failure queue depth (a batch
 * was given up on), errors and throttles of every handler, HTTP API 5xx/4xx, WebSocket errors and
 * a connect storm, Aurora capacity ceiling, ElastiCache CPU and memory on every node.
 * Dashboard: the end-to-end latency the handlers publish as EMF (ack latency, stream-to-fan-out
 * delay), traffic, back-pressure and data-tier health. Handlers are traced with X-Ray.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import type { ConcordFunction } from './lambda-defaults';

/** Namespace of the handlers' EMF metrics (POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'Concord';

export interface ObservabilityProps {
  readonly config: StageConfig;
  readonly handlers: readonly ConcordFunction[];
  /** Stream consumers and their on-failure queues. */
  readonly streamConsumers: readonly { readonly handler: ConcordFunction; readonly failures: sqs.IQueue }[];
  readonly httpApiId: string;
  readonly websocketApiId: string;
  readonly websocketStage: string;
  readonly cluster: rds.DatabaseCluster;
  readonly cacheNodeIds: readonly string[];
}

const FIVE_MINUTES = Duration.minutes(5);

export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config } = props;
    const t = config.alarms;

    const key = new kms.Key(this, 'TopicKey', {
      description: `Concord ${config.stage} alarm topic encryption`,
      enableKeyRotation: true,
      removalPolicy: config.removalPolicy,
    });
    // CloudWatch alarms and RDS events publish to the encrypted topic.
    for (const service of ['cloudwatch.amazonaws.com', 'events.rds.amazonaws.com']) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
    this.topic = new sns.Topic(this, 'Alarms', {
      displayName: `Concord ${config.stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // The SSL-only policy replaces SNS's default one, so the publishers are allowed explicitly.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsAndRdsEventsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com'), new iam.ServicePrincipal('events.rds.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    if (config.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const notify = new actions.SnsAction(this.topic);

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string, comparison = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: comparison,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
      this.alarms.push(created);
      return created;
    };

    // Back-pressure (FM-7.2).
    for (const { handler, failures } of props.streamConsumers) {
      const name = handler.handlerName;
      alarm(
        `${capitalize(name)}IteratorAge`,
        handler.fn.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
        t.iteratorAgeMs,
        `${name}: the op-log stream iterator age passed ${t.iteratorAgeMs} ms; the consumer is falling behind.`,
      );
      alarm(
        `${capitalize(name)}FailureQueueDepth`,
        failures.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }),
        0,
        `${name}: a stream batch was given up on and its record pointers are in the on-failure queue; replay or inspect them.`,
      );
    }
    // Handler health (FM-2.2).
    for (const handler of props.handlers) {
      const name = handler.handlerName;
      alarm(`${capitalize(name)}Errors`, handler.fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), t.lambdaErrors, `${name}: more than ${t.lambdaErrors} errors in 5 minutes.`);
      alarm(`${capitalize(name)}Throttles`, handler.fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }), t.lambdaThrottles, `${name}: invocations throttled (concurrency limit).`, cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD);
    }

    // API Gateway.
    const httpMetric = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/ApiGateway', metricName, dimensionsMap: { ApiId: props.httpApiId }, statistic: 'Sum', period: FIVE_MINUTES });
    const wsMetric = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.websocketApiId, Stage: props.websocketStage },
        statistic,
        period: FIVE_MINUTES,
      });
    alarm('Http5xx', httpMetric('5xx'), t.http5xx, `HTTP API: more than ${t.http5xx} 5xx responses in 5 minutes.`);
    alarm('Http4xx', httpMetric('4xx'), t.http4xx, `HTTP API: more than ${t.http4xx} 4xx responses in 5 minutes (broken client or probing).`);
    alarm(
      'WebSocketErrors',
      new cloudwatch.MathExpression({
        expression: 'integration + execution',
        usingMetrics: { integration: wsMetric('IntegrationError'), execution: wsMetric('ExecutionError') },
        period: FIVE_MINUTES,
        label: 'WebSocket integration + execution errors',
      }),
      t.websocketErrors,
      `WebSocket API: more than ${t.websocketErrors} integration/execution errors in 5 minutes.`,
    );
    alarm('ConnectStorm', wsMetric('ConnectCount'), t.connectStorm, `WebSocket API: more than ${t.connectStorm} connects in 5 minutes (reconnect storm?).`);

    // Data tier health.
    alarm(
      'AuroraCapacity',
      props.cluster.metricACUUtilization({ statistic: 'Maximum', period: FIVE_MINUTES }),
      t.auroraAcuUtilizationPercent,
      `Aurora: capacity utilisation above ${t.auroraAcuUtilizationPercent}% of the configured maximum ACUs.`,
    );
    const cacheMetric = (metricName: string) => {
      // Ids must be unique within a graph that shows several of these expressions.
      const idOf = (i: number) => `${metricName.toLowerCase()}${i}`;
      return new cloudwatch.MathExpression({
        expression: `MAX([${props.cacheNodeIds.map((_, i) => idOf(i)).join(', ')}])`,
        usingMetrics: Object.fromEntries(
          props.cacheNodeIds.map((nodeId, i) => [
            idOf(i),
            new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: nodeId }, statistic: 'Maximum', period: FIVE_MINUTES }),
          ]),
        ),
        period: FIVE_MINUTES,
        label: `${metricName} (max over nodes)`,
      });
    };
    alarm('CacheCpu', cacheMetric('EngineCPUUtilization'), t.cacheEngineCpuPercent, `ElastiCache: engine CPU above ${t.cacheEngineCpuPercent}% on a node.`);
    alarm('CacheMemory', cacheMetric('DatabaseMemoryUsagePercentage'), t.cacheMemoryPercent, `ElastiCache: memory above ${t.cacheMemoryPercent}% on a node.`);

    // Aurora failovers and failures as events on the same topic.
    new rds.CfnEventSubscription(this, 'AuroraEvents', {
      snsTopicArn: this.topic.topicArn,
      sourceType: 'db-cluster',
      sourceIds: [props.cluster.clusterIdentifier],
      eventCategories: ['failover', 'failure', 'notification', 'maintenance'],
      enabled: true,
    });

    // Dashboard.
    const emf = (handler: string, metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: `concord-${handler}` },
        statistic,
        period: Duration.minutes(1),
        label,
      });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `Concord-${config.stage}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Edit latency (ms): ack after durable write, stream to fan-out',
        left: [
          emf('message', 'AckLatency', 'p50', 'ack p50'),
          emf('message', 'AckLatency', 'p99', 'ack p99'),
          emf('fanout', 'FanoutDelay', 'p50', 'fan-out delay p50'),
          emf('fanout', 'FanoutDelay', 'p99', 'fan-out delay p99'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Traffic',
        left: [wsMetric('ConnectCount'), wsMetric('MessageCount'), httpMetric('Count')],
        right: [emf('message', 'UpdatesStored', 'Sum', 'updates stored'), emf('fanout', 'FanoutRecipients', 'Sum', 'fan-out recipients')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Back-pressure: stream iterator age (ms) and on-failure queues',
        left: props.streamConsumers.map(({ handler }) => handler.fn.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1), label: `${handler.handlerName} iterator age` })),
        right: props.streamConsumers.map(({ handler, failures }) => failures.metricApproximateNumberOfMessagesVisible({ label: `${handler.handlerName} failures` })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Refusals, 410s and cache fallbacks',
        left: [
          emf('message', 'RateLimited', 'Sum', 'rate limited'),
          emf('message', 'FramesRefused', 'Sum', 'frames refused'),
          emf('fanout', 'Gone410', 'Sum', '410 Gone'),
          emf('message', 'CacheFailures', 'Sum', 'cache fallbacks (message)'),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Handler errors and throttles',
        left: props.handlers.map((h) => h.fn.metricErrors({ period: FIVE_MINUTES, label: `${h.handlerName} errors` })),
        right: props.handlers.map((h) => h.fn.metricThrottles({ period: FIVE_MINUTES, label: `${h.handlerName} throttles` })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API Gateway errors',
        left: [httpMetric('4xx'), httpMetric('5xx')],
        right: [wsMetric('ClientError'), wsMetric('IntegrationError'), wsMetric('ExecutionError')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Aurora',
        left: [props.cluster.metricServerlessDatabaseCapacity({ period: FIVE_MINUTES }), props.cluster.metricACUUtilization({ period: FIVE_MINUTES })],
        right: [props.cluster.metricDatabaseConnections({ period: FIVE_MINUTES })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'ElastiCache (max over nodes)',
        left: [cacheMetric('EngineCPUUtilization'), cacheMetric('DatabaseMemoryUsagePercentage')],
        right: [cacheMetric('CurrConnections')],
        width: 12,
      }),
    );
  }
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
