/**
 * ClientSession behaviours that the property tests do not reach: recovery from errors without a
 * ref, from a remote change that never arrived, a malformed update from the server, and a change
 * too large to send.
 */
import * as Y from 'yjs';
import { describe, expect, it, vi } from 'vitest';
import { ClientSession } from '../../../lambdas/core/client-session';
import { LIMITS } from '../../../lambdas/core/limits';
import { MemoryChunkStore } from '../../../lambdas/core/memory';
import type { ChunkStore } from '../../../lambdas/core/ports';
import { decodeFrame, encodeFrames, errorMessage, messageRef } from '../../../lambdas/core/protocol';
import { createMemoryServer } from '../../support/memory-server';

/** A session wired to a memory server, with a pump that moves frames both ways. */
async function wired(server: ReturnType<typeof createMemoryServer>, id: string) {
  await server.connect(id, 'doc', id);
  const doc = new Y.Doc();
  const outbox: string[] = [];
  const errors: string[] = [];
  const session = new ClientSession(doc, null, { retryDelayMs: 5, events: { error: (code) => errors.push(code) } });
  session.connected((f) => outbox.push(f));
  const pump = async () => {
    while (outbox.length) await server.frame(id, outbox.shift()!).catch(() => undefined);
    for (const f of server.broadcaster.take(id)) await session.receive(f);
  };
  return { doc, session, outbox, errors, pump };
}

