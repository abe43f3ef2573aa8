/**
 * Benchmark clients, one per server kind, all driving a plain Y.Doc:
 * - concord: lambdas/core/client-session.ts over `ws` (base64 text frames, acks after the durable write);
 * - y-websocket: y-protocols sync messages, binary frames, no acknowledgements;
 * - hocuspocus: the same messages prefixed with the document name, an Auth message first, and
 *   SyncStatus messages as (in-memory) acknowledgements, in order.
 * Every client counts the frames and bytes it sends and receives, by category.
 */
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import { ClientSession } from '../../lambdas/core/client-session';
import { encodeMessage, messageRef } from '../../lambdas/core/protocol';

export type ServerKind = 'concord' | 'y-websocket' | 'hocuspocus';
export const SERVER_KINDS: readonly ServerKind[] = ['concord', 'y-websocket', 'hocuspocus'];

/** Origin of edits made by the benchmark's simulated typists. */
export const LOCAL = Symbol('bench-local-edit');
const REMOTE = Symbol('bench-remote');

export interface Traffic {
  framesIn: number;
  bytesIn: number;
  /** Frames carrying document updates from others (fan-out), and their bytes. */
  updateFramesIn: number;
  updateBytesIn: number;
  ackFramesIn: number;
  framesOut: number;
  bytesOut: number;
}

export interface ConnectTarget {
  readonly kind: ServerKind;
  /** ws://127.0.0.1:port/... base; docId is added per kind. */
  readonly wsBase: string;
  readonly docId: string;
  /** Concord only: the access token (sent as the concord_at cookie). */
  readonly token?: string;
}

export interface SentEdit {
  readonly t: number;
  /** The sender's own clock before and after the edit (equal for a pure deletion). */
  readonly start: number;
  readonly clock: number;
}

export interface LoadClient {
  readonly name: string;
  readonly kind: ServerKind;
  readonly doc: Y.Doc;
  readonly traffic: Traffic;
  readonly errors: string[];
  /** Milliseconds from each local edit to its acknowledgement (empty for y-websocket). */
  readonly ackLatencies: number[];
  /** Clock ranges [start, end) of own insertions the server acknowledged. */
  ackedRanges(): (readonly [number, number])[];
  /** Sent edits not yet acknowledged; null when the protocol has no acknowledgements. */
  unacknowledged(): number | null;
  /** Applies a local edit (one Yjs transaction) and returns its send record. */
  edit(fn: (doc: Y.Doc) => void): SentEdit | null;
  /** Called for every update from the server after it is applied to `doc`. */
  onRemoteUpdate: ((update: Uint8Array) => void) | null;
  close(): Promise<void>;
}

const newTraffic = (): Traffic => ({ framesIn: 0, bytesIn: 0, updateFramesIn: 0, updateBytesIn: 0, ackFramesIn: 0, framesOut: 0, bytesOut: 0 });

