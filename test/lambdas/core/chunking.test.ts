/**
 * FM-6.3: a 5 MB update travels through 32 KB frames both ways: chunked by the sending client,
 * reassembled by handleFrame, stored once, fanned out chunked to another client and sent chunked
 * again as the handshake step 2 of a client that joins later.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../lambdas/core/limits';
import { decodeFrame, encodeFrames, encodeMessage, messageRef } from '../../../lambdas/core/protocol';
import { createClient, createMemoryServer } from '../../support/memory-server';

async function handshake(...clients: ReturnType<typeof createClient>[]) {
  for (let round = 0; round < 3; round++) {
    for (const c of clients) await c.flush();
    for (const c of clients) await c.receive();
  }
}

describe('chunking round trip', () => {
  it('FM-6.3 FM-1.8: a 5 MB update round-trips through chunking, is stored once, and reaches other clients chunked', async () => {
    const server = createMemoryServer();
    await server.connect('a', 'doc', 'alice');
    await server.connect('b', 'doc', 'bob');
    const a = createClient(server, 'a');
    const b = createClient(server, 'b');
    a.open();
    b.open();
    await handshake(a, b);

    // Varied content so the update is not trivially compressible in any layer.
    const big = Array.from({ length: 5 * 1024 * 1024 / 8 }, (_, i) => (i * 2654435761 >>> 0).toString(36).padStart(8, '0').slice(0, 8)).join('');
    a.doc.getText('t').insert(0, big);
    expect(a.outbox.length).toBeGreaterThan(200);
    for (const frame of a.outbox) {
      expect(frame.length).toBeLessThanOrEqual(LIMITS.frameBytes);
      expect(decodeFrame(frame).message.type).toBe('chunk');
    }
    // Deliver the pieces in reverse order: reassembly does not depend on order.
    a.outbox.reverse();
    await a.flush();
    const entries = await server.deps.opLog.readAll('doc');
    expect(entries).toHaveLength(1);
    expect(entries[0].update.length).toBeGreaterThan(5 * 1024 * 1024);

    await a.receive();
    expect(a.session.isSaved).toBe(true);

    await server.drainStream();
    const toB = server.broadcaster.sent.get('b')!;
    expect(toB.length).toBeGreaterThan(200);
    expect(toB.every((f) => f.length <= LIMITS.frameBytes)).toBe(true);
    await b.receive();
    expect(b.doc.getText('t').toString()).toBe(big);

    // A client joining now gets the whole document as a chunked step 2.
    await server.connect('c', 'doc', 'carol');
    const c = createClient(server, 'c');
    c.open();
    await c.flush();
    expect(server.broadcaster.sent.get('c')!.length).toBeGreaterThan(200);
    await handshake(c);
    expect(c.doc.getText('t').toString()).toBe(big);
    expect(c.session.isSaved).toBe(true);

    const stored = new Y.Doc();
    for (const e of await server.deps.opLog.readAll('doc')) Y.applyUpdate(stored, e.update);
    expect(stored.getText('t').toString()).toBe(big);
  });

  it('FM-6.3 FM-4.3: a document whose step 2 would pass 8 MB answers the handshake with update_too_large (load the snapshot over HTTPS instead)', async () => {
    const server = createMemoryServer();
    await server.connect('a', 'doc', 'alice');
    // Two stored changes of 4.5 MB each: each is within the limit, together they are not.
    for (const clientID of [1, 2]) {
      const doc = new Y.Doc();
      doc.clientID = clientID;
      doc.getText('t').insert(0, String(clientID).repeat(4.5 * 1024 * 1024));
      await server.deps.opLog.append('doc', { update: Y.encodeStateAsUpdate(doc), userId: 'alice', connectionId: 'x' });
    }
    const step1 = encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) });
    expect(await server.frame('a', encodeFrames(step1)[0])).toEqual({ status: 'refused', code: 'update_too_large' });
    expect(server.broadcaster.take('a').map((f) => decodeFrame(f).message)).toEqual([expect.objectContaining({ type: 'error', code: 'update_too_large', ref: messageRef(step1) })]);
  });
});
