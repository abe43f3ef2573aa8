/**
 * Snapshots in PostgreSQL (Aurora in AWS through RDS Proxy with IAM auth and TLS; a local server or
 * embedded PGlite otherwise) via `pg`, plus the migration runner. Snapshot rows are immutable;
 * `snapshot_heads` holds each document's latest version, and a commit is a compare-and-set on it
 * inside one transaction, so concurrent compactions form one linear chain (invariant 3).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { Signer } from '@aws-sdk/rds-signer';
import type { Snapshot, SnapshotInfo, SnapshotStore } from '../core/ports';
import type { DatabaseConfig } from '../config';
import { MIGRATIONS, type Migration } from '../migrations/index';

export interface PoolOptions {
  readonly region?: string;
  /** Connections per pool. A Lambda container serves one request at a time; keep it small. */
  readonly max?: number;
}

export function createPool(config: DatabaseConfig, options: PoolOptions = {}): pg.Pool {
  const common = {
    max: options.max ?? 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 60_000,
    // An unreachable database must fail the invocation, not hang it until the Lambda timeout.
    query_timeout: 20_000,
  };
  if (config.kind === 'url') return new pg.Pool({ ...common, connectionString: config.url });
  const signer = new Signer({ hostname: config.host, port: config.port, username: config.user, region: options.region });
  return new pg.Pool({
    ...common,
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    // RDS Proxy requires TLS; its certificates chain to Amazon's public CAs in Node's trust store.
    ssl: { rejectUnauthorized: true },
    // IAM auth tokens live 15 minutes: sign one per new connection.
    password: () => signer.getAuthToken(),
  });
}

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

export class MigrationChecksumError extends Error {
  constructor(version: number, name: string) {
    super(`Migration ${version} (${name}) was changed after it was applied. Migrations are forward-only: restore it and add a new migration instead.`);
    this.name = 'MigrationChecksumError';
  }
}

export interface MigrationResult {
  readonly applied: number[];
  readonly current: number;
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, in order, each in its own
 * transaction, the whole run under a session advisory lock: two concurrent runners (a retried
 * deploy) serialize, and the second finds everything applied.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].version === sorted[i - 1].version) throw new Error(`Two migrations share version ${sorted[i].version}.`);
  }
  const client = await pool.connect();
  const applied: number[] = [];
  let locked = false;
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext('concord-schema-migrations'))`);
    locked = true;
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      checksum   text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    for (const migration of sorted) {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [migration.version]);
        if (rows.length > 0) {
          if (rows[0].checksum !== checksum(migration.sql)) throw new MigrationChecksumError(migration.version, migration.name);
          await client.query('COMMIT');
          continue;
        }
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, checksum(migration.sql)]);
        await client.query('COMMIT');
        applied.push(migration.version);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
    const { rows } = await client.query<{ current: number | null }>('SELECT max(version) AS current FROM schema_migrations');
    return { applied, current: Number(rows[0]?.current ?? 0) };
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(hashtext('concord-schema-migrations'))`).catch(() => undefined);
    client.release();
  }
}

interface SnapshotRow {
  doc_id: string;
  version: string;
  base_version: string | null;
  state?: Buffer;
  bytes: number;
  authors: string[];
  created_at: string;
  name: string | null;
}

const INFO_COLUMNS = 'doc_id, version, base_version, bytes, authors, created_at, name';

function toInfo(row: SnapshotRow): SnapshotInfo {
  return {
    docId: row.doc_id,
    version: Number(row.version),
    baseVersion: row.base_version === null ? null : Number(row.base_version),
    bytes: Number(row.bytes),
    authors: row.authors ?? [],
    createdAt: Number(row.created_at),
    name: row.name,
  };
}

function toSnapshot(row: SnapshotRow): Snapshot {
  const { bytes: _bytes, ...info } = toInfo(row);
  return { ...info, state: new Uint8Array(row.state!) };
}

export class PostgresSnapshotStore implements SnapshotStore {
  constructor(private readonly pool: pg.Pool) {}

