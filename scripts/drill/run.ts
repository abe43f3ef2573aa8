/**
 * One failover drill: a synthetic editor keeps editing through the deployed site while the
 * stage's cache and then its database fail over; the report gives each failover's time to recover
 * and the number of acknowledged edits lost (the drill fails unless it is 0).
 */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { RDSClient } from '@aws-sdk/client-rds';
import { DrillError, startCacheFailover, startDbFailover, waitForCacheFailover, waitForDbFailover, type PollOptions } from './aws';
import { SyntheticEditor, verifyDocument, type SocketFactory } from './editor';

export type DrillTarget = 'cache' | 'database';

export interface FailoverReport {
  readonly target: DrillTarget;
  readonly resource: string;
  readonly from: string | null;
  readonly to: string | null;
  /** Trigger to the service reporting the failover complete. */
  readonly failoverMs: number;
  /**
   * Trigger to "editing healthy again": the failover is complete and every edit made up to then
   * is acknowledged.
   */
  readonly recoverMs: number;
}

export interface DrillReport {
  readonly failovers: readonly FailoverReport[];
  readonly editsSent: number;
  readonly editsAcknowledged: number;
  readonly editsStored: number;
  readonly editsLost: number;
  readonly lostMarkers: readonly string[];
  readonly reconnects: number;
  readonly maxAckDelayMs: number;
  readonly errors: Readonly<Record<string, number>>;
}

export interface DrillDeps {
  readonly elasticache: ElastiCacheClient;
  readonly rds: RDSClient;
  readonly replicationGroupId: string | null;
  readonly dbClusterId: string | null;
  readonly targets: readonly DrillTarget[];
  /** Opens a socket to the drill document (with the user's cookie). */
  readonly connect: SocketFactory;
  readonly runId: string;
  readonly poll: PollOptions;
  readonly editIntervalMs?: number;
  /** Editing time before each failover and after the last one (ms). */
  readonly settleMs?: number;
  /** How long the editor may take to get every edit acknowledged after a failover (ms). */
  readonly recoveryTimeoutMs?: number;
  readonly onReauth?: () => Promise<void>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitForSaved(editor: SyntheticEditor, timeoutMs: number, now: () => number): Promise<number> {
  const start = now();
  // A fresh edit proves the write path works, not just that old edits were acknowledged.
  editor.edit();
  while (now() - start < timeoutMs) {
    if (editor.session.isSaved) return now();
    await sleep(50);
  }
  throw new DrillError('editor_failed', `Edits were still not acknowledged ${Math.round(timeoutMs / 1000)} s after the failover completed; the stage has not recovered. Check the message Lambda's logs and alarms.`);
}

export async function runDrill(deps: DrillDeps): Promise<DrillReport> {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => undefined);
  const settleMs = deps.settleMs ?? 10_000;
  const recoveryTimeoutMs = deps.recoveryTimeoutMs ?? 120_000;
  for (const target of deps.targets) {
    if (target === 'cache' && !deps.replicationGroupId) throw new DrillError('resource_not_found', 'The stage has no ElastiCache replication group (AWS::ElastiCache::ReplicationGroup) in its stacks; run with --only database or check the stage.');
    if (target === 'database' && !deps.dbClusterId) throw new DrillError('resource_not_found', 'The stage has no Aurora cluster (AWS::RDS::DBCluster) in its stacks; run with --only cache or check the stage.');
  }
  const editor = new SyntheticEditor({ connect: deps.connect, runId: deps.runId, editIntervalMs: deps.editIntervalMs, onReauth: deps.onReauth, log, now });
  const failovers: FailoverReport[] = [];
  try {
    await editor.start();
    log('synthetic editor connected and editing');
    await sleep(settleMs);
    for (const target of deps.targets) {
      const started = now();
      let resource: string;
      let from: string | null;
      let to: string | null;
      let failoverMs: number;
      if (target === 'cache') {
        resource = deps.replicationGroupId!;
        log(`ElastiCache TestFailover on ${resource}`);
        const before = await startCacheFailover(deps.elasticache, resource);
        const done = await waitForCacheFailover(deps.elasticache, resource, before, deps.poll);
        from = before.primary;
        to = done.last.primary;
        failoverMs = done.elapsedMs;
      } else {
        resource = deps.dbClusterId!;
        log(`Aurora FailoverDBCluster on ${resource}`);
        const before = await startDbFailover(deps.rds, resource);
        const done = await waitForDbFailover(deps.rds, resource, before, deps.poll);
        from = before.writer;
        to = done.last.writer;
        failoverMs = done.elapsedMs;
      }
      const recovered = await waitForSaved(editor, recoveryTimeoutMs, now);
      failovers.push({ target, resource, from, to, failoverMs, recoverMs: recovered - started });
      log(`${target} failover ${from} -> ${to}: complete after ${(failoverMs / 1000).toFixed(1)} s, editing healthy after ${((recovered - started) / 1000).toFixed(1)} s`);
      await sleep(settleMs);
    }
    if (!(await editor.stopEditing(recoveryTimeoutMs))) {
      throw new DrillError('editor_failed', `${editor.session.pendingCount} edit(s) were still unacknowledged at the end of the drill; the stage has not recovered.`);
    }
    const verification = await verifyDocument(deps.connect, editor.acknowledgedMarkers);
    const stats = editor.stats;
    return {
      failovers,
      editsSent: stats.sent,
      editsAcknowledged: stats.acknowledged,
      editsStored: verification.stored,
      editsLost: verification.lost.length,
      lostMarkers: verification.lost,
      reconnects: stats.reconnects,
      maxAckDelayMs: stats.maxAckDelayMs,
      errors: stats.errors,
    };
  } finally {
    editor.close();
  }
}

export function formatReport(report: DrillReport): string {
  const lines = ['Failover drill report', ''];
  for (const f of report.failovers) {
    lines.push(`  ${f.target.padEnd(8)} ${f.resource}: ${f.from ?? '?'} -> ${f.to ?? '?'}, failover ${(f.failoverMs / 1000).toFixed(1)} s, time to recover ${(f.recoverMs / 1000).toFixed(1)} s`);
  }
  lines.push(
    '',
    `  edits sent ${report.editsSent}, acknowledged ${report.editsAcknowledged}, stored ${report.editsStored}, lost ${report.editsLost}`,
    `  reconnects ${report.reconnects}, longest wait for an acknowledgement ${(report.maxAckDelayMs / 1000).toFixed(1)} s`,
    `  server refusals: ${Object.entries(report.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
  );
  if (report.editsLost > 0) lines.push('', `  LOST: ${report.lostMarkers.slice(0, 20).join(', ')}`);
  return lines.join('\n');
}
