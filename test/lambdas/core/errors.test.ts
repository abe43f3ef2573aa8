/**
 * Every error code the core produces (lambdas/core/errors.ts), each through handleFrame: the
 * sender gets an ERROR with the code (and the message's ref when the message could be decoded),
 * nothing is persisted, and other connections see nothing (BLUEPRINT invariant 5).
 */
import { createHash } from 'node:crypto';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it, vi } from 'vitest';
import { ClientSession } from '../../../lambdas/core/client-session';
import { ERROR_CODES, type ErrorCode } from '../../../lambdas/core/errors';
import { LIMITS } from '../../../lambdas/core/limits';
import { MemoryChunkStore } from '../../../lambdas/core/memory';
import type { ChunkPiece, ChunkStore } from '../../../lambdas/core/ports';
import { decodeFrame, encodeFrames, encodeMessage, messageRef, toBase64, type Message } from '../../../lambdas/core/protocol';
import type { SessionDeps } from '../../../lambdas/core/session';
import { createMemoryServer } from '../../support/memory-server';

async function setup(overrides: Partial<SessionDeps> = {}, role: 'editor' | 'viewer' = 'editor') {
  const server = createMemoryServer(overrides);
  await server.connect('a', 'doc', 'alice', role);
  await server.connect('b', 'doc', 'bob');
  const received = (id = 'a') => server.broadcaster.take(id).map((f) => decodeFrame(f).message);
  const stored = async () => (await server.deps.opLog.readAll('doc')).length;
  return { server, received, stored };
}

/** A valid Yjs update inserting `text`. */
function updateInserting(text: string, clientID = 7): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

const frameOf = (bytes: Uint8Array) => toBase64(bytes);
const concat = (...parts: (Uint8Array | number[])[]) => {
  const e = encoding.createEncoder();
  for (const p of parts) encoding.writeUint8Array(e, p instanceof Uint8Array ? p : new Uint8Array(p));
  return encoding.toUint8Array(e);
};
const varUint = (n: number) => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, n);
  return encoding.toUint8Array(e);
};

/** Sends one frame; asserts exactly one ERROR with `code` and `ref` came back and nothing was stored. */
async function expectRefused(ctx: Awaited<ReturnType<typeof setup>>, frame: string, code: ErrorCode, ref = '') {
  const outcome = await ctx.server.frame('a', frame);
  expect(outcome).toEqual({ status: 'refused', code });
  const messages = ctx.received();
  expect(messages).toHaveLength(1);
  const [error] = messages;
  expect(error).toMatchObject({ type: 'error', code, ref });
  expect((error as { message: string }).message).toContain(ERROR_CODES[code]);
  expect(await ctx.stored()).toBe(0);
  expect(ctx.received('b')).toEqual([]);
  return error;
}

describe('bad_base64', () => {
  it.each([
    ['characters outside the alphabet', 'AAE!'],
    ['missing padding', 'AAE'],
    ['url-safe alphabet', 'AA-_'],
    ['embedded newline', 'AAEA\nAAEA'],
  ])('FM-3.6: %s is refused with bad_base64', async (_name, frame) => {
    await expectRefused(await setup(), frame, 'bad_base64');
  });
});

