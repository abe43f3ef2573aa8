/**
 * An in-memory Concord server for core tests: the real handleFrame/fanoutDocument/compact over the
 * in-memory ports, with explicit control of delivery so tests can delay, drop, duplicate and
 * reorder messages.
 */
import * as Y from 'yjs';
import { ClientSession } from '../../lambdas/core/client-session';
import { compact } from '../../lambdas/core/document';
import { resilientCache } from '../../lambdas/core/cache';
import { MemoryBroadcaster, MemoryChunkStore, MemoryConnections, MemoryOpLog, MemorySnapshotStore } from '../../lambdas/core/memory';
import type { Clock, OpLogEntry, Role } from '../../lambdas/core/ports';
import { fanoutDocument, handleFrame, type SessionDeps } from '../../lambdas/core/session';

export class ManualClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}
  now() {
    return this.t;
  }
}

export function createMemoryServer(overrides: Partial<SessionDeps> = {}) {
  const clock = new ManualClock();
  const opLog = new MemoryOpLog(clock);
  const deps: SessionDeps = {
    opLog,
    snapshots: new MemorySnapshotStore(),
    connections: new MemoryConnections(),
    broadcaster: new MemoryBroadcaster(),
    chunks: new MemoryChunkStore(),
    cache: resilientCache(null, { clock }),
    clock,
    rateLimitPerSecond: 1_000_000,
    ...overrides,
  };
  const stream: OpLogEntry[] = [];
  const originalAppend = opLog.append.bind(opLog);
  opLog.append = async (docId, input) => {
    const entry = await originalAppend(docId, input);
    stream.push(entry);
    return entry;
  };
  return {
    deps,
    clock,
    stream,
    broadcaster: deps.broadcaster as MemoryBroadcaster,
    async connect(connectionId: string, docId: string, userId: string, role: Role = 'editor') {
      await deps.connections.put({ connectionId, docId, userId, role, connectedAt: clock.now(), tokenExpiresAt: clock.now() + 15 * 60_000 });
    },
    frame: (connectionId: string, frame: string) =>
      deps.connections.get(connectionId).then((c) => {
        if (!c) throw new Error(`no connection ${connectionId}`);
        return handleFrame(deps, c, frame);
      }),
    /** Delivers every stream record so far to the fan-out, one batch per document. */
    async drainStream() {
      const batch = stream.splice(0);
      const byDoc = new Map<string, OpLogEntry[]>();
      for (const e of batch) byDoc.set(e.docId, [...(byDoc.get(e.docId) ?? []), e]);
      for (const [docId, entries] of byDoc) await fanoutDocument(deps, docId, entries);
    },
    compact: (docId: string) => compact(docId, deps.opLog, deps.snapshots, { clock }),
  };
}

/** A client wired to the memory server through explicit queues. */
export function createClient(server: ReturnType<typeof createMemoryServer>, connectionId: string) {
  const doc = new Y.Doc();
  const outbox: string[] = [];
  const session = new ClientSession(doc, null);
  return {
    doc,
    session,
    outbox,
    open() {
      session.connected((f) => outbox.push(f));
    },
    /** Sends every queued frame to the server in order. */
    async flush() {
      while (outbox.length) await server.frame(connectionId, outbox.shift()!);
    },
    /** Delivers every frame the server sent to this client. */
    async receive() {
      for (const f of server.broadcaster.take(connectionId)) await session.receive(f);
    },
  };
}