describe('ClientSession recovery', () => {
  it('FM-4.2: after unavailable with an empty ref (chunk store down mid-upload) it resends every unacknowledged change and ends saved', async () => {
    const inner = new MemoryChunkStore();
    let failNext = true;
    const flaky: ChunkStore = {
      putPiece: async (c, id, piece) => {
        if (failNext) {
          failNext = false;
          throw new Error('chunk table throttled');
        }
        return inner.putPiece(c, id, piece);
      },
      pieces: (c, id) => inner.pieces(c, id),
      deleteSet: (c, id) => inner.deleteSet(c, id),
    };
    const server = createMemoryServer({ chunks: flaky });
    const a = await wired(server, 'a');
    await a.pump();
    await a.pump();
    expect(a.session.isSaved).toBe(true);
    const big = 'x'.repeat(60_000);
    a.doc.getText('t').insert(0, big);
    await a.pump();
    expect(a.errors).toContain('unavailable');
    expect(a.session.isSaved).toBe(false);
    await vi.waitFor(async () => {
      await a.pump();
      expect(a.session.isSaved).toBe(true);
    });
    const stored = new Y.Doc();
    for (const e of await server.deps.opLog.readAll('doc')) Y.applyUpdate(stored, e.update);
    expect(stored.getText('t').toString()).toBe(big);
  });

  it.each(['chunk_inconsistent', 'chunk_incomplete', 'unavailable'] as const)('after %s without a ref it resends the pending changes (new chunk ids)', async (code) => {
    const sent: string[] = [];
    const doc = new Y.Doc();
    const session = new ClientSession(doc, null, { retryDelayMs: 1 });
    session.connected((f) => sent.push(f));
    // Server's step 1: the handshake is done once we answer it.
    await session.receive(encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })[0]);
    await session.receive(encodeFrames({ type: 'ack', seq: 0, ref: messageRef(decodeFrame(sent[sent.length - 1]).bytes) })[0]);
    doc.getText('t').insert(0, 'y'.repeat(40_000));
    const firstChunkIds = new Set(sent.map((f) => decodeFrame(f).message).filter((m) => m.type === 'chunk').map((m) => (m as { id: string }).id));
    expect(firstChunkIds.size).toBe(1);
    const before = sent.length;
    await session.receive(encodeFrames(errorMessage(code, 'x', ''))[0]);
    await vi.waitFor(() => expect(sent.length).toBeGreaterThan(before));
    const resent = sent.slice(before).map((f) => decodeFrame(f).message);
    expect(resent.every((m) => m.type === 'chunk' && !firstChunkIds.has(m.id))).toBe(true);
    session.destroy();
  });

  it('FM-1.8: many ref-less errors at once (every piece of a set refused) cause one resend, not one per error', async () => {
    const sent: string[] = [];
    const doc = new Y.Doc();
    const session = new ClientSession(doc, null, { retryDelayMs: 1 });
    session.connected((f) => sent.push(f));
    await session.receive(encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })[0]);
    await session.receive(encodeFrames({ type: 'ack', seq: 0, ref: messageRef(decodeFrame(sent[sent.length - 1]).bytes) })[0]);
    doc.getText('t').insert(0, 'y'.repeat(40_000));
    const perSet = sent.length - 2;
    expect(perSet).toBe(2);
    const before = sent.length;
    for (let i = 0; i < 10; i++) await session.receive(encodeFrames(errorMessage('unavailable', 'x', ''))[0]);
    await vi.waitFor(() => expect(sent.length).toBe(before + perSet));
    await new Promise((r) => setTimeout(r, 30));
    expect(sent.length).toBe(before + perSet);
    session.destroy();
  });

  it('a refused change with a permanent code (read_only) is not resent', async () => {
    const sent: string[] = [];
    const doc = new Y.Doc();
    const session = new ClientSession(doc, null, { retryDelayMs: 1 });
    session.connected((f) => sent.push(f));
    await session.receive(encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })[0]);
    const step2 = decodeFrame(sent[sent.length - 1]).bytes;
    await session.receive(encodeFrames({ type: 'ack', seq: 0, ref: messageRef(step2) })[0]);
    doc.getText('t').insert(0, 'z');
    const update = decodeFrame(sent[sent.length - 1]).bytes;
    expect(session.pendingCount).toBe(1);
    const count = sent.length;
    await session.receive(encodeFrames(errorMessage('read_only', 'x', messageRef(update)))[0]);
    expect(session.pendingCount).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(sent.length).toBe(count);
    session.destroy();
  });

  describe('FM-4.2: a remote change that never arrives', () => {
    /** Two changes by another user, the second building on the first. */
    function dependentUpdates() {
      const other = new Y.Doc();
      const updates: Uint8Array[] = [];
      other.on('update', (u: Uint8Array) => updates.push(u));
      other.getText('t').insert(0, 'first ');
      other.getText('t').insert(6, 'second');
      return { first: updates[0], second: updates[1], full: Y.encodeStateAsUpdate(other) };
    }
    async function handshaken(gapResyncMs: number) {
      const sent: string[] = [];
      const doc = new Y.Doc();
      let resyncs = 0;
      let resynced: () => void = () => undefined;
      const firstResync = new Promise<void>((r) => (resynced = r));
      const session = new ClientSession(doc, null, { gapResyncMs, events: { resync: () => (resyncs++, resynced()) } });
      session.connected((f) => sent.push(f));
      await session.receive(encodeFrames({ type: 'sync-step2', update: Y.encodeStateAsUpdate(new Y.Doc()) })[0]);
      await session.receive(encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })[0]);
      const stepOnes = () => sent.map((f) => decodeFrame(f).message).filter((m) => m.type === 'sync-step1').length;
      return { doc, session, sent, stepOnes, resyncs: () => resyncs, firstResync };
    }

    it('a lost delivery (the fan-out gave up) is recovered by asking the server for a diff, without a reconnect', async () => {
      const { second, full } = dependentUpdates();
      const c = await handshaken(30);
      expect(c.stepOnes()).toBe(1);
      // Only the second change arrives: Yjs holds it back, the text shows neither.
      await c.session.receive(encodeFrames({ type: 'sync-update', update: second })[0]);
      expect(c.doc.getText('t').toString()).toBe('');
      await c.firstResync;
      expect(c.stepOnes()).toBe(2);
      const resync = decodeFrame(c.sent.findLast((f) => decodeFrame(f).message.type === 'sync-step1')!).message;
      expect(resync).toMatchObject({ type: 'sync-step1', stateVector: Y.encodeStateVector(c.doc) });
      // The server's step 2 (the diff for that state vector) fills the gap; nothing more is asked.
      await c.session.receive(encodeFrames({ type: 'sync-step2', update: Y.diffUpdate(full, resync.type === 'sync-step1' ? resync.stateVector : new Uint8Array()) })[0]);
      expect(c.doc.getText('t').toString()).toBe('first second');
      await new Promise((r) => setTimeout(r, 150));
      expect(c.stepOnes()).toBe(2);
      expect(c.resyncs()).toBe(1);
      c.session.destroy();
    });

    it('changes delivered out of order within the wait cause no resync', async () => {
      const { first, second } = dependentUpdates();
      const c = await handshaken(40);
      await c.session.receive(encodeFrames({ type: 'sync-update', update: second })[0]);
      await c.session.receive(encodeFrames({ type: 'sync-update', update: first })[0]);
      expect(c.doc.getText('t').toString()).toBe('first second');
      await new Promise((r) => setTimeout(r, 100));
      expect(c.stepOnes()).toBe(1);
      expect(c.resyncs()).toBe(0);
      c.session.destroy();
    });

    it('while the gap stays open the resyncs back off, and a disconnect stops them', async () => {
      const { second } = dependentUpdates();
      const c = await handshaken(5);
      await c.session.receive(encodeFrames({ type: 'sync-update', update: second })[0]);
      // 5, 10, 20, 40 ms: four resyncs need ~75 ms; without backoff there would be ~30 in 150 ms.
      await new Promise((r) => setTimeout(r, 150));
      expect(c.resyncs()).toBeGreaterThanOrEqual(2);
      expect(c.resyncs()).toBeLessThanOrEqual(6);
      c.session.disconnected();
      const after = c.stepOnes();
      await new Promise((r) => setTimeout(r, 100));
      expect(c.stepOnes()).toBe(after);
      c.session.destroy();
    });
  });

  it('FM-3.6: a malformed update from the server is reported as bad_update, not thrown, and the document is untouched', async () => {
    const errors: string[] = [];
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'keep');
    const session = new ClientSession(doc, null, { events: { error: (code) => errors.push(code) } });
    session.connected(() => undefined);
    await expect(session.receive(encodeFrames({ type: 'sync-update', update: new Uint8Array([1, 1, 200, 1, 0, 77]) })[0])).resolves.toBeUndefined();
    expect(errors).toEqual(['bad_update']);
    expect(doc.getText('t').toString()).toBe('keep');
    session.destroy();
  });

  it('FM-6.3: a local change over 8 MB does not throw out of the editor; it is reported and stays unsaved', async () => {
    const errors: string[] = [];
    const doc = new Y.Doc();
    const session = new ClientSession(doc, null, { events: { error: (code) => errors.push(code) } });
    session.connected(() => undefined);
    await session.receive(encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })[0]);
    const before = session.pendingCount;
    expect(() => doc.getText('t').insert(0, 'w'.repeat(LIMITS.updateBytes + 100))).not.toThrow();
    expect(errors).toEqual(['update_too_large']);
    expect(session.pendingCount).toBe(before + 1);
    expect(session.isSaved).toBe(false);
    session.destroy();
  });
});
