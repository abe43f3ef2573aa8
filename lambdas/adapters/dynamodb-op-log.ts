/**
 * The op log on DynamoDB (contracts/tables.ts OP_LOG_TABLE): one partition per document, sort key
 * = server-assigned sequence number (FM-1.4, FM-3.1).
 *
 * Sequence allocation: the head item (`seq = 0`) holds a counter. An append claims its number
 * with one atomic `UpdateItem ADD nextSeq 1` and then puts the entry, so writers in any number of
 * Lambda containers never retry against each other (the earlier read-the-top-then-conditional-put
 * scheme retried under contention: docs/architecture.md). A number is never handed out twice
 * (invariant 3). It is not always written in order: a writer that stalls between its claim and
 * its put can land below a number written since, even below a compaction's floor. Nothing relies
 * on that order: loading applies every remaining entry, and compaction merges such a late entry
 * again and removes it only once a snapshot contains it (core compact()). The put keeps its
 * `attribute_not_exists` condition for logs written before the head counted (an older release's
 * data): the counter then catches up with the top once and the claim is repeated. A claim on such
 * a head that already has a compaction floor catches up first, since TTL may have swept the
 * entries below it.
 *
 * Compaction never deletes an entry item: `remove` turns it into a tombstone (`compacted = true`,
 * payload removed, `expiresAt` = server now + 24 h for DynamoDB TTL, FM-3.5), gives its part items
 * the same expiry (a fan-out retried after the compaction still reads them) and raises the head's
 * floor. Readers skip tombstones.
 *
 * Document size (`document_too_large`, LIMITS.documentBytes): the claim also adds the update's
 * size to the head's running total (`docBytes`, copied onto the entry) and to its size estimate
 * (`sizeBytes`), and its condition refuses the change when the estimate would pass the limit:
 * racing appends are checked against each other atomically. Compaction resets the estimate to
 * the size of the snapshot it committed plus what was appended after its floor (`docBytes` now
 * minus the entry's total at the floor, computed by DynamoDB in the same update). The tail is
 * counted as raw update bytes (an upper bound of what it adds to the merged state), so the
 * estimate errs towards refusing early, and compaction brings it back to the real size.
 *
 * DynamoDB items max out at 400 KB, so an update above PART_BYTES is stored as part items first
 * (partition `<docId>#part#<uuid>`, sort key = part index, `kind = "part"`) and the entry item
 * then names them. Parts are written before the entry, so any visible entry has all its parts.
 */
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConcordError } from '../core/errors';
import { LIMITS } from '../core/limits';
import type { AppendInput, Clock, CompactionInfo, OpLog, OpLogEntry } from '../core/ports';
import { systemClock } from '../core/ports';
import { backoffMs, inGroups, isConditionalCheckFailed, sleep } from './dynamodb-client';

/** Largest update stored inline in one item (the rest of the item stays well under 400 KB). */
export const PART_BYTES = 350 * 1024;
const HEAD_SEQ = 0;

/**
 * How long a tombstone and its part items stay before DynamoDB TTL deletes them: as long as the
 * op-log stream keeps the record that names them (24 h), so a fan-out retried after the
 * compaction can still read the update.
 */
export const TOMBSTONE_TTL_SECONDS = 24 * 60 * 60;

/** Tombstone and part-expiry updates issued in parallel by one `remove` (UpdateItem has no batch form). */
const TOMBSTONE_CONCURRENCY = 16;

/** Attribute names used in expressions (`update` is a DynamoDB reserved word). */
const NAMES = { '#u': 'update', '#c': 'compacted', '#pk': 'partKey', '#pa': 'parts' } as const;

export interface DynamoOpLogOptions {
  readonly clock?: Clock;
  /** Claims tried before giving up while the log already holds the claimed numbers (see catchUpCounter). */
  readonly maxAttempts?: number;
  /** Inline size limit (tests lower it to exercise parts). */
  readonly partBytes?: number;
  /** Largest stored document before `document_too_large` (tests lower it). */
  readonly documentBytes?: number;
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
  /** Running total of update bytes appended to the document, this entry included. */
  docBytes?: number;
  /** Set when compaction merged the entry: a payload-less tombstone awaiting TTL. */
  compacted?: boolean;
  expiresAt?: number;
  kind?: string;
}

