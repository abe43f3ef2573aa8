/**
 * FM-8 fault knobs of the local stack, against the production handlers: failing DynamoDB writes,
 * delayed and duplicated stream records, fan-out invocations crashing mid-batch, dropped sockets, and a killed cache (with REDIS_URL; the
 * in-process cache has no server to kill, and the admin endpoint says so). Each drill checks the
 * invariant it threatens: acknowledged edits survive and clients converge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ConcordClient } from '../../examples/node-client.mjs';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { REPO_ROOT, api, isolatedDatabaseUrl, signIn, tempDataDir, type CookieJar } from './support/stack-process';

let stack: LocalStack;
let alice: CookieJar;
let bob: CookieJar;
const cleanups: (() => Promise<void> | void)[] = [];
const clients: ConcordClient[] = [];

async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function admin(path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.origin}/_local${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function sharedDocument(): Promise<string> {
  const { body } = await api<{ docId: string }>(stack.origin, alice, 'POST', '/api/docs', { title: 'drill' });
  await api(stack.origin, alice, 'PUT', `/api/docs/${body.docId}/members/bob`, { role: 'editor' });
  return body.docId;
}

async function open(docId: string, jar: CookieJar): Promise<ConcordClient> {
  const client = await connect({ url: `${stack.origin.replace('http', 'ws')}/ws`, docId, token: jar.get('concord_at')!, timeoutMs: 30_000, retryDelayMs: 100 });
  clients.push(client);
  await client.synced;
  return client;
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const data = tempDataDir();
  cleanups.push(() => data.remove());
  let databaseUrl: string | undefined;
  if (process.env.DATABASE_URL) {
    const db = await isolatedDatabaseUrl(process.env.DATABASE_URL);
    cleanups.push(() => db.drop());
    databaseUrl = db.url;
  }
  stack = await startLocalStack({
    root: REPO_ROOT,
    port: 0,
    host: '127.0.0.1',
    dataDir: data.dir,
    databaseUrl,
    redisUrl: process.env.REDIS_URL || undefined,
    buildWeb: false,
    streamRetryDelayMs: 20,
  });
  alice = await signIn(stack.origin, 'alice');
  bob = await signIn(stack.origin, 'bob');
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await stack?.stop();
  for (const c of cleanups.reverse()) await c();
});

describe('local fault knobs (FM-8)', () => {
  it('FM-3.3: failing op-log writes are refused as unavailable, and the edit is saved once writes recover', async () => {
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    const b = await open(docId, bob);
    const set = await admin('/faults', { dynamoWriteFailureRate: 1, dynamoTableFilter: 'OpLog', dynamoErrorKind: 'ProvisionedThroughputExceededException' });
    expect(set.status).toBe(200);
    a.insertText('written while DynamoDB fails');
    await waitFor(() => a.errors.some((e) => e.code === 'unavailable'), 'an unavailable error for the failed write');
    expect(a.pendingCount).toBeGreaterThan(0);
    expect(b.text()).not.toContain('written while DynamoDB fails');
    expect(stack.faults.current.dynamoWriteFailureRate).toBe(1);

    await admin('/faults/reset');
    await a.whenSaved();
    await waitFor(() => b.text().includes('written while DynamoDB fails'), 'the other client to receive the edit');
    expect(b.text()).toBe(a.text());
  });

  it('FM-1.5, FM-4.2: delayed and duplicated stream records still converge every client', async () => {
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    const b = await open(docId, bob);
    const fanout = stack.consumers.find((c) => c.name === 'fanout')!;
    const duplicatesBefore = fanout.stats.duplicates;
    stack.faults.set({ streamDuplicateRate: 1, streamDelayMs: 150 });
    try {
      for (let i = 0; i < 4; i++) {
        a.insertText(`a${i}`);
        b.insertText(`b${i}`);
      }
      await Promise.all([a.whenSaved(), b.whenSaved()]);
      await waitFor(() => a.text() === b.text() && ['a0', 'a3', 'b0', 'b3'].every((s) => a.text().includes(s)), 'convergence under duplicated, delayed delivery');
      await stack.drainStreams(true);
      expect(fanout.stats.duplicates).toBeGreaterThan(duplicatesBefore);
      expect(a.text()).toBe(b.text());
      // Redelivered updates are idempotent: each line appears exactly once.
      expect(a.text().split('\n').filter((l) => l === 'a0')).toHaveLength(1);
    } finally {
      stack.faults.reset();
    }
  });

  it('FM-1.5, FM-4.2: a fan-out invocation crashing mid-batch is redelivered; clients converge and every acknowledged edit is stored', async () => {
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    const b = await open(docId, bob);
    const fanout = stack.consumers.find((c) => c.name === 'fanout')!;
    const crashesBefore = fanout.stats.crashes;
    const redeliveriesBefore = fanout.stats.redeliveredAfterCrash;
    // Through the admin endpoint, like the soak. A count, not a rate: deterministic, and well below
    // fanout's retry attempts, so no record can end in the on-failure destination.
    const set = await admin('/faults', { streamCrashNextInvocations: 3, streamCrashConsumer: 'fanout' });
    expect(set.status).toBe(200);
    expect(set.body.streamCrashNextInvocations).toBe(3);
    try {
      for (let i = 0; i < 4; i++) {
        a.insertText(`crash-a${i}`);
        b.insertText(`crash-b${i}`);
      }
      await Promise.all([a.whenSaved(), b.whenSaved()]);
      const expected = [0, 1, 2, 3].flatMap((i) => [`crash-a${i}`, `crash-b${i}`]);
      await waitFor(() => a.text() === b.text() && expected.every((s) => a.text().includes(s)), 'convergence under mid-batch fan-out crashes');
      await stack.drainStreams(true);
      expect(fanout.stats.crashes - crashesBefore).toBeGreaterThanOrEqual(3);
      expect(fanout.stats.redeliveredAfterCrash).toBeGreaterThan(redeliveriesBefore);
      expect(stack.faults.current.streamCrashNextInvocations).toBe(0);
      // Redelivered updates are idempotent, and every acknowledged edit is in the stored document.
      expect(a.text().split('\n').filter((l) => l === 'crash-a0')).toHaveLength(1);
      const fresh = await open(docId, bob);
      for (const s of expected) expect(fresh.text()).toContain(s);
      expect(fresh.text()).toBe(a.text());
    } finally {
      await admin('/faults/reset');
    }
    // Turned off, the knob no longer fires.
    const crashesAfterReset = fanout.stats.crashes;
    a.insertText('after the crashes');
    await a.whenSaved();
    await waitFor(() => b.text().includes('after the crashes'), 'fan-out once the knob is off');
    await stack.drainStreams(true);
    expect(fanout.stats.crashes).toBe(crashesAfterReset);
    expect((await admin('/faults', { streamCrashConsumer: 'nope' })).status).toBe(400);
    expect((await admin('/faults', { streamCrashNextInvocations: -1 })).status).toBe(400);
    expect((await admin('/faults', { streamCrashRate: 1.5 })).status).toBe(400);
  });

  it('FM-1.1: a dropped socket runs $disconnect (the connection is gone for @connections), and a new socket resyncs', async () => {
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    a.insertText('before the drop');
    await a.whenSaved();
    const before = new Set(stack.gateway.connectionIds());
    expect(before.size).toBeGreaterThan(0);
    const closed = new Promise<number>((r) => a.ws.once('close', (code: number) => r(code)));
    const connectionId = [...before].at(-1)!;
    const dropped = await admin('/connections/drop', { connectionId });
    expect(dropped.body.dropped).toEqual([connectionId]);
    expect(await closed).toBe(1006);
    await waitFor(() => !stack.gateway.connectionIds().includes(connectionId), 'the gateway to forget the connection');
    const post = await fetch(`${stack.connectionsEndpoint}/@connections/${encodeURIComponent(connectionId)}`, {
      method: 'POST',
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=local/x' },
      body: 'x',
    });
    expect(post.status).toBe(410);
    const again = await open(docId, alice);
    expect(again.text()).toContain('before the drop');
  });

  it('FM-4.1, invariant 4: with the cache killed editing continues; the knob needs REDIS_URL and says so otherwise', async () => {
    if (!stack.cacheProxy) {
      const res = await admin('/cache/kill');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('no_cache_server');
      expect(res.body.error.message).toMatch(/REDIS_URL/);
      return;
    }
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    const b = await open(docId, bob);
    expect((await admin('/cache/kill')).body.cache).toBe('killed');
    try {
      a.insertText('edited without a cache');
      await a.whenSaved();
      await waitFor(() => b.text().includes('edited without a cache'), 'fan-out without the cache');
      const c = await open(docId, bob); // connect (authorizer, role lookups) works without the cache too
      expect(c.text()).toContain('edited without a cache');
    } finally {
      expect((await admin('/cache/restart')).body.cache).toBe('running');
    }
    a.insertText('edited after the cache came back');
    await a.whenSaved();
    await waitFor(() => b.text().includes('edited after the cache came back'), 'fan-out after the restart');
  });

  it('compacts a document on demand through the compact handler; the snapshot is then served over HTTPS', async () => {
    const docId = await sharedDocument();
    const a = await open(docId, alice);
    a.insertText('compact me');
    await a.whenSaved();
    expect((await api<{ version: number }>(stack.origin, alice, 'GET', `/api/docs/${docId}/snapshots/latest`)).body.version).toBe(0);
    const res = await admin('/compact', { docIds: [docId] });
    expect(res.status).toBe(200);
    const latest = await api<{ version: number; url: string }>(stack.origin, alice, 'GET', `/api/docs/${docId}/snapshots/latest`);
    expect(latest.body.version).toBeGreaterThan(0);
    expect((await admin('/compact', { docIds: 'nope' })).status).toBe(400);
  });

  it('the admin endpoint validates settings and refuses requests that are not JSON', async () => {
    const bad = await admin('/faults', { dynamoWriteFailureRate: 2 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/from 0 to 1/);
    const unknown = await admin('/faults', { explode: true });
    expect(unknown.status).toBe(400);
    const form = await fetch(`${stack.origin}/_local/faults`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(form.status).toBe(415);
    const status = await fetch(`${stack.origin}/_local/status`);
    expect(status.headers.get('cache-control')).toBe('no-store');
    expect((await status.json()).faults.dynamoWriteFailureRate).toBe(0);
  });
});
