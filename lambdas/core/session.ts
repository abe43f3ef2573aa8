/**
 * What the server does with one frame from one connection, and how stored updates reach the
 * other connections. The `message` and `fanout` Lambda handlers are thin adapters over these two
 * functions; so is the local stack, through those same handlers.
 */
import * as Y from 'yjs';
import { acceptChunk, chargeChunkPiece } from './chunks';
import { isEmptyUpdate, loadDocument, validateAwareness, validateUpdate } from './document';
import { ConcordError, ERROR_CODES, type ErrorCode } from './errors';
import { LIMITS } from './limits';
import type { Broadcaster, Cache, ChunkStore, Clock, Connection, Connections, OpLog, OpLogEntry, SnapshotStore } from './ports';
import { canWrite } from './ports';
import { decodeFrame, decodeMessage, encodeFrames, errorMessage, fromBase64, messageRef, toBase64, type Message } from './protocol';

export interface SessionDeps {
  readonly opLog: OpLog;
  readonly snapshots: SnapshotStore;
  readonly connections: Connections;
  readonly broadcaster: Broadcaster;
  readonly chunks: ChunkStore;
  /** Wrapped in resilientCache: never throws. */
  readonly cache: Cache;
  readonly clock: Clock;
  /** Messages per connection per second before `rate_limited` (FM-1.8). */
  readonly rateLimitPerSecond: number;
  /** Chunk pieces per connection per budget window before `chunk_budget` (chunks.ts default). */
  readonly chunkPiecesPerWindow?: number;
}

export type FrameOutcome =
  | { readonly status: 'ok'; readonly kind: Message['type']; readonly entry?: OpLogEntry; readonly bytes: number }
  | { readonly status: 'chunk-pending' }
  | { readonly status: 'refused'; readonly code: ErrorCode }
  | { readonly status: 'reauth' };

export const presenceKey = (docId: string, connectionId: string) => `aw:${docId}:${connectionId}`;
const PRESENCE_TTL_SECONDS = 120;

async function send(deps: SessionDeps, connectionId: string, message: Message): Promise<void> {
  for (const frame of encodeFrames(message)) {
    if ((await deps.broadcaster.post(connectionId, frame)) === 'gone') return;
  }
}

/** Sends one frame to many connections with bounded concurrency; deletes the ones that are gone. */
export async function postToMany(deps: Pick<SessionDeps, 'broadcaster' | 'connections'>, connectionIds: readonly string[], frames: readonly string[], concurrency = 16): Promise<{ delivered: number; gone: number }> {
  let next = 0;
  let delivered = 0;
  let gone = 0;
  const worker = async () => {
    while (next < connectionIds.length) {
      const id = connectionIds[next++];
      let ok = true;
      for (const frame of frames) {
        if ((await deps.broadcaster.post(id, frame)) === 'gone') {
          ok = false;
          break;
        }
      }
      if (ok) delivered++;
      else {
        gone++;
        await deps.connections.delete(id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, connectionIds.length) }, worker));
  return { delivered, gone };
}

/**
 * Handles one text frame from `connection`. Never throws for bad input: the sender gets an ERROR
 * (with the message's ref when known) and nothing is stored. Throws only when a backing service
 * fails in a way the client cannot act on; the update is then not acknowledged, and the client
 * resends it.
 */