describe('bad_message', () => {
  const update = updateInserting('hello');
  const good = encodeMessage({ type: 'sync-update', update });

  it('an empty frame', async () => {
    await expectRefused(await setup(), '', 'bad_message');
  });
  it('a truncated message (last byte missing)', async () => {
    await expectRefused(await setup(), frameOf(good.subarray(0, good.length - 1)), 'bad_message');
  });
  it('trailing bytes after a complete message', async () => {
    await expectRefused(await setup(), frameOf(concat(good, [0])), 'bad_message');
  });
  it('a payload declaring a huge length (2^40 bytes) it does not have', async () => {
    await expectRefused(await setup(), frameOf(concat([0, 2], varUint(2 ** 40), [1, 2, 3])), 'bad_message');
  });
  it('a length beyond 2^53 (an over-long varUint)', async () => {
    await expectRefused(await setup(), frameOf(new Uint8Array([0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])), 'bad_message');
  });
  it('a truncated type number', async () => {
    await expectRefused(await setup(), frameOf(new Uint8Array([0x80])), 'bad_message');
  });
  it('a chunk id that is not UTF-8', async () => {
    await expectRefused(await setup(), frameOf(concat([16, 2, 0xff, 0xfe], [0, 1, 1, 1, 5])), 'bad_message');
  });
  it('a sync step 1 whose state vector does not decode (ref known)', async () => {
    const bytes = encodeMessage({ type: 'sync-step1', stateVector: new Uint8Array([5, 1]) });
    await expectRefused(await setup(), frameOf(bytes), 'bad_message', messageRef(bytes));
  });
});

describe('unknown_type', () => {
  it('an unknown message type number', async () => {
    await expectRefused(await setup(), frameOf(new Uint8Array([7])), 'unknown_type');
  });
  it('an unknown sync subtype', async () => {
    await expectRefused(await setup(), frameOf(concat([0, 9], varUint(0))), 'unknown_type');
  });
  it.each<Message>([
    { type: 'ack', seq: 1, ref: 'x' },
    { type: 'error', code: 'bad_update', message: 'x', ref: '' },
    { type: 'reauth', reason: 'x' },
  ])('a server-only message ($type) sent by a client (ref known)', async (message) => {
    const bytes = encodeMessage(message);
    await expectRefused(await setup(), frameOf(bytes), 'unknown_type', messageRef(bytes));
  });
});

describe('bad_update and bad_awareness', () => {
  it.each(['sync-update', 'sync-step2'] as const)('FM-3.6: an invalid Yjs update in %s is refused and not stored', async (type) => {
    const bytes = encodeMessage({ type, update: new Uint8Array([1, 1, 200, 1, 0, 77, 77, 77]) });
    await expectRefused(await setup(), frameOf(bytes), 'bad_update', messageRef(bytes));
  });
  it('FM-3.6: an update that decodes but cannot be integrated (an origin beyond its own clock) is bad_update, so it can never make the document unloadable', async () => {
    // "abc" typed by client 1, with the origin of "c" corrupted from clock 0 to clock 56.
    const poison = new Uint8Array([1, 3, 1, 0, 4, 1, 1, 116, 1, 97, 132, 1, 0, 1, 98, 196, 1, 56, 1, 1, 1, 99, 0]);
    expect(() => Y.decodeUpdate(poison)).not.toThrow();
    expect(() => Y.applyUpdate(new Y.Doc(), poison)).toThrow();
    const bytes = encodeMessage({ type: 'sync-update', update: poison });
    const ctx = await setup();
    await expectRefused(ctx, frameOf(bytes), 'bad_update', messageRef(bytes));
    // The document still loads and answers handshakes.
    const step1 = encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) });
    expect(await ctx.server.frame('a', frameOf(step1))).toMatchObject({ status: 'ok', kind: 'sync-step1' });
  });

  it('an awareness update that does not decode is refused and not relayed', async () => {
    const bytes = encodeMessage({ type: 'awareness', update: new Uint8Array([1, 5, 1, 3, 123, 120, 120]) });
    await expectRefused(await setup(), frameOf(bytes), 'bad_awareness', messageRef(bytes));
  });
  it('an awareness update with trailing bytes is refused', async () => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, 5);
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, '{"user":"a"}');
    encoding.writeUint8(e, 9);
    const bytes = encodeMessage({ type: 'awareness', update: encoding.toUint8Array(e) });
    await expectRefused(await setup(), frameOf(bytes), 'bad_awareness', messageRef(bytes));
  });
});

const chunkFrame = (c: Omit<Extract<Message, { type: 'chunk' }>, 'type'>) => frameOf(encodeMessage({ type: 'chunk', ...c }));
const P = LIMITS.chunkPieceBytes;

