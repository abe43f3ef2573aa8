/**
 * Limits that protect storage, enforced through handleFrame with small injected limits:
 * `document_too_large` (LIMITS.documentBytes, estimated as snapshot + uncompacted tail) and the
 * per-connection budget of chunk pieces (`chunk_budget`), which holds with the cache down too.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CHUNK_BUDGET_PIECES, CHUNK_BUDGET_WINDOW_SECONDS } from '../../../lambdas/core/chunks';
import { compact } from '../../../lambdas/core/document';
import { resilientCache } from '../../../lambdas/core/cache';
import { LIMITS, maxChunkCount } from '../../../lambdas/core/limits';
import { MemoryBroadcaster, MemoryCache, MemoryChunkStore, MemoryConnections, MemoryOpLog, MemorySnapshotStore } from '../../../lambdas/core/memory';
import type { Cache, Connection } from '../../../lambdas/core/ports';
import { decodeFrame, encodeFrames, encodeMessage, toBase64, type Message } from '../../../lambdas/core/protocol';
import { handleFrame, type SessionDeps } from '../../../lambdas/core/session';

const DOC = 'doc-limits';

function setup(options: { documentBytes?: number; chunkPiecesPerWindow?: number; cache?: Cache } = {}) {
  let now = Date.UTC(2026, 10, 28, 12, 0, 0);
  const clock = { now: () => now };
  const chunks = new MemoryChunkStore();
  const deps: SessionDeps = {
    opLog: new MemoryOpLog(clock, { documentBytes: options.documentBytes }),
    snapshots: new MemorySnapshotStore(),
    connections: new MemoryConnections(),
    broadcaster: new MemoryBroadcaster(),
    chunks,
    cache: options.cache ?? resilientCache(new MemoryCache(clock), { clock }),
    clock,
    rateLimitPerSecond: 1000,
    chunkPiecesPerWindow: options.chunkPiecesPerWindow,
  };
  const connection = (connectionId: string): Connection => ({ connectionId, docId: DOC, userId: `user-${connectionId}`, role: 'editor', connectedAt: now, tokenExpiresAt: now + 24 * 3600_000 });
  const received = (connectionId: string) => (deps.broadcaster as MemoryBroadcaster).take(connectionId).map((f) => decodeFrame(f).message);
  const storedPieces = async (connectionId: string, chunkId: string) => (await chunks.pieces(connectionId, chunkId)).length;
  return { deps, connection, received, storedPieces, clock, advance: (ms: number) => (now += ms) };
}

/** An update from a client document whose text gets `text` inserted (and the doc, to continue). */
function insertUpdate(doc: Y.Doc, text: string): Uint8Array {
  const before = Y.encodeStateVector(doc);
  doc.getText('t').insert(doc.getText('t').length, text);
  return Y.encodeStateAsUpdate(doc, before);
}

function deleteAllUpdate(doc: Y.Doc): Uint8Array {
  const before = Y.encodeStateVector(doc);
  doc.getText('t').delete(0, doc.getText('t').length);
  return Y.encodeStateAsUpdate(doc, before);
}

const updateFrame = (update: Uint8Array) => toBase64(encodeMessage({ type: 'sync-update', update }));

/** Raw chunk frames of a set of `count` pieces (never a whole message: the set stays unfinished). */
function chunkFrames(id: string, count: number, indexes: readonly number[]): string[] {
  const totalBytes = count * LIMITS.chunkPieceBytes;
  return indexes.map((index) => toBase64(encodeMessage({ type: 'chunk', id, index, count, totalBytes, piece: new Uint8Array(LIMITS.chunkPieceBytes).fill(index & 0xff) })));
}

