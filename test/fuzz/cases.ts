/**
 * Generated malformed input for the `message` path (invariant 5): each case is a list of text
 * frames one connection sends, with the refusal codes the server may answer with. Shared by the
 * fuzz tests (core, message handler, local gateway) and the soak's long fuzz run.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import type { ErrorCode } from '../../lambdas/core/errors';
import { LIMITS, maxChunkCount } from '../../lambdas/core/limits';
import { MESSAGE_TYPE, encodeMessage, toBase64, type Message } from '../../lambdas/core/protocol';

export type FuzzCategory =
  | 'random-bytes'
  | 'invalid-base64'
  | 'truncated'
  | 'corrupted'
  | 'huge-length'
  | 'unknown-type'
  | 'server-only-type'
  | 'chunk-bad-header'
  | 'chunk-missing-piece'
  | 'chunk-conflicting-duplicate'
  | 'chunk-disagreeing-sets'
  | 'oversized-frame'
  | 'invalid-update'
  | 'invalid-awareness'
  | 'other-document';

export interface FuzzCase {
  readonly category: FuzzCategory;
  readonly frames: readonly string[];
  /**
   * Codes the server may answer with. `null` allows any documented code or acceptance (inputs
   * that may happen to be valid, like random bytes); otherwise every frame must be answered with
   * one of these codes, or be a pending chunk piece when `pendingAllowed`.
   */
  readonly codes: readonly ErrorCode[] | null;
  readonly pendingAllowed?: boolean;
  /** The case carries a valid edit that must be stored (other-document). */
  readonly validEdit?: boolean;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A realistic Yjs update: text inserted into a fresh document (its own client id). */
const yUpdateArb = fc.record({ text: fc.string({ minLength: 1, maxLength: 40 }), key: fc.constantFrom('t', 'default', 'title') }).map(({ text, key }) => {
  const doc = new Y.Doc();
  doc.getText(key).insert(0, text);
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
});

const awarenessUpdateArb = fc.record({ name: fc.string({ maxLength: 20 }) }).map(({ name }) => {
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  awareness.setLocalState({ user: { name } });
  const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]);
  awareness.destroy();
  doc.destroy();
  return update;
});

/** A valid message of any client-sendable type. */
const validMessageArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  yUpdateArb.map((update) => encodeMessage({ type: 'sync-update', update })),
  yUpdateArb.map((update) => encodeMessage({ type: 'sync-step2', update })),
  yUpdateArb.map((update) => {
    const d = new Y.Doc();
    Y.applyUpdate(d, update);
    const sv = Y.encodeStateVector(d);
    d.destroy();
    return encodeMessage({ type: 'sync-step1', stateVector: sv });
  }),
  awarenessUpdateArb.map((update) => encodeMessage({ type: 'awareness', update })),
);

const b64 = (bytes: Uint8Array) => toBase64(bytes);

const randomBytes: fc.Arbitrary<FuzzCase> = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => ({ category: 'random-bytes', frames: [b64(bytes)], codes: null }));

