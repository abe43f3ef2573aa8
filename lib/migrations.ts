/**
 * Schema migrations at deploy time (FM-3.4): a CloudFormation custom resource whose provider
 * (the CDK Provider framework) calls the `migrate` handler as its onEvent function. The handler
 * applies the versioned, forward-only SQL migrations through RDS Proxy. The resource's
 * `BundleHash` property is the hash of the migrate bundle, so any change to the migrations
 * (which are bundled into it) triggers an Update, and therefore a migration run, on the next
 * deploy; an unchanged bundle does nothing. A failed migration fails the deploy, and
 * CloudFormation rolls the app stack back before new handlers serve traffic.
 */
import { CustomResource, Duration, Validations } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import { nagRef } from './nag';
import type { ConcordFunction, HandlerFactory, VpcPlacement } from './lambda-defaults';

export interface MigrationsProps {
  readonly config: StageConfig;
  readonly factory: HandlerFactory;
  readonly placement: VpcPlacement;
  readonly databaseEnv: Record<string, string>;
  readonly grantDatabase: (fn: ConcordFunction) => void;
}

export class Migrations extends Construct {
  readonly handler: ConcordFunction;
  readonly provider: cr.Provider;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    this.handler = props.factory.create(this, 'Handler', 'migrate', {
      description: 'Concord schema migrations (custom resource onEvent)',
      timeout: Duration.minutes(10),
      memorySize: 512,
      placement: props.placement,
      environment: { ...props.databaseEnv },
    });
    props.grantDatabase(this.handler);

    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.config.logRetention,
        removalPolicy: props.config.removalPolicy,
      }),
    });
    const framework = this.provider.node.findChild('framework-onEvent');
    Validations.of(framework).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The Provider framework function (aws-cdk-lib) writes only its own logs with the AWS basic execution policy; it holds no data permissions.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${nagRef(this.handler.fn, 'Arn')}:*]`,
        reason: 'The Provider framework may invoke any version of exactly the migrate function; it can invoke nothing else.',
      },
    );

    this.resource = new CustomResource(this, 'Run', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::ConcordMigrations',
      properties: { BundleHash: bundleHash(this.handler) },
    });
  }
}

/** The asset hash of a function's bundle (changes exactly when its code changes). */
function bundleHash(handler: ConcordFunction): string {
  const asset = handler.fn.node.tryFindChild('Code');
  if (!(asset instanceof s3assets.Asset)) {
    throw new Error(`Cannot find the code asset of ${handler.node.path}; the migrations trigger needs it.`);
  }
  return asset.assetHash;
}