  async latest(docId: string): Promise<Snapshot | null> {
    const { rows } = await this.pool.query<SnapshotRow>(
      `SELECT ${INFO_COLUMNS}, state FROM snapshots WHERE doc_id = $1 ORDER BY version DESC LIMIT 1`,
      [docId],
    );
    return rows.length ? toSnapshot(rows[0]) : null;
  }

  async get(docId: string, version: number): Promise<Snapshot | null> {
    const { rows } = await this.pool.query<SnapshotRow>(`SELECT ${INFO_COLUMNS}, state FROM snapshots WHERE doc_id = $1 AND version = $2`, [docId, version]);
    return rows.length ? toSnapshot(rows[0]) : null;
  }

  async list(docId: string): Promise<SnapshotInfo[]> {
    const { rows } = await this.pool.query<SnapshotRow>(`SELECT ${INFO_COLUMNS} FROM snapshots WHERE doc_id = $1 ORDER BY version DESC`, [docId]);
    return rows.map(toInfo);
  }

  /**
   * Names an existing version (issue 9). Returns false when that version does not exist (e.g. it
   * was thinned by retention). Naming is the only change a snapshot row ever gets.
   */
  async nameVersion(docId: string, version: number, name: string): Promise<boolean> {
    const result = await this.pool.query('UPDATE snapshots SET name = $3 WHERE doc_id = $1 AND version = $2', [docId, version, name]);
    return result.rowCount === 1;
  }

  /**
   * Deletes the given automatic versions (chosen by core `versionsToPrune`), in one transaction.
   * The next kept version takes over each deleted one's authors and base, so the list still reads
   * as one linear chain in which every version names everyone who contributed since the previous
   * one (FM-7.3). Guarded in SQL too: a named version and the latest version are never deleted,
   * even if a name was given or a newer snapshot committed after the caller listed them.
   */
  async deleteVersions(docId: string, versions: readonly number[]): Promise<number> {
    if (versions.length === 0) return 0;
    const client = await this.pool.connect();
    let deleted = 0;
    try {
      await client.query('BEGIN');
      // Newest first: each deletion hands its base to the next kept version, which may itself have
      // just received the base of a newer deleted one.
      for (const version of [...versions].sort((a, b) => b - a)) {
        const { rows } = await client.query<{ base_version: string | null; authors: string[] }>(
          `DELETE FROM snapshots WHERE doc_id = $1 AND version = $2 AND name IS NULL
             AND version < (SELECT latest_version FROM snapshot_heads WHERE doc_id = $1)
           RETURNING base_version, authors`,
          [docId, version],
        );
        if (rows.length === 0) continue;
        deleted++;
        await client.query(
          `UPDATE snapshots SET base_version = $3,
             authors = ARRAY(SELECT DISTINCT a FROM unnest(authors || $4::text[]) AS a ORDER BY a)
           WHERE doc_id = $1 AND version = (SELECT min(version) FROM snapshots WHERE doc_id = $1 AND version > $2)`,
          [docId, version, rows[0].base_version, rows[0].authors ?? []],
        );
      }
      await client.query('COMMIT');
      return deleted;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async commit(snapshot: Snapshot): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The compare-and-set: the head row moves from baseVersion to version, or nothing happens.
      // A concurrent committer blocks on the row lock, then sees the new version and loses.
      const moved =
        snapshot.baseVersion === null
          ? await client.query('INSERT INTO snapshot_heads (doc_id, latest_version) VALUES ($1, $2) ON CONFLICT (doc_id) DO NOTHING', [snapshot.docId, snapshot.version])
          : await client.query('UPDATE snapshot_heads SET latest_version = $2 WHERE doc_id = $1 AND latest_version = $3 AND $2 > $3', [snapshot.docId, snapshot.version, snapshot.baseVersion]);
      if (moved.rowCount !== 1) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(
        `INSERT INTO snapshots (doc_id, version, base_version, state, bytes, authors, created_at, name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [snapshot.docId, snapshot.version, snapshot.baseVersion, Buffer.from(snapshot.state), snapshot.state.length, [...snapshot.authors], snapshot.createdAt, snapshot.name ?? null],
      );
      await client.query('COMMIT');
      return true;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}
