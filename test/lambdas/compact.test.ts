/**
 * Compaction through the compact handler (stream-triggered and direct) into PostgreSQL, and the
 * migrate custom-resource handler (FM-3.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import * as Y from 'yjs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../../contracts/env';
import { handler as compactHandler } from '../../lambdas/compact';
import { handler as migrateHandler } from '../../lambdas/migrate';
import { loadState } from '../../lambdas/core/document';
import { encodeMessage, toBase64 } from '../../lambdas/core/protocol';
import { MIGRATIONS } from '../../lambdas/migrations/index';
import { MigrationChecksumError, migrate } from '../../lambdas/adapters/postgres-snapshots';
import { runtime } from '../../lambdas/runtime';
import { startEmbeddedPostgres } from '../../local/embedded/postgres';
import { createScratchDatabase, startHarness, wsClient, type Harness } from '../support/lambda-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ postgres: true, compactAfterEntries: 5 });
});
afterAll(async () => {
  await h?.stop();
});

const updateFrame = (text: string, clientId: number) => {
  const d = new Y.Doc();
  d.clientID = clientId;
  d.getText('t').insert(0, text);
  return toBase64(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(d) }));
};

async function stateText(docId: string) {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, await loadState(docId, runtime.opLog(), runtime.snapshots()));
  return doc.getText('t').toString();
}

async function head(docId: string) {
  const db = DynamoDBDocumentClient.from(h.dynamo.client);
  return (await db.send(new GetCommand({ TableName: h.dynamo.tableNames.OpLog, Key: { docId, seq: 0 }, ConsistentRead: true }))).Item;
}

describe('compaction (invariant 3)', () => {
  it('FM-1.7 FM-3.5: the stream trigger compacts at the threshold, snapshots to PostgreSQL and removes exactly the merged entries', async () => {
    const docId = await h.createDocument('alice');
    const c = wsClient(h, (await h.open('alice', docId)).connectionId);
    await c.sync();
    for (let i = 0; i < 4; i++) {
      c.doc.getText('t').insert(c.doc.getText('t').length, `${i}`);
      await c.sync();
    }
    // Below the threshold (seq 1..4): nothing happens.
    expect((await compactHandler(h.streamEvent(await h.streamRecords(docId)))).batchItemFailures).toEqual([]);
    expect(await runtime.snapshots().latest(docId)).toBeNull();
    for (let i = 4; i < 7; i++) {
      c.doc.getText('t').insert(c.doc.getText('t').length, `${i}`);
      await c.sync();
    }
    const records = await h.streamRecords(docId); // seq 5..7: 5 is a multiple of the threshold
    expect((await compactHandler(h.streamEvent(records))).batchItemFailures).toEqual([]);
    const snapshot = await runtime.snapshots().latest(docId);
    expect(snapshot).toMatchObject({ version: 7, baseVersion: null, authors: ['alice'] });
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect((await head(docId))?.floor).toBe(7);
    expect(await stateText(docId)).toBe('0123456');

    // A sequence number is never reused, even with every entry compacted away.
    c.doc.getText('t').insert(c.doc.getText('t').length, '7');
    await c.sync();
    expect((await runtime.opLog().readAll(docId)).map((e) => e.seq)).toEqual([8]);
    // A newcomer syncs from the snapshot plus the tail.
    const late = wsClient(h, (await h.open('alice', docId)).connectionId);
    await late.sync();
    expect(late.text()).toBe('01234567');
  });

  it('compaction racing with writers removes only what it merged: no entry is lost', async () => {
    const docId = await h.createDocument('alice');
    const { connectionId } = await h.open('alice', docId);
    const texts = Array.from({ length: 24 }, (_, i) => `w${i};`);
    for (const t of texts.slice(0, 8)) await h.send(connectionId, updateFrame(t, 1000 + texts.indexOf(t)));
    const writers = (async () => {
      for (const t of texts.slice(8)) await h.send(connectionId, updateFrame(t, 1000 + texts.indexOf(t)));
    })();
    const compactions = (async () => {
      for (let i = 0; i < 4; i++) await compactHandler({ docIds: [docId] });
    })();
    await Promise.all([writers, compactions]);
    const final = await stateText(docId);
    for (const t of texts) expect(final).toContain(t);
    const snapshot = await runtime.snapshots().latest(docId);
    const remaining = await runtime.opLog().readAll(docId);
    // Everything left in the op log is newer than the latest snapshot.
    for (const e of remaining) expect(e.seq).toBeGreaterThan(snapshot?.version ?? 0);
  });

  it('two compactions at once form one linear snapshot chain and lose nothing', async () => {
    const docId = await h.createDocument('alice', { bob: 'editor' });
    const a = (await h.open('alice', docId)).connectionId;
    const b = (await h.open('bob', docId)).connectionId;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) {
        await h.send(a, updateFrame(`a${round}.${i};`, 2000 + round * 10 + i));
        await h.send(b, updateFrame(`b${round}.${i};`, 3000 + round * 10 + i));
      }
      const results = await Promise.all([compactHandler({ docIds: [docId] }), compactHandler({ docIds: [docId] })]);
      const statuses = results.map((r) => r.results[docId].status);
      expect(statuses).toContain('compacted');
    }
    const chain = (await runtime.snapshots().list(docId)).sort((x, y) => x.version - y.version);
    expect(chain.length).toBeGreaterThanOrEqual(3);
    chain.forEach((s, i) => expect(s.baseVersion).toBe(i === 0 ? null : chain[i - 1].version));
    expect(new Set(chain.flatMap((s) => s.authors))).toEqual(new Set(['alice', 'bob']));
    const final = await stateText(docId);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 5; i++) {
      expect(final).toContain(`a${round}.${i};`);
      expect(final).toContain(`b${round}.${i};`);
    }
  });

  it('a failing compaction is reported for redelivery and removes nothing', async () => {
    const docId = await h.createDocument('alice');
    const { connectionId } = await h.open('alice', docId);
    for (let i = 0; i < 5; i++) await h.send(connectionId, updateFrame(`${i}`, 4000 + i));
    const records = await h.streamRecords(docId);
    const saved = process.env[ENV.DATABASE_URL];
    const pool = runtime.pool();
    await pool.query('ALTER TABLE snapshots RENAME TO snapshots_away');
    try {
      const result = await compactHandler(h.streamEvent(records));
      expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(records.map((r) => r.dynamodb!.SequenceNumber!).sort());
      expect(await runtime.opLog().readAll(docId)).toHaveLength(5);
    } finally {
      await pool.query('ALTER TABLE snapshots_away RENAME TO snapshots');
      process.env[ENV.DATABASE_URL] = saved;
    }
    expect((await compactHandler(h.streamEvent(records))).batchItemFailures).toEqual([]);
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect((await runtime.snapshots().latest(docId))?.version).toBe(5);
  });
});

describe('FM-3.4: migrations are versioned, forward-only and idempotent', () => {
  it('FM-3.4: the migrate custom resource applies each migration once, concurrently too, and refuses an edited one', async () => {
    let url: string;
    let cleanup: () => Promise<void>;
    const serverUrl = process.env.DATABASE_URL_SERVER;
    if (serverUrl) {
      const scratch = await createScratchDatabase(serverUrl);
      url = scratch.url;
      cleanup = scratch.drop;
    } else {
      const embedded = await startEmbeddedPostgres();
      url = embedded.databaseUrl;
      cleanup = embedded.stop;
    }
    const pools = [new pg.Pool({ connectionString: url, max: 2 }), new pg.Pool({ connectionString: url, max: 2 })];
    try {
      // Two deploys racing on an empty database: every migration is applied exactly once.
      const [first, second] = await Promise.all(pools.map((p) => migrate(p)));
      expect([...first.applied, ...second.applied].sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
      expect(first.current).toBe(MIGRATIONS.at(-1)!.version);
      const { rows } = await pools[0].query('SELECT version, name FROM schema_migrations ORDER BY version');
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      // Re-running is a no-op.
      expect((await migrate(pools[0])).applied).toEqual([]);
      // A new migration is applied on its own; an edited old one is refused.
      const added = [...MIGRATIONS, { version: 99, name: 'test-added', sql: 'CREATE TABLE test_added (id int)' }];
      expect((await migrate(pools[0], added)).applied).toEqual([99]);
      const edited = MIGRATIONS.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql} -- edited` } : m));
      await expect(migrate(pools[0], edited)).rejects.toBeInstanceOf(MigrationChecksumError);
      // A failing migration leaves no trace (its transaction rolls back) and stops the run.
      const broken = [...added, { version: 100, name: 'broken', sql: 'CREATE TABLE ok_part (id int); SELECT no_such_function();' }];
      await expect(migrate(pools[0], broken)).rejects.toThrow();
      const after = await pools[0].query(`SELECT to_regclass('ok_part') AS t, (SELECT max(version) FROM schema_migrations) AS v`);
      expect(after.rows[0]).toEqual({ t: null, v: 99 });
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await cleanup();
    }
  });

  it('FM-3.4: the handler answers the CDK Provider framework on Create, Update and Delete', async () => {
    const created = await migrateHandler({ RequestType: 'Create' });
    expect(created).toEqual({ PhysicalResourceId: 'concord-schema', Data: { SchemaVersion: MIGRATIONS.at(-1)!.version, Applied: '' } });
    const updated = await migrateHandler({ RequestType: 'Update', PhysicalResourceId: 'concord-schema' } as never);
    expect(updated.PhysicalResourceId).toBe('concord-schema');
    const deleted = await migrateHandler({ RequestType: 'Delete', PhysicalResourceId: 'concord-schema' } as never);
    expect(deleted).toEqual({ PhysicalResourceId: 'concord-schema' });
    const { rows } = await runtime.pool().query('SELECT count(*)::int AS n FROM snapshots');
    expect(rows[0].n).toBeGreaterThan(0); // Delete kept the data
  });
});