function openSocket(url: string, headers: Record<string, string>, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const onError = (e: Error) => reject(new Error(`WebSocket ${url} failed: ${e.message}`));
    ws.once('error', onError);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket ${url} refused with HTTP ${res.statusCode}`)));
    ws.once('open', () => {
      ws.off('error', onError);
      resolve(ws);
    });
  });
}

function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 5_000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close();
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Connects a client and resolves once its first sync (server step 2) has been applied. */
export async function connectClient(name: string, target: ConnectTarget, options: { doc?: Y.Doc; timeoutMs?: number } = {}): Promise<LoadClient> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doc = options.doc ?? new Y.Doc();
  if (target.kind === 'concord') return connectConcord(name, target, doc, timeoutMs);
  return connectYProtocol(name, target, doc, timeoutMs);
}

async function connectConcord(name: string, target: ConnectTarget, doc: Y.Doc, timeoutMs: number): Promise<LoadClient> {
  const traffic = newTraffic();
  const errors: string[] = [];
  const ackLatencies: number[] = [];
  const awaitingAck = new Map<string, SentEdit>();
  const ackedRanges: (readonly [number, number])[] = [];
  let current: SentEdit | null = null;
  let client: LoadClient | null = null;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const session = new ClientSession(doc, null, {
    retryDelayMs: 200,
    events: {
      synced: () => resolveSynced(),
      error: (code, message) => errors.push(`${code}: ${message}`),
      ack: (_seq, ref) => {
        const sent = awaitingAck.get(ref);
        if (!sent) return;
        awaitingAck.delete(ref);
        ackLatencies.push(performance.now() - sent.t);
        if (sent.clock > sent.start) ackedRanges.push([sent.start, sent.clock]);
      },
    },
  });
  // Registered after the session's own listener, so the message is already on its way.
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === LOCAL) {
      if (current) awaitingAck.set(messageRef(encodeMessage({ type: 'sync-update', update })), current);
    } else client?.onRemoteUpdate?.(update);
  });
  const url = `${target.wsBase}?doc=${encodeURIComponent(target.docId)}`;
  const ws = await openSocket(url, target.token ? { Cookie: `concord_at=${target.token}` } : {}, timeoutMs);
  ws.on('message', (data: Buffer) => {
    const frame = data.toString();
    traffic.framesIn++;
    traffic.bytesIn += data.length;
    // First byte of the message is its type: 0 sync, 16 chunk, 17 ack.
    const type = Buffer.from(frame.slice(0, 4), 'base64')[0];
    if (type === 17) traffic.ackFramesIn++;
    else if (type === 0 || type === 16) {
      traffic.updateFramesIn++;
      traffic.updateBytesIn += data.length;
    }
    void session.receive(frame);
  });
  ws.on('close', () => session.disconnected());
  session.connected((frame) => {
    traffic.framesOut++;
    traffic.bytesOut += Buffer.byteLength(frame);
    ws.send(frame);
  });
  let closeInfo = '';
  ws.on('close', (code, reason) => (closeInfo = ` (socket closed ${code} ${reason.toString()})`));
  await withTimeout(synced, timeoutMs, `${name} to sync with Concord`).catch((e: Error) => {
    ws.terminate();
    throw new Error(`${e.message}${closeInfo}; errors: ${errors.join('; ') || 'none'}`);
  });
  client = {
    name,
    kind: 'concord',
    doc,
    traffic,
    errors,
    ackLatencies,
    ackedRanges: () => [...ackedRanges],
    unacknowledged: () => session.pendingCount,
    edit(fn) {
      const before = Y.getState(doc.store, doc.clientID);
      // The clock is known only after the transaction; the ack map holds this same object.
      const sent = { t: performance.now(), start: before, clock: before } as { t: number; start: number; clock: number };
      current = sent;
      doc.transact(() => fn(doc), LOCAL);
      current = null;
      sent.clock = Y.getState(doc.store, doc.clientID);
      return sent.clock > before ? sent : null;
    },
    onRemoteUpdate: null,
    async close() {
      session.destroy();
      await closeSocket(ws);
    },
  };
  return client;
}

const MSG_SYNC = 0;
const MSG_AUTH = 2;
const MSG_SYNC_STATUS = 8;

async function connectYProtocol(name: string, target: ConnectTarget, doc: Y.Doc, timeoutMs: number): Promise<LoadClient> {
  const hocus = target.kind === 'hocuspocus';
  const traffic = newTraffic();
  const errors: string[] = [];
  const ackLatencies: number[] = [];
  /** Hocuspocus answers every step 2 and update with one SyncStatus, in order. */
  const ackQueue: (SentEdit | null)[] = [];
  const ackedRanges: (readonly [number, number])[] = [];
  let lastEdit: SentEdit | null = null;
  let client: LoadClient | null = null;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const url = hocus ? target.wsBase : `${target.wsBase}/${encodeURIComponent(target.docId)}`;
  const ws = await openSocket(url, {}, timeoutMs);
  ws.binaryType = 'nodebuffer';
  const send = (write: (e: encoding.Encoder) => void, ackable: SentEdit | null | undefined) => {
    const e = encoding.createEncoder();
    if (hocus) encoding.writeVarString(e, target.docId);
    write(e);
    const bytes = encoding.toUint8Array(e);
    traffic.framesOut++;
    traffic.bytesOut += bytes.length;
    if (hocus && ackable !== undefined) ackQueue.push(ackable);
    ws.send(bytes);
  };
  ws.on('message', (data: Buffer) => {
    traffic.framesIn++;
    traffic.bytesIn += data.length;
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.length));
    if (hocus) decoding.readVarString(d);
    const type = decoding.readVarUint(d);
    if (type === MSG_SYNC || (hocus && type === 4)) {
      traffic.updateFramesIn++;
      traffic.updateBytesIn += data.length;
      const reply = encoding.createEncoder();
      if (hocus) encoding.writeVarString(reply, target.docId);
      encoding.writeVarUint(reply, MSG_SYNC);
      const before = encoding.length(reply);
      const subtype = syncProtocol.readSyncMessage(d, reply, doc, REMOTE);
      if (encoding.length(reply) > before) {
        // Our step 2 in answer to the server's step 1.
        const bytes = encoding.toUint8Array(reply);
        traffic.framesOut++;
        traffic.bytesOut += bytes.length;
        if (hocus) ackQueue.push(null);
        ws.send(bytes);
      }
      if (subtype === syncProtocol.messageYjsSyncStep2) resolveSynced();
    } else if (hocus && type === MSG_SYNC_STATUS) {
      traffic.ackFramesIn++;
      const saved = decoding.readVarUint(d) === 1;
      const sent = ackQueue.shift();
      if (!saved) errors.push('hocuspocus refused an update (SyncStatus false)');
      else if (sent) {
        ackLatencies.push(performance.now() - sent.t);
        if (sent.clock > sent.start) ackedRanges.push([sent.start, sent.clock]);
      }
    } else if (hocus && type === MSG_AUTH) {
      // Authenticated / PermissionDenied: only the latter matters.
      const sub = decoding.readVarUint(d);
      if (sub === 1) errors.push(`hocuspocus denied access: ${decoding.readVarString(d)}`);
    }
  });
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === REMOTE) {
      client?.onRemoteUpdate?.(update);
      return;
    }
    send((e) => {
      encoding.writeVarUint(e, MSG_SYNC);
      syncProtocol.writeUpdate(e, update);
    }, lastEdit);
  });
  if (hocus) {
    send((e) => {
      encoding.writeVarUint(e, MSG_AUTH);
      encoding.writeVarUint(e, 0); // AuthMessageType.Token
      encoding.writeVarString(e, '');
    }, undefined);
  }
  send((e) => {
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeSyncStep1(e, doc);
  }, undefined);
  await withTimeout(synced, timeoutMs, `${name} to sync with ${target.kind}`).catch((e: Error) => {
    ws.terminate();
    throw new Error(`${e.message}; errors: ${errors.join('; ') || 'none'}`);
  });
  client = {
    name,
    kind: target.kind,
    doc,
    traffic,
    errors,
    ackLatencies,
    ackedRanges: () => [...ackedRanges],
    unacknowledged: () => (hocus ? ackQueue.length : null),
    edit(fn) {
      const before = Y.getState(doc.store, doc.clientID);
      const t = performance.now();
      // The clock is known only after the transaction; the ack queue holds this same object.
      const sent = { t, start: before, clock: before } as { t: number; start: number; clock: number };
      lastEdit = sent;
      doc.transact(() => fn(doc), LOCAL);
      lastEdit = null;
      sent.clock = Y.getState(doc.store, doc.clientID);
      return sent.clock > before ? sent : null;
    },
    onRemoteUpdate: null,
    close: () => closeSocket(ws),
  };
  return client;
}