describe('bad_chunk, chunk_inconsistent, chunk_incomplete (FM-6.3)', () => {
  it.each([
    ['index not below count', { id: 'x', index: 2, count: 2, totalBytes: P + 1, piece: new Uint8Array(1) }],
    ['count 0', { id: 'x', index: 0, count: 0, totalBytes: 1, piece: new Uint8Array(1) }],
    ['an empty piece', { id: 'x', index: 0, count: 1, totalBytes: 1, piece: new Uint8Array(0) }],
    ['an empty chunk id', { id: '', index: 0, count: 1, totalBytes: 1, piece: new Uint8Array(1) }],
    ['a chunk id over 64 characters', { id: 'i'.repeat(65), index: 0, count: 1, totalBytes: 1, piece: new Uint8Array(1) }],
    ['more pieces than any allowed message needs', { id: 'x', index: 0, count: 100_000, totalBytes: 1, piece: new Uint8Array(1) }],
  ])('%s is bad_chunk', async (_name, chunk) => {
    await expectRefused(await setup(), chunkFrame(chunk), 'bad_chunk');
  });

  it('a chunk set whose content is itself a chunk is bad_chunk', async () => {
    const inner = encodeMessage({ type: 'chunk', id: 'inner', index: 0, count: 1, totalBytes: 1, piece: new Uint8Array([1]) });
    await expectRefused(await setup(), chunkFrame({ id: 'outer', index: 0, count: 1, totalBytes: inner.length, piece: inner }), 'bad_chunk');
  });

  it('a count that does not match the declared total size is chunk_inconsistent', async () => {
    await expectRefused(await setup(), chunkFrame({ id: 'x', index: 0, count: 3, totalBytes: P + 1, piece: new Uint8Array(P) }), 'chunk_inconsistent');
  });

  it('a non-final piece shorter than the piece size is chunk_inconsistent', async () => {
    await expectRefused(await setup(), chunkFrame({ id: 'x', index: 0, count: 2, totalBytes: P + 10, piece: new Uint8Array(10) }), 'chunk_inconsistent');
  });

  it('two different pieces for one index are chunk_inconsistent, and the set is dropped', async () => {
    const ctx = await setup();
    const first = new Uint8Array(P).fill(1);
    expect(await ctx.server.frame('a', chunkFrame({ id: 'x', index: 0, count: 2, totalBytes: P + 5, piece: first }))).toEqual({ status: 'chunk-pending' });
    await expectRefused(ctx, chunkFrame({ id: 'x', index: 0, count: 2, totalBytes: P + 5, piece: new Uint8Array(P).fill(2) }), 'chunk_inconsistent');
    expect(await ctx.server.deps.chunks.pieces('a', 'x')).toEqual([]);
  });

  it('pieces that disagree on the total size are chunk_inconsistent', async () => {
    const ctx = await setup();
    await ctx.server.frame('a', chunkFrame({ id: 'x', index: 0, count: 2, totalBytes: P + 5, piece: new Uint8Array(P) }));
    await expectRefused(ctx, chunkFrame({ id: 'x', index: 1, count: 2, totalBytes: P + 6, piece: new Uint8Array(6) }), 'chunk_inconsistent');
  });

  it('FM-1.5: a redelivered identical piece is harmless and the set still completes', async () => {
    const ctx = await setup();
    const frames = encodeFrames({ type: 'sync-update', update: updateInserting('z'.repeat(40_000)) });
    expect(frames.length).toBe(2);
    await ctx.server.frame('a', frames[0]);
    await ctx.server.frame('a', frames[0]);
    expect(await ctx.server.frame('a', frames[1])).toMatchObject({ status: 'ok', kind: 'sync-update' });
    expect(await ctx.stored()).toBe(1);
  });

  it('pieces that no longer add up to the declared size (a store lost or altered one) are chunk_incomplete, and the set is dropped', async () => {
    // A faulty store (e.g. an item truncated in storage) is the only way pieces that each passed
    // validation can fail to reassemble; the core must refuse rather than store a corrupt update.
    const inner = new MemoryChunkStore();
    const corrupting: ChunkStore = {
      putPiece: (c, id, piece) => inner.putPiece(c, id, piece),
      pieces: async (c, id) => (await inner.pieces(c, id)).map((p): ChunkPiece => (p.index === 0 ? { ...p, piece: new Uint8Array(P + 7) } : p)),
      deleteSet: (c, id) => inner.deleteSet(c, id),
    };
    const ctx = await setup({ chunks: corrupting });
    const frames = encodeFrames({ type: 'sync-update', update: updateInserting('z'.repeat(40_000)) });
    await ctx.server.frame('a', frames[0]);
    await expectRefused(ctx, frames[1], 'chunk_incomplete');
    const { id } = decodeFrame(frames[0]).message as { id: string };
    expect(await inner.pieces('a', id)).toEqual([]);
  });
});

