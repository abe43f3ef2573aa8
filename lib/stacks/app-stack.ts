import { CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../../contracts/env';
import { WebClient } from '../auth';
import type { StageConfig } from '../config';
import { DATABASE_NAME, DATABASE_PORT, DATABASE_USER } from '../database';
import { Edge } from '../edge';
import { HttpApi } from '../http-api';
import { HandlerFactory, type ConcordFunction, type VpcPlacement } from '../lambda-defaults';
import { Migrations } from '../migrations';
import type { Network } from '../network';
import { Observability } from '../observability';
import { Realtime, WEBSOCKET_STAGE, type HandlerEnvironments } from '../realtime';
import type { DataStack } from './data-stack';

export interface AppStackProps extends StackProps {
  readonly config: StageConfig;
  readonly network: Network;
  readonly data: DataStack;
  /** The web client build folder (`web/dist`). */
  readonly webDist: string;
}

/**
 * Everything stateless: handlers, both APIs, CloudFront and the site bucket, the web app client,
 * migrations and observability. Replacing or destroying this stack loses no data.
 *
 * The site origin (`CONCORD_SITE_ORIGIN`, the Cognito callback URL) is the custom domain when one
 * is configured, else the distribution's domain. That does not create a cycle because it all
 * lives in this one stack and CloudFormation orders resources, not constructs: the distribution
 * needs only the two `AWS::ApiGatewayV2::Api` resources (their ids form the origin domains), the
 * handlers and the app client need the distribution, and the API routes/integrations need the
 * handlers. Api <- Distribution <- (AppClient, Functions) <- Integrations/Routes. A test checks
 * that every template is acyclic.
 */
export class AppStack extends Stack {
  readonly realtime: Realtime;
  readonly httpApi: HttpApi;
  readonly edge: Edge;
  readonly webClient: WebClient;
  readonly migrations: Migrations;
  readonly observability: Observability;
  readonly handlers: ConcordFunction[];

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { config, network, data } = props;
    const factory = new HandlerFactory({ config });
    const placement: VpcPlacement = { vpc: network.vpc, securityGroup: network.handlerSecurityGroup };

    const env: HandlerEnvironments = {
      tables: {
        [ENV.OP_LOG_TABLE]: data.tables.opLog.table.tableName,
        [ENV.CONNECTIONS_TABLE]: data.tables.connections.table.tableName,
        [ENV.DOCUMENTS_TABLE]: data.tables.documents.table.tableName,
      },
      database: {
        [ENV.DB_HOST]: data.database.proxy.endpoint,
        [ENV.DB_PORT]: String(DATABASE_PORT),
        [ENV.DB_NAME]: DATABASE_NAME,
        [ENV.DB_USER]: DATABASE_USER,
      },
      cache: {
        [ENV.REDIS_URL]: data.cache.url,
        [ENV.REDIS_AUTH_SECRET_ARN]: data.cache.authSecret.secretArn,
      },
      // The client id and the site origin are added once the distribution and client exist.
      auth: {
        [ENV.JWT_ISSUER]: data.users.issuer,
        [ENV.JWKS_URL]: data.users.jwksUrl,
      },
      session: {
        [ENV.COMPACT_AFTER_ENTRIES]: String(config.handlers.compactAfterEntries),
        [ENV.RATE_LIMIT_PER_SECOND]: String(config.handlers.rateLimitPerSecond),
      },
    };
    // IAM authentication through RDS Proxy: rds-db:connect for exactly this user on this proxy.
    const grantDatabase = (handler: ConcordFunction) => {
      data.database.proxy.grantConnect(handler.fn, DATABASE_USER);
    };
    const grantCache = (handler: ConcordFunction) => {
      data.cache.authSecret.grantRead(handler.fn);
    };

    const apiGatewayLogging = new ApiGatewayAccountLogging(this, 'ApiGatewayLogging');

    this.realtime = new Realtime(this, 'Realtime', { config, factory, tables: data.tables, placement, env, grantDatabase, grantCache });
    this.realtime.stage.node.addDependency(apiGatewayLogging);
    this.httpApi = new HttpApi(this, 'Http', { config, factory, tables: data.tables, placement, env, grantDatabase, grantCache });

    this.edge = new Edge(this, 'Edge', {
      config,
      webDist: props.webDist,
      httpApiDomain: this.httpApi.originDomain,
      websocketApiDomain: this.realtime.originDomain,
      // Referenced by name: CDK must not add a policy naming this stack's bucket to the data
      // stack (that would be a cross-stack cycle); the data stack grants log delivery itself.
      logBucket: s3.Bucket.fromBucketAttributes(this, 'AccessLogBucket', {
        bucketName: data.logs.bucket.bucketName,
        bucketRegionalDomainName: data.logs.bucket.bucketRegionalDomainName,
      }),
      signInOrigin: data.users.hostedUiBaseUrl,
    });

    this.webClient = new WebClient(this, 'WebClient', { config, userPool: data.users.userPool, siteOrigin: this.edge.siteOrigin });
    const clientId = this.webClient.client.userPoolClientId;
    for (const handler of [this.realtime.authorizer, this.httpApi.handler]) {
      handler.addEnvironment(ENV.JWT_AUDIENCE, clientId);
      handler.addEnvironment(ENV.SITE_ORIGIN, this.edge.siteOrigin);
    }
    this.httpApi.handler.addEnvironment(ENV.COGNITO_CLIENT_ID, clientId);
    this.httpApi.handler.addEnvironment(ENV.COGNITO_DOMAIN, data.users.hostedUiBaseUrl);

    this.migrations = new Migrations(this, 'Migrations', { config, factory, placement, databaseEnv: env.database, grantDatabase });
    // New handlers are wired into the APIs only after the schema is migrated.
    for (const handler of [this.realtime.message, this.realtime.compact, this.httpApi.handler]) {
      handler.fn.node.addDependency(this.migrations.resource);
    }

    this.handlers = [
      this.realtime.authorizer,
      this.realtime.connect,
      this.realtime.disconnect,
      this.realtime.message,
      this.realtime.fanout,
      this.realtime.compact,
      this.httpApi.handler,
      this.migrations.handler,
    ];
    this.observability = new Observability(this, 'Observability', {
      config,
      handlers: this.handlers,
      streamConsumers: [
        { handler: this.realtime.fanout, failures: this.realtime.fanoutFailures },
        { handler: this.realtime.compact, failures: this.realtime.compactFailures },
      ],
      httpApiId: this.httpApi.api.apiId,
      websocketApiId: this.realtime.api.apiId,
      websocketStage: WEBSOCKET_STAGE,
      cluster: data.database.cluster,
      cacheNodeIds: data.cache.memberClusterIds,
    });

    new CfnOutput(this, 'SiteUrl', { value: `${this.edge.siteOrigin}/`, description: 'Open this in a browser' });
    new CfnOutput(this, 'WebSocketUrl', { value: `wss://${this.edge.siteHost}/${WEBSOCKET_STAGE}`, description: 'The collaboration socket (through CloudFront)' });
    new CfnOutput(this, 'DistributionDomain', {
      value: this.edge.distribution.distributionDomainName,
      description: 'Point the custom domain (CNAME / alias) here',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: `Concord-${config.stage}` });
  }
}

/**
 * API Gateway writes WebSocket access logs through an account-wide CloudWatch role. The role is
 * retained on teardown: other APIs of the account may rely on the same setting.
 */
class ApiGatewayAccountLogging extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway account role for CloudWatch logging (Concord WebSocket access logs)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new apigateway.CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'This is the AWS-documented policy for the API Gateway account logging role; API Gateway itself creates and writes the log groups it names.',
    });
  }
}
