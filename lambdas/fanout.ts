/**
 * Op-log stream consumer #1: delivers stored updates to every connection of their document
 * (FM-1.2, FM-1.3). The batch's entries are grouped per document and merged into one message per
 * recipient (core `fanoutDocument`); connections answering 410 are deleted.
 *
 * Partial batch failures: a document whose delivery failed has all its records reported in
 * `batchItemFailures`, so Lambda retries from the earliest of them (with bisect, retry limit and
 * on-failure destination set by the CDK app). Redelivery is harmless: Yjs updates are idempotent
 * (FM-1.5, FM-4.2). Powertools' BatchProcessor handles records one by one, which would post one
 * message per record; grouping per document is the point here, so the response is built directly.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, Context } from 'aws-lambda';
import { fanoutDocument } from './core/session';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';
import { groupRecords, triageRecord, type EntryRecord } from './stream-records';

/** Documents delivered in parallel within one batch (each also posts with bounded concurrency). */
const DOCUMENT_CONCURRENCY = 4;

export const handler = async (event: DynamoDBStreamEvent, lambdaContext?: Context): Promise<DynamoDBBatchResponse> =>
  instrumented('fanout', {}, async () => {
    const log = getLogger();
    const metrics = getMetrics();
    const entries: EntryRecord[] = [];
    for (const record of event.Records ?? []) {
      const triage = triageRecord(record);
      if (triage.kind === 'entry') entries.push(triage.record);
      else if (triage.kind === 'malformed') {
        // Retrying cannot fix a malformed image; blocking the shard on it would stop every document.
        log.error('Skipping a malformed op-log stream record', { reason: triage.reason, eventID: record.eventID });
        metrics.addMetric('MalformedStreamRecords', MetricUnit.Count, 1);
      }
    }
    const failures: string[] = [];
    const groups = [...groupRecords(entries)];
    const deps = { broadcaster: runtime.broadcaster(), connections: runtime.connections() };
    const opLog = runtime.opLog();
    let next = 0;
    const worker = async () => {
      while (next < groups.length) {
        const [docId, records] = groups[next++];
        try {
          const docEntries = await Promise.all(records.map((r) => opLog.toEntry(r.item)));
          const result = await fanoutDocument(deps, docId, docEntries);
          const delayMs = Math.max(0, runtime.clock().now() - result.oldestServerTime);
          metrics.addMetric('FanoutRecipients', MetricUnit.Count, result.recipients);
          metrics.addMetric('FanoutBytes', MetricUnit.Bytes, result.bytes);
          metrics.addMetric('FanoutDelay', MetricUnit.Milliseconds, delayMs);
          log.info('Fan-out delivered', { docId, entries: result.entries, recipients: result.recipients, gone: result.gone, delayMs });
        } catch (error) {
          failures.push(...records.map((r) => r.sequenceNumber));
          metrics.addMetric('FanoutFailures', MetricUnit.Count, 1);
          log.error('Fan-out failed; the records will be redelivered', { docId, records: records.length, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DOCUMENT_CONCURRENCY, groups.length) }, worker));
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  }, lambdaContext);
