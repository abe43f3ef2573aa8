/**
 * The shared Lambda defaults factory: every Concord handler is built here, so runtime, bundling,
 * logging, tracing and IAM baseline are decided once.
 *
 * - Node.js 24 (the newest runtime aws-cdk-lib knows), ARM64.
 * - esbuild (the local devDependency, never Docker): ESM, minified, source maps, with a banner
 *   that provides `require` inside the ESM bundle (CommonJS dependencies such as `pg` call it).
 * - An explicit log group with the stage's retention, JSON log format, X-Ray tracing.
 * - An explicit role: log writes scoped to the function's own log group (no AWS managed policy),
 *   ENI management only for functions placed in the VPC. Data grants are added per function by
 *   the construct that owns the data (least privilege).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, HANDLER_ENTRIES, type HandlerName } from '../contracts/env';
import type { StageConfig } from './config';

/** Repository root (this file lives in `<root>/lib/`). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Gives CommonJS dependencies a working `require` inside the ESM bundle. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __concordCreateRequire } from 'node:module'; const require = __concordCreateRequire(import.meta.url);";

/**
 * Optional native or peer modules that bundled dependencies reference behind a try/catch or a
 * lazy getter; none is needed at run time, and esbuild would fail trying to resolve them.
 */
export const EXTERNAL_MODULES = ['pg-native', 'pg-cloudflare', 'cloudflare:sockets', 'bufferutil', 'utf-8-validate'];

export interface VpcPlacement {
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface HandlerOptions {
  readonly description: string;
  readonly environment?: Record<string, string>;
  readonly memorySize?: number;
  readonly timeout: Duration;
  /** Present for handlers that reach Aurora or ElastiCache: private subnets with NAT egress. */
  readonly placement?: VpcPlacement;
  /** Exported function name in the entry file (default `handler`). */
  readonly exportName?: string;
}

export interface HandlerFactoryProps {
  readonly config: StageConfig;
  /** Defaults to the repository root; tests never change it. */
  readonly repoRoot?: string;
}

/** Builds Concord handlers with the shared defaults. */
export class HandlerFactory {
  private readonly config: StageConfig;
  private readonly repoRoot: string;

  constructor(props: HandlerFactoryProps) {
    this.config = props.config;
    this.repoRoot = props.repoRoot ?? REPO_ROOT;
  }

  entryPath(name: HandlerName): string {
    return join(this.repoRoot, HANDLER_ENTRIES[name]);
  }

  create(scope: Construct, id: string, name: HandlerName, options: HandlerOptions): ConcordFunction {
    return new ConcordFunction(scope, id, {
      ...options,
      name,
      entry: this.entryPath(name),
      repoRoot: this.repoRoot,
      config: this.config,
    });
  }
}

interface ConcordFunctionProps extends HandlerOptions {
  readonly name: HandlerName;
  readonly entry: string;
  readonly repoRoot: string;
  readonly config: StageConfig;
}

/** One Concord handler: the function, its log group and its role. */
export class ConcordFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: ConcordFunctionProps) {
    super(scope, id);
    this.handlerName = props.name;
    if (!existsSync(props.entry)) {
      throw new Error(
        `Handler entry ${props.entry} does not exist (contracts/env.ts HANDLER_ENTRIES.${props.name}); the CDK app bundles the real handler files.`,
      );
    }
    const { config } = props;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Concord ${props.name} handler (${config.stage})`,
    });
    // Log writes only into this function's own group (instead of AWSLambdaBasicExecutionRole,
    // which allows every log group of the account).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.placement) {
      // What AWSLambdaVPCAccessExecutionRole grants, inline: Lambda attaches ENIs with these.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }

    this.fn = new NodejsFunction(this, 'Function', {
      description: props.description,
      entry: props.entry,
      handler: props.exportName ?? 'handler',
      projectRoot: props.repoRoot,
      depsLockFilePath: join(props.repoRoot, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.placement?.vpc,
      vpcSubnets: props.placement ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : undefined,
      securityGroups: props.placement ? [props.placement.securityGroup] : undefined,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        [ENV.SERVICE_NAME]: `concord-${props.name}`,
        [ENV.METRICS_NAMESPACE]: 'Concord',
        [ENV.LOG_LEVEL]: config.handlers.logLevel,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        platform: 'node',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        externalModules: EXTERNAL_MODULES,
        forceDockerBundling: false,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords (tracing), dynamodb:ListStreams (stream consumers) and, for VPC functions, the EC2 network-interface calls Lambda makes to attach the function have no resource-level permissions; every data permission of this role names its table, index, secret, proxy user or API.',
    });
  }

  /** Adds an environment variable after creation (used when the value depends on later resources). */
  addEnvironment(name: string, value: string): void {
    this.fn.addEnvironment(name, value);
  }
}
