/**
 * The AWS half of the failover drills (FM-8, FM-4.1, FM-6.1): find a stage's cache replication
 * group and Aurora cluster from its CloudFormation stacks, trigger a failover of each, and poll
 * until the service reports it complete. Every function takes its SDK client as a parameter so
 * the tests can run them against recorded API responses without any network.
 */
import { CloudFormationClient, DescribeStacksCommand, ListStackResourcesCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { DescribeReplicationGroupsCommand, ElastiCacheClient, TestFailoverCommand, type ReplicationGroup } from '@aws-sdk/client-elasticache';
import { DescribeDBClustersCommand, FailoverDBClusterCommand, RDSClient, type DBCluster } from '@aws-sdk/client-rds';

/** A drill step that cannot go on, with a code and a sentence an operator can act on. */
export class DrillError extends Error {
  constructor(
    readonly code: 'stage_not_found' | 'resource_not_found' | 'not_ready' | 'failover_timeout' | 'edits_lost' | 'editor_failed',
    message: string,
  ) {
    super(message);
    this.name = 'DrillError';
  }
}

export interface StageResources {
  readonly stage: string;
  readonly stacks: readonly string[];
  /** ElastiCache replication group id (physical id of AWS::ElastiCache::ReplicationGroup). */
  readonly replicationGroupId: string | null;
  /** Aurora cluster identifier (physical id of AWS::RDS::DBCluster). */
  readonly dbClusterId: string | null;
  /** https URL of the site (CloudFront), from the stacks' outputs. */
  readonly siteUrl: string | null;
}

/** Tag keys a stack may carry to name its stage (CDK `Tags.of(app).add(...)`). */
const STAGE_TAG_KEYS = ['concord:stage', 'stage', 'Stage', 'concord-stage'];

/**
 * Whether a CloudFormation stack belongs to the Concord stage: a stage tag with that value, or a
 * Concord stack whose name carries the stage as a dash-separated word (Concord-dev-Data,
 * ConcordDataDev is not matched: pass --stack-prefix for unusual names).
 */
export function stackBelongsToStage(stack: Pick<Stack, 'StackName' | 'Tags'>, stage: string, stackPrefix?: string): boolean {
  const name = stack.StackName ?? '';
  if (stackPrefix) return name.startsWith(stackPrefix);
  if ((stack.Tags ?? []).some((t) => t.Key !== undefined && STAGE_TAG_KEYS.includes(t.Key) && t.Value === stage)) return true;
  if (!/^concord/i.test(name)) return false;
  return name.toLowerCase().split(/[-_]/).includes(stage.toLowerCase());
}

const SITE_OUTPUT_RE = /site.*url|url.*site|distribution.*url|cloudfront.*url/i;

/** Finds the stage's stacks, then its replication group, Aurora cluster and site URL. */
export async function discoverStage(cfn: CloudFormationClient, stage: string, options: { stackPrefix?: string } = {}): Promise<StageResources> {
  const stacks: Stack[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cfn.send(new DescribeStacksCommand({ NextToken: nextToken }));
    for (const s of page.Stacks ?? []) {
      if (s.StackStatus?.startsWith('DELETE_')) continue;
      if (stackBelongsToStage(s, stage, options.stackPrefix)) stacks.push(s);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  if (stacks.length === 0) {
    throw new DrillError('stage_not_found', `No CloudFormation stack of stage "${stage}" in this account and region. Check AWS_REGION/AWS_PROFILE, the stage name, or pass --stack-prefix.`);
  }
  let replicationGroupId: string | null = null;
  let dbClusterId: string | null = null;
  let siteUrl: string | null = null;
  for (const stack of stacks) {
    for (const o of stack.Outputs ?? []) {
      if (!siteUrl && o.OutputValue?.startsWith('https://') && SITE_OUTPUT_RE.test(`${o.OutputKey ?? ''} ${o.Description ?? ''} ${o.ExportName ?? ''}`)) siteUrl = o.OutputValue.replace(/\/+$/, '');
    }
    let token: string | undefined;
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: stack.StackName, NextToken: token }));
      for (const r of page.StackResourceSummaries ?? []) {
        if (r.ResourceType === 'AWS::ElastiCache::ReplicationGroup' && r.PhysicalResourceId) replicationGroupId ??= r.PhysicalResourceId;
        if (r.ResourceType === 'AWS::RDS::DBCluster' && r.PhysicalResourceId) dbClusterId ??= r.PhysicalResourceId;
      }
      token = page.NextToken;
    } while (token);
  }
  return { stage, stacks: stacks.map((s) => s.StackName ?? ''), replicationGroupId, dbClusterId, siteUrl };
}

export interface PollOptions {
  /** Give up after this long (ms). */
  readonly timeoutMs: number;
  /** Time between two status reads (ms). */
  readonly intervalMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called with each status read, for the operator's console. */
  readonly onStatus?: (status: string) => void;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reads `read()` every interval until `done` says so; returns the elapsed time. Throws
 * DrillError `failover_timeout` naming `what` and the last status seen.
 */
export async function pollUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, describe: (value: T) => string, options: PollOptions): Promise<{ elapsedMs: number; last: T }> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const start = now();
  let lastStatus = 'no status read yet';
  for (;;) {
    const value = await read();
    lastStatus = describe(value);
    options.onStatus?.(lastStatus);
    if (done(value)) return { elapsedMs: now() - start, last: value };
    if (now() - start >= options.timeoutMs) {
      throw new DrillError(
        'failover_timeout',
        `${what} did not complete within ${Math.round(options.timeoutMs / 1000)} s (last status: ${lastStatus}). Check the service's events in the AWS console before running the drill again; raise --timeout if failovers in this region are known to be slower.`,
      );
    }
    await sleep(options.intervalMs);
  }
}

