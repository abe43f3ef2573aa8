/**
 * The DynamoDB adapters against dynalite, held to the behaviour of the in-memory reference ports
 * (lambdas/core/memory.ts), plus what only the real store can show: sequence allocation under
 * concurrent writers, the floor after compaction, split items above 350 KB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MemoryChunkStore, MemoryConnections, MemoryDocuments, MemoryOpLog } from '../../../lambdas/core/memory';
import type { ChunkStore, Connections, Documents, OpLog } from '../../../lambdas/core/ports';
import { DynamoOpLog } from '../../../lambdas/adapters/dynamodb-op-log';
import { DynamoChunkStore, DynamoConnections } from '../../../lambdas/adapters/dynamodb-connections';
import { DynamoDocuments } from '../../../lambdas/adapters/dynamodb-documents';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../../local/embedded/dynamodb';

let ddb: EmbeddedDynamo;
let db: DynamoDBDocumentClient;
beforeAll(async () => {
  ddb = await startEmbeddedDynamo();
  db = DynamoDBDocumentClient.from(ddb.client);
});
afterAll(async () => {
  await ddb?.stop();
});

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const input = (n = 3) => ({ update: bytes(n), userId: 'u', connectionId: 'c' });

const opLogs: [string, () => OpLog][] = [
  ['memory', () => new MemoryOpLog()],
  ['dynamodb', () => new DynamoOpLog(db, ddb.tableNames.OpLog)],
];

describe.each(opLogs)('op log contract (%s)', (_name, make) => {
  it('FM-1.4: appends get 1, 2, 3 …; readSince and remove behave; removed numbers are never reused', async () => {
    const log = make();
    const docId = `d-${randomUUID()}`;
    const seqs = [];
    for (let i = 0; i < 5; i++) seqs.push((await log.append(docId, input(i + 1))).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect((await log.readSince(docId, 3)).map((e) => e.seq)).toEqual([4, 5]);
    expect((await log.readAll(docId)).map((e) => e.update.length)).toEqual([1, 2, 3, 4, 5]);
    await log.remove(docId, [1, 2, 3]);
    expect((await log.readAll(docId)).map((e) => e.seq)).toEqual([4, 5]);
    await log.remove(docId, [4, 5]);
    expect(await log.readAll(docId)).toEqual([]);
    expect((await log.append(docId, input())).seq).toBe(6);
    await log.remove(docId, []);
    expect((await log.readAll(docId)).map((e) => e.seq)).toEqual([6]);
  });
});

const sizedOpLogs: [string, (documentBytes: number) => OpLog][] = [
  ['memory', (documentBytes) => new MemoryOpLog(undefined, { documentBytes })],
  ['dynamodb', (documentBytes) => new DynamoOpLog(db, ddb.tableNames.OpLog, { documentBytes })],
];

describe.each(sizedOpLogs)('op log document size (%s)', (_name, make) => {
  it('FM-3.5: refuses with document_too_large past the limit, storing nothing; compaction restarts the count from the snapshot', async () => {
    const log = make(100);
    const docId = `d-${randomUUID()}`;
    await log.append(docId, input(40));
    await log.append(docId, input(40));
    await expect(log.append(docId, input(30))).rejects.toMatchObject({ code: 'document_too_large' });
    expect((await log.readAll(docId)).map((e) => e.seq)).toEqual([1, 2]);
    // 80 stored: exactly up to the limit fits.
    expect((await log.append(docId, input(20))).seq).toBe(3);
    await expect(log.append(docId, input(1))).rejects.toMatchObject({ code: 'document_too_large' });
    // Compaction merged 1..3 into a 10-byte snapshot: 10 + 30 + 60 = 100 fits, one byte more not.
    await log.remove(docId, [1, 2, 3], { snapshotBytes: 10 });
    expect((await log.append(docId, input(30))).seq).toBe(4);
    expect((await log.append(docId, input(60))).seq).toBe(5);
    await expect(log.append(docId, input(1))).rejects.toMatchObject({ code: 'document_too_large' });
    // A removal without snapshot information (cleaning covered entries) never lowers the count.
    await log.remove(docId, [4]);
    await expect(log.append(docId, input(1))).rejects.toMatchObject({ code: 'document_too_large' });
    expect((await log.readAll(docId)).map((e) => e.seq)).toEqual([5]);
  });
});

describe('DynamoOpLog specifics', () => {
  it('FM-6.3: a split update that would pass the document limit is refused before any part is written', async () => {
    const log = new DynamoOpLog(db, ddb.tableNames.OpLog, { partBytes: 100, documentBytes: 1000 });
    const docId = `d-${randomUUID()}`;
    await log.append(docId, input(600));
    await expect(log.append(docId, { update: bytes(500, 3), userId: 'u', connectionId: 'c' })).rejects.toMatchObject({ code: 'document_too_large' });
    const parts = await db.send(new (await import('@aws-sdk/lib-dynamodb')).ScanCommand({ TableName: ddb.tableNames.OpLog, FilterExpression: 'begins_with(docId, :p)', ExpressionAttributeValues: { ':p': `${docId}#part#` } }));
    // Only the parts of the first (accepted) update exist.
    expect(new Set(parts.Items?.map((i) => i.docId)).size).toBe(1);
    expect(parts.Items?.length).toBe(6);
  });

  it('FM-1.4 FM-3.1: concurrent writers on one document get distinct, gap-free sequence numbers', async () => {
    const writers = Array.from({ length: 4 }, () => new DynamoOpLog(db, ddb.tableNames.OpLog));
    const docId = `d-${randomUUID()}`;
    const entries = await Promise.all(Array.from({ length: 24 }, (_, i) => writers[i % 4].append(docId, { update: bytes(8, i), userId: `u${i}`, connectionId: `c${i}` })));
    const seqs = entries.map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const stored = await writers[0].readAll(docId);
    // Each stored entry is the one its writer was told about.
    for (const e of entries) expect(stored.find((s) => s.seq === e.seq)).toEqual(e);
  });

  it('FM-6.3: an update above the inline limit is split into part items and read back whole', async () => {
    const log = new DynamoOpLog(db, ddb.tableNames.OpLog, { partBytes: 1000 });
    const docId = `d-${randomUUID()}`;
    const big = bytes(3500, 7);
    const entry = await log.append(docId, { update: big, userId: 'u', connectionId: 'c' });
    await log.append(docId, input(10));
    const [first, second] = await log.readAll(docId);
    expect(first.seq).toBe(entry.seq);
    expect(first.update).toEqual(big);
    expect(second.update.length).toBe(10);
    // Removing the entry gives its parts an expiry (TTL deletes them; op-log-tombstones.test.ts).
    await log.remove(docId, [first.seq]);
    const parts = await db.send(new (await import('@aws-sdk/lib-dynamodb')).ScanCommand({ TableName: ddb.tableNames.OpLog, FilterExpression: 'begins_with(docId, :p)', ExpressionAttributeValues: { ':p': `${docId}#part#` } }));
    expect(parts.Items).toHaveLength(4);
    for (const part of parts.Items ?? []) expect(part.expiresAt).toEqual(expect.any(Number));
  });

  it('a floor raised by compaction is respected even when later entries remain', async () => {
    const log = new DynamoOpLog(db, ddb.tableNames.OpLog);
    const docId = `d-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await log.append(docId, input());
    // Removing a non-prefix (only possible by mistake) still never lets a number be reused.
    await log.remove(docId, [3]);
    expect((await log.append(docId, input())).seq).toBe(4);
    // A lower floor never lowers the head.
    await log.remove(docId, [1]);
    expect((await log.append(docId, input())).seq).toBe(5);
  });
});

const connectionStores: [string, () => Connections][] = [
  ['memory', () => new MemoryConnections()],
  ['dynamodb', () => new DynamoConnections(db, ddb.tableNames.Connections)],
];

describe.each(connectionStores)('connections contract (%s)', (_name, make) => {
  it('put, get, list by document, delete', async () => {
    const store = make();
    const docId = `d-${randomUUID()}`;
    const c1 = { connectionId: `c-${randomUUID()}`, docId, userId: 'a', role: 'editor' as const, connectedAt: 1_000, tokenExpiresAt: 900_000 };
    const c2 = { ...c1, connectionId: `c-${randomUUID()}`, userId: 'b', role: 'viewer' as const };
    const elsewhere = { ...c1, connectionId: `c-${randomUUID()}`, docId: `d-${randomUUID()}` };
    for (const c of [c1, c2, elsewhere]) await store.put(c);
    expect(await store.get(c1.connectionId)).toEqual(c1);
    expect((await store.listByDocument(docId)).sort((x, y) => x.userId.localeCompare(y.userId))).toEqual([c1, c2]);
    await store.delete(c1.connectionId);
    expect(await store.get(c1.connectionId)).toBeNull();
    expect(await store.listByDocument(docId)).toEqual([c2]);
  });
});

const chunkStores: [string, () => ChunkStore][] = [
  ['memory', () => new MemoryChunkStore()],
  ['dynamodb', () => new DynamoChunkStore(db, ddb.tableNames.Connections)],
];

describe.each(chunkStores)('chunk store contract (%s)', (_name, make) => {
  it('stores pieces once, returns the first piece for a repeated index, deletes a set', async () => {
    const store = make();
    const conn = `c-${randomUUID()}`;
    const piece = (index: number, seed: number) => ({ index, count: 3, totalBytes: 50, piece: bytes(10, seed) });
    expect(await store.putPiece(conn, 'x', piece(0, 1))).toBeNull();
    expect(await store.putPiece(conn, 'x', piece(2, 3))).toBeNull();
    expect(await store.putPiece(conn, 'x', piece(0, 9))).toEqual(piece(0, 1));
    expect(await store.putPiece(conn, 'y', piece(0, 5))).toBeNull();
    expect((await store.pieces(conn, 'x')).sort((a, b) => a.index - b.index)).toEqual([piece(0, 1), piece(2, 3)]);
    await store.deleteSet(conn, 'x', 3);
    expect(await store.pieces(conn, 'x')).toEqual([]);
    expect(await store.pieces(conn, 'y')).toHaveLength(1);
  });
});

const documentStores: [string, () => Documents][] = [
  ['memory', () => new MemoryDocuments()],
  ['dynamodb', () => new DynamoDocuments(db, ddb.tableNames.Documents)],
];

describe.each(documentStores)('documents contract (%s)', (_name, make) => {
  it('FM-5.2: create, roles, members, rename, list for a user', async () => {
    const docs = make();
    const docId = `d-${randomUUID()}`;
    const meta = { docId, title: 'T', ownerId: 'owner', createdAt: 5 };
    await docs.create(meta);
    expect(await docs.get(docId)).toEqual(meta);
    expect(await docs.roleOf(docId, 'owner')).toBe('owner');
    expect(await docs.roleOf(docId, 'guest')).toBeNull();
    await docs.setRole(docId, 'guest', 'viewer');
    expect(await docs.roleOf(docId, 'guest')).toBe('viewer');
    expect((await docs.members(docId)).sort((a, b) => a.userId.localeCompare(b.userId))).toEqual([{ userId: 'guest', role: 'viewer' }, { userId: 'owner', role: 'owner' }]);
    await docs.rename(docId, 'Renamed');
    expect((await docs.listForUser('guest')).filter((d) => d.docId === docId)).toEqual([{ ...meta, title: 'Renamed', role: 'viewer' }]);
    await docs.setRole(docId, 'guest', null);
    expect(await docs.roleOf(docId, 'guest')).toBeNull();
    expect((await docs.listForUser('guest')).filter((d) => d.docId === docId)).toEqual([]);
    expect(await docs.get('missing')).toBeNull();
  });
});

describe('DynamoDocuments directory and denylist', () => {
  it('finds users by case-insensitive prefix and keeps revoked token ids', async () => {
    const docs = new DynamoDocuments(db, ddb.tableNames.Documents);
    const tag = randomUUID().slice(0, 8);
    await docs.recordUser({ userId: `Zed${tag}`, name: 'Zed' }, 1);
    await docs.recordUser({ userId: `zoe${tag}`, name: 'Zoe' }, 1);
    expect((await docs.findUsers(`ZE`, 20)).map((u) => u.userId)).toContain(`Zed${tag}`);
    expect(await docs.getUser(`zoe${tag}`)).toEqual({ userId: `zoe${tag}`, name: 'Zoe' });
    expect(await docs.getUser(`nobody${tag}`)).toBeNull();
    expect(await docs.isTokenRevoked(tag)).toBe(false);
    await docs.revokeToken(tag, Date.now() + 60_000);
    expect(await docs.isTokenRevoked(tag)).toBe(true);
  });
});
