import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DrillError } from '../../../scripts/drill/aws';
import { formatReport, runDrill, type DrillDeps } from '../../../scripts/drill/run';
import { startCoreWsServer } from '../support/core-ws-server';
import {
  describeDbClustersXml, describeReplicationGroupsXml, failoverDbClusterXml, recordedElastiCache, recordedHandler, recordedRds, testFailoverXml,
  type RecordedCall, type RecordedCluster, type RecordedGroup,
} from './recorded';

const group = (over: Partial<RecordedGroup> = {}): RecordedGroup => ({ id: 'concord-dev-cache', status: 'available', primary: 'cache-001', replicas: ['cache-002'], ...over });
const cluster = (over: Partial<RecordedCluster> = {}): RecordedCluster => ({ id: 'concord-dev-aurora', status: 'available', writer: 'writer-a', readers: ['reader-b'], ...over });

let server: Awaited<ReturnType<typeof startCoreWsServer>> | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** Recorded AWS: both failovers go through a "modifying" phase, during which `duringFailover` runs. */
function recordedAws(options: { cacheCompletes?: boolean; duringFailover?: () => void } = {}) {
  const onCall = (call: RecordedCall, index: number) => {
    if ((call.action === 'DescribeReplicationGroups' || call.action === 'DescribeDBClusters') && index === 1) options.duringFailover?.();
  };
  const cache = recordedHandler(
    {
      DescribeReplicationGroups: [
        { body: describeReplicationGroupsXml(group()) },
        { body: describeReplicationGroupsXml(group({ status: 'modifying' })) },
        ...(options.cacheCompletes === false ? [] : [{ body: describeReplicationGroupsXml(group({ primary: 'cache-002', replicas: ['cache-001'] })) }]),
      ],
      TestFailover: [{ body: testFailoverXml(group({ status: 'modifying' })) }],
    },
    onCall,
  );
  const db = recordedHandler(
    {
      DescribeDBClusters: [
        { body: describeDbClustersXml(cluster()) },
        { body: describeDbClustersXml(cluster({ status: 'failing-over' })) },
        { body: describeDbClustersXml(cluster({ writer: 'reader-b', readers: ['writer-a'] })) },
      ],
      FailoverDBCluster: [{ body: failoverDbClusterXml(cluster({ status: 'failing-over' })) }],
    },
    onCall,
  );
  return { elasticache: recordedElastiCache(cache.handler), rds: recordedRds(db.handler), cacheCalls: cache.calls, dbCalls: db.calls };
}

function drillDeps(url: string, aws: ReturnType<typeof recordedAws>, over: Partial<DrillDeps> = {}): DrillDeps {
  return {
    elasticache: aws.elasticache,
    rds: aws.rds,
    replicationGroupId: 'concord-dev-cache',
    dbClusterId: 'concord-dev-aurora',
    targets: ['cache', 'database'],
    connect: () => new WebSocket(url),
    runId: 'test',
    poll: { timeoutMs: 20_000, intervalMs: 150 },
    editIntervalMs: 20,
    settleMs: 300,
    recoveryTimeoutMs: 20_000,
    ...over,
  };
}

describe('FM-8 failover drill end to end (recorded AWS, real core over WebSocket)', () => {
  it('FM-8 FM-6.1 reports both failovers, reconnects after sockets drop mid-failover, and 0 acknowledged edits lost', async () => {
    server = await startCoreWsServer();
    const s = server;
    const aws = recordedAws({ duringFailover: () => s.dropAll() });
    const report = await runDrill(drillDeps(s.url('drill-doc'), aws));
    expect(report.failovers.map((f) => [f.target, f.from, f.to])).toEqual([
      ['cache', 'cache-001', 'cache-002'],
      ['database', 'writer-a', 'reader-b'],
    ]);
    for (const f of report.failovers) expect(f.recoverMs).toBeGreaterThanOrEqual(f.failoverMs);
    expect(report.reconnects).toBeGreaterThanOrEqual(2);
    expect(report.editsSent).toBeGreaterThan(10);
    expect(report.editsAcknowledged).toBe(report.editsSent);
    expect(report.editsStored).toBe(report.editsSent);
    expect(report.editsLost).toBe(0);
    expect(formatReport(report)).toContain(`edits sent ${report.editsSent}, acknowledged ${report.editsSent}, stored ${report.editsSent}, lost 0`);
  });

  it('FM-8 counts acknowledged edits that the stage lost (a server that drops stored entries)', async () => {
    server = await startCoreWsServer();
    const s = server;
    // A broken stage: during the failover it loses everything already stored.
    const aws = recordedAws({
      duringFailover: () => {
        void s.opLog.readAll('drill-doc').then((entries) => s.opLog.remove('drill-doc', entries.map((e) => e.seq)));
      },
    });
    const report = await runDrill(drillDeps(s.url('drill-doc'), aws, { targets: ['cache'] }));
    expect(report.editsLost).toBeGreaterThan(0);
    expect(report.lostMarkers).toContain('test:0');
    expect(formatReport(report)).toContain('LOST: test:0');
  });

  it('FM-8 fails with failover_timeout when the cache failover never completes, and closes its editor', async () => {
    server = await startCoreWsServer();
    const aws = recordedAws({ cacheCompletes: false });
    const error = await runDrill(drillDeps(server.url('drill-doc'), aws, { poll: { timeoutMs: 600, intervalMs: 100 } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrillError);
    expect((error as DrillError).code).toBe('failover_timeout');
    expect((error as DrillError).message).toContain('ElastiCache failover of concord-dev-cache did not complete within 1 s (last status: group modifying');
    expect(aws.dbCalls).toHaveLength(0);
    await expect.poll(() => server!.openSockets, { timeout: 5000 }).toBe(0);
  });

  it('refuses a target the stage does not have before touching anything', async () => {
    const aws = recordedAws();
    await expect(runDrill(drillDeps('ws://127.0.0.1:9/unused', aws, { replicationGroupId: null }))).rejects.toMatchObject({ code: 'resource_not_found', message: expect.stringContaining('--only database') });
    expect(aws.cacheCalls).toHaveLength(0);
  });
});