// ---------------------------------------------------------------- ElastiCache (FM-4.1)

export interface CacheTopology {
  readonly status: string;
  readonly nodeGroupId: string;
  readonly nodeGroupStatus: string;
  readonly primary: string | null;
  readonly replicas: readonly string[];
  readonly automaticFailover: string;
}

export function cacheTopology(group: ReplicationGroup): CacheTopology {
  const nodeGroup = group.NodeGroups?.[0];
  const members = nodeGroup?.NodeGroupMembers ?? [];
  return {
    status: group.Status ?? 'unknown',
    nodeGroupId: nodeGroup?.NodeGroupId ?? '0001',
    nodeGroupStatus: nodeGroup?.Status ?? 'unknown',
    primary: members.find((m) => m.CurrentRole === 'primary')?.CacheClusterId ?? null,
    replicas: members.filter((m) => m.CurrentRole === 'replica').map((m) => m.CacheClusterId ?? ''),
    automaticFailover: group.AutomaticFailover ?? 'unknown',
  };
}

export async function readCacheTopology(elasticache: ElastiCacheClient, replicationGroupId: string): Promise<CacheTopology> {
  const out = await elasticache.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: replicationGroupId }));
  const group = out.ReplicationGroups?.[0];
  if (!group) throw new DrillError('resource_not_found', `ElastiCache replication group ${replicationGroupId} was not found.`);
  return cacheTopology(group);
}

const describeCache = (t: CacheTopology) => `group ${t.status}, node group ${t.nodeGroupStatus}, primary ${t.primary ?? 'none'}`;

/**
 * Starts an ElastiCache TestFailover on the replication group's node group, after checking that
 * a failover can happen at all (available, automatic failover on, a replica to promote).
 */
export async function startCacheFailover(elasticache: ElastiCacheClient, replicationGroupId: string): Promise<CacheTopology> {
  const before = await readCacheTopology(elasticache, replicationGroupId);
  if (before.status !== 'available' || !before.primary || before.replicas.length === 0 || before.automaticFailover !== 'enabled') {
    throw new DrillError('not_ready', `ElastiCache replication group ${replicationGroupId} cannot fail over now (${describeCache(before)}, ${before.replicas.length} replica(s), automatic failover ${before.automaticFailover}). Wait until it is available with a replica and automatic failover enabled.`);
  }
  await elasticache.send(new TestFailoverCommand({ ReplicationGroupId: replicationGroupId, NodeGroupId: before.nodeGroupId }));
  return before;
}

/** Waits until another node is primary and the group and node group are available again. */
export function waitForCacheFailover(elasticache: ElastiCacheClient, replicationGroupId: string, before: CacheTopology, options: PollOptions) {
  return pollUntil(
    `ElastiCache failover of ${replicationGroupId}`,
    () => readCacheTopology(elasticache, replicationGroupId),
    (t) => t.status === 'available' && t.nodeGroupStatus === 'available' && t.primary !== null && t.primary !== before.primary,
    describeCache,
    options,
  );
}

// ---------------------------------------------------------------- Aurora (FM-6.1, FM-3.3)

export interface ClusterTopology {
  readonly status: string;
  readonly writer: string | null;
  readonly readers: readonly string[];
}

export function clusterTopology(cluster: DBCluster): ClusterTopology {
  const members = cluster.DBClusterMembers ?? [];
  return {
    status: cluster.Status ?? 'unknown',
    writer: members.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier ?? null,
    readers: members.filter((m) => !m.IsClusterWriter).map((m) => m.DBInstanceIdentifier ?? ''),
  };
}

export async function readClusterTopology(rds: RDSClient, dbClusterId: string): Promise<ClusterTopology> {
  const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: dbClusterId }));
  const cluster = out.DBClusters?.[0];
  if (!cluster) throw new DrillError('resource_not_found', `Aurora cluster ${dbClusterId} was not found.`);
  return clusterTopology(cluster);
}

const describeCluster = (t: ClusterTopology) => `cluster ${t.status}, writer ${t.writer ?? 'none'}`;

/** Starts FailoverDBCluster towards the first reader, after checking a reader exists. */
export async function startDbFailover(rds: RDSClient, dbClusterId: string): Promise<ClusterTopology> {
  const before = await readClusterTopology(rds, dbClusterId);
  if (before.status !== 'available' || !before.writer || before.readers.length === 0) {
    throw new DrillError('not_ready', `Aurora cluster ${dbClusterId} cannot fail over now (${describeCluster(before)}, ${before.readers.length} reader(s)). Wait until it is available with a reader instance.`);
  }
  await rds.send(new FailoverDBClusterCommand({ DBClusterIdentifier: dbClusterId, TargetDBInstanceIdentifier: before.readers[0] }));
  return before;
}

/** Waits until another instance is the writer and the cluster is available again. */
export function waitForDbFailover(rds: RDSClient, dbClusterId: string, before: ClusterTopology, options: PollOptions) {
  return pollUntil(
    `Aurora failover of ${dbClusterId}`,
    () => readClusterTopology(rds, dbClusterId),
    (t) => t.status === 'available' && t.writer !== null && t.writer !== before.writer,
    describeCluster,
    options,
  );
}