const invalidBase64: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 80 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    // Valid base64 with one character inserted from outside the alphabet, or padding dropped.
    fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 60 }), fc.constantFrom('-', '_', ' ', '\n', '=', '!', '.', 'é', '\u0000'), fc.nat()).map(([bytes, ch, at]) => {
      const s = b64(bytes);
      const i = at % (s.length + 1);
      return s.slice(0, i) + ch + s.slice(i);
    }),
    fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => b64(bytes).replace(/=+$/, '')),
    fc.uint8Array({ minLength: 1, maxLength: 60 }).map((bytes) => b64(bytes).replace(/\+/g, '-').replace(/\//g, '_')),
  )
  .filter((s) => !STRICT_BASE64.test(s))
  .map((text) => ({ category: 'invalid-base64', frames: [text], codes: ['bad_base64'] }));

const truncated: fc.Arbitrary<FuzzCase> = fc.tuple(validMessageArb, fc.nat()).map(([bytes, cut]) => ({
  category: 'truncated',
  frames: [b64(bytes.subarray(0, cut % bytes.length))],
  codes: ['bad_message'],
}));

const corrupted: fc.Arbitrary<FuzzCase> = fc
  .tuple(validMessageArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([bytes, flips]) => {
    const out = bytes.slice();
    for (const [at, mask] of flips) out[at % out.length] ^= mask;
    return { category: 'corrupted', frames: [b64(out)], codes: null };
  });

/** A varUint8Array whose declared length is far beyond the bytes that follow. */
const hugeLength: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.constantFrom(0, 1, 16), fc.integer({ min: 2 ** 20, max: 2 ** 53 - 1 }), fc.uint8Array({ maxLength: 16 }))
  .map(([type, declared, tail]) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, type);
    if (type === 0) encoding.writeVarUint(e, 2);
    if (type === 16) encoding.writeVarUint(e, declared); // chunk id string length
    else encoding.writeVarUint(e, declared);
    encoding.writeUint8Array(e, tail);
    return { category: 'huge-length', frames: [b64(encoding.toUint8Array(e))], codes: ['bad_message'] };
  });

const KNOWN_TYPES = new Set<number>(Object.values(MESSAGE_TYPE));
const unknownType: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.tuple(fc.integer({ min: 0, max: 2 ** 32 }).filter((t) => !KNOWN_TYPES.has(t)), fc.uint8Array({ maxLength: 20 })).map(([type, body]) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, type);
      encoding.writeUint8Array(e, body);
      return encoding.toUint8Array(e);
    }),
    // A sync message with an unknown subtype (its payload well-formed).
    fc.tuple(fc.integer({ min: 3, max: 1000 }), fc.uint8Array({ maxLength: 20 })).map(([sub, payload]) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MESSAGE_TYPE.sync);
      encoding.writeVarUint(e, sub);
      encoding.writeVarUint8Array(e, payload);
      return encoding.toUint8Array(e);
    }),
  )
  .map((bytes) => ({ category: 'unknown-type', frames: [b64(bytes)], codes: ['unknown_type'] }));

const serverOnly: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.record({ seq: fc.nat(), ref: fc.string({ maxLength: 16 }) }).map((m): Message => ({ type: 'ack', ...m })),
    fc.record({ code: fc.string({ maxLength: 10 }), message: fc.string({ maxLength: 20 }), ref: fc.string({ maxLength: 16 }) }).map((m): Message => ({ type: 'error', ...m })),
    fc.string({ maxLength: 20 }).map((reason): Message => ({ type: 'reauth', reason })),
  )
  .map((m) => ({ category: 'server-only-type', frames: [b64(encodeMessage(m))], codes: ['unknown_type'] }));

const chunkFrame = (id: string, index: number, count: number, totalBytes: number, piece: Uint8Array) => b64(encodeMessage({ type: 'chunk', id, index, count, totalBytes, piece }));

const chunkBadHeader: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    // index at or beyond count
    fc.tuple(fc.integer({ min: 1, max: 5 }), fc.nat(3)).map(([count, extra]) => chunkFrame('c', count + extra, count, count * LIMITS.chunkPieceBytes, new Uint8Array(10))),
    // count 0 or beyond the maximum
    fc.constantFrom(0, maxChunkCount + 1, 2 ** 31).map((count) => chunkFrame('c', 0, count, 100, new Uint8Array(100))),
    // empty or over-long chunk id
    fc.constantFrom('', 'x'.repeat(LIMITS.chunkIdLength + 1)).map((id) => chunkFrame(id, 0, 1, 4, new Uint8Array(4))),
    // a declared total beyond the update limit
    fc.integer({ min: LIMITS.updateBytes + 65, max: 2 ** 40 }).map((total) => chunkFrame('c', 0, Math.ceil(total / LIMITS.chunkPieceBytes), total, new Uint8Array(8))),
    // empty piece, or a piece whose size disagrees with the header
    fc.integer({ min: 1, max: 2000 }).map((n) => chunkFrame('c', 0, 1, n + 1, new Uint8Array(n))),
    fc.constant(chunkFrame('c', 0, 1, 5, new Uint8Array(0))),
  )
  .map((frame) => ({ category: 'chunk-bad-header', frames: [frame], codes: ['bad_chunk', 'chunk_inconsistent', 'update_too_large'] }));