/** A sync-update message of exactly `size` bytes (so its base64 frame is size * 4 / 3 characters). */
function syncUpdateOfSize(size: number): Uint8Array {
  for (let length = size - 40; length < size; length++) {
    const bytes = encodeMessage({ type: 'sync-update', update: updateInserting('q'.repeat(length)) });
    if (bytes.length === size) return bytes;
  }
  throw new Error(`no update of exactly ${size} bytes`);
}

describe('frame and update size limits (FM-6.3, FM-1.8)', () => {
  const frameLimit = LIMITS.frameBytes; // 32 KB: the gateway's frame limit

  it('a frame of exactly 32 KB is accepted and stored', async () => {
    const bytes = syncUpdateOfSize((frameLimit / 4) * 3);
    const frame = frameOf(bytes);
    expect(frame.length).toBe(frameLimit);
    const ctx = await setup();
    expect(await ctx.server.frame('a', frame)).toMatchObject({ status: 'ok', kind: 'sync-update' });
    expect(ctx.received()).toEqual([{ type: 'ack', seq: 1, ref: messageRef(bytes) }]);
    expect(await ctx.stored()).toBe(1);
  });

  it('a frame just over 32 KB is frame_too_large and nothing is stored', async () => {
    const bytes = syncUpdateOfSize((frameLimit / 4) * 3 + 1);
    const frame = frameOf(bytes);
    expect(frame.length).toBe(frameLimit + 4);
    await expectRefused(await setup(), frame, 'frame_too_large');
  });

  it('encodeFrames keeps the 32 KB message in one frame and chunks the one a byte larger, every chunk frame under 32 KB', () => {
    expect(encodeFrames(syncUpdateOfSize((frameLimit / 4) * 3))).toHaveLength(1);
    const frames = encodeFrames(syncUpdateOfSize((frameLimit / 4) * 3 + 1));
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(frameLimit);
  });

  it('the largest chunk frame (a full piece with the longest id and largest header values) stays under 32 KB', () => {
    const frame = chunkFrame({ id: 'i'.repeat(LIMITS.chunkIdLength), index: 400, count: 401, totalBytes: LIMITS.updateBytes + 64, piece: new Uint8Array(P) });
    expect(frame.length).toBeLessThanOrEqual(frameLimit);
  });

  it('a chunk set declaring more than 8 MB is update_too_large on its first piece', async () => {
    const totalBytes = LIMITS.updateBytes + 65;
    await expectRefused(await setup(), chunkFrame({ id: 'x', index: 0, count: Math.ceil(totalBytes / P), totalBytes, piece: new Uint8Array(P) }), 'update_too_large');
  });

  it('a reassembled update over 8 MB is update_too_large (ref known) and nothing is stored', async () => {
    const payload = new Uint8Array(LIMITS.updateBytes + 1);
    const bytes = encodeMessage({ type: 'sync-update', update: payload });
    const frames = encodeFrames(bytes);
    const ctx = await setup();
    for (const f of frames.slice(0, -1)) expect(await ctx.server.frame('a', f)).toEqual({ status: 'chunk-pending' });
    await expectRefused(ctx, frames[frames.length - 1], 'update_too_large', messageRef(bytes));
  });

  it('encodeFrames refuses to send a message beyond the update limit', () => {
    expect(() => encodeFrames(new Uint8Array(LIMITS.updateBytes + 100))).toThrow(expect.objectContaining({ code: 'update_too_large' }));
  });
});

