/**
 * Version history through the real handlers (issue 9): naming a version (API → compact → PostgreSQL),
 * listing versions with authors, restoring as an op-log entry that the stream fans out live, access
 * rules, retention, and history outliving the op-log entries it was built from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { handler as api } from '../../lambdas/api';
import { handler as compactHandler } from '../../lambdas/compact';
import { handler as fanout } from '../../lambdas/fanout';
import { AUTOMATIC_VERSION_WINDOW_MS, BODY_FIELD, RECENT_VERSIONS_MS, versionText } from '../../lambdas/core/history';
import { loadState } from '../../lambdas/core/document';
import { runtime } from '../../lambdas/runtime';
import { httpEvent, startHarness, waitFor, wsClient, type Harness, type WsClient } from '../support/lambda-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ postgres: true });
});
afterAll(async () => {
  await h?.stop();
});

type Res = Awaited<ReturnType<typeof api>>;
const json = (r: Res) => JSON.parse(r.body as string);
const cookies = async (user: string) => [(await h.cookie(user)).cookie];
const call = async (user: string, method: string, path: string, body?: unknown) => api(httpEvent(method, path, { cookies: await cookies(user), body }));

function paragraph(text: string): Y.XmlElement {
  const p = new Y.XmlElement('paragraph');
  const t = new Y.XmlText();
  t.insert(0, text);
  p.insert(0, [t]);
  return p;
}

const docText = (client: WsClient) => versionText(Y.encodeStateAsUpdate(client.doc));
const storedText = async (docId: string) => versionText(await loadState(docId, runtime.opLog(), runtime.snapshots()));

/** Delivers the op-log records written since the last call to the fanout handler, as the stream would. */
async function drain(docId: string) {
  const result = await fanout(h.streamEvent(await h.streamRecords(docId)));
  expect(result.batchItemFailures).toEqual([]);
}

async function openClient(user: string, docId: string): Promise<WsClient> {
  const client = wsClient(h, (await h.open(user, docId)).connectionId);
  await client.sync();
  return client;
}

