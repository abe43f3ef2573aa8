/**
 * Compaction turns op-log entries into tombstones instead of deleting them (invariant 3, FM-3.5):
 * a writer that read the top before compaction cannot reuse a number, readers never see
 * tombstones (even when whole pages are tombstones), DynamoDB TTL removes them later, and the
 * MODIFY records tombstoning produces never reach the stream consumers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoOpLog, TOMBSTONE_TTL_SECONDS } from '../../lambdas/adapters/dynamodb-op-log';
import { triageRecord } from '../../lambdas/stream-records';
import { OP_LOG_ENTRY_FILTER_PATTERN } from '../../contracts/streams';
import { matchesFilter } from '../../local/dynamodb/streams';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded/dynamodb';

let ddb: EmbeddedDynamo;
let db: DynamoDBDocumentClient;
let table: string;
beforeAll(async () => {
  ddb = await startEmbeddedDynamo();
  db = DynamoDBDocumentClient.from(ddb.client);
  table = ddb.tableNames.OpLog;
});
afterAll(async () => {
  await ddb?.stop();
});

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const input = (n = 8, seed = 1) => ({ update: bytes(n, seed), userId: 'u', connectionId: 'c' });

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}
const deferred = (): Deferred => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

/**
 * A client whose first entry PutItem waits until released: the writer has read the top and
 * computed its number, and then stalls (a slow network, a paused Lambda) before writing.
 */
