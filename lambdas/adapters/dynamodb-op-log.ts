/**
 * The op log on DynamoDB (contracts/tables.ts OP_LOG_TABLE): one partition per document, sort key
 * = server-assigned sequence number (FM-1.4, FM-3.1).
 *
 * Sequence allocation: a strongly consistent descending `Limit 1` query finds the partition's top
 * item (the head item `seq = 0` carries the floor raised by compaction, so with every entry
 * compacted away the head is the top), then `PutItem seq = top + 1` with `attribute_not_exists`;
 * a writer that loses the race retries with jittered backoff. No transactions (dynalite has none).
 *
 * DynamoDB items max out at 400 KB, so an update above PART_BYTES is stored as part items first
 * (partition `<docId>#part#<uuid>`, sort key = part index, `kind = "part"`) and the entry item
 * then names them. Parts are written before the entry, so any visible entry has all its parts.
 */
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AppendInput, Clock, OpLog, OpLogEntry } from '../core/ports';
import { systemClock } from '../core/ports';
import { backoffMs, inGroups, isConditionalCheckFailed, sleep } from './dynamodb-client';

/** Largest update stored inline in one item (the rest of the item stays well under 400 KB). */
export const PART_BYTES = 350 * 1024;
const HEAD_SEQ = 0;

export interface DynamoOpLogOptions {
  readonly clock?: Clock;
  /** Attempts to claim a sequence number under contention before giving up. */
  readonly maxAttempts?: number;
  /** Inline size limit (tests lower it to exercise parts). */
  readonly partBytes?: number;
}

/** The stored shape of an entry item (and of a stream record's NEW_IMAGE). */
export interface EntryItem {
  docId: string;
  seq: number;
  update?: Uint8Array;
  userId: string;
  connectionId: string;
  serverTime: number;
  /** Split entries: the part partition and the number of parts. */
  partKey?: string;
  parts?: number;
  bytes?: number;
  kind?: string;
}

export class OpLogContentionError extends Error {
  constructor(docId: string, attempts: number) {
    super(`Could not claim a sequence number for document ${docId} after ${attempts} attempts; the change was not saved and will be retried.`);
    this.name = 'OpLogContentionError';
  }
}

export class DynamoOpLog implements OpLog {
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly partBytes: number;

  constructor(private readonly db: DynamoDBDocumentClient, private readonly table: string, options: DynamoOpLogOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 30;
    this.partBytes = options.partBytes ?? PART_BYTES;
  }

