/**
 * Stage configuration: the one place that decides sizes, removal policies, deletion protection
 * and alarm thresholds. `cdk deploy -c stage=dev|prod` picks one (default dev); `prod` is the
 * safe one (retained data, deletion protection, longer backups, a NAT gateway per AZ).
 * Optional settings (custom domain, alarm e-mail, web build folder) come from context too, so a
 * deployment never needs a code change.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

export type StageName = 'dev' | 'prod';

export const STAGE_NAMES: readonly StageName[] = ['dev', 'prod'];

export interface CustomDomainConfig {
  /** The site's host name, e.g. `docs.example.com`. */
  readonly domainName: string;
  /** ACM certificate for `domainName`, issued in us-east-1 (CloudFront only uses that region). */
  readonly certificateArn: string;
}

export interface AlarmThresholds {
  /** Stream iterator age (ms) above which fan-out or compaction is falling behind (FM-7.2). */
  readonly iteratorAgeMs: number;
  /** Lambda errors per function per 5 minutes. */
  readonly lambdaErrors: number;
  /** Lambda throttles per function per 5 minutes. */
  readonly lambdaThrottles: number;
  /** HTTP API 5xx per 5 minutes. */
  readonly http5xx: number;
  /** HTTP API 4xx per 5 minutes (a spike means a broken client or an attack, not a user typo). */
  readonly http4xx: number;
  /** WebSocket integration/execution errors per 5 minutes. */
  readonly websocketErrors: number;
  /** WebSocket connects per 5 minutes above which a reconnect storm is likely (FM-1.6). */
  readonly connectStorm: number;
  /** Aurora Serverless v2 capacity utilisation (%) meaning the ceiling is near. */
  readonly auroraAcuUtilizationPercent: number;
  /** ElastiCache engine CPU (%) and memory (%) on any node. */
  readonly cacheEngineCpuPercent: number;
  readonly cacheMemoryPercent: number;
}

export interface StageConfig {
  readonly stage: StageName;
  /** Prefix of every stack name: `Concord-dev-Data`, ... */
  readonly stackPrefix: string;
  /** What happens to stateful resources (tables, database, cache, user pool, log bucket) on delete. */
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  /** NAT gateways: one per AZ in prod (an AZ outage must not cut the others off). */
  readonly natGateways: number;
  readonly logRetention: RetentionDays;
  readonly aurora: {
    readonly minCapacity: number;
    readonly maxCapacity: number;
    readonly backupRetention: Duration;
    readonly secretRotation: Duration;
  };
  readonly cache: {
    readonly nodeType: string;
    /** Primary plus replicas, each in its own AZ where possible; at least 2 (FM-4.1). */
    readonly numCacheClusters: number;
    readonly snapshotRetentionDays: number;
  };
  readonly websocketThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly httpThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly streams: {
    /** Concurrent batches per shard for fan-out (order per document is kept by DynamoDB). */
    readonly fanoutParallelization: number;
    /**
     * Overrides of contracts/streams.ts (which holds the dev values shared with the local stack):
     * retries before a record goes to the on-failure queue, and the oldest record still delivered.
     */
    readonly retryAttempts?: number;
    readonly maxRecordAge?: Duration;
  };
  readonly handlers: {
    readonly compactAfterEntries: number;
    readonly rateLimitPerSecond: number;
    readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  };
  readonly auth: {
    /** Hosted UI domain prefix; the account id is appended to keep it globally unique. */
    readonly domainPrefix: string;
    readonly mfa: 'optional' | 'required';
    /** Cognito threat protection (Plus feature plan, billed per active user). */
    readonly threatProtection: boolean;
    readonly refreshTokenValidity: Duration;
  };
  readonly alarms: AlarmThresholds;
  readonly customDomain?: CustomDomainConfig;
  /** Subscribed to the alarm topic when set. */
  readonly alarmEmail?: string;
  /** Optional AWS WAF web ACL (us-east-1, CLOUDFRONT scope) attached to the distribution. */
  readonly webAclArn?: string;
}

const COMMON_ALARMS: AlarmThresholds = {
  iteratorAgeMs: 30_000,
  lambdaErrors: 5,
  lambdaThrottles: 1,
  http5xx: 5,
  http4xx: 500,
  websocketErrors: 10,
  connectStorm: 5_000,
  auroraAcuUtilizationPercent: 90,
  cacheEngineCpuPercent: 80,
  cacheMemoryPercent: 80,
};

