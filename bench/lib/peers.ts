/** The peer servers, each started as its own `node` child process on a free 127.0.0.1 port. */
import { join } from 'node:path';
import type { ServerKind } from './clients';
import { freePort, startServer, type ServerProcess } from './processes';

export interface PeerServer {
  readonly kind: Exclude<ServerKind, 'concord'>;
  readonly wsBase: string;
  readonly server: ServerProcess;
}

export async function startPeer(kind: Exclude<ServerKind, 'concord'>, repoRoot: string, dataDir: string): Promise<PeerServer> {
  const port = await freePort();
  if (kind === 'y-websocket') {
    const server = await startServer('@y/websocket-server', [join(repoRoot, 'bench/peers/y-websocket-server.mjs'), String(port), dataDir], /running at/, { cwd: repoRoot });
    return { kind, wsBase: `ws://127.0.0.1:${port}`, server };
  }
  const server = await startServer('@hocuspocus/server', [join(repoRoot, 'bench/peers/hocuspocus-server.mjs'), String(port), dataDir], /^ready$/m, { cwd: repoRoot });
  return { kind, wsBase: `ws://127.0.0.1:${port}`, server };
}
