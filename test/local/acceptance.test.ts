/**
 * Issue 4 acceptance: `npm start` as a child process, two users signed in through the OAuth flow
 * over HTTP, a shared document edited concurrently from two Node clients that speak only the
 * documented protocol (examples/node-client.mjs: yjs + y-protocols + ws), convergence, then a
 * restart on the same data folder that reads the same document back. Runs against the embedded
 * PGlite and in-process cache, or DATABASE_URL / REDIS_URL when set (CI).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type ConcordClient } from '../../examples/node-client.mjs';
import { REPO_ROOT, api, isolatedDatabaseUrl, runStack, signIn, tempDataDir, type StackProcess } from './support/stack-process';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function waitFor<T>(probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('local stack acceptance (npm start)', () => {
  it('two users edit one shared document concurrently from Node clients, converge, and the document survives a restart', { timeout: 150_000 }, async () => {
    const data = tempDataDir();
    cleanups.push(() => data.remove());
    const env: Record<string, string | undefined> = { POWERTOOLS_LOG_LEVEL: 'ERROR' };
    if (process.env.DATABASE_URL) {
      const db = await isolatedDatabaseUrl(process.env.DATABASE_URL);
      cleanups.push(() => db.drop());
      env.DATABASE_URL = db.url;
    }
    // npm test builds web/dist before the suite; --no-build keeps this test from rebuilding it
    // under other tests that serve it. Everything else is exactly `npm start`.
    // A fixed port for both runs, as a user restarting `npm start` would have (the origin is the token issuer).
    const port = await freePort();
    const args = ['--port', String(port), '--data-dir', data.dir, ...(existsSync(join(REPO_ROOT, 'web/dist/index.html')) ? ['--no-build'] : [])];
    let stack: StackProcess = await runStack(args, env);
    cleanups.push(async () => void (await stack.stop('SIGKILL')));
    const { origin } = stack;
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.output()).toMatch(/dynamodb .*\n.*postgres .*\n.*cache .*\n.*websocket .*ws:\/\/127\.0\.0\.1:\d+\/ws/);

    // The client is served like CloudFront serves it.
    // (Polling only rides out someone rebuilding web/dist by hand in a shared working tree.)
    const page = await waitFor(async () => {
      const res = await fetch(`${origin}/d/some-document`);
      return res.status === 200 ? res : null;
    }, 'the client page (200)');
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');

    const alice = await signIn(origin, 'alice');
    const bob = await signIn(origin, 'bob');
    expect((await api<{ userId: string }>(origin, alice, 'GET', '/api/me')).body.userId).toBe('alice');

    const created = await api<{ docId: string }>(origin, alice, 'POST', '/api/docs', { title: 'Plan' });
    expect(created.status).toBe(201);
    const { docId } = created.body;
    expect((await api(origin, bob, 'GET', `/api/docs/${docId}`)).status).toBe(403);
    expect((await api(origin, alice, 'PUT', `/api/docs/${docId}/members/bob`, { role: 'editor' })).status).toBe(200);

    const wsUrl = `${origin.replace('http', 'ws')}/ws`;
    const clients: ConcordClient[] = [];
    cleanups.push(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
    });
    const a = await connect({ url: wsUrl, docId, token: alice.get('concord_at')!, timeoutMs: 30_000 });
    const b = await connect({ url: wsUrl, docId, token: bob.get('concord_at')!, timeoutMs: 30_000 });
    clients.push(a, b);
    await Promise.all([a.synced, b.synced]);

    // Concurrent edits: both write before either sees the other's.
    const lines = { a: ['alpha 1', 'alpha 2', 'alpha 3'], b: ['beta 1', 'beta 2', 'beta 3'] };
    for (let i = 0; i < 3; i++) {
      a.insertText(lines.a[i]);
      b.insertText(lines.b[i]);
    }
    await Promise.all([a.whenSaved(), b.whenSaved()]);
    const converged = await waitFor(() => {
      const ta = a.text();
      return ta === b.text() && [...lines.a, ...lines.b].every((l) => ta.includes(l)) ? ta : null;
    }, 'both clients to converge on all six edits');
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);

    await a.close();
    await b.close();
    clients.length = 0;

    // Clean shutdown, then a restart on the same data folder loses nothing.
    expect(await stack.stop('SIGINT')).toBe(0);
    expect(stack.output()).toMatch(/stopped/);
    stack = await runStack(args, env);
    const origin2 = stack.origin;
    expect(origin2).toBe(origin);

    // The signing key persisted: alice's access cookie from before the restart still verifies.
    const listed = await api<{ documents: { docId: string; title: string }[] }>(origin2, alice, 'GET', '/api/docs');
    expect(listed.status).toBe(200);
    expect(listed.body.documents.map((d) => d.docId)).toContain(docId);

    const reader = await connect({ url: `${origin2.replace('http', 'ws')}/ws`, docId, token: bob.get('concord_at')!, timeoutMs: 30_000 });
    clients.push(reader);
    await reader.synced;
    expect(reader.text()).toBe(converged);
    await reader.close();
    clients.length = 0;

    expect(await stack.stop('SIGTERM')).toBe(0);
    expect(readFileSync(join(data.dir, 'concord-local.json'), 'utf8')).toContain('"format":1');
    expect(existsSync(join(data.dir, 'dlq.jsonl'))).toBe(false);
  });
});
