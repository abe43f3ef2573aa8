/**
 * FM-3.2 (replica lag): live document state is read from the op log with strongly consistent
 * reads only. Every DynamoDB request the real message handler makes while a client syncs and
 * edits is observed on its way to dynalite; a read of the op log without ConsistentRead would
 * be allowed by DynamoDB to miss the newest entries.
 */
import { randomUUID } from 'node:crypto';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrames, decodeFrame } from '../../lambdas/core/protocol';
import { startHandlerHarness, type HandlerHarness } from '../security/handler-harness';

let h: HandlerHarness;
const requests: { operation: string; table: string; consistent: boolean }[] = [];
const DOC = `doc-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  h = await startHandlerHarness({
    onDynamoRequest: (target, body) => requests.push({ operation: target.split('.').pop() ?? '', table: String(body.TableName ?? ''), consistent: body.ConsistentRead === true }),
  });
  await h.runtime.documents().create({ docId: DOC, title: 'Consistency', ownerId: 'olivia', createdAt: Date.now() });
});
afterAll(async () => {
  await h?.stop();
});

describe('FM-3.2 live state comes from strongly consistent op-log reads', () => {
  it('FM-3.2 sync step 1 reads the op log only with ConsistentRead (appends claim numbers without reading), and a write is visible to the very next sync', async () => {
    const { token } = await h.issuer.accessToken({ username: 'olivia' });
    const { connectionId } = await h.connectAs(token, DOC);
    const opLogTable = h.dynamo.tableNames.OpLog;
    requests.length = 0;
    for (let i = 0; i < 5; i++) {
      const d = new Y.Doc();
      d.getText('t').insert(0, `edit ${i}. `);
      for (const f of encodeFrames({ type: 'sync-update', update: Y.encodeStateAsUpdate(d) })) await h.send(connectionId, f);
      // Immediately ask for the whole state: it must already contain the edit just acknowledged.
      for (const f of encodeFrames({ type: 'sync-step1', stateVector: new Uint8Array([0]) })) await h.send(connectionId, f);
      const replies = h.connections.take(connectionId).map((f) => decodeFrame(f).message);
      expect(replies.map((m) => m.type)).toEqual(['ack', 'sync-step2', 'sync-step1']);
      const state = new Y.Doc();
      Y.applyUpdate(state, (replies[1] as { update: Uint8Array }).update);
      expect(state.getText('t').toString()).toContain(`edit ${i}.`);
    }
    const opLogReads = requests.filter((r) => r.table === opLogTable && ['Query', 'GetItem', 'Scan', 'BatchGetItem'].includes(r.operation));
    // One load per sync step 1; the appends' numbers come from the head counter (UpdateItem).
    expect(opLogReads.length).toBeGreaterThanOrEqual(5);
    expect(opLogReads.filter((r) => !r.consistent)).toEqual([]);
    expect(requests.filter((r) => r.table === opLogTable && r.operation === 'UpdateItem').length).toBeGreaterThanOrEqual(5);
  });
});
