/**
 * Op-log stream consumer #2 (or a scheduled / direct invocation): compacts a document into a new
 * PostgreSQL snapshot and then removes exactly the merged op-log entries (core `compact`,
 * invariant 3). Cheap trigger: an entry whose seq is a multiple of CONCORD_COMPACT_AFTER_ENTRIES
 * means about that many entries arrived since the last compaction (every seq is inserted once, and
 * the stream delivers every insert). Safe to run twice at once: the snapshot commit is a
 * compare-and-set, and a loser deletes nothing.
 *
 * Direct invocation: `{ "docIds": ["..."] }` compacts those documents (the local stack, drills).
 */
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { compact, type CompactionResult } from './core/document';
import { versionsToPrune } from './core/history';
import { sessionConfig } from './config';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';
import { groupRecords, triageRecord, type EntryRecord } from './stream-records';

export type CompactEvent = DynamoDBStreamEvent | { readonly docIds: readonly string[] };

export async function compactDocument(docId: string): Promise<CompactionResult> {
  const result = await compact(docId, runtime.opLog(), runtime.snapshots(), { clock: runtime.clock() });
  const metrics = getMetrics();
  getLogger().info('Compaction finished', { docId, ...result });
  if (result.status === 'compacted') {
    metrics.addMetric('CompactedEntries', MetricUnit.Count, result.merged);
    metrics.addMetric('SnapshotBytes', MetricUnit.Bytes, result.bytes);
  } else if (result.status === 'conflict') metrics.addMetric('CompactionConflicts', MetricUnit.Count, 1);
  if (result.status === 'compacted') await applyRetention(docId);
  return result;
}

/**
 * Thins automatic versions after a new one is committed (retention rule: docs/history.md). A
 * failure here only keeps extra versions, so it is logged and never fails the compaction.
 */
export async function applyRetention(docId: string): Promise<number> {
  try {
    const snapshots = runtime.snapshots();
    const doomed = versionsToPrune(await snapshots.list(docId), runtime.clock().now());
    const deleted = await snapshots.deleteVersions(docId, doomed);
    if (deleted > 0) getLogger().info('Automatic versions thinned', { docId, deleted });
    return deleted;
  } catch (error) {
    getLogger().warn('Version retention failed; extra versions are kept until the next compaction', { docId, error });
    return 0;
  }
}

export function handler(event: { readonly docIds: readonly string[] }, lambdaContext?: Context): Promise<{ results: Record<string, CompactionResult> }>;
export function handler(event: DynamoDBStreamEvent, lambdaContext?: Context): Promise<DynamoDBBatchResponse>;
export async function handler(event: CompactEvent, lambdaContext?: Context): Promise<DynamoDBBatchResponse | { results: Record<string, CompactionResult> }> {
  return instrumented('compact', {}, async () => {
    if ('docIds' in event) {
      const results: Record<string, CompactionResult> = {};
      for (const docId of event.docIds) results[docId] = await compactDocument(docId);
      return { results };
    }
    const every = sessionConfig().compactAfterEntries;
    const entries: EntryRecord[] = [];
    for (const record of event.Records ?? []) {
      const triage = triageRecord(record);
      if (triage.kind === 'entry') entries.push(triage.record);
    }
    const failures: string[] = [];
    for (const [docId, records] of groupRecords(entries)) {
      if (!records.some((r) => r.item.seq % every === 0)) continue;
      try {
        await compactDocument(docId);
      } catch (error) {
        failures.push(...records.map((r) => r.sequenceNumber));
        getMetrics().addMetric('CompactionFailures', MetricUnit.Count, 1);
        getLogger().error('Compaction failed; the records will be redelivered', { docId, error });
      }
    }
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  }, lambdaContext);
}