/** What a read of the log's top finds (the counter's catch-up and `top()`). */
interface TopState {
  /** The highest sequence number ever handed out or raised to by compaction. */
  readonly seq: number;
  /** Running byte total at the top (the base for the next entry's `docBytes`). */
  readonly docBytes: number;
  /** Estimated stored size: latest snapshot + uncompacted tail. */
  readonly documentBytes: number;
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
  private readonly documentBytes: number;

  constructor(private readonly db: DynamoDBDocumentClient, private readonly table: string, options: DynamoOpLogOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.partBytes = options.partBytes ?? PART_BYTES;
    this.documentBytes = options.documentBytes ?? LIMITS.documentBytes;
  }

  /** The highest sequence number ever handed out or raised to by compaction (tombstones count). */
  async top(docId: string): Promise<number> {
    return (await this.topState(docId)).seq;
  }

  private async topState(docId: string): Promise<TopState> {
    const [latest, head] = await Promise.all([
      // No filter: tombstones must be seen here, they are what keeps their numbers taken.
      this.db.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'docId = :d',
        ExpressionAttributeValues: { ':d': docId },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
        ProjectionExpression: 'seq, floor, docBytes',
      })),
      // The head is normally the top only when the log is empty; reading it too keeps the floor
      // authoritative even if compaction ever removed entries that are not a prefix.
      this.db.send(new GetCommand({ TableName: this.table, Key: { docId, seq: HEAD_SEQ }, ConsistentRead: true, ProjectionExpression: 'floor, snapshotBytes, floorDocBytes, nextSeq' })),
    ]);
    const item = latest.Items?.[0];
    const floorDocBytes = Number(head.Item?.floorDocBytes ?? 0);
    const fromTop = item ? (item.seq === HEAD_SEQ ? Number(item.floor ?? 0) : Number(item.seq)) : 0;
    // An entry written before running totals existed counts from the floor on.
    const docBytes = item && item.seq !== HEAD_SEQ && item.docBytes !== undefined ? Math.max(Number(item.docBytes), floorDocBytes) : floorDocBytes;
    return {
      seq: Math.max(fromTop, Number(head.Item?.floor ?? 0), Number(head.Item?.nextSeq ?? 0)),
      docBytes,
      documentBytes: Number(head.Item?.snapshotBytes ?? 0) + (docBytes - floorDocBytes),
    };
  }

  /** The last queued append per document in this process (see append). */
  private readonly appendQueues = new Map<string, Promise<unknown>>();

  /**
   * Appends from this process to one document run one at a time, in call order: the log then
   * reads in the order one process received the changes (across containers there is no order to
   * keep, and none is needed). The counter makes this a matter of order only, not of contention.
   */
  append(docId: string, input: AppendInput): Promise<OpLogEntry> {
    const previous = this.appendQueues.get(docId) ?? Promise.resolve();
    const run = previous.then(() => this.appendNow(docId, input));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.appendQueues.set(docId, settled);
    void settled.then(() => {
      if (this.appendQueues.get(docId) === settled) this.appendQueues.delete(docId);
    });
    return run;
  }

  private async appendNow(docId: string, input: AppendInput): Promise<OpLogEntry> {
    const size = input.update.length;
    if (size > this.documentBytes) throw this.tooLarge(docId, 0, size);
    // Large updates check the size before writing parts, so a refusal leaves nothing behind.
    if (size > this.partBytes) {
      const stored = await this.storedBytes(docId);
      if (stored + size > this.documentBytes) throw this.tooLarge(docId, stored, size);
    }
    const split = size > this.partBytes ? await this.writeParts(docId, input.update) : null;
    try {
      for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
        const { seq, docBytes } = await this.claim(docId, size);
        const serverTime = this.clock.now();
        const item: EntryItem = {
          docId,
          seq,
          userId: input.userId,
          connectionId: input.connectionId,
          serverTime,
          bytes: size,
          docBytes,
          ...(split ? { partKey: split.partKey, parts: split.parts } : { update: input.update }),
        };
        try {
          // The counter never hands a number out twice, so this only fails on a log whose
          // entries were written before the head counted them (an older release's data).
          await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(seq)' }));
          return { docId, seq, update: input.update, userId: input.userId, connectionId: input.connectionId, serverTime };
        } catch (e) {
          if (!isConditionalCheckFailed(e)) throw e;
          await this.catchUpCounter(docId);
        }
      }
    } catch (e) {
      // Only a certain refusal frees the parts: after any other error the put may have landed,
      // and its entry needs them (orphaned parts merely cost storage).
      if (split && e instanceof ConcordError) await this.deleteParts(split);
      throw e;
    }
    if (split) await this.deleteParts(split);
    throw new OpLogContentionError(docId, this.maxAttempts);
  }

  /**
   * Claims the next sequence number from the head item's counter: one atomic UpdateItem, so
   * writers in any number of containers never retry against each other. The same update adds the
   * change to the running byte total and to the size estimate, and its condition refuses the
   * change when the estimate would pass the document limit.
   */
  private async claim(docId: string, size: number): Promise<{ seq: number; docBytes: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { Attributes } = await this.db.send(new UpdateCommand({
          TableName: this.table,
          Key: { docId, seq: HEAD_SEQ },
          UpdateExpression: 'ADD nextSeq :one, docBytes :size, sizeBytes :size',
          // A head with a floor but no counter belongs to an older release's log whose compacted
          // entries TTL may have swept: counting from 1 there could reuse their numbers.
          ConditionExpression: '(attribute_not_exists(sizeBytes) OR sizeBytes <= :room) AND (attribute_exists(nextSeq) OR attribute_not_exists(floor))',
          ExpressionAttributeValues: { ':one': 1, ':size': size, ':room': this.documentBytes - size },
          ReturnValues: 'UPDATED_NEW',
        }));
        return { seq: Number(Attributes?.nextSeq), docBytes: Number(Attributes?.docBytes) };
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw e;
        const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { docId, seq: HEAD_SEQ }, ConsistentRead: true, ProjectionExpression: 'nextSeq, floor, sizeBytes' }));
        if (Item?.nextSeq === undefined && Item?.floor !== undefined && attempt < this.maxAttempts) {
          await this.catchUpCounter(docId);
          continue;
        }
        throw this.tooLarge(docId, Number(Item?.sizeBytes ?? 0), size);
      }
    }
  }

  /**
   * Moves the counter past the highest number in the log, carrying the byte totals along. Only a
   * log written before the head counted needs it (it runs once per such document); concurrent
   * catch-ups are harmless, the condition keeps the counter from going back.
   */
  private async catchUpCounter(docId: string): Promise<void> {
    const top = await this.topState(docId);
    try {
      await this.db.send(new UpdateCommand({
        TableName: this.table,
        Key: { docId, seq: HEAD_SEQ },
        UpdateExpression: 'SET nextSeq = :top, docBytes = :db, sizeBytes = :sz',
        ConditionExpression: 'attribute_not_exists(nextSeq) OR nextSeq < :top',
        ExpressionAttributeValues: { ':top': top.seq, ':db': top.docBytes, ':sz': top.documentBytes },
      }));
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      await sleep(backoffMs(0));
    }
  }

  /** The head's estimate of the stored document: latest snapshot + uncompacted tail. */
  private async storedBytes(docId: string): Promise<number> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { docId, seq: HEAD_SEQ }, ConsistentRead: true, ProjectionExpression: 'sizeBytes' }));
    return Number(Item?.sizeBytes ?? 0);
  }

  private tooLarge(docId: string, stored: number, bytes: number): ConcordError {
    return new ConcordError('document_too_large', `document ${docId}: about ${stored} bytes stored, ${bytes} more would pass ${this.documentBytes}`);
  }

  private async deleteParts(split: { partKey: string; parts: number }): Promise<void> {
    await this.deleteKeys(Array.from({ length: split.parts }, (_, i) => ({ docId: split.partKey, seq: i }))).catch(() => undefined);
  }

  async readAll(docId: string): Promise<OpLogEntry[]> {
    return this.readSince(docId, HEAD_SEQ);
  }

  async readSince(docId: string, afterSeq: number): Promise<OpLogEntry[]> {
    // The filter applies per page after the key condition; queryAll follows LastEvaluatedKey, so
    // a page made only of tombstones (empty after filtering) does not end the read early.
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'docId = :d AND seq > :s',
      FilterExpression: 'attribute_not_exists(#c)',
      ExpressionAttributeNames: { '#c': NAMES['#c'] },
      ExpressionAttributeValues: { ':d': docId, ':s': Math.max(afterSeq, HEAD_SEQ) },
      ConsistentRead: true,
    });
    const entries: OpLogEntry[] = [];
    for (const item of items) entries.push(await this.toEntry(item as unknown as EntryItem));
    return entries;
  }

  async remove(docId: string, seqs: readonly number[], compaction?: CompactionInfo): Promise<void> {
    if (seqs.length === 0) return;
    // Loops, not Math.max(...seqs): spreading a long compaction's seqs overflows the call stack.
    let floor = HEAD_SEQ;
    let lowest = Number.POSITIVE_INFINITY;
    for (const s of seqs) {
      if (s > floor) floor = s;
      if (s > HEAD_SEQ && s < lowest) lowest = s;
    }
    const wanted = new Set(seqs.filter((s) => s > HEAD_SEQ));
    const present = wanted.size === 0 ? [] : await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'docId = :d AND seq BETWEEN :lo AND :hi',
      ExpressionAttributeNames: { '#c': NAMES['#c'], '#pk': NAMES['#pk'], '#pa': NAMES['#pa'] },
      ExpressionAttributeValues: { ':d': docId, ':lo': lowest, ':hi': floor },
      ConsistentRead: true,
      ProjectionExpression: 'seq, #pk, #pa, docBytes, #c',
    });
    // Raise the floor first: once it is durable, a fresh top read never goes below these numbers.
    // With the snapshot's size, the head also restarts the document's size estimate from it.
    const atFloor = present.find((item) => Number(item.seq) === floor);
    const sized = compaction && atFloor?.docBytes !== undefined;
    try {
      await this.db.send(new UpdateCommand({
        TableName: this.table,
        Key: { docId, seq: HEAD_SEQ },
        // The size estimate restarts from the snapshot plus what was appended after the floor,
        // computed by DynamoDB from the running total as it is now (appends may be racing).
        UpdateExpression: sized
          ? 'SET floor = :f, snapshotBytes = :sb, floorDocBytes = :fd, sizeBytes = if_not_exists(docBytes, :fd) + :adjust'
          : 'SET floor = :f',
        ConditionExpression: 'attribute_not_exists(floor) OR floor < :f',
        ExpressionAttributeValues: {
          ':f': floor,
          ...(sized ? { ':sb': compaction.snapshotBytes, ':fd': Number(atFloor.docBytes), ':adjust': compaction.snapshotBytes - Number(atFloor.docBytes) } : {}),
        },
      }));
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e; // already at or above: nothing to raise
    }
    const live = present.filter((item) => wanted.has(Number(item.seq)) && !item.compacted);
    const expiresAt = Math.floor(this.clock.now() / 1000) + TOMBSTONE_TTL_SECONDS;
    await this.updateEach(live.map((item) => ({ docId, seq: Number(item.seq) })), {
      UpdateExpression: 'SET #c = :t, expiresAt = :e REMOVE #u',
      // Never creates an item: a tombstone already swept by TTL stays gone.
      ConditionExpression: 'attribute_exists(seq)',
      ExpressionAttributeNames: { '#c': NAMES['#c'], '#u': NAMES['#u'] },
      ExpressionAttributeValues: { ':t': true, ':e': expiresAt },
    });
    // Parts expire with their tombstone instead of going now: the entry's stream record (kept
    // 24 h, retried by the fan-out until then) names them, and a fan-out that runs after this
    // compaction must still read the update. Only after the entry is a tombstone, so no readable
    // entry ever lacks its parts; tombstones keep `partKey`, so a redelivered compaction finishes
    // what a failed one left.
    const partKeys: { docId: string; seq: number }[] = [];
    for (const item of present) {
      if (!wanted.has(Number(item.seq))) continue;
      if (item.partKey) for (let i = 0; i < Number(item.parts); i++) partKeys.push({ docId: String(item.partKey), seq: i });
    }
    await this.updateEach(partKeys, {
      UpdateExpression: 'SET expiresAt = :e',
      // Never recreates a swept part, never pushes an expiry back.
      ConditionExpression: 'attribute_exists(seq) AND attribute_not_exists(expiresAt)',
      ExpressionAttributeValues: { ':e': expiresAt },
    });
  }

  /** One conditional UpdateItem per key, TOMBSTONE_CONCURRENCY at a time; a failed condition is a no-op. */
  private async updateEach(keys: readonly { docId: string; seq: number }[], update: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'Key'>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const Key = keys[next++];
        try {
          await this.db.send(new UpdateCommand({ TableName: this.table, Key, ...update }));
        } catch (e) {
          if (!isConditionalCheckFailed(e)) throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(TOMBSTONE_CONCURRENCY, keys.length) }, worker));
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