describe('permissions, expiry, rate limits and failures', () => {
  it('FM-5.2: a viewer sending a change gets read_only (ref known) and nothing is stored', async () => {
    const ctx = await setup({}, 'viewer');
    const bytes = encodeMessage({ type: 'sync-update', update: updateInserting('hi') });
    await expectRefused(ctx, frameOf(bytes), 'read_only', messageRef(bytes));
  });

  it('FM-5.2: a viewer’s empty handshake step 2 is acknowledged with seq 0 (nothing to store)', async () => {
    const ctx = await setup({}, 'viewer');
    const bytes = encodeMessage({ type: 'sync-step2', update: Y.encodeStateAsUpdate(new Y.Doc()) });
    expect(await ctx.server.frame('a', frameOf(bytes))).toMatchObject({ status: 'ok' });
    expect(ctx.received()).toEqual([{ type: 'ack', seq: 0, ref: messageRef(bytes) }]);
    expect(await ctx.stored()).toBe(0);
  });

  it('FM-5.1: a frame after the token expired gets REAUTH (token_expired), the socket is closed and nothing is stored', async () => {
    const ctx = await setup();
    ctx.server.clock.t += 15 * 60_000;
    const outcome = await ctx.server.frame('a', frameOf(encodeMessage({ type: 'sync-update', update: updateInserting('late') })));
    expect(outcome).toEqual({ status: 'reauth' });
    expect(ctx.received()).toEqual([{ type: 'reauth', reason: ERROR_CODES.token_expired }]);
    expect(ctx.server.broadcaster.closed.has('a')).toBe(true);
    expect(await ctx.stored()).toBe(0);
  });

  it('FM-1.8: messages beyond the per-connection rate get rate_limited (ref known) until the next second; nothing of them is stored', async () => {
    const ctx = await setup({ rateLimitPerSecond: 3 });
    const messages = Array.from({ length: 4 }, (_, i) => encodeMessage({ type: 'sync-update', update: updateInserting(`m${i}`, 10 + i) }));
    for (const m of messages.slice(0, 3)) expect(await ctx.server.frame('a', frameOf(m))).toMatchObject({ status: 'ok' });
    ctx.received();
    const error = await ctx.server.frame('a', frameOf(messages[3]));
    expect(error).toEqual({ status: 'refused', code: 'rate_limited' });
    expect(ctx.received()).toEqual([expect.objectContaining({ type: 'error', code: 'rate_limited', ref: messageRef(messages[3]) })]);
    expect(await ctx.stored()).toBe(3);
    ctx.server.clock.t += 1000;
    expect(await ctx.server.frame('a', frameOf(messages[3]))).toMatchObject({ status: 'ok' });
    expect(await ctx.stored()).toBe(4);
  });

  it('FM-3.3: when the op log fails the sender gets unavailable (ref known), no ack, and handleFrame throws for the handler to log', async () => {
    const ctx = await setup();
    ctx.server.deps.opLog.append = async () => {
      throw new Error('DynamoDB is down');
    };
    const bytes = encodeMessage({ type: 'sync-update', update: updateInserting('x') });
    await expect(ctx.server.frame('a', frameOf(bytes))).rejects.toThrow('DynamoDB is down');
    expect(ctx.received()).toEqual([{ type: 'error', code: 'unavailable', message: ERROR_CODES.unavailable, ref: messageRef(bytes) }]);
    expect(ctx.received('b')).toEqual([]);
  });

  it('FM-6.1: when the snapshot store fails during the handshake the client gets unavailable', async () => {
    const ctx = await setup();
    ctx.server.deps.snapshots.latest = async () => {
      throw new Error('Aurora failover in progress');
    };
    const bytes = encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) });
    await expect(ctx.server.frame('a', frameOf(bytes))).rejects.toThrow('Aurora failover');
    expect(ctx.received()).toEqual([expect.objectContaining({ code: 'unavailable', ref: messageRef(bytes) })]);
  });

  it('when the chunk store fails before the message is known the client gets unavailable with an empty ref', async () => {
    const failing: ChunkStore = {
      putPiece: async () => {
        throw new Error('throttled');
      },
      pieces: async () => [],
      deleteSet: async () => undefined,
    };
    const ctx = await setup({ chunks: failing });
    const frames = encodeFrames({ type: 'sync-update', update: updateInserting('z'.repeat(40_000)) });
    await expect(ctx.server.frame('a', frames[0])).rejects.toThrow('throttled');
    expect(ctx.received()).toEqual([expect.objectContaining({ code: 'unavailable', ref: '' })]);
    expect(await ctx.stored()).toBe(0);
  });

  it('FM-3.3: a ClientSession resends an update refused as unavailable and reports saved only after the ack', async () => {
    const server = createMemoryServer();
    await server.connect('a', 'doc', 'alice');
    let failures = 1;
    const append = server.deps.opLog.append.bind(server.deps.opLog);
    server.deps.opLog.append = async (docId, input) => {
      if (input.update.length > 10 && failures-- > 0) throw new Error('transient');
      return append(docId, input);
    };
    const doc = new Y.Doc();
    const outbox: string[] = [];
    const session = new ClientSession(doc, null, { retryDelayMs: 5 });
    session.connected((f) => outbox.push(f));
    const pump = async () => {
      while (outbox.length) await server.frame('a', outbox.shift()!).catch(() => undefined);
      for (const f of server.broadcaster.take('a')) await session.receive(f);
    };
    await pump();
    await pump();
    doc.getText('t').insert(0, 'must not be lost');
    await pump();
    expect(session.isSaved).toBe(false);
    await vi.waitFor(async () => {
      await pump();
      expect(session.isSaved).toBe(true);
    });
    const stored = new Y.Doc();
    for (const e of await server.deps.opLog.readAll('doc')) Y.applyUpdate(stored, e.update);
    expect(stored.getText('t').toString()).toBe('must not be lost');
    session.destroy();
  });
});

