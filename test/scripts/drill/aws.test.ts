import { describe, expect, it } from 'vitest';
import { DrillError, discoverStage, startCacheFailover, startDbFailover, stackBelongsToStage, waitForCacheFailover, waitForDbFailover } from '../../../scripts/drill/aws';
import {
  describeDbClustersXml, describeReplicationGroupsXml, describeStacksXml, failoverDbClusterXml, listStackResourcesXml, queryErrorXml,
  recordedCloudFormation, recordedElastiCache, recordedHandler, recordedRds, testFailoverXml, type RecordedCluster, type RecordedGroup,
} from './recorded';

/** A virtual clock: sleeping advances it, so polling timeouts are exact and instant. */
function virtualTime() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

const group = (over: Partial<RecordedGroup> = {}): RecordedGroup => ({ id: 'concord-dev-cache', status: 'available', primary: 'concord-dev-cache-001', replicas: ['concord-dev-cache-002'], ...over });
const cluster = (over: Partial<RecordedCluster> = {}): RecordedCluster => ({ id: 'concord-dev-aurora', status: 'available', writer: 'concord-dev-writer', readers: ['concord-dev-reader'], ...over });

describe('FM-8 drill discovery: stage resources from CloudFormation', () => {
  it('finds the replication group, Aurora cluster and site URL of the stage, across pages, ignoring other stages', async () => {
    const { handler, calls } = recordedHandler({
      DescribeStacks: [
        { body: describeStacksXml([{ name: 'Concord-prod-Data', tags: { stage: 'prod' } }, { name: 'Concord-dev-Edge', outputs: { SiteUrl: 'https://d111.cloudfront.net/' } }], 'page2') },
        { body: describeStacksXml([{ name: 'Concord-dev-Data', tags: { stage: 'dev' } }, { name: 'Unrelated-dev' }, { name: 'Concord-dev-Old', status: 'DELETE_COMPLETE' }]) },
      ],
      ListStackResources: [
        { body: listStackResourcesXml([{ logicalId: 'Distribution', physicalId: 'E123', type: 'AWS::CloudFront::Distribution' }]) },
        { body: listStackResourcesXml([
          { logicalId: 'CacheReplicationGroup', physicalId: 'concord-dev-cache', type: 'AWS::ElastiCache::ReplicationGroup' },
          { logicalId: 'AuroraCluster', physicalId: 'concord-dev-aurora', type: 'AWS::RDS::DBCluster' },
        ]) },
      ],
    });
    const found = await discoverStage(recordedCloudFormation(handler), 'dev');
    expect(found).toEqual({
      stage: 'dev',
      stacks: ['Concord-dev-Edge', 'Concord-dev-Data'],
      replicationGroupId: 'concord-dev-cache',
      dbClusterId: 'concord-dev-aurora',
      siteUrl: 'https://d111.cloudfront.net',
    });
    expect(calls.filter((c) => c.action === 'DescribeStacks')[1].params.NextToken).toBe('page2');
    expect(calls.filter((c) => c.action === 'ListStackResources').map((c) => c.params.StackName)).toEqual(['Concord-dev-Edge', 'Concord-dev-Data']);
  });

  it('fails with stage_not_found and a hint when no stack belongs to the stage', async () => {
    const { handler } = recordedHandler({ DescribeStacks: [{ body: describeStacksXml([{ name: 'Concord-prod-Data' }]) }] });
    await expect(discoverStage(recordedCloudFormation(handler), 'dev')).rejects.toMatchObject({ code: 'stage_not_found', message: expect.stringContaining('--stack-prefix') });
  });

  it('matches stacks by stage tag, by a dash-separated stage word, or by an explicit prefix', () => {
    expect(stackBelongsToStage({ StackName: 'ConcordData', Tags: [{ Key: 'concord:stage', Value: 'dev' }] }, 'dev')).toBe(true);
    expect(stackBelongsToStage({ StackName: 'Concord-Dev-Realtime' }, 'dev')).toBe(true);
    expect(stackBelongsToStage({ StackName: 'Concord-devtest-Realtime' }, 'dev')).toBe(false);
    expect(stackBelongsToStage({ StackName: 'Other-dev' }, 'dev')).toBe(false);
    expect(stackBelongsToStage({ StackName: 'MyCompany-Concord' }, 'dev', 'MyCompany-')).toBe(true);
  });
});

