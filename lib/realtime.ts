/**
 * Realtime: the WebSocket API (stage `ws`, so CloudFront's `/ws` maps to it without rewriting),
 * its four handlers, and the two op-log stream consumers.
 *
 * - `$connect` runs the REQUEST authorizer with identity sources `route.request.header.Cookie`
 *   (the httpOnly access-token cookie, sent same-origin through CloudFront) and
 *   `route.request.querystring.doc` (the document the socket is for; the role is per document).
 *   API Gateway answers 401 itself when either is missing.
 * - `$default` (message) and `$disconnect`. Authorizers are only possible on `$connect`.
 * - In the VPC (private subnets with NAT, for Aurora/ElastiCache and the public @connections
 *   API): authorizer, message, disconnect (presence lives in the cache), compact. Outside it:
 *   connect and fan-out, which need only DynamoDB and @connections.
 * - The stage throttles (FM-1.8) and writes JSON access logs.
 * - Fan-out: outside the VPC (it needs only DynamoDB and the public @connections API) on the
 *   op-log stream, with bisect-on-error, bounded retries and record age, partial batch
 *   responses and an SQS on-failure destination (FM-4.2), filtered to INSERTs of real entries.
 * - Compaction: the second and last consumer of the stream (DynamoDB allows two per shard).
 */
import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { HandlerName } from '../contracts/env';
import { STREAM_CONSUMERS, type StreamConsumerDefinition } from '../contracts/streams';
import { AUTHORIZER_IDENTITY_SOURCES, WEBSOCKET_STAGE } from '../contracts/websocket';
import type { StageConfig } from './config';
import { acknowledgeEach, nagRef } from './nag';
import type { ConcordFunction, HandlerFactory, VpcPlacement } from './lambda-defaults';
import type { Tables } from './tables';

// The stage name and identity sources are shared with the local stack's gateway emulator.
export { AUTHORIZER_IDENTITY_SOURCES, WEBSOCKET_STAGE };

/** A stream consumer's settings from contracts/streams.ts (shared with the local emulator). */
export function streamConsumer(handler: HandlerName): StreamConsumerDefinition {
  const found = STREAM_CONSUMERS.find((c) => c.handler === handler);
  if (!found) throw new Error(`contracts/streams.ts defines no stream consumer "${handler}".`);
  return found;
}

/** One JSON object per access-log line. */
export const WEBSOCKET_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  connectionId: '$context.connectionId',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  status: '$context.status',
  requestTime: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  messageSize: '$context.messageSize',
  integrationLatency: '$context.integration.latency',
  integrationStatus: '$context.integration.status',
  integrationError: '$context.integration.error',
  authorizerError: '$context.authorizer.error',
  userId: '$context.authorizer.principalId',
});

export interface RealtimeProps {
  readonly config: StageConfig;
  readonly factory: HandlerFactory;
  readonly tables: Tables;
  readonly placement: VpcPlacement;
  /** Environment groups (tables, database, cache, auth, session), built by the app stack. */
  readonly env: HandlerEnvironments;
  /** Grants database access (RDS Proxy IAM connect) to a handler. */
  readonly grantDatabase: (fn: ConcordFunction) => void;
  /** Grants reading the cache AUTH token to a handler. */
  readonly grantCache: (fn: ConcordFunction) => void;
}

export interface HandlerEnvironments {
  readonly tables: Record<string, string>;
  readonly database: Record<string, string>;
  readonly cache: Record<string, string>;
  readonly auth: Record<string, string>;
  readonly session: Record<string, string>;
}

