/**
 * The WebSocket path end to end through the real handlers: authorizer → connect → message →
 * (op log in dynalite) → stream records → fanout → @connections, with snapshots in PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { handler as fanout } from '../../lambdas/fanout';
import { runtime } from '../../lambdas/runtime';
import { startHarness, waitFor, wsClient, type Harness } from '../support/lambda-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ postgres: true });
});
afterAll(async () => {
  await h?.stop();
});

/** Delivers every new op-log record of `docId` to the fanout handler, as the stream would. */
async function drain(docId: string) {
  const records = await h.streamRecords(docId);
  return fanout(h.streamEvent(records));
}

describe('WebSocket session through the handlers', () => {
  it('FM-1.4 FM-1.2: two editors converge; every change gets a server-assigned sequence and an ack', async () => {
    const docId = await h.createDocument('alice', { bob: 'editor' });
    const a = wsClient(h, (await h.open('alice', docId)).connectionId);
    const b = wsClient(h, (await h.open('bob', docId)).connectionId);
    await a.sync();
    await b.sync();
    expect(a.session.isSynced && b.session.isSynced).toBe(true);

    a.doc.getText('t').insert(0, 'hello ');
    b.doc.getText('t').insert(0, 'world ');
    await a.sync();
    await b.sync();
    expect(a.session.isSaved).toBe(true);
    expect(b.session.isSaved).toBe(true);
    const result = await drain(docId);
    expect(result.batchItemFailures).toEqual([]);
    await a.receive();
    await b.receive();
    expect(a.text()).toBe(b.text());
    expect(a.text()).toContain('hello');
    expect(a.text()).toContain('world');

    const entries = await runtime.opLog().readAll(docId);
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[0]).toBe(1);
  });
});
