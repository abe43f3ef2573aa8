import { Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { UserDirectory } from '../auth';
import { Cache } from '../cache';
import type { StageConfig } from '../config';
import { Database } from '../database';
import { LogBucket } from '../log-bucket';
import type { Network } from '../network';
import { Tables } from '../tables';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
  readonly network: Network;
}

/**
 * Every stateful resource, in its own stack so the app stack can be replaced, rolled back or
 * destroyed without touching data: DynamoDB tables, Aurora (+ RDS Proxy), ElastiCache, the
 * Cognito user pool and the access-log bucket. In prod they are retained and deletion-protected.
 */
export class DataStack extends Stack {
  readonly tables: Tables;
  readonly database: Database;
  readonly cache: Cache;
  readonly users: UserDirectory;
  readonly logs: LogBucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config, network } = props;
    this.tables = new Tables(this, 'Tables', { config });
    this.database = new Database(this, 'Database', { config, vpc: network.vpc, clientSecurityGroup: network.handlerSecurityGroup });
    this.cache = new Cache(this, 'Cache', { config, vpc: network.vpc, clientSecurityGroup: network.handlerSecurityGroup });
    this.users = new UserDirectory(this, 'Users', { config });
    this.logs = new LogBucket(this, 'AccessLogs', { config });
  }
}