describe('version history (issue 9)', () => {
  it('FM-7.3: names a version, lists authors, restores as an op-log entry fanned out live; viewers only browse', async () => {
    const docId = await h.createDocument('olivia', { eddie: 'editor', vera: 'viewer' });
    const olivia = await openClient('olivia', docId);
    const eddie = await openClient('eddie', docId);
    olivia.doc.getXmlFragment(BODY_FIELD).insert(0, Array.from({ length: 8 }, (_, i) => paragraph(`Clause ${i}`)));
    await olivia.sync();
    await drain(docId);
    await eddie.receive();
    eddie.doc.getXmlFragment(BODY_FIELD).insert(8, [paragraph('Signed, Eddie')]);
    await eddie.sync();
    await drain(docId);
    await olivia.receive();
    const draft = docText(olivia);
    expect(draft.split('\n')).toHaveLength(9);

    // Viewers browse but cannot name.
    const refusedName = await call('vera', 'POST', `/api/docs/${docId}/versions`, { name: 'Nope' });
    expect(refusedName.statusCode).toBe(403);
    expect(json(refusedName).error.code).toBe('read_only');
    expect((await call('eddie', 'POST', `/api/docs/${docId}/versions`, { name: '   ' })).statusCode).toBe(400);

    const named = await call('eddie', 'POST', `/api/docs/${docId}/versions`, { name: 'Draft sent to legal' });
    expect(named.statusCode).toBe(201);
    const version = json(named);
    expect(version).toMatchObject({ name: 'Draft sent to legal', authors: ['eddie', 'olivia'] });
    // Naming compacted the log: the version is the current state and the entries are gone.
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect(versionText((await runtime.snapshots().get(docId, version.version))!.state)).toBe(draft);

    // A large deletion after the version, then automatic compaction removes those entries too.
    olivia.doc.getXmlFragment(BODY_FIELD).delete(1, 7);
    await olivia.sync();
    await drain(docId);
    await eddie.receive();
    expect(docText(eddie)).toBe('Clause 0\nSigned, Eddie');
    expect((await compactHandler({ docIds: [docId] })).results[docId].status).toBe('compacted');
    expect(await runtime.opLog().readAll(docId)).toEqual([]);

    const listed = await call('vera', 'GET', `/api/docs/${docId}/versions`);
    expect(listed.statusCode).toBe(200);
    const versions = json(listed).versions;
    expect(versions).toEqual([
      { version: expect.any(Number), createdAt: expect.any(Number), authors: ['olivia'], name: null, bytes: expect.any(Number) },
      { version: version.version, createdAt: version.createdAt, authors: ['eddie', 'olivia'], name: 'Draft sent to legal', bytes: version.bytes },
    ]);
    expect(versions[0].version).toBeGreaterThan(version.version);

    // Viewers cannot restore, and nothing is written.
    const refused = await call('vera', 'POST', `/api/docs/${docId}/versions/${version.version}/restore`, {});
    expect(refused.statusCode).toBe(403);
    expect(json(refused).error.code).toBe('read_only');
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect((await call('eddie', 'POST', `/api/docs/${docId}/versions/999999/restore`, {})).statusCode).toBe(404);

    // An edit not yet compacted when the restore happens.
    olivia.doc.getXmlFragment(BODY_FIELD).insert(2, [paragraph('Late note')]);
    await olivia.sync();
    await drain(docId);
    await eddie.receive();
    const beforeRestore = docText(olivia);
    expect(beforeRestore).toBe('Clause 0\nSigned, Eddie\nLate note');

    const before = Date.now();
    const restored = await call('eddie', 'POST', `/api/docs/${docId}/versions/${version.version}/restore`, {});
    expect(restored.statusCode).toBe(200);
    const { seq } = json(restored);
    const entries = await runtime.opLog().readAll(docId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ seq, userId: 'eddie' });
    expect(entries[0].serverTime).toBeGreaterThanOrEqual(before);
    expect(await storedText(docId)).toBe(draft);

    // The op-log stream fans the restore out to everyone connected.
    await drain(docId);
    await waitFor(async () => {
      await olivia.receive();
      await eddie.receive();
      return docText(olivia) === draft && docText(eddie) === draft;
    }, 10_000, 'both clients to receive the restore');

    // Restoring again changes nothing and appends nothing.
    const again = json(await call('olivia', 'POST', `/api/docs/${docId}/versions/${version.version}/restore`, {}));
    expect(again).toEqual({ seq: null, changed: false });
    // (Its compaction merged the restore entry into a version; nothing was appended after it.)
    expect((await runtime.opLog().readAll(docId)).filter((x) => x.seq > seq)).toEqual([]);
    expect((await runtime.snapshots().latest(docId))?.version).toBe(seq);

    // The state just before the restore was kept as a version: the restore can be restored away.
    const afterRestore = json(await call('olivia', 'GET', `/api/docs/${docId}/versions`)).versions as { version: number; authors: string[] }[];
    // Newest first: [the one holding the restore (by eddie), the one just before it (by olivia), …].
    expect(afterRestore.map((v) => v.authors).slice(0, 2)).toEqual([['eddie'], ['olivia']]);
    const preRestore = afterRestore[1];
    expect(preRestore.version).toBeGreaterThan(versions[0].version);
    expect(versionText((await runtime.snapshots().get(docId, preRestore!.version))!.state)).toBe(beforeRestore);
    const back = await call('olivia', 'POST', `/api/docs/${docId}/versions/${preRestore!.version}/restore`, {});
    expect(json(back)).toMatchObject({ changed: true, seq: expect.any(Number) });
    await drain(docId);
    await waitFor(async () => {
      await olivia.receive();
      await eddie.receive();
      return docText(olivia) === beforeRestore && docText(eddie) === beforeRestore;
    }, 10_000, 'both clients to receive the restore of the pre-restore version');
  });

  it('retention: compaction thins older automatic versions to one per window, keeps named, recent and latest, and folds authors forward', async () => {
    const docId = await h.createDocument('olivia');
    const olivia = await openClient('olivia', docId);
    const W = AUTOMATIC_VERSION_WINDOW_MS;
    const windowStart = Math.floor((Date.now() - RECENT_VERSIONS_MS - 10 * W) / W) * W;
    const createdAt = [windowStart + 1000, windowStart + 2000, windowStart + 3000, windowStart + W + 1000, windowStart + W + 2000];
    // Five older versions, as earlier compactions would have left them (seq k = version k).
    for (let k = 1; k <= 5; k++) {
      olivia.doc.getXmlFragment(BODY_FIELD).insert(k - 1, [paragraph(`Step ${k}`)]);
      await olivia.sync();
      const committed = await runtime.snapshots().commit({
        docId,
        version: k,
        baseVersion: k === 1 ? null : k - 1,
        state: Y.encodeStateAsUpdate(olivia.doc),
        authors: [`author${k}`],
        createdAt: createdAt[k - 1],
        name: k === 3 ? 'Kept' : null,
      });
      expect(committed).toBe(true);
    }
    olivia.doc.getXmlFragment(BODY_FIELD).insert(5, [paragraph('Step 6')]);
    await olivia.sync();
    expect((await compactHandler({ docIds: [docId] })).results[docId]).toMatchObject({ status: 'compacted', version: 6 });

    const versions = json(await call('olivia', 'GET', `/api/docs/${docId}/versions`)).versions as { version: number; name: string | null; authors: string[] }[];
    expect(versions.map((v) => [v.version, v.name, v.authors])).toEqual([
      [6, null, ['olivia']],
      [5, null, ['author4', 'author5']],
      [3, 'Kept', ['author3']],
      [2, null, ['author1', 'author2']],
    ]);
    const chain = (await runtime.snapshots().list(docId)).sort((x, y) => x.version - y.version);
    expect(chain.map((s) => s.baseVersion)).toEqual([null, 2, 3, 5]);
    expect(versionText((await runtime.snapshots().get(docId, 2))!.state)).toBe('Step 1\nStep 2');
    expect(await storedText(docId)).toBe('Step 1\nStep 2\nStep 3\nStep 4\nStep 5\nStep 6');
  });
});
