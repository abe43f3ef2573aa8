/**
 * An embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) behind a real TCP socket
 * (pglite-socket), so the production `pg` adapter talks to it exactly as to Aurora. Used by the
 * local stack (`npm start`, data under a folder) and by tests when DATABASE_URL is unset.
 *
 *   const pg = await startEmbeddedPostgres({ dataDir: '.concord/pg' });
 *   process.env.DATABASE_URL = pg.databaseUrl;
 *   ...
 *   await pg.stop();
 *
 * PGlite is one session; pglite-socket multiplexes several client connections onto it and keeps
 * a transaction's statements together, so a `pg` pool with a few connections works. Session
 * settings (SET search_path ...) are shared by all connections: isolate with separate instances,
 * not schemas.
 */
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** Folder holding the database files; in memory when unset. */
  readonly dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Concurrent client connections accepted (default 16; pools must stay below it). */
  readonly maxConnections?: number;
  /**
   * In-memory instances start from a cached empty cluster in the OS temp folder instead of
   * running initdb each time (about 5x faster). Default true; ignored with `dataDir`.
   */
  readonly useTemplate?: boolean;
}

/** The cached empty cluster, keyed by the installed PGlite build. */
function templatePath(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const { size, mtimeMs } = statSync(entry);
  return join(tmpdir(), `concord-pglite-template-${size}-${Math.floor(mtimeMs)}.tar.gz`);
}

async function createInMemory(useTemplate: boolean): Promise<PGlite> {
  if (!useTemplate) return PGlite.create();
  const file = templatePath();
  if (existsSync(file)) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([readFileSync(file)]) });
    } catch {
      // A truncated or foreign template: fall through and rebuild it.
    }
  }
  const db = await PGlite.create();
  try {
    const dump = await db.dumpDataDir('gzip');
    // Write then rename, so parallel test processes never read a half-written template.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  } catch {
    // The template is an optimisation only.
  }
  return db;
}

export interface EmbeddedPostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres, for DATABASE_URL. */
  readonly databaseUrl: string;
  readonly port: number;
  /** The PGlite instance itself (tests may query it directly). */
  readonly db: PGlite;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = options.dataDir ? await PGlite.create({ dataDir: options.dataDir }) : await createInMemory(options.useTemplate ?? true);
  const maxConnections = options.maxConnections ?? 16;
  if (maxConnections < 2) throw new Error('startEmbeddedPostgres: maxConnections must be at least 2 (a pool needs more than one connection).');
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0, maxConnections });
  try {
    await server.start();
  } catch (e) {
    await db.close();
    throw e;
  }
  const address = (server as unknown as { server: { address(): AddressInfo | null } }).server.address();
  const port = address?.port ?? Number(server.getServerConn().split(':').pop());
  let stopped = false;
  return {
    databaseUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    db,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