export class Realtime extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  readonly accessLogs: logs.LogGroup;
  readonly authorizer: ConcordFunction;
  readonly connect: ConcordFunction;
  readonly disconnect: ConcordFunction;
  readonly message: ConcordFunction;
  readonly fanout: ConcordFunction;
  readonly compact: ConcordFunction;
  readonly fanoutFailures: sqs.Queue;
  readonly compactFailures: sqs.Queue;
  /** `https://<api>.execute-api.<region>.amazonaws.com/ws`: the @connections endpoint. */
  readonly connectionsEndpoint: string;
  /** `<api>.execute-api.<region>.amazonaws.com`: the CloudFront origin for `/ws`. */
  readonly originDomain: string;

  constructor(scope: Construct, id: string, props: RealtimeProps) {
    super(scope, id);
    const { config, factory, tables, placement, env } = props;

    // The API resource is created before the handlers so their environment can name it.
    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: `concord-${config.stage}-realtime`,
      description: 'Concord collaboration sockets (one per open document)',
      routeSelectionExpression: '$request.body.action',
    });
    this.originDomain = `${this.api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    this.connectionsEndpoint = `https://${this.originDomain}/${WEBSOCKET_STAGE}`;
    const connectionsEnv = { CONCORD_CONNECTIONS_ENDPOINT: this.connectionsEndpoint };

    this.authorizer = factory.create(this, 'Authorizer', 'authorizer', {
      description: 'Concord $connect authorizer: verifies the access-token cookie and the role on ?doc=',
      timeout: Duration.seconds(10),
      memorySize: 512,
      placement,
      environment: { ...env.tables, ...env.cache, ...env.auth },
    });
    tables.documents.grant(this.authorizer.fn, 'read');
    props.grantCache(this.authorizer);

    this.connect = factory.create(this, 'Connect', 'connect', {
      description: 'Concord $connect: registers the connection',
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: { ...env.tables },
    });
    tables.connections.grant(this.connect.fn, 'write');

    // In the VPC: it reads the departing cursor's presence from the cache to tell the others.
    this.disconnect = factory.create(this, 'Disconnect', 'disconnect', {
      description: 'Concord $disconnect: removes the connection, its chunk sets and its cursor',
      timeout: Duration.seconds(10),
      memorySize: 256,
      placement,
      environment: { ...env.tables, ...env.cache, ...connectionsEnv },
    });
    tables.connections.grant(this.disconnect.fn, 'readWrite');
    props.grantCache(this.disconnect);

    this.message = factory.create(this, 'Message', 'message', {
      description: 'Concord $default: validates, persists and acknowledges updates; answers sync; relays awareness',
      // API Gateway's integration timeout is 29 s.
      timeout: Duration.seconds(29),
      memorySize: 1024,
      placement,
      environment: { ...env.tables, ...env.database, ...env.cache, ...env.session, ...connectionsEnv },
    });
    tables.opLog.grant(this.message.fn, 'readWrite');
    tables.connections.grant(this.message.fn, 'readWrite');
    props.grantDatabase(this.message);
    props.grantCache(this.message);

    this.api.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('ConnectIntegration', this.connect.fn),
      authorizer: new WebSocketLambdaAuthorizer('CookieAuthorizer', this.authorizer.fn, {
        authorizerName: 'cookie',
        identitySource: [...AUTHORIZER_IDENTITY_SOURCES],
      }),
    });
    const disconnectRoute = this.api.addRoute('$disconnect', {
      integration: new WebSocketLambdaIntegration('DisconnectIntegration', this.disconnect.fn),
    });
    const defaultRoute = this.api.addRoute('$default', {
      integration: new WebSocketLambdaIntegration('MessageIntegration', this.message.fn),
    });
    for (const route of [disconnectRoute, defaultRoute]) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'API Gateway allows authorizers only on $connect; every later frame belongs to a connection the $connect authorizer admitted, and the message handler re-checks the stored role and token expiry per frame.',
      });
    }

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: WEBSOCKET_STAGE,
      autoDeploy: true,
      throttle: config.websocketThrottle,
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(WEBSOCKET_ACCESS_LOG_FORMAT),
      },
    });

    // Stream consumers.
    this.fanout = factory.create(this, 'Fanout', 'fanout', {
      description: 'Concord fan-out: posts each batch of op-log entries to every connection of the document',
      timeout: Duration.seconds(60),
      memorySize: 1024,
      environment: { ...env.tables, ...connectionsEnv },
    });
    // Connections: list by document, delete on 410. Op log: read the parts of split updates.
    tables.connections.grant(this.fanout.fn, 'readWrite');
    tables.opLog.grant(this.fanout.fn, 'read');
    this.fanoutFailures = this.failureQueue('FanoutFailures');
    this.fanout.fn.addEventSource(
      this.opLogEventSource(props, streamConsumer('fanout'), {
        startingPosition: lambda.StartingPosition.LATEST,
        parallelizationFactor: config.streams.fanoutParallelization,
        onFailure: this.fanoutFailures,
      }),
    );

    this.compact = factory.create(this, 'Compact', 'compact', {
      description: 'Concord compaction: merges a long op-log tail into an Aurora snapshot, then removes exactly the merged entries',
      timeout: Duration.minutes(2),
      memorySize: 1536,
      placement,
      environment: { ...env.tables, ...env.database, ...env.session },
    });
    tables.opLog.grant(this.compact.fn, 'readWrite');
    props.grantDatabase(this.compact);
    this.compactFailures = this.failureQueue('CompactFailures');
    this.compact.fn.addEventSource(
      this.opLogEventSource(props, streamConsumer('compact'), {
        // Compaction must see every entry written while it was being deployed.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        parallelizationFactor: 1,
        onFailure: this.compactFailures,
      }),
    );

    // postToConnection (fan-out, sync replies, awareness, departed cursors); DELETE only for
    // message (close after REAUTH or for an unknown connection).
    this.grantManageConnections(this.fanout, ['POST']);
    this.grantManageConnections(this.disconnect, ['POST']);
    this.grantManageConnections(this.message, ['POST', 'DELETE']);
  }

  private grantManageConnections(handler: ConcordFunction, methods: ('POST' | 'DELETE')[]): void {
    acknowledgeEach(
      handler.role,
      methods.map(
        (method) =>
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${nagRef(this.api)}/${WEBSOCKET_STAGE}/${method}/@connections/*]`,
      ),
      'Connection ids are created at run time, so @connections permissions name this API, its ws stage and the method, with a wildcard only for the connection id.',
    );
    handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['execute-api:ManageConnections'],
        resources: methods.map((method) =>
          Stack.of(this).formatArn({
            service: 'execute-api',
            resource: this.api.apiId,
            resourceName: `${WEBSOCKET_STAGE}/${method}/@connections/*`,
          }),
        ),
      }),
    );
  }

  /**
   * An op-log stream event source: batch, bisect, retries, record age, partial batch responses
   * and filter from the shared contract; the stage may lengthen retries and record age (prod).
   */
  private opLogEventSource(
    props: RealtimeProps,
    definition: StreamConsumerDefinition,
    options: { startingPosition: lambda.StartingPosition; parallelizationFactor: number; onFailure: sqs.IQueue },
  ): DynamoEventSource {
    const { streams } = props.config;
    return new DynamoEventSource(props.tables.opLogTable, {
      startingPosition: options.startingPosition,
      batchSize: definition.batchSize,
      maxBatchingWindow: Duration.seconds(definition.maxBatchingWindowSeconds),
      parallelizationFactor: options.parallelizationFactor,
      bisectBatchOnError: definition.bisectBatchOnError,
      retryAttempts: streams.retryAttempts ?? definition.retryAttempts,
      maxRecordAge: streams.maxRecordAge ?? Duration.seconds(definition.maxRecordAgeSeconds),
      reportBatchItemFailures: definition.reportBatchItemFailures,
      onFailure: new SqsDlq(options.onFailure),
      filters: (definition.filterPatterns ?? []).map((pattern) => lambda.FilterCriteria.filter(pattern as Record<string, unknown>)),
    });
  }

  /** An encrypted, TLS-only queue holding the metadata of batches a consumer gave up on. */
  private failureQueue(id: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the on-failure destination of a stream consumer (a dead-letter queue); nothing consumes it automatically, so it needs no DLQ of its own.',
    });
    return queue;
  }
}
