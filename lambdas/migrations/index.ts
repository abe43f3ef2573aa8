/**
 * Versioned, forward-only SQL migrations for the snapshot database (FM-3.4), embedded as strings
 * because a bundled Lambda cannot read .sql files. Rules: never edit or reorder an applied
 * migration (the runner refuses a changed checksum); add a new one. Changes are expand/contract:
 * a migration must keep the previous release's code working, since it runs before that code is
 * replaced and a rolled-back deployment keeps the newer schema.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'snapshots',
    sql: `
      CREATE TABLE snapshots (
        doc_id       text    NOT NULL,
        version      bigint  NOT NULL CHECK (version > 0),
        base_version bigint,
        state        bytea   NOT NULL,
        bytes        integer NOT NULL,
        authors      text[]  NOT NULL DEFAULT '{}',
        created_at   bigint  NOT NULL,
        name         text,
        PRIMARY KEY (doc_id, version)
      );
      -- One row per document: the version every commit compares and sets (row lock = the CAS).
      CREATE TABLE snapshot_heads (
        doc_id         text   PRIMARY KEY,
        latest_version bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'named-versions-index',
    sql: `CREATE INDEX snapshots_named ON snapshots (doc_id, version) WHERE name IS NOT NULL;`,
  },
];