const BASE: Record<StageName, Omit<StageConfig, 'customDomain' | 'alarmEmail' | 'webAclArn'>> = {
  dev: {
    stage: 'dev',
    stackPrefix: 'Concord-dev',
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
    natGateways: 1,
    logRetention: RetentionDays.ONE_WEEK,
    aurora: { minCapacity: 0.5, maxCapacity: 4, backupRetention: Duration.days(1), secretRotation: Duration.days(30) },
    cache: { nodeType: 'cache.t4g.micro', numCacheClusters: 2, snapshotRetentionDays: 1 },
    websocketThrottle: { rateLimit: 200, burstLimit: 400 },
    httpThrottle: { rateLimit: 100, burstLimit: 200 },
    streams: { fanoutParallelization: 1 },
    handlers: { compactAfterEntries: 200, rateLimitPerSecond: 50, logLevel: 'DEBUG' },
    auth: { domainPrefix: 'concord-dev', mfa: 'optional', threatProtection: false, refreshTokenValidity: Duration.days(30) },
    alarms: COMMON_ALARMS,
  },
  prod: {
    stage: 'prod',
    stackPrefix: 'Concord-prod',
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
    natGateways: 2,
    logRetention: RetentionDays.THREE_MONTHS,
    aurora: { minCapacity: 0.5, maxCapacity: 16, backupRetention: Duration.days(14), secretRotation: Duration.days(30) },
    cache: { nodeType: 'cache.t4g.small', numCacheClusters: 2, snapshotRetentionDays: 7 },
    websocketThrottle: { rateLimit: 2_000, burstLimit: 5_000 },
    httpThrottle: { rateLimit: 1_000, burstLimit: 2_000 },
    streams: { fanoutParallelization: 4, retryAttempts: 10, maxRecordAge: Duration.hours(6) },
    handlers: { compactAfterEntries: 200, rateLimitPerSecond: 50, logLevel: 'INFO' },
    auth: { domainPrefix: 'concord', mfa: 'required', threatProtection: true, refreshTokenValidity: Duration.days(7) },
    alarms: { ...COMMON_ALARMS, iteratorAgeMs: 10_000, lambdaErrors: 1 },
  },
};

export class ConfigurationError extends Error {
  readonly code = 'invalid_configuration';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/** Reads an optional string from CDK context (`-c key=value` or cdk.json). */
type ContextReader = (key: string) => unknown;

function optionalString(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigurationError(`Context value "${key}" must be a string (got ${JSON.stringify(value)}).`);
  return value.trim();
}

/**
 * The stage configuration for `-c stage=...` plus the optional context settings:
 * `domainName` + `certificateArn` (custom domain), `alarmEmail`, `webAclArn`.
 */
export function loadStageConfig(read: ContextReader): StageConfig {
  const stage = optionalString(read, 'stage') ?? 'dev';
  if (!(STAGE_NAMES as readonly string[]).includes(stage)) {
    throw new ConfigurationError(`Unknown stage "${stage}". Deploy with -c stage=dev or -c stage=prod.`);
  }
  const base = BASE[stage as StageName];
  const domainName = optionalString(read, 'domainName');
  const certificateArn = optionalString(read, 'certificateArn');
  if (Boolean(domainName) !== Boolean(certificateArn)) {
    throw new ConfigurationError(
      'A custom domain needs both -c domainName=<host> and -c certificateArn=<ACM certificate ARN in us-east-1>; pass both or neither.',
    );
  }
  if (certificateArn && !/^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]+$/.test(certificateArn)) {
    throw new ConfigurationError(
      `certificateArn "${certificateArn}" is not an ACM certificate in us-east-1; CloudFront only accepts certificates from that region.`,
    );
  }
  if (domainName && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domainName)) {
    throw new ConfigurationError(`domainName "${domainName}" is not a valid lower-case host name (e.g. docs.example.com).`);
  }
  const alarmEmail = optionalString(read, 'alarmEmail');
  if (alarmEmail && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new ConfigurationError(`alarmEmail "${alarmEmail}" is not an e-mail address.`);
  }
  const webAclArn = optionalString(read, 'webAclArn');
  if (webAclArn && !/^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\//.test(webAclArn)) {
    throw new ConfigurationError(`webAclArn "${webAclArn}" must be a WAFv2 web ACL with CLOUDFRONT scope (arn:aws:wafv2:us-east-1:<account>:global/webacl/...).`);
  }
  return {
    ...base,
    customDomain: domainName && certificateArn ? { domainName, certificateArn } : undefined,
    alarmEmail,
    webAclArn,
  };
}
