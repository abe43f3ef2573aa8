/**
 * A TCP proxy in front of the real Redis/Valkey (REDIS_URL), so a test or a drill can "kill" the
 * cache and bring it back: kill closes the listener and cuts every connection (clients see
 * ECONNRESET, then ECONNREFUSED), restart listens again on the same port. The handlers are given
 * the proxy's URL, so this is what they experience when ElastiCache fails over or dies (FM-4.1).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface CacheProxy {
  /** REDIS_URL with host and port replaced by the proxy's. */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCacheProxy(redisUrl: string, options: { port?: number } = {}): Promise<CacheProxy> {
  const upstream = new URL(redisUrl);
  const upstreamPort = Number(upstream.port || 6379);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = options.port ?? 0;

  const listen = async () => {
    const s = createServer((client) => {
      const backend = createConnection({ host: upstream.hostname, port: upstreamPort });
      sockets.add(client);
      sockets.add(backend);
      const cleanup = () => {
        client.destroy();
        backend.destroy();
        sockets.delete(client);
        sockets.delete(backend);
      };
      client.on('error', cleanup).on('close', cleanup);
      backend.on('error', cleanup).on('close', cleanup);
      client.pipe(backend);
      backend.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const kill = async () => {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  const proxied = new URL(redisUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  return {
    url: proxied.toString().replace(/\/$/, ''),
    port,
    get running() {
      return server !== null;
    },
    kill,
    async restart() {
      if (!server) await listen();
    },
    stop: kill,
  };
}
