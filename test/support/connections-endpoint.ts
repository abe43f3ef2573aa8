/**
 * A small local `@connections` management API (what API Gateway exposes for postToConnection and
 * DeleteConnection), so the production `@aws-sdk/client-apigatewaymanagementapi` broadcaster runs
 * unchanged in tests. Every connection id is live unless marked gone (410 GoneException) or closed;
 * `failing` makes every post answer 500 (a fan-out failure drill).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConnectionsEndpoint {
  readonly endpoint: string;
  /** Ids answering 410. */
  readonly gone: Set<string>;
  /** Ids closed through DeleteConnection (they answer 410 afterwards, as in AWS). */
  readonly closed: Set<string>;
  /** When true every post fails with 500. */
  failing: boolean;
  /** Number of posts received (including failed ones). */
  readonly stats: { posts: number; failed: number };
  /** Frames delivered to a connection since the last take. */
  take(connectionId: string): string[];
  peek(connectionId: string): readonly string[];
  stop(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

function fail(res: ServerResponse, status: number, type: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message }));
}

export async function startConnectionsEndpoint(): Promise<ConnectionsEndpoint> {
  const frames = new Map<string, string[]>();
  const state = {
    gone: new Set<string>(),
    closed: new Set<string>(),
    failing: false,
    stats: { posts: 0, failed: 0 },
  };
  const server = createServer(async (req, res) => {
    const match = /^(?:\/[^/@]+)?\/@connections\/([^/?]+)$/.exec((req.url ?? '').split('?')[0]);
    if (!match) return fail(res, 404, 'NotFoundException', 'no such route');
    const id = decodeURIComponent(match[1]);
    const body = await readBody(req);
    if (state.gone.has(id) || state.closed.has(id)) return fail(res, 410, 'GoneException', `connection ${id} is gone`);
    if (req.method === 'POST') {
      state.stats.posts++;
      if (state.failing) {
        state.stats.failed++;
        return fail(res, 500, 'InternalServerErrorException', 'injected failure');
      }
      const list = frames.get(id) ?? [];
      list.push(body.toString('utf8'));
      frames.set(id, list);
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'DELETE') {
      state.closed.add(id);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ connectedAt: new Date().toISOString() }));
      return;
    }
    fail(res, 405, 'BadRequestException', 'method not allowed');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    take(connectionId: string) {
      const list = frames.get(connectionId) ?? [];
      frames.set(connectionId, []);
      return list;
    },
    peek: (connectionId: string) => frames.get(connectionId) ?? [],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
