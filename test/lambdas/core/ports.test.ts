/**
 * Edge cases of the in-memory reference ports and of fan-out, found in review.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBroadcaster, MemoryConnections, MemoryOpLog } from '../../../lambdas/core/memory';
import { fanoutDocument } from '../../../lambdas/core/session';

describe('MemoryOpLog', () => {
  it('FM-3.5: removing a very long compacted tail (300 000 entries) works and raises the floor', async () => {
    const log = new MemoryOpLog();
    const seqs = Array.from({ length: 300_000 }, (_, i) => i + 1);
    await log.remove('doc', seqs);
    expect((await log.append('doc', { update: new Uint8Array([0, 0]), userId: 'u', connectionId: 'c' })).seq).toBe(300_001);
  });

  it('FM-1.4: a seq is never handed out again after the entries at the top are removed', async () => {
    const log = new MemoryOpLog();
    const input = { update: new Uint8Array([0, 0]), userId: 'u', connectionId: 'c' };
    await log.append('doc', input);
    const second = await log.append('doc', input);
    await log.remove('doc', [1, 2]);
    expect((await log.append('doc', input)).seq).toBe(second.seq + 1);
  });
});

describe('fanoutDocument', () => {
  it('an empty batch posts nothing', async () => {
    const connections = new MemoryConnections();
    const broadcaster = new MemoryBroadcaster();
    await connections.put({ connectionId: 'a', docId: 'doc', userId: 'u', role: 'editor', connectedAt: 0, tokenExpiresAt: 1 });
    const result = await fanoutDocument({ connections, broadcaster }, 'doc', []);
    expect(result).toMatchObject({ entries: 0, recipients: 0 });
    expect(broadcaster.take('a')).toEqual([]);
  });
});
