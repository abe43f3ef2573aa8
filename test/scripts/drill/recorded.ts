/**
 * Recorded AWS Query-protocol responses (XML, as CloudFormation, ElastiCache and RDS return them)
 * served to real SDK v3 clients through a custom requestHandler: the drill code runs its real
 * serialization and parsing, with no network.
 */
import { Readable } from 'node:stream';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { RDSClient } from '@aws-sdk/client-rds';

export interface RecordedResponse {
  readonly status?: number;
  readonly body: string;
}

export interface RecordedCall {
  readonly action: string;
  readonly params: Record<string, string>;
}

/**
 * A request handler answering each Action with its recorded responses in order (the last one
 * repeats). `onCall` runs before answering, so a test can act when the drill reaches a step.
 */
export function recordedHandler(responses: Record<string, RecordedResponse[]>, onCall?: (call: RecordedCall, index: number) => void) {
  const calls: RecordedCall[] = [];
  const served = new Map<string, number>();
  const handler = {
    async handle(request: { body?: unknown }) {
      const params = Object.fromEntries(new URLSearchParams(String(request.body ?? '')));
      const action = params.Action ?? 'unknown';
      const call = { action, params };
      calls.push(call);
      const list = responses[action];
      if (!list?.length) throw new Error(`no recorded response for ${action}`);
      const index = served.get(action) ?? 0;
      served.set(action, index + 1);
      onCall?.(call, index);
      const r = list[Math.min(index, list.length - 1)];
      return {
        response: {
          statusCode: r.status ?? 200,
          reason: undefined,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': `req-${calls.length}` },
          body: Readable.from([Buffer.from(r.body)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return { handler, calls };
}

const clientConfig = (handler: unknown) => ({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDRECORDED', secretAccessKey: 'recorded' },
  requestHandler: handler as never,
  maxAttempts: 1,
});

export const recordedCloudFormation = (h: unknown) => new CloudFormationClient(clientConfig(h));
export const recordedElastiCache = (h: unknown) => new ElastiCacheClient(clientConfig(h));
export const recordedRds = (h: unknown) => new RDSClient(clientConfig(h));

const meta = '<ResponseMetadata><RequestId>7c6f1d2e-0000-4000-8000-000000000001</RequestId></ResponseMetadata>';

// ------------------------------------------------------------------ CloudFormation

export interface RecordedStack {
  name: string;
  status?: string;
  tags?: Record<string, string>;
  outputs?: Record<string, string>;
}

export function describeStacksXml(stacks: RecordedStack[], nextToken?: string): string {
  const members = stacks
    .map(
      (s) => `<member>
        <StackName>${s.name}</StackName>
        <StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${s.name}/0a1b2c3d</StackId>
        <CreationTime>2026-11-01T10:00:00.000Z</CreationTime>
        <StackStatus>${s.status ?? 'UPDATE_COMPLETE'}</StackStatus>
        <Outputs>${Object.entries(s.outputs ?? {}).map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`).join('')}</Outputs>
        <Tags>${Object.entries(s.tags ?? {}).map(([k, v]) => `<member><Key>${k}</Key><Value>${v}</Value></member>`).join('')}</Tags>
      </member>`,
    )
    .join('');
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult><Stacks>${members}</Stacks>${nextToken ? `<NextToken>${nextToken}</NextToken>` : ''}</DescribeStacksResult>${meta}
</DescribeStacksResponse>`;
}

export function listStackResourcesXml(resources: { logicalId: string; physicalId: string; type: string }[]): string {
  const members = resources
    .map(
      (r) => `<member><LogicalResourceId>${r.logicalId}</LogicalResourceId><PhysicalResourceId>${r.physicalId}</PhysicalResourceId><ResourceType>${r.type}</ResourceType><LastUpdatedTimestamp>2026-11-01T10:05:00.000Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>`,
    )
    .join('');
  return `<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <ListStackResourcesResult><StackResourceSummaries>${members}</StackResourceSummaries></ListStackResourcesResult>${meta}
</ListStackResourcesResponse>`;
}

// ------------------------------------------------------------------ ElastiCache

export interface RecordedGroup {
  id: string;
  status: string;
  nodeGroupStatus?: string;
  primary: string;
  replicas: string[];
  automaticFailover?: string;
}

function replicationGroupXml(g: RecordedGroup): string {
  const member = (id: string, role: string, az: string) =>
    `<NodeGroupMember><CacheClusterId>${id}</CacheClusterId><CacheNodeId>0001</CacheNodeId><CurrentRole>${role}</CurrentRole><PreferredAvailabilityZone>${az}</PreferredAvailabilityZone></NodeGroupMember>`;
  return `<ReplicationGroupId>${g.id}</ReplicationGroupId>
      <Description>Concord cache</Description>
      <Status>${g.status}</Status>
      <AutomaticFailover>${g.automaticFailover ?? 'enabled'}</AutomaticFailover>
      <MultiAZ>enabled</MultiAZ>
      <ClusterEnabled>false</ClusterEnabled>
      <TransitEncryptionEnabled>true</TransitEncryptionEnabled>
      <NodeGroups><NodeGroup>
        <NodeGroupId>0001</NodeGroupId>
        <Status>${g.nodeGroupStatus ?? g.status}</Status>
        <NodeGroupMembers>${member(g.primary, 'primary', 'eu-west-1a')}${g.replicas.map((r) => member(r, 'replica', 'eu-west-1b')).join('')}</NodeGroupMembers>
      </NodeGroup></NodeGroups>`;
}

export const describeReplicationGroupsXml = (g: RecordedGroup) => `<DescribeReplicationGroupsResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">
  <DescribeReplicationGroupsResult><ReplicationGroups><ReplicationGroup>${replicationGroupXml(g)}</ReplicationGroup></ReplicationGroups></DescribeReplicationGroupsResult>${meta}
</DescribeReplicationGroupsResponse>`;

export const testFailoverXml = (g: RecordedGroup) => `<TestFailoverResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">
  <TestFailoverResult><ReplicationGroup>${replicationGroupXml(g)}</ReplicationGroup></TestFailoverResult>${meta}
</TestFailoverResponse>`;

export const queryErrorXml = (code: string, message: string) => `<ErrorResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>7c6f1d2e-0000-4000-8000-00000000000e</RequestId>
</ErrorResponse>`;

// ------------------------------------------------------------------ RDS

export interface RecordedCluster {
  id: string;
  status: string;
  writer: string;
  readers: string[];
}

function clusterXml(c: RecordedCluster): string {
  const member = (id: string, writer: boolean) =>
    `<DBClusterMember><DBInstanceIdentifier>${id}</DBInstanceIdentifier><IsClusterWriter>${writer}</IsClusterWriter><DBClusterParameterGroupStatus>in-sync</DBClusterParameterGroupStatus><PromotionTier>1</PromotionTier></DBClusterMember>`;
  return `<DBClusterIdentifier>${c.id}</DBClusterIdentifier>
      <Engine>aurora-postgresql</Engine>
      <Status>${c.status}</Status>
      <MultiAZ>true</MultiAZ>
      <DBClusterMembers>${member(c.writer, true)}${c.readers.map((r) => member(r, false)).join('')}</DBClusterMembers>`;
}

export const describeDbClustersXml = (c: RecordedCluster) => `<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBClustersResult><DBClusters><DBCluster>${clusterXml(c)}</DBCluster></DBClusters></DescribeDBClustersResult>${meta}
</DescribeDBClustersResponse>`;

export const failoverDbClusterXml = (c: RecordedCluster) => `<FailoverDBClusterResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <FailoverDBClusterResult><DBCluster>${clusterXml(c)}</DBCluster></FailoverDBClusterResult>${meta}
</FailoverDBClusterResponse>`;