describe('document_too_large (LIMITS.documentBytes)', () => {
  it('refuses the update that would pass the limit before anything is stored; smaller ones still fit', async () => {
    const t = setup({ documentBytes: 3000 });
    const alice = t.connection('a');
    const doc = new Y.Doc();
    const first = insertUpdate(doc, 'x'.repeat(1200));
    const second = insertUpdate(doc, 'y'.repeat(1200));
    expect(await handleFrame(t.deps, alice, updateFrame(first))).toMatchObject({ status: 'ok' });
    expect(await handleFrame(t.deps, alice, updateFrame(second))).toMatchObject({ status: 'ok' });
    t.received('a');

    const third = insertUpdate(doc, 'z'.repeat(1200));
    expect(await handleFrame(t.deps, alice, updateFrame(third))).toEqual({ status: 'refused', code: 'document_too_large' });
    const [error] = t.received('a') as Message[];
    expect(error).toMatchObject({ type: 'error', code: 'document_too_large' });
    expect((error as { ref: string }).ref).not.toBe('');
    expect((await t.deps.opLog.readAll(DOC)).map((e) => e.update.length)).toEqual([first.length, second.length]);

    // The limit is on the total: a small change that still fits is accepted.
    const small = insertUpdate(new Y.Doc(), 'ok');
    expect(await handleFrame(t.deps, alice, updateFrame(small))).toMatchObject({ status: 'ok' });
  });

  it('FM-3.5: after compaction the size restarts from the snapshot, so deleted text frees room', async () => {
    const t = setup({ documentBytes: 3000 });
    const alice = t.connection('a');
    const doc = new Y.Doc({ gc: true });
    expect(await handleFrame(t.deps, alice, updateFrame(insertUpdate(doc, 'x'.repeat(1400))))).toMatchObject({ status: 'ok' });
    expect(await handleFrame(t.deps, alice, updateFrame(deleteAllUpdate(doc))).then((r) => r.status)).toBe('ok');
    const next = insertUpdate(doc, 'y'.repeat(1600));
    // The raw tail (1400 + delete + 1600) is over 3000 although the text is now small.
    expect(await handleFrame(t.deps, alice, updateFrame(next))).toEqual({ status: 'refused', code: 'document_too_large' });

    const result = await compact(DOC, t.deps.opLog, t.deps.snapshots, { clock: t.clock });
    expect(result).toMatchObject({ status: 'compacted' });
    expect(result.status === 'compacted' && result.bytes).toBeLessThan(200);
    // The same change is accepted now: the stored document is the small snapshot.
    expect(await handleFrame(t.deps, alice, updateFrame(next))).toMatchObject({ status: 'ok' });
  });
});

describe('chunk budget per connection (chunk_budget)', () => {
  it('refuses pieces beyond the budget before storing them; other connections are unaffected; the next window resets it', async () => {
    const t = setup({ chunkPiecesPerWindow: 6 });
    const mallory = t.connection('m');
    // Three unfinished sets of four pieces, two pieces each: six pieces fit the budget.
    for (const id of ['s1', 's2', 's3']) {
      for (const frame of chunkFrames(id, 4, [0, 1])) expect(await handleFrame(t.deps, mallory, frame)).toEqual({ status: 'chunk-pending' });
    }
    const [over] = chunkFrames('s4', 4, [0]);
    expect(await handleFrame(t.deps, mallory, over)).toEqual({ status: 'refused', code: 'chunk_budget' });
    expect(t.received('m')).toEqual([expect.objectContaining({ type: 'error', code: 'chunk_budget', ref: '' })]);
    expect(await t.storedPieces('m', 's4')).toBe(0);
    // Finishing an existing set is refused too: the store holds no more than the budget.
    const [more] = chunkFrames('s1', 4, [2]);
    expect(await handleFrame(t.deps, mallory, more)).toEqual({ status: 'refused', code: 'chunk_budget' });
    expect(await t.storedPieces('m', 's1')).toBe(2);

    // Another connection has its own budget.
    const alice = t.connection('a');
    expect(await handleFrame(t.deps, alice, chunkFrames('a1', 4, [0])[0])).toEqual({ status: 'chunk-pending' });

    t.advance(CHUNK_BUDGET_WINDOW_SECONDS * 1000);
    expect(await handleFrame(t.deps, mallory, over)).toEqual({ status: 'chunk-pending' });
  });

  it('FM-4.1: with the cache down the budget is still enforced (per process) and nothing fails', async () => {
    const down: Cache = {
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      set: () => Promise.reject(new Error('ECONNREFUSED')),
      del: () => Promise.reject(new Error('ECONNREFUSED')),
      incr: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const t = setup({ chunkPiecesPerWindow: 3, cache: resilientCache(down) });
    const mallory = t.connection('m');
    for (const frame of chunkFrames('s1', 5, [0, 1, 2])) expect(await handleFrame(t.deps, mallory, frame)).toEqual({ status: 'chunk-pending' });
    expect(await handleFrame(t.deps, mallory, chunkFrames('s1', 5, [3])[0])).toEqual({ status: 'refused', code: 'chunk_budget' });
  });

  it('the default budget holds two maximal (8 MiB) messages, and a real chunked change passes through it', async () => {
    expect(CHUNK_BUDGET_PIECES).toBeGreaterThanOrEqual(2 * maxChunkCount);
    const t = setup({ documentBytes: LIMITS.documentBytes });
    const alice = t.connection('a');
    // A real chunked update (about 100 KB) goes through the default budget and is stored.
    const doc = new Y.Doc();
    const update = insertUpdate(doc, Array.from({ length: 2000 }, (_, i) => `line ${i} with some text;`).join('\n'));
    const frames = encodeFrames({ type: 'sync-update', update });
    expect(frames.length).toBeGreaterThan(1);
    const outcomes = [];
    for (const frame of frames) outcomes.push((await handleFrame(t.deps, alice, frame)).status);
    expect(outcomes).toEqual([...frames.slice(1).map(() => 'chunk-pending'), 'ok']);
    expect((await t.deps.opLog.readAll(DOC)).map((e) => e.update)).toEqual([update]);
  });
});
