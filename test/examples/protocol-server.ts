/**
 * A minimal Concord server for proving examples/node-client.mjs speaks the documented protocol:
 * a real WebSocket endpoint (`ws`) at `/ws?doc=<docId>` authenticated by the `concord_at` cookie,
 * with the gateway's rules (text frames only: close 1003; frames over 32 KB: close 1009), every
 * frame handed to the core's handleFrame over the in-memory ports, each stored entry fanned out at
 * once (the stream), and the two snapshot routes of docs/api.md. It is not the local stack (that
 * one runs the real handlers); it is the smallest thing that is faithful to docs/protocol.md.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import { CLOSE_CODES } from '../../lambdas/core/errors';
import { LIMITS } from '../../lambdas/core/limits';
import type { Broadcaster, Connection, Role } from '../../lambdas/core/ports';
import { createMemoryServer } from '../support/memory-server';

export interface TestUser {
  readonly userId: string;
  /** Role per document; a document not listed is forbidden (403 at the upgrade). */
  readonly roles: Record<string, Role>;
}

export interface ProtocolServer {
  readonly url: string;
  readonly httpUrl: string;
  readonly core: ReturnType<typeof createMemoryServer>;
  /** Every text frame received, per direction (for asserting sizes and chunking). */
  readonly framesIn: string[];
  readonly framesOut: string[];
  readonly closes: { connectionId: string; code: number }[];
  readonly snapshotRequests: string[];
  close(): Promise<void>;
}

const cookieValue = (req: IncomingMessage, name: string): string | undefined => {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
};

export async function startProtocolServer(tokens: Record<string, TestUser>): Promise<ProtocolServer> {
  const sockets = new Map<string, WebSocket>();
  const framesIn: string[] = [];
  const framesOut: string[] = [];
  const closes: { connectionId: string; code: number }[] = [];
  const snapshotRequests: string[] = [];
  const broadcaster: Broadcaster = {
    async post(connectionId, frame) {
      const ws = sockets.get(connectionId);
      if (!ws || ws.readyState !== WebSocket.OPEN) return 'gone';
      framesOut.push(frame);
      ws.send(frame);
      return 'ok';
    },
    async close(connectionId) {
      sockets.get(connectionId)?.close(CLOSE_CODES.normal);
    },
  };
  const core = createMemoryServer({ broadcaster });

  const authenticate = (req: IncomingMessage) => {
    const token = cookieValue(req, 'concord_at');
    return token ? tokens[token] : undefined;
  };

  const http: Server = createServer(async (req, res) => {
    const user = authenticate(req);
    const match = /^\/api\/docs\/([^/]+)\/snapshots\/(latest|\d+)$/.exec(req.url ?? '');
    if (!match) return void res.writeHead(404).end();
    const docId = decodeURIComponent(match[1]);
    if (!user) return void res.writeHead(401).end();
    if (!user.roles[docId]) return void res.writeHead(403).end();
    snapshotRequests.push(req.url!);
    if (match[2] === 'latest') {
      const latest = await core.deps.snapshots.latest(docId);
      const body = latest ? { version: latest.version, bytes: latest.state.length, url: `/api/docs/${match[1]}/snapshots/${latest.version}` } : { version: 0 };
      return void res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    }
    const snapshot = await core.deps.snapshots.get(docId, Number(match[2]));
    if (!snapshot) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'private, max-age=31536000, immutable' }).end(Buffer.from(snapshot.state));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.messageBytes });
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const docId = url.searchParams.get('doc') ?? '';
    const user = authenticate(req);
    // The authorizer's answers: 401 without a valid token, 403 without a role on the document.
    const status = url.pathname !== '/ws' ? 404 : !user ? 401 : !user.roles[docId] ? 403 : 0;
    if (status) {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, async (ws) => {
      const connectionId = randomUUID();
      const connection: Connection = {
        connectionId,
        docId,
        userId: user!.userId,
        role: user!.roles[docId],
        connectedAt: core.clock.now(),
        tokenExpiresAt: core.clock.now() + 15 * 60_000,
      };
      await core.deps.connections.put(connection);
      sockets.set(connectionId, ws);
      // API Gateway invokes the handler per frame; one chain per socket keeps this test server simple.
      let chain = Promise.resolve();
      ws.on('message', (data, isBinary) => {
        if (isBinary) return ws.close(CLOSE_CODES.unsupportedData);
        const frame = data.toString();
        if (Buffer.byteLength(frame) > LIMITS.frameBytes) return ws.close(CLOSE_CODES.messageTooBig);
        framesIn.push(frame);
        chain = chain.then(async () => {
          await core.frame(connectionId, frame).catch(() => undefined);
          await core.drainStream();
        });
      });
      ws.on('close', (code) => {
        closes.push({ connectionId, code });
        sockets.delete(connectionId);
        void core.deps.connections.delete(connectionId);
      });
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    core,
    framesIn,
    framesOut,
    closes,
    snapshotRequests,
    async close() {
      for (const ws of sockets.values()) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