  /** The highest sequence number ever handed out or raised to by compaction. */
  async top(docId: string): Promise<number> {
    const [latest, head] = await Promise.all([
      this.db.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'docId = :d',
        ExpressionAttributeValues: { ':d': docId },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
        ProjectionExpression: 'seq, floor',
      })),
      // The head is normally the top only when the log is empty; reading it too keeps the floor
      // authoritative even if compaction ever removed entries that are not a prefix.
      this.db.send(new GetCommand({ TableName: this.table, Key: { docId, seq: HEAD_SEQ }, ConsistentRead: true, ProjectionExpression: 'floor' })),
    ]);
    const item = latest.Items?.[0];
    const fromTop = item ? (item.seq === HEAD_SEQ ? Number(item.floor ?? 0) : Number(item.seq)) : 0;
    return Math.max(fromTop, Number(head.Item?.floor ?? 0));
  }

  async append(docId: string, input: AppendInput): Promise<OpLogEntry> {
    const split = input.update.length > this.partBytes ? await this.writeParts(docId, input.update) : null;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const seq = (await this.top(docId)) + 1;
      const serverTime = this.clock.now();
      const item: EntryItem = {
        docId,
        seq,
        userId: input.userId,
        connectionId: input.connectionId,
        serverTime,
        bytes: input.update.length,
        ...(split ? { partKey: split.partKey, parts: split.parts } : { update: input.update }),
      };
      try {
        await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(seq)' }));
        return { docId, seq, update: input.update, userId: input.userId, connectionId: input.connectionId, serverTime };
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw e;
        await sleep(backoffMs(attempt));
      }
    }
    throw new OpLogContentionError(docId, this.maxAttempts);
  }

  async readAll(docId: string): Promise<OpLogEntry[]> {
    return this.readSince(docId, HEAD_SEQ);
  }

  async readSince(docId: string, afterSeq: number): Promise<OpLogEntry[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'docId = :d AND seq > :s',
      ExpressionAttributeValues: { ':d': docId, ':s': Math.max(afterSeq, HEAD_SEQ) },
      ConsistentRead: true,
    });
    const entries: OpLogEntry[] = [];
    for (const item of items) entries.push(await this.toEntry(item as unknown as EntryItem));
    return entries;
  }

  async remove(docId: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    const floor = Math.max(...seqs);
    // Raise the floor first: once it is durable, these numbers can never be handed out again.
    try {
      await this.db.send(new UpdateCommand({
        TableName: this.table,
        Key: { docId, seq: HEAD_SEQ },
        UpdateExpression: 'SET floor = :f',
        ConditionExpression: 'attribute_not_exists(floor) OR floor < :f',
        ExpressionAttributeValues: { ':f': floor },
      }));
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e; // already at or above: nothing to raise
    }
    const wanted = new Set(seqs.filter((s) => s > HEAD_SEQ));
    if (wanted.size === 0) return;
    const present = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'docId = :d AND seq BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':d': docId, ':lo': Math.min(...wanted), ':hi': floor },
      ConsistentRead: true,
      ProjectionExpression: 'seq, partKey, parts',
    });
    const keys: Record<string, unknown>[] = [];
    for (const item of present) {
      if (!wanted.has(Number(item.seq))) continue;
      keys.push({ docId, seq: Number(item.seq) });
      if (item.partKey) for (let i = 0; i < Number(item.parts); i++) keys.push({ docId: item.partKey, seq: i });
    }
    await this.deleteKeys(keys);
  }

  /**
   * Turns a stored item (from a query or a stream record's NEW_IMAGE) into an entry, reading the
   * parts of a split update.
   */
  async toEntry(item: EntryItem): Promise<OpLogEntry> {
    let update = item.update;
    if (!update) {
      if (!item.partKey || !item.parts) throw new Error(`Op-log entry ${item.docId}/${item.seq} has neither an update nor parts.`);
      update = await this.readParts(item.partKey, Number(item.parts), Number(item.bytes ?? 0));
    }
    return {
      docId: item.docId,
      seq: Number(item.seq),
      update: new Uint8Array(update),
      userId: item.userId,
      connectionId: item.connectionId,
      serverTime: Number(item.serverTime),
    };
  }

  private async writeParts(docId: string, update: Uint8Array): Promise<{ partKey: string; parts: number }> {
    const partKey = `${docId}#part#${randomUUID()}`;
    const parts = Math.ceil(update.length / this.partBytes);
    // One PutItem per part (each up to ~350 KB; a BatchWriteItem is capped at 16 MB anyway).
    await Promise.all(
      Array.from({ length: parts }, (_, index) =>
        this.db.send(new PutCommand({
          TableName: this.table,
          Item: { docId: partKey, seq: index, kind: 'part', piece: update.subarray(index * this.partBytes, (index + 1) * this.partBytes) },
        })),
      ),
    );
    return { partKey, parts };
  }

  private async readParts(partKey: string, parts: number, bytes: number): Promise<Uint8Array> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'docId = :d',
      ExpressionAttributeValues: { ':d': partKey },
      ConsistentRead: true,
    });
    if (items.length !== parts) throw new Error(`Op-log entry parts ${partKey}: found ${items.length} of ${parts}.`);
    items.sort((a, b) => Number(a.seq) - Number(b.seq));
    const out = new Uint8Array(bytes || items.reduce((n, i) => n + (i.piece as Uint8Array).length, 0));
    let offset = 0;
    for (const item of items) {
      const piece = item.piece as Uint8Array;
      out.set(piece, offset);
      offset += piece.length;
    }
    if (offset !== out.length) throw new Error(`Op-log entry parts ${partKey}: reassembled ${offset} of ${out.length} bytes.`);
    return out;
  }

  private async queryAll(input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      out.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  private async deleteKeys(keys: Record<string, unknown>[]): Promise<void> {
    for (const group of inGroups(keys, 25)) {
      let requests = group.map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt, 20, 1000));
        if (attempt > 10) throw new Error(`Could not delete ${requests.length} op-log items after ${attempt} attempts (throttled).`);
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = (result.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }
}