function stallingFirstEntryPut(inner: DynamoDBDocumentClient) {
  const reached = deferred();
  const release = deferred();
  let armed = true;
  const client = {
    send: async (command: unknown) => {
      if (armed && command instanceof PutCommand && Number(command.input.Item?.seq) > 0 && !command.input.Item?.kind) {
        armed = false;
        reached.resolve();
        await release.promise;
      }
      return inner.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, reached: reached.promise, release: release.resolve };
}

/** A client that forces every Query into pages of `limit` items (unless it asks for fewer). */
function smallPages(inner: DynamoDBDocumentClient, limit: number) {
  const stats = { pages: 0 };
  const client = {
    send: async (command: unknown) => {
      if (command instanceof QueryCommand && command.input.Limit === undefined) {
        stats.pages++;
        return inner.send(new QueryCommand({ ...command.input, Limit: limit }));
      }
      return inner.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, stats };
}

const rawItem = async (docId: string, seq: number) => (await db.send(new GetCommand({ TableName: table, Key: { docId, seq }, ConsistentRead: true }))).Item;

describe('op-log tombstones (invariant 3, FM-3.5)', () => {
  it('FM-1.4 FM-3.5: a writer stalled between claiming its number and writing never lands on a number handed out since; its late entry stays readable', async () => {
    const docId = `d-${randomUUID()}`;
    const stalled = stallingFirstEntryPut(db);
    const slowWriter = new DynamoOpLog(stalled.client, table);
    const writer = new DynamoOpLog(db, table);
    const compactor = new DynamoOpLog(db, table);

    // The slow writer claims seq 1 and stalls before putting it.
    const slow = slowWriter.append(docId, input(8, 1));
    await stalled.reached;
    // Meanwhile another writer takes the next number, and compaction merges and removes it.
    const fast = await writer.append(docId, input(8, 2));
    expect(fast.seq).toBe(2);
    await compactor.remove(docId, [fast.seq], { snapshotBytes: 8 });
    // The late put lands on its own number, below the floor: readable (loading applies every
    // remaining entry) until a compaction that really contains it removes it (core compact()).
    stalled.release();
    const late = await slow;
    expect(late.seq).toBe(1);
    const readable = await writer.readAll(docId);
    expect(readable.map((e) => e.seq)).toEqual([1]);
    expect(readable[0].update).toEqual(bytes(8, 1));
    expect((await writer.append(docId, input(8, 3))).seq).toBe(3);
  });

  it('FM-3.1: writers in separate containers (no shared queue) never retry against each other', async () => {
    const docId = `d-${randomUUID()}`;
    let puts = 0;
    let refusedPuts = 0;
    const counting = {
      send: async (command: unknown) => {
        if (command instanceof PutCommand && Number(command.input.Item?.seq) > 0 && !command.input.Item?.kind) puts++;
        try {
          return await db.send(command as never);
        } catch (e) {
          if (command instanceof PutCommand) refusedPuts++;
          throw e;
        }
      },
    } as unknown as DynamoDBDocumentClient;
    // One DynamoOpLog per simulated Lambda container: each has its own in-process queue.
    const containers = Array.from({ length: 8 }, () => new DynamoOpLog(counting, table));
    const entries = await Promise.all(Array.from({ length: 40 }, (_, i) => containers[i % containers.length].append(docId, input(8, i))));
    expect(new Set(entries.map((e) => e.seq)).size).toBe(40);
    expect(Math.max(...entries.map((e) => e.seq))).toBe(40);
    expect(refusedPuts).toBe(0);
    expect(puts).toBe(40);
  });

  it('a log written before the head counted (an older release) gets numbers above its entries', async () => {
    const docId = `d-${randomUUID()}`;
    for (const seq of [1, 2, 3]) await db.send(new PutCommand({ TableName: table, Item: { docId, seq, update: bytes(8, seq), userId: 'u', connectionId: 'c', serverTime: 1, bytes: 8, docBytes: 8 * seq } }));
    const log = new DynamoOpLog(db, table);
    const entry = await log.append(docId, input(8, 9));
    expect(entry.seq).toBe(4);
    expect((await log.readAll(docId)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect((await rawItem(docId, 4))?.docBytes).toBe(32);
    expect((await log.append(docId, input(8, 10))).seq).toBe(5);
  });

  it('an older release\'s log whose compacted entries TTL already swept never gets their numbers again', async () => {
    const docId = `d-${randomUUID()}`;
    // Entries 1-3 were compacted (head floor 3) and swept by TTL before this release ran.
    await db.send(new PutCommand({ TableName: table, Item: { docId, seq: 0, floor: 3, snapshotBytes: 24, floorDocBytes: 24 } }));
    const log = new DynamoOpLog(db, table);
    expect((await log.append(docId, input(8, 1))).seq).toBe(4);
    expect((await log.append(docId, input(8, 2))).seq).toBe(5);
  });

  it('FM-3.5: remove leaves a payload-less tombstone that expires 24 h after compaction with its parts, and raises the floor', async () => {
    const now = Date.UTC(2026, 10, 28, 12, 0, 0);
    const log = new DynamoOpLog(db, table, { clock: { now: () => now }, partBytes: 100 });
    const docId = `d-${randomUUID()}`;
    const big = await log.append(docId, input(350, 3));
    const small = await log.append(docId, input(20, 4));
    const partKey = (await rawItem(docId, big.seq))?.partKey as string;
    expect(partKey).toContain('#part#');

    await log.remove(docId, [big.seq, small.seq], { snapshotBytes: 300 });

    for (const seq of [big.seq, small.seq]) {
      const item = await rawItem(docId, seq);
      expect(item?.compacted).toBe(true);
      expect(item?.update).toBeUndefined();
      expect(item?.expiresAt).toBe(Math.floor(now / 1000) + TOMBSTONE_TTL_SECONDS);
    }
    expect(TOMBSTONE_TTL_SECONDS).toBe(24 * 3600);
    // The parts stay readable until the same expiry: a fan-out retried after this compaction
    // still reads the update its stream record names (FM-4.2, FM-6.3).
    const parts = await db.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'docId = :p', ExpressionAttributeValues: { ':p': partKey } }));
    expect(parts.Items).toHaveLength(4);
    for (const part of parts.Items ?? []) expect(part.expiresAt).toBe(Math.floor(now / 1000) + TOMBSTONE_TTL_SECONDS);
    expect((await rawItem(docId, 0))?.floor).toBe(small.seq);
    expect(await log.readAll(docId)).toEqual([]);
    expect(await log.readSince(docId, 0)).toEqual([]);

    // Removing again (a redelivered compaction) does not push the expiry back.
    const later = new DynamoOpLog(db, table, { clock: { now: () => now + 3600_000 } });
    await later.remove(docId, [big.seq, small.seq]);
    expect((await rawItem(docId, small.seq))?.expiresAt).toBe(Math.floor(now / 1000) + TOMBSTONE_TTL_SECONDS);
    const partsAgain = await db.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'docId = :p', ExpressionAttributeValues: { ':p': partKey } }));
    for (const part of partsAgain.Items ?? []) expect(part.expiresAt).toBe(Math.floor(now / 1000) + TOMBSTONE_TTL_SECONDS);
  });

  it('FM-3.5: once TTL has deleted the tombstones, the head floor still keeps new numbers above them', async () => {
    const log = new DynamoOpLog(db, table);
    const docId = `d-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await log.append(docId, input());
    await log.remove(docId, [1, 2, 3]);
    // What DynamoDB TTL does a day later.
    for (const seq of [1, 2, 3]) await db.send(new DeleteCommand({ TableName: table, Key: { docId, seq } }));
    expect((await log.append(docId, input())).seq).toBe(4);
    // A compaction redelivered after the sweep does not resurrect the swept items.
    await log.remove(docId, [1, 2, 3]);
    for (const seq of [1, 2, 3]) expect(await rawItem(docId, seq)).toBeUndefined();
  });

  it('readAll and readSince skip tombstones across pages, including pages made only of tombstones', async () => {
    const docId = `d-${randomUUID()}`;
    const writer = new DynamoOpLog(db, table);
    for (let i = 0; i < 10; i++) await writer.append(docId, input(8, i));
    await writer.remove(docId, [1, 2, 3, 4, 5, 6, 8]);
    const paged = smallPages(db, 2);
    const reader = new DynamoOpLog(paged.client, table);
    const all = await reader.readAll(docId);
    expect(all.map((e) => e.seq)).toEqual([7, 9, 10]);
    expect(all.map((e) => e.update)).toEqual([bytes(8, 6), bytes(8, 8), bytes(8, 9)]);
    expect(paged.stats.pages).toBeGreaterThan(3);
    expect((await reader.readSince(docId, 7)).map((e) => e.seq)).toEqual([9, 10]);
    // The top read still sees the tombstone above everything readable.
    await writer.remove(docId, [9, 10]);
    expect(await reader.top(docId)).toBe(10);
    expect((await reader.append(docId, input())).seq).toBe(11);
  });

  it('FM-4.2: the MODIFY record a tombstone produces reaches neither stream consumer', async () => {
    const docId = `d-${randomUUID()}`;
    const log = new DynamoOpLog(db, table);
    const entry = await log.append(docId, input());
    await log.remove(docId, [entry.seq]);
    const tombstone = await rawItem(docId, entry.seq);
    const image = {
      docId: { S: docId },
      seq: { N: String(entry.seq) },
      userId: { S: String(tombstone?.userId) },
      connectionId: { S: String(tombstone?.connectionId) },
      serverTime: { N: String(tombstone?.serverTime) },
      compacted: { BOOL: true },
      expiresAt: { N: String(tombstone?.expiresAt) },
    };
    const modify = { eventName: 'MODIFY', eventID: 'e1', dynamodb: { SequenceNumber: '1', NewImage: image } } as unknown as DynamoDBRecord;
    expect(triageRecord(modify)).toEqual({ kind: 'skip', reason: 'event MODIFY' });
    expect(matchesFilter(modify, OP_LOG_ENTRY_FILTER_PATTERN)).toBe(false);
    // Control: the same image as an INSERT would pass the filter, so the filter is what drops it;
    // the handlers' own triage still skips a tombstone image (a replayed or hand-made record).
    expect(matchesFilter({ ...modify, eventName: 'INSERT' }, OP_LOG_ENTRY_FILTER_PATTERN)).toBe(true);
    expect(triageRecord({ ...modify, eventName: 'INSERT' })).toEqual({ kind: 'skip', reason: 'compacted entry (tombstone)' });
    // And the live table holds no other items for the document than the head and the tombstone.
    const items = await db.send(new ScanCommand({ TableName: table, FilterExpression: 'docId = :d', ExpressionAttributeValues: { ':d': docId } }));
    expect(items.Items?.map((i) => i.seq).sort()).toEqual([0, entry.seq]);
  });
});