describe('wire format (what docs/protocol.md states)', () => {
  it('messageRef is the first 12 bytes of SHA-256 over the message bytes, base64url without padding', () => {
    const bytes = encodeMessage({ type: 'sync-update', update: updateInserting('ref') });
    const expected = createHash('sha256').update(bytes).digest().subarray(0, 12).toString('base64url');
    expect(messageRef(bytes)).toBe(expected);
    expect(messageRef(bytes)).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it.each<[Message, number[]]>([
    [{ type: 'sync-step1', stateVector: new Uint8Array([0]) }, [0, 0, 1, 0]],
    [{ type: 'sync-step2', update: new Uint8Array([0, 0]) }, [0, 1, 2, 0, 0]],
    [{ type: 'sync-update', update: new Uint8Array([0, 0]) }, [0, 2, 2, 0, 0]],
    [{ type: 'awareness', update: new Uint8Array([0]) }, [1, 1, 0]],
    [{ type: 'query-awareness' }, [3]],
    [{ type: 'chunk', id: 'ab', index: 1, count: 2, totalBytes: 300, piece: new Uint8Array([9]) }, [16, 2, 97, 98, 1, 2, 0xac, 0x02, 1, 9]],
    [{ type: 'ack', seq: 300, ref: 'r' }, [17, 0xac, 0x02, 1, 114]],
    [{ type: 'error', code: 'c', message: 'm', ref: '' }, [18, 1, 99, 1, 109, 0]],
    [{ type: 'reauth', reason: 'x' }, [19, 1, 120]],
  ])('%o encodes as documented', (message, bytes) => {
    expect([...encodeMessage(message)]).toEqual(bytes);
  });
});
