/**
 * examples/node-client.mjs (plain JavaScript, only yjs / y-protocols / lib0 / ws) against a real
 * WebSocket server feeding the core's handleFrame: proves docs/protocol.md is enough to write a
 * client. The local stack's acceptance test runs the same client against `npm start`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, ConcordClientError, documentText, type ConcordClient } from '../../examples/node-client.mjs';
import { loadDocument } from '../../lambdas/core/document';
import { LIMITS } from '../../lambdas/core/limits';
import { decodeFrame } from '../../lambdas/core/protocol';
import { startProtocolServer, type ProtocolServer } from './protocol-server';

const run = promisify(execFile);

let server: ProtocolServer;
const opened: ConcordClient[] = [];

beforeAll(async () => {
  server = await startProtocolServer({
    'token-alice': { userId: 'alice', roles: { d1: 'owner', d2: 'owner', d3: 'owner', d4: 'owner', d5: 'owner', d6: 'owner', d7: 'owner' } },
    'token-bob': { userId: 'bob', roles: { d1: 'editor', d3: 'editor', d4: 'editor' } },
    'token-victor': { userId: 'victor', roles: { d1: 'viewer' } },
  });
});

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await server.close();
});

async function open(docId: string, token: string, extra: Partial<Parameters<typeof connect>[0]> = {}) {
  const client = await connect({ url: `${server.url}?doc=${docId}`, token, timeoutMs: 20_000, ...extra });
  opened.push(client);
  return client;
}

const storedText = async (docId: string) => {
  const { doc } = await loadDocument(docId, server.core.deps.opLog, server.core.deps.snapshots);
  return documentText(doc);
};

describe('examples/node-client.mjs speaks docs/protocol.md', () => {
  it('FM-1.2 FM-3.3: syncs, inserts, is acknowledged only once stored, and another client receives the change', async () => {
    const alice = await open('d1', 'token-alice');
    const bob = await open('d1', 'token-bob');
    await Promise.all([alice.synced, bob.synced]);
    alice.insertText('Hello from a plain Node client');
    await alice.whenSaved();
    expect(await storedText('d1')).toBe('Hello from a plain Node client');
    await vi.waitFor(() => expect(bob.text()).toBe('Hello from a plain Node client'), { timeout: 10_000 });

    bob.insertText('and a reply');
    await bob.whenSaved();
    await vi.waitFor(() => expect(alice.text()).toBe(bob.text()), { timeout: 10_000 });
    expect(alice.text().split('\n').sort()).toEqual(['Hello from a plain Node client', 'and a reply'].sort());
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    // Text frames only, each within the gateway's limit.
    expect(server.closes.filter((c) => c.code === 1003 || c.code === 1009)).toEqual([]);
  });

  it('FM-1.1: edits made before connecting go out in the handshake step 2, are stored and acknowledged', async () => {
    const offline = new Y.Doc();
    const paragraph = new Y.XmlElement('paragraph');
    offline.getXmlFragment('body').push([paragraph]);
    paragraph.insert(0, [new Y.XmlText('written offline')]);
    const alice = await open('d2', 'token-alice', { doc: offline });
    await alice.whenSaved();
    expect(await storedText('d2')).toBe('written offline');
    const late = await open('d2', 'token-alice');
    await late.synced;
    expect(late.text()).toBe('written offline');
  });

  it('FM-6.3: a 300 KB paragraph is chunked by the client, stored, fanned out chunked, and sent chunked to a late joiner', async () => {
    const alice = await open('d3', 'token-alice');
    const bob = await open('d3', 'token-bob');
    await Promise.all([alice.synced, bob.synced]);
    const big = 'lorem ipsum '.repeat(25_000);
    const inBefore = server.framesIn.length;
    alice.insertText(big);
    await alice.whenSaved();
    const sent = server.framesIn.slice(inBefore).map((f) => decodeFrame(f).message.type);
    expect(sent.filter((t) => t === 'chunk').length).toBeGreaterThanOrEqual(13);
    await vi.waitFor(() => expect(bob.text()).toBe(big), { timeout: 10_000 });
    const joiner = await open('d3', 'token-alice');
    await joiner.synced;
    expect(joiner.text()).toBe(big);
    expect(server.framesIn.every((f) => f.length <= LIMITS.frameBytes)).toBe(true);
    expect(server.framesOut.every((f) => f.length <= LIMITS.frameBytes)).toBe(true);
    expect(server.framesOut.some((f) => decodeFrame(f).message.type === 'chunk')).toBe(true);
  });

  it('FM-4.3: with loadSnapshot it loads the latest snapshot over HTTP first and the socket carries only the tail', async () => {
    const alice = await open('d4', 'token-alice');
    alice.insertText('compacted into a snapshot');
    await alice.whenSaved();
    expect(await server.core.compact('d4')).toMatchObject({ status: 'compacted' });
    alice.insertText('still in the op log');
    await alice.whenSaved();

    const bob = await open('d4', 'token-bob', { loadSnapshot: true, httpBase: server.httpUrl });
    await bob.synced;
    expect(server.snapshotRequests.filter((r) => r.startsWith('/api/docs/d4/'))).toEqual(['/api/docs/d4/snapshots/latest', expect.stringMatching(/^\/api\/docs\/d4\/snapshots\/\d+$/)]);
    expect(bob.text()).toBe('compacted into a snapshot\nstill in the op log');
  });

  it('FM-5.2: a viewer’s change is refused with read_only and whenSaved rejects with that code', async () => {
    const victor = await open('d1', 'token-victor');
    await victor.synced;
    victor.insertText('not allowed');
    await expect(victor.whenSaved()).rejects.toMatchObject({ code: 'read_only' });
    expect(await storedText('d1')).not.toContain('not allowed');
  });

  it('FM-4.4: connecting without a valid token fails with 401, without a role with 403', async () => {
    await expect(connect({ url: `${server.url}?doc=d1`, token: 'forged', timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(connect({ url: `${server.url}?doc=d5`, token: 'token-bob', timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('FM-5.1: a token expiring mid-socket gets REAUTH, the socket closes and unsaved work is reported', async () => {
    const alice = await open('d6', 'token-alice');
    await alice.whenSaved();
    server.core.clock.t += 16 * 60_000;
    try {
      alice.insertText('after expiry');
      const error = await alice.whenSaved().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcordClientError);
      expect(error).toMatchObject({ code: 'token_expired' });
      await vi.waitFor(() => expect(alice.ws.readyState).toBe(alice.ws.CLOSED), { timeout: 10_000 });
      expect(await storedText('d6')).toBe('');
    } finally {
      server.core.clock.t -= 16 * 60_000;
    }
  });

  it('the command line prints the document text after its insert is acknowledged', async () => {
    const { stdout } = await run(process.execPath, ['examples/node-client.mjs', `${server.url}?doc=d7`, '--insert', 'typed on the command line'], {
      env: { ...process.env, CONCORD_TOKEN: 'token-alice' },
      timeout: 30_000,
    });
    expect(stdout).toBe('typed on the command line\n');
    const second = await run(process.execPath, ['examples/node-client.mjs', `${server.url}?doc=d7`, '--token', 'token-alice', '--insert', 'second line'], { timeout: 30_000 });
    expect(second.stdout).toBe('typed on the command line\nsecond line\n');
    expect(await storedText('d7')).toBe('typed on the command line\nsecond line');
    const refused = await run(process.execPath, ['examples/node-client.mjs', `${server.url}?doc=d7`], { env: { ...process.env, CONCORD_TOKEN: 'nope' }, timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('HTTP 401') });
  });
});