describe('FM-4.1 drill: ElastiCache TestFailover against recorded responses', () => {
  it('starts TestFailover on the node group and waits until the replica is primary and the group available', async () => {
    const { handler, calls } = recordedHandler({
      DescribeReplicationGroups: [
        { body: describeReplicationGroupsXml(group()) },
        { body: describeReplicationGroupsXml(group({ status: 'modifying' })) },
        { body: describeReplicationGroupsXml(group({ status: 'available', nodeGroupStatus: 'modifying', primary: 'concord-dev-cache-002', replicas: ['concord-dev-cache-001'] })) },
        { body: describeReplicationGroupsXml(group({ primary: 'concord-dev-cache-002', replicas: ['concord-dev-cache-001'] })) },
      ],
      TestFailover: [{ body: testFailoverXml(group({ status: 'modifying' })) }],
    });
    const client = recordedElastiCache(handler);
    const time = virtualTime();
    const statuses: string[] = [];
    const before = await startCacheFailover(client, 'concord-dev-cache');
    expect(before.primary).toBe('concord-dev-cache-001');
    const done = await waitForCacheFailover(client, 'concord-dev-cache', before, { timeoutMs: 600_000, intervalMs: 5000, ...time, onStatus: (s) => statuses.push(s) });
    expect(done.last.primary).toBe('concord-dev-cache-002');
    expect(done.elapsedMs).toBe(10_000);
    expect(statuses).toEqual([
      'group modifying, node group modifying, primary concord-dev-cache-001',
      'group available, node group modifying, primary concord-dev-cache-002',
      'group available, node group available, primary concord-dev-cache-002',
    ]);
    const failover = calls.find((c) => c.action === 'TestFailover');
    expect(failover?.params).toMatchObject({ ReplicationGroupId: 'concord-dev-cache', NodeGroupId: '0001' });
  });

  it('times out with failover_timeout and the last status when the failover never completes', async () => {
    const { handler } = recordedHandler({
      DescribeReplicationGroups: [{ body: describeReplicationGroupsXml(group()) }, { body: describeReplicationGroupsXml(group({ status: 'modifying' })) }],
      TestFailover: [{ body: testFailoverXml(group({ status: 'modifying' })) }],
    });
    const client = recordedElastiCache(handler);
    const before = await startCacheFailover(client, 'concord-dev-cache');
    const error = await waitForCacheFailover(client, 'concord-dev-cache', before, { timeoutMs: 60_000, intervalMs: 5000, ...virtualTime() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrillError);
    expect((error as DrillError).code).toBe('failover_timeout');
    expect((error as DrillError).message).toBe(
      'ElastiCache failover of concord-dev-cache did not complete within 60 s (last status: group modifying, node group modifying, primary concord-dev-cache-001). Check the service\'s events in the AWS console before running the drill again; raise --timeout if failovers in this region are known to be slower.',
    );
  });

  it('refuses to start without a replica or with automatic failover off, and calls no TestFailover', async () => {
    for (const g of [group({ replicas: [] }), group({ automaticFailover: 'disabled' }), group({ status: 'modifying' })]) {
      const { handler, calls } = recordedHandler({ DescribeReplicationGroups: [{ body: describeReplicationGroupsXml(g) }], TestFailover: [{ body: testFailoverXml(g) }] });
      await expect(startCacheFailover(recordedElastiCache(handler), g.id)).rejects.toMatchObject({ code: 'not_ready' });
      expect(calls.some((c) => c.action === 'TestFailover')).toBe(false);
    }
  });

  it('passes the service error through when AWS refuses the test failover (recorded 400)', async () => {
    const { handler } = recordedHandler({
      DescribeReplicationGroups: [{ body: describeReplicationGroupsXml(group()) }],
      TestFailover: [{ status: 400, body: queryErrorXml('TestFailoverNotAvailableFault', 'TestFailover API has been called too many times in the last 24 hours.') }],
    });
    await expect(startCacheFailover(recordedElastiCache(handler), 'concord-dev-cache')).rejects.toMatchObject({ name: 'TestFailoverNotAvailableFault' });
  });
});

describe('FM-6.1 drill: Aurora FailoverDBCluster against recorded responses', () => {
  it('fails over to the reader and waits until it is the writer and the cluster available', async () => {
    const swapped = cluster({ writer: 'concord-dev-reader', readers: ['concord-dev-writer'] });
    const { handler, calls } = recordedHandler({
      DescribeDBClusters: [
        { body: describeDbClustersXml(cluster()) },
        { body: describeDbClustersXml(cluster({ status: 'failing-over' })) },
        { body: describeDbClustersXml({ ...swapped, status: 'failing-over' }) },
        { body: describeDbClustersXml(swapped) },
      ],
      FailoverDBCluster: [{ body: failoverDbClusterXml(cluster({ status: 'failing-over' })) }],
    });
    const client = recordedRds(handler);
    const before = await startDbFailover(client, 'concord-dev-aurora');
    const done = await waitForDbFailover(client, 'concord-dev-aurora', before, { timeoutMs: 600_000, intervalMs: 2000, ...virtualTime() });
    expect(done.last).toEqual({ status: 'available', writer: 'concord-dev-reader', readers: ['concord-dev-writer'] });
    expect(done.elapsedMs).toBe(4000);
    expect(calls.find((c) => c.action === 'FailoverDBCluster')?.params).toMatchObject({ DBClusterIdentifier: 'concord-dev-aurora', TargetDBInstanceIdentifier: 'concord-dev-reader' });
  });

  it('times out with failover_timeout when the writer never changes', async () => {
    const { handler } = recordedHandler({
      DescribeDBClusters: [{ body: describeDbClustersXml(cluster()) }],
      FailoverDBCluster: [{ body: failoverDbClusterXml(cluster({ status: 'failing-over' })) }],
    });
    const client = recordedRds(handler);
    const before = await startDbFailover(client, 'concord-dev-aurora');
    await expect(waitForDbFailover(client, 'concord-dev-aurora', before, { timeoutMs: 30_000, intervalMs: 2000, ...virtualTime() })).rejects.toMatchObject({
      code: 'failover_timeout',
      message: expect.stringContaining('Aurora failover of concord-dev-aurora did not complete within 30 s (last status: cluster available, writer concord-dev-writer)'),
    });
  });

  it('refuses to fail over a cluster without a reader', async () => {
    const { handler, calls } = recordedHandler({ DescribeDBClusters: [{ body: describeDbClustersXml(cluster({ readers: [] })) }], FailoverDBCluster: [{ body: failoverDbClusterXml(cluster()) }] });
    await expect(startDbFailover(recordedRds(handler), 'concord-dev-aurora')).rejects.toMatchObject({ code: 'not_ready', message: expect.stringContaining('0 reader(s)') });
    expect(calls.some((c) => c.action === 'FailoverDBCluster')).toBe(false);
  });
});
