/**
 * Reading op-log entries out of DynamoDB stream records (NEW_IMAGE), shared by `fanout` and
 * `compact`. In a Lambda event, binary attributes arrive base64-encoded; the local stack delivers
 * the same shape. Only INSERTs of entries (seq > 0) matter: the head item (seq 0, the floor), the
 * part items of split updates, and the MODIFYs that turn compacted entries into tombstones (and
 * the REMOVEs of their TTL expiry) are skipped.
 */
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { EntryItem } from './adapters/dynamodb-op-log';

export interface EntryRecord {
  /** The record's stream sequence number (the id reported in batchItemFailures). */
  readonly sequenceNumber: string;
  readonly item: EntryItem;
}

const str = (v: AttributeValue | undefined): string | undefined => v?.S;
const num = (v: AttributeValue | undefined): number | undefined => (v?.N !== undefined ? Number(v.N) : undefined);
const bin = (v: AttributeValue | undefined): Uint8Array | undefined => {
  const b = v?.B as unknown;
  if (b === undefined) return undefined;
  if (typeof b === 'string') return new Uint8Array(Buffer.from(b, 'base64'));
  if (b instanceof Uint8Array) return b;
  return undefined;
};

export type RecordTriage = { kind: 'entry'; record: EntryRecord } | { kind: 'skip'; reason: string } | { kind: 'malformed'; reason: string };

export function triageRecord(record: DynamoDBRecord): RecordTriage {
  if (record.eventName !== 'INSERT') return { kind: 'skip', reason: `event ${record.eventName}` };
  const image = record.dynamodb?.NewImage;
  if (!image) return { kind: 'malformed', reason: 'no NewImage (the stream must be NEW_IMAGE or NEW_AND_OLD_IMAGES)' };
  if (str(image.kind) === 'part') return { kind: 'skip', reason: 'part item' };
  const seq = num(image.seq);
  const docId = str(image.docId);
  if (seq === undefined || !docId) return { kind: 'malformed', reason: 'no docId or seq' };
  if (seq <= 0) return { kind: 'skip', reason: 'head item' };
  // A tombstone is never INSERTed by the op log; skipping one anyway keeps a replayed image harmless.
  if (image.compacted?.BOOL === true) return { kind: 'skip', reason: 'compacted entry (tombstone)' };
  const item: EntryItem = {
    docId,
    seq,
    update: bin(image.update),
    userId: str(image.userId) ?? '',
    connectionId: str(image.connectionId) ?? '',
    serverTime: num(image.serverTime) ?? 0,
    partKey: str(image.partKey),
    parts: num(image.parts),
    bytes: num(image.bytes),
  };
  if (!item.update && !item.partKey) return { kind: 'malformed', reason: 'entry without update or parts' };
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? record.eventID ?? `${docId}/${seq}`;
  return { kind: 'entry', record: { sequenceNumber, item } };
}

/** Entries of a batch grouped by document, in stream order. */
export function groupRecords(records: readonly EntryRecord[]): Map<string, EntryRecord[]> {
  const out = new Map<string, EntryRecord[]>();
  for (const r of records) {
    const list = out.get(r.item.docId) ?? [];
    list.push(r);
    out.set(r.item.docId, list);
  }
  return out;
}
