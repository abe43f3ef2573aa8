/**
 * A minimal WebSocket server over the real collaboration core (handleFrame, fanoutDocument) and
 * its in-memory ports: a stand-in for a deployed stage in the drill tests, with hooks to drop
 * every socket (a network blip during failover) or to lose stored entries (a broken server the
 * drill must catch).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { resilientCache } from '../../../lambdas/core/cache';
import { MemoryChunkStore, MemoryConnections, MemoryOpLog, MemorySnapshotStore } from '../../../lambdas/core/memory';
import type { Broadcaster } from '../../../lambdas/core/ports';
import { systemClock } from '../../../lambdas/core/ports';
import { fanoutDocument, handleFrame, type SessionDeps } from '../../../lambdas/core/session';

export async function startCoreWsServer() {
  const sockets = new Map<string, WebSocket>();
  const broadcaster: Broadcaster = {
    async post(connectionId, frame) {
      const ws = sockets.get(connectionId);
      if (!ws || ws.readyState !== WebSocket.OPEN) return 'gone';
      ws.send(frame);
      return 'ok';
    },
    async close(connectionId) {
      sockets.get(connectionId)?.close(1000);
    },
  };
  const opLog = new MemoryOpLog();
  const deps: SessionDeps = {
    opLog,
    snapshots: new MemorySnapshotStore(),
    connections: new MemoryConnections(),
    broadcaster,
    chunks: new MemoryChunkStore(),
    cache: resilientCache(null),
    clock: systemClock,
    rateLimitPerSecond: 1_000_000,
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  let chain = Promise.resolve();
  wss.on('connection', (ws, req) => {
    const connectionId = randomUUID();
    const docId = new URL(req.url ?? '/', 'http://x').searchParams.get('doc') ?? 'doc';
    sockets.set(connectionId, ws);
    const ready = deps.connections.put({ connectionId, docId, userId: 'drill', role: 'editor', connectedAt: Date.now(), tokenExpiresAt: Date.now() + 3_600_000 });
    ws.on('message', (data) => {
      // One frame at a time, like one Lambda invocation per message in order.
      chain = chain.then(async () => {
        await ready;
        const connection = await deps.connections.get(connectionId);
        if (!connection) return;
        const outcome = await handleFrame(deps, connection, data.toString());
        if (outcome.status === 'ok' && outcome.entry) await fanoutDocument(deps, docId, [outcome.entry]);
      });
    });
    ws.on('close', () => {
      sockets.delete(connectionId);
      void deps.connections.delete(connectionId);
    });
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  return {
    deps,
    opLog,
    url: (docId: string) => `ws://127.0.0.1:${port}/ws?doc=${encodeURIComponent(docId)}`,
    /** Terminates every open socket, as a network failure would. */
    dropAll() {
      for (const ws of sockets.values()) ws.terminate();
    },
    get openSockets() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.values()) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
