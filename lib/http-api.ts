/**
 * The HTTP API behind CloudFront's `/api/*`: one route, `ANY /api/{proxy+}`, to the `api`
 * handler, which authenticates with the httpOnly cookie itself (sign-in and callback routes are
 * anonymous by design, so no API Gateway authorizer fits). Its `$default` stage throttles
 * (FM-1.8) and writes JSON access logs.
 */
import { Aws, Duration, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import type { ConcordFunction, HandlerFactory, VpcPlacement } from './lambda-defaults';
import type { HandlerEnvironments } from './realtime';
import type { Tables } from './tables';

export const API_ROUTE = '/api/{proxy+}';

export const HTTP_ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  routeKey: '$context.routeKey',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  requestTime: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
});

export interface HttpApiProps {
  readonly config: StageConfig;
  readonly factory: HandlerFactory;
  readonly tables: Tables;
  readonly placement: VpcPlacement;
  readonly env: HandlerEnvironments;
  readonly grantDatabase: (fn: ConcordFunction) => void;
  readonly grantCache: (fn: ConcordFunction) => void;
}

export class HttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly handler: ConcordFunction;
  readonly accessLogs: logs.LogGroup;
  /** `<api>.execute-api.<region>.amazonaws.com`: the CloudFront origin for `/api/*`. */
  readonly originDomain: string;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    const { config, env, tables } = props;
    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `concord-${config.stage}-http`,
      description: 'Concord HTTP API (documents, sharing, snapshots, sign-in), served under /api/* by CloudFront',
      createDefaultStage: false,
    });
    this.originDomain = `${this.api.apiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;

    this.handler = props.factory.create(this, 'Handler', 'api', {
      description: 'Concord HTTP API: documents, sharing, snapshots, cookie sign-in',
      timeout: Duration.seconds(29),
      memorySize: 1024,
      placement: props.placement,
      environment: { ...env.tables, ...env.database, ...env.cache, ...env.auth, ...env.session },
    });
    tables.documents.grant(this.handler.fn, 'readWrite');
    // Sharing changes follow live sockets at once: their role is updated, or they are dropped.
    tables.connections.grant(this.handler.fn, 'readWrite');
    // Loading a document reads the op log; restoring a version appends to it like an edit.
    tables.opLog.grant(this.handler.fn, 'readWrite');
    props.grantDatabase(this.handler);
    props.grantCache(this.handler);

    const [route] = this.api.addRoutes({
      path: API_ROUTE,
      methods: [apigwv2.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('ApiIntegration', this.handler.fn, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });

    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'The api handler authenticates every request with the httpOnly access-token cookie (401 otherwise); sign-in, callback and refresh must be reachable without a token, so no API Gateway authorizer fits this single proxy route.',
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.stage = new apigwv2.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: config.httpThrottle,
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(HTTP_ACCESS_LOG_FORMAT),
      },
    });
  }
}