/** A valid update large enough to need chunking (just over one piece). */
const bigUpdateArb = fc.integer({ min: 1, max: 1_000_000 }).map((seed) => {
  const doc = new Y.Doc();
  // Incompressible-ish text so the update really spans pieces.
  let s = '';
  let x = seed;
  while (s.length < LIMITS.chunkPieceBytes + 2000) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += String.fromCharCode(97 + (x % 26));
  }
  doc.getText('t').insert(0, s);
  const bytes = encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) });
  doc.destroy();
  return bytes;
});

function pieces(bytes: Uint8Array) {
  const count = Math.ceil(bytes.length / LIMITS.chunkPieceBytes);
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * LIMITS.chunkPieceBytes, (i + 1) * LIMITS.chunkPieceBytes));
}

const chunkMissing: fc.Arbitrary<FuzzCase> = fc.tuple(bigUpdateArb, fc.nat(), fc.uuid()).map(([bytes, drop, id]) => {
  const parts = pieces(bytes);
  const omit = drop % parts.length;
  return {
    category: 'chunk-missing-piece',
    frames: parts.flatMap((p, i) => (i === omit ? [] : [chunkFrame(id, i, parts.length, bytes.length, p)])),
    codes: [],
    pendingAllowed: true,
  };
});

const chunkConflict: fc.Arbitrary<FuzzCase> = fc.tuple(bigUpdateArb, fc.uuid(), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([bytes, id, at, mask]) => {
  const parts = pieces(bytes);
  const altered = parts[0].slice();
  altered[at % altered.length] ^= mask;
  // The first piece twice with different bytes: the set is dropped; the rest restarts a set that never completes.
  return {
    category: 'chunk-conflicting-duplicate',
    frames: [chunkFrame(id, 0, parts.length, bytes.length, parts[0]), chunkFrame(id, 0, parts.length, bytes.length, altered), ...parts.slice(1).map((p, i) => chunkFrame(id, i + 1, parts.length, bytes.length, p))],
    codes: ['chunk_inconsistent'],
    pendingAllowed: true,
  };
});

const chunkDisagree: fc.Arbitrary<FuzzCase> = fc.tuple(fc.uuid(), fc.integer({ min: 1, max: 3 })).map(([id, extra]) => {
  // Pieces of one id that disagree on the total size (each header valid on its own).
  const p = LIMITS.chunkPieceBytes;
  return {
    category: 'chunk-disagreeing-sets',
    frames: [chunkFrame(id, 0, 2, p + 10, new Uint8Array(p)), chunkFrame(id, 1, 2, p + 10 + extra, new Uint8Array(10 + extra))],
    codes: ['chunk_inconsistent'],
    pendingAllowed: true,
  };
});

const oversizedFrame: fc.Arbitrary<FuzzCase> = fc.integer({ min: LIMITS.frameBytes + 1, max: LIMITS.frameBytes + 4000 }).map((n) => ({
  category: 'oversized-frame',
  frames: ['A'.repeat(n - (n % 4))].map((s) => (s.length > LIMITS.frameBytes ? s : s + 'AAAA')),
  codes: ['frame_too_large', 'message_too_large'],
}));