export async function handleFrame(deps: SessionDeps, connection: Connection, frame: string): Promise<FrameOutcome> {
  const now = deps.clock.now();
  if (now >= connection.tokenExpiresAt) {
    await send(deps, connection.connectionId, { type: 'reauth', reason: ERROR_CODES.token_expired });
    await deps.broadcaster.close(connection.connectionId);
    return { status: 'reauth' };
  }
  let ref = '';
  const refuse = async (code: ErrorCode, detail?: string): Promise<FrameOutcome> => {
    await send(deps, connection.connectionId, errorMessage(code, detail ? `${ERROR_CODES[code]} (${detail})` : ERROR_CODES[code], ref));
    return { status: 'refused', code };
  };
  try {
    let { message, bytes } = decodeFrame(frame);
    if (message.type === 'chunk') {
      // Charged before the piece is stored, so unfinished sets cannot fill the chunk store.
      await chargeChunkPiece(deps.cache, connection.connectionId, now, deps.chunkPiecesPerWindow);
      const assembled = await acceptChunk(deps.chunks, connection.connectionId, message);
      if (!assembled) return { status: 'chunk-pending' };
      bytes = assembled;
      message = decodeMessage(bytes);
      if (message.type === 'chunk') throw new ConcordError('bad_chunk', 'a chunk cannot contain a chunk');
    }
    ref = messageRef(bytes);
    const second = Math.floor(now / 1000);
    const count = await deps.cache.incr(`rate:${connection.connectionId}:${second}`, 2);
    if (count > deps.rateLimitPerSecond) return refuse('rate_limited', `${deps.rateLimitPerSecond} messages per second`);

    switch (message.type) {
      case 'sync-step1': {
        try {
          Y.decodeStateVector(message.stateVector);
        } catch {
          throw new ConcordError('bad_message', 'invalid state vector');
        }
        const { doc } = await loadDocument(connection.docId, deps.opLog, deps.snapshots);
        const diff = Y.encodeStateAsUpdate(doc, message.stateVector);
        const stateVector = Y.encodeStateVector(doc);
        doc.destroy();
        await send(deps, connection.connectionId, { type: 'sync-step2', update: diff });
        await send(deps, connection.connectionId, { type: 'sync-step1', stateVector });
        return { status: 'ok', kind: message.type, bytes: diff.length };
      }
      case 'sync-step2':
      case 'sync-update': {
        validateUpdate(message.update);
        if (isEmptyUpdate(message.update)) {
          await send(deps, connection.connectionId, { type: 'ack', seq: 0, ref });
          return { status: 'ok', kind: message.type, bytes: 0 };
        }
        if (!canWrite(connection.role)) return refuse('read_only');
        // The op log refuses with `document_too_large` (LIMITS.documentBytes) before storing
        // anything, from the size it tracks with its sequence numbers (see OpLog.remove).
        const entry = await deps.opLog.append(connection.docId, {
          update: message.update,
          userId: connection.userId,
          connectionId: connection.connectionId,
        });
        await send(deps, connection.connectionId, { type: 'ack', seq: entry.seq, ref });
        return { status: 'ok', kind: message.type, entry, bytes: message.update.length };
      }
      case 'awareness': {
        validateAwareness(message.update);
        await deps.cache.set(presenceKey(connection.docId, connection.connectionId), toBase64(message.update), PRESENCE_TTL_SECONDS);
        const others = (await deps.connections.listByDocument(connection.docId)).filter((c) => c.connectionId !== connection.connectionId);
        await postToMany(deps, others.map((c) => c.connectionId), encodeFrames(message));
        return { status: 'ok', kind: message.type, bytes: message.update.length };
      }
      case 'query-awareness': {
        const others = (await deps.connections.listByDocument(connection.docId)).filter((c) => c.connectionId !== connection.connectionId);
        for (const other of others) {
          const stored = await deps.cache.get(presenceKey(connection.docId, other.connectionId));
          if (stored) await send(deps, connection.connectionId, { type: 'awareness', update: fromBase64(stored) });
        }
        return { status: 'ok', kind: message.type, bytes: 0 };
      }
      default:
        throw new ConcordError('unknown_type', `${message.type} is sent by servers only`);
    }
  } catch (e) {
    if (e instanceof ConcordError) return refuse(e.code, e.detail);
    // Tell the sender even when the failure came before the ref was known (e.g. the chunk store
    // failed): with an empty ref the client resends everything not yet acknowledged.
    await send(deps, connection.connectionId, errorMessage('unavailable', ERROR_CODES.unavailable, ref)).catch(() => undefined);
    throw e;
  }
}

export interface FanoutResult {
  readonly docId: string;
  readonly entries: number;
  readonly recipients: number;
  readonly gone: number;
  readonly bytes: number;
  /** Server time of the oldest entry, for the fan-out delay metric. */
  readonly oldestServerTime: number;
}

/**
 * Delivers stored entries of one document to its connections: the batch's updates merged into one
 * message per recipient (FM-1.2, FM-1.3). Redelivery is harmless: Yjs updates are idempotent
 * (FM-1.5, FM-4.2). When every entry came from one connection, that connection is skipped.
 */
export async function fanoutDocument(deps: Pick<SessionDeps, 'broadcaster' | 'connections'>, docId: string, entries: readonly OpLogEntry[]): Promise<FanoutResult> {
  if (entries.length === 0) return { docId, entries: 0, recipients: 0, gone: 0, bytes: 0, oldestServerTime: 0 };
  const sorted = [...entries].sort((a, b) => a.seq - b.seq);
  const merged = sorted.length === 1 ? sorted[0].update : Y.mergeUpdates(sorted.map((e) => e.update));
  const origins = new Set(sorted.map((e) => e.connectionId));
  const recipients = (await deps.connections.listByDocument(docId))
    .map((c) => c.connectionId)
    .filter((id) => !(origins.size === 1 && origins.has(id)));
  const frames = encodeFrames({ type: 'sync-update', update: merged });
  const { delivered, gone } = await postToMany(deps, recipients, frames);
  return {
    docId,
    entries: sorted.length,
    recipients: delivered,
    gone,
    bytes: merged.length,
    oldestServerTime: sorted.reduce((min, e) => Math.min(min, e.serverTime), Number.POSITIVE_INFINITY),
  };
}

/** Groups entries by document, preserving seq order within each. */
export function groupByDocument(entries: readonly OpLogEntry[]): Map<string, OpLogEntry[]> {
  const groups = new Map<string, OpLogEntry[]>();
  for (const e of entries) {
    const list = groups.get(e.docId) ?? [];
    list.push(e);
    groups.set(e.docId, list);
  }
  return groups;
}

export { LIMITS };
