/**
 * Data: Aurora PostgreSQL Serverless v2 holding compacted Yjs snapshots (off the hot path,
 * FM-3.1). A writer and a reader pinned to the other AZ in promotion tier 1, so a writer or AZ
 * failure promotes the reader (FM-6.1); encrypted storage, IAM authentication, automated backups
 * (FM-3.3), deletion protection in prod. Handlers connect through RDS Proxy with IAM tokens
 * (`pg` + RDS Proxy rather than the Data API, whose 64 KB row cap is too small for snapshots);
 * only the proxy ever reads the master secret, which rotates every 30 days.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import { acknowledgeEach, findSingleton } from './nag';

export const DATABASE_NAME = 'concord';
/** The database user handlers and migrations connect as (through the proxy, with IAM). */
export const DATABASE_USER = 'concord_admin';
export const DATABASE_PORT = 5432;

export interface DatabaseProps {
  readonly config: StageConfig;
  readonly vpc: ec2.IVpc;
  /** The only security group allowed to reach the proxy. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
}

export class Database extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;
  readonly proxySecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { config, vpc } = props;
    const isolated: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const [writerAz, readerAz] = vpc.availabilityZones;

    const clusterSecurityGroup = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      description: 'Concord Aurora: ingress only from RDS Proxy and the secret rotation function',
      allowAllOutbound: false,
    });
    this.proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'Concord RDS Proxy: ingress only from the handler security group',
      allowAllOutbound: false,
    });
    this.proxySecurityGroup.addIngressRule(props.clientSecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'PostgreSQL from Concord handlers');
    this.proxySecurityGroup.addEgressRule(clusterSecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'PostgreSQL to Aurora');
    clusterSecurityGroup.addIngressRule(this.proxySecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'PostgreSQL from RDS Proxy');

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER),
      defaultDatabaseName: DATABASE_NAME,
      port: DATABASE_PORT,
      writer: rds.ClusterInstance.serverlessV2('Writer', {
        availabilityZone: writerAz,
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
      }),
      readers: [
        rds.ClusterInstance.serverlessV2('Reader', {
          availabilityZone: readerAz,
          // Same size as the writer and promotion tier 1 (first in line): a failover keeps capacity.
          scaleWithWriter: true,
          autoMinorVersionUpgrade: true,
          enablePerformanceInsights: true,
        }),
      ],
      serverlessV2MinCapacity: config.aurora.minCapacity,
      serverlessV2MaxCapacity: config.aurora.maxCapacity,
      vpc,
      vpcSubnets: isolated,
      securityGroups: [clusterSecurityGroup],
      storageEncrypted: true,
      iamAuthentication: true,
      backup: { retention: config.aurora.backupRetention, preferredWindow: '03:00-04:00' },
      preferredMaintenanceWindow: 'Sun:05:00-Sun:06:00',
      deletionProtection: config.deletionProtection,
      removalPolicy: config.removalPolicy,
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: config.logRetention,
      copyTagsToSnapshot: true,
    });
    if (!config.deletionProtection) {
      Validations.of(this.cluster).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: `Deletion protection is off only in the ${config.stage} stage so that cdk destroy tears it down; prod enables it (lib/config.ts).`,
      });
    }

    // aws-cdk-lib sets the retention of the cluster's PostgreSQL log group through its
    // LogRetention singleton function.
    acknowledgeEach(
      findSingleton(Stack.of(this), 'LogRetention'),
      ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'AwsSolutions-IAM5[Resource::*]'],
      'aws-cdk-lib LogRetention handler: sets the retention of the Aurora PostgreSQL log group at deploy time (log group names are only known then); it runs only during deployments.',
    );

    // The rotation function runs in the handler subnets (it calls Secrets Manager through NAT);
    // SecretRotation opens the cluster's port to its own security group.
    this.cluster.addRotationSingleUser({
      automaticallyAfter: config.aurora.secretRotation,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });

    this.proxy = this.cluster.addProxy('Proxy', {
      // Named per stage: proxy names are unique per account and region.
      dbProxyName: `concord-${config.stage}`,
      vpc,
      vpcSubnets: isolated,
      secrets: [this.cluster.secret!],
      securityGroups: [this.proxySecurityGroup],
      iamAuth: true,
      requireTLS: true,
      borrowTimeout: Duration.seconds(30),
      idleClientTimeout: Duration.minutes(30),
      debugLogging: false,
    });
  }
}