/** Well-formed sync messages whose payload is not a Yjs update. */
const invalidUpdate: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.constantFrom<'sync-update' | 'sync-step2'>('sync-update', 'sync-step2'), fc.uint8Array({ minLength: 1, maxLength: 60 }))
  .filter(([, payload]) => {
    try {
      Y.decodeUpdate(payload);
      return false;
    } catch {
      return true;
    }
  })
  .map(([type, update]) => ({ category: 'invalid-update', frames: [b64(encodeMessage({ type, update }))], codes: ['bad_update'] }));

const invalidAwareness: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.uint8Array({ minLength: 1, maxLength: 40 }),
    fc.string({ maxLength: 20 }).map((s) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 1);
      encoding.writeVarUint(e, 42);
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, `{${s}`); // never valid JSON
      return encoding.toUint8Array(e);
    }),
  )
  .filter((update) => {
    try {
      awarenessProtocol.applyAwarenessUpdate(new awarenessProtocol.Awareness(new Y.Doc()), update, null);
      return false;
    } catch {
      return true;
    }
  })
  .map((update) => ({ category: 'invalid-awareness', frames: [b64(encodeMessage({ type: 'awareness', update }))], codes: ['bad_awareness'] }));

/**
 * A valid edit made in another document, sent on this connection: the connection (not the
 * message) names the document, so it is stored in this document only, never in the other.
 */
const otherDocument: fc.Arbitrary<FuzzCase> = yUpdateArb.map((update) => ({
  category: 'other-document',
  frames: [b64(encodeMessage({ type: 'sync-update', update }))],
  codes: [],
  validEdit: true,
}));

export const ALL_CATEGORIES: readonly FuzzCategory[] = [
  'random-bytes', 'invalid-base64', 'truncated', 'corrupted', 'huge-length', 'unknown-type', 'server-only-type', 'chunk-bad-header',
  'chunk-missing-piece', 'chunk-conflicting-duplicate', 'chunk-disagreeing-sets', 'oversized-frame', 'invalid-update', 'invalid-awareness', 'other-document',
];

/** Every category, weighted towards the cheap single-frame ones. */
export function fuzzCaseArb(options: { chunked?: boolean } = {}): fc.Arbitrary<FuzzCase> {
  const chunked = options.chunked ?? true;
  return fc.oneof(
    { arbitrary: randomBytes, weight: 5 },
    { arbitrary: invalidBase64, weight: 3 },
    { arbitrary: truncated, weight: 4 },
    { arbitrary: corrupted, weight: 5 },
    { arbitrary: hugeLength, weight: 2 },
    { arbitrary: unknownType, weight: 2 },
    { arbitrary: serverOnly, weight: 1 },
    { arbitrary: chunkBadHeader, weight: 3 },
    { arbitrary: invalidUpdate, weight: 2 },
    { arbitrary: invalidAwareness, weight: 2 },
    { arbitrary: otherDocument, weight: 1 },
    { arbitrary: oversizedFrame, weight: 1 },
    ...(chunked
      ? [
          { arbitrary: chunkMissing, weight: 1 },
          { arbitrary: chunkConflict, weight: 1 },
          { arbitrary: chunkDisagree, weight: 1 },
        ]
      : []),
  );
}

/** The arbitrary of one category (for per-category tests). */
export function categoryArb(category: FuzzCategory): fc.Arbitrary<FuzzCase> {
  const map: Record<FuzzCategory, fc.Arbitrary<FuzzCase>> = {
    'random-bytes': randomBytes, 'invalid-base64': invalidBase64, truncated, corrupted, 'huge-length': hugeLength, 'unknown-type': unknownType,
    'server-only-type': serverOnly, 'chunk-bad-header': chunkBadHeader, 'chunk-missing-piece': chunkMissing, 'chunk-conflicting-duplicate': chunkConflict,
    'chunk-disagreeing-sets': chunkDisagree, 'oversized-frame': oversizedFrame, 'invalid-update': invalidUpdate, 'invalid-awareness': invalidAwareness, 'other-document': otherDocument,
  };
  return map[category];
}
