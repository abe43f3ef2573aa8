/**
 * The HTTP API handler (docs/api.md) with HTTP API payload v2 events: OAuth code + PKCE sign-in
 * against a local OAuth server, cookies, documents, sharing, snapshots by version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { handler as api } from '../../lambdas/api';
import { handler as authorizer } from '../../lambdas/authorizer';
import { handler as compactHandler } from '../../lambdas/compact';
import { encodeMessage, toBase64, decodeFrame } from '../../lambdas/core/protocol';
import { runtime } from '../../lambdas/runtime';
import { httpEvent, startHarness, waitFor, type Harness } from '../support/lambda-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ postgres: true });
});
afterAll(async () => {
  await h?.stop();
});

type Res = Awaited<ReturnType<typeof api>>;
const body = (r: Res) => JSON.parse(r.body as string);
/** "name=value" pairs of Set-Cookie values, as a browser would send them back. */
const jar = (r: Res) => (r.cookies ?? []).map((c) => c.split(';')[0]).filter((c) => !c.endsWith('='));
const cookieNamed = (r: Res, name: string) => (r.cookies ?? []).find((c) => c.startsWith(`${name}=`));

async function signIn(username: string, returnPath = '/d/abc') {
  const login = await api(httpEvent('GET', '/api/auth/login', { query: { return: returnPath } }));
  expect(login.statusCode).toBe(302);
  const authorize = new URL(login.headers!.location as string);
  authorize.searchParams.set('username', username);
  const redirect = await fetch(authorize, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  const callbackUrl = new URL(redirect.headers.get('location')!);
  const callback = await api(httpEvent('GET', callbackUrl.pathname, { query: Object.fromEntries(callbackUrl.searchParams), cookies: jar(login) }));
  return { login, authorize, callback, cookies: jar(callback) };
}

describe('sign-in (FM-4.4, FM-5.1, FM-5.3)', () => {
  it('FM-4.4: authorization code + PKCE sets httpOnly cookies and records the user; tokens never appear in a body', async () => {
    const { login, authorize, callback, cookies } = await signIn('alice');
    expect(authorize.origin + authorize.pathname).toBe(`${h.auth.url}/oauth2/authorize`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe('https://concord.test/api/auth/callback');
    expect(cookieNamed(login, 'concord_pkce')).toMatch(/HttpOnly; Secure; SameSite=Lax$/);
    expect(cookieNamed(login, 'concord_pkce')).toContain('Path=/api/auth');
    expect(callback.statusCode).toBe(302);
    expect(callback.headers!.location).toBe('/d/abc');
    expect(cookieNamed(callback, 'concord_at')).toMatch(/^concord_at=[\w.-]+; Path=\/; Max-Age=(8[0-9]{2}|900); HttpOnly; Secure; SameSite=Strict$/);
    expect(cookieNamed(callback, 'concord_rt')).toMatch(/Path=\/api\/auth; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);
    expect(cookieNamed(callback, 'concord_pkce')).toContain('Max-Age=0');
    expect(callback.body).toBe('');
    const me = await api(httpEvent('GET', '/api/me', { cookies }));
    expect(me.statusCode).toBe(200);
    expect(me.headers!['cache-control']).toBe('no-store');
    expect(body(me)).toMatchObject({ userId: 'alice', name: 'alice' });
    expect(body(me).expiresAt).toBeGreaterThan(Date.now());
    expect(await runtime.documents().getUser('alice')).toEqual({ userId: 'alice', name: 'alice' });
  });

  it('refuses a wrong state, a replayed code and an off-site return path', async () => {
    const login = await api(httpEvent('GET', '/api/auth/login', { query: { return: '//evil.example/x' } }));
    const authorize = new URL(login.headers!.location as string);
    const redirect = await fetch(authorize, { redirect: 'manual' });
    const cb = new URL(redirect.headers.get('location')!);
    const wrongState = await api(httpEvent('GET', '/api/auth/callback', { query: { code: cb.searchParams.get('code')!, state: 'forged' }, cookies: jar(login) }));
    expect(wrongState.statusCode).toBe(400);
    expect(body(wrongState).error.code).toBe('bad_request');
    const noCookie = await api(httpEvent('GET', '/api/auth/callback', { query: Object.fromEntries(cb.searchParams) }));
    expect(noCookie.statusCode).toBe(400);
    const ok = await api(httpEvent('GET', '/api/auth/callback', { query: Object.fromEntries(cb.searchParams), cookies: jar(login) }));
    expect(ok.statusCode).toBe(302);
    expect(ok.headers!.location).toBe('/');
    const replay = await api(httpEvent('GET', '/api/auth/callback', { query: Object.fromEntries(cb.searchParams), cookies: jar(login) }));
    expect(replay.statusCode).toBe(401);
  });

  it('FM-5.1: refresh renews the access token; logout denylists it, revokes the refresh token and clears cookies', async () => {
    const { cookies } = await signIn('rita');
    const refreshed = await api(httpEvent('POST', '/api/auth/refresh', { cookies }));
    expect(refreshed.statusCode).toBe(204);
    const newAccess = cookieNamed(refreshed, 'concord_at')!;
    expect(newAccess).toMatch(/^concord_at=[\w.-]+;/);
    expect(newAccess).not.toContain(cookies.find((c) => c.startsWith('concord_at='))!);

    const docId = await h.createDocument('rita');
    const accessCookie = cookies.find((c) => c.startsWith('concord_at='))!;
    expect((await authorizer(h.authorizerEvent(accessCookie, docId))).policyDocument.Statement[0].Effect).toBe('Allow');
    const out = await api(httpEvent('POST', '/api/auth/logout', { cookies }));
    expect(out.statusCode).toBe(204);
    for (const name of ['concord_at', 'concord_rt', 'concord_pkce']) expect(cookieNamed(out, name)).toContain('Max-Age=0');
    // The old access token is dead everywhere, though unexpired: API and WebSocket connect.
    expect((await api(httpEvent('GET', '/api/me', { cookies }))).statusCode).toBe(401);
    await expect(authorizer(h.authorizerEvent(accessCookie, docId))).rejects.toThrow('Unauthorized');
    // The refresh token was revoked at the OAuth server.
    expect(h.auth.revoked.has(cookies.find((c) => c.startsWith('concord_rt='))!.slice('concord_rt='.length))).toBe(true);
    const again = await api(httpEvent('POST', '/api/auth/refresh', { cookies }));
    expect(again.statusCode).toBe(401);
    expect(body(again).error.code).toBe('unauthorized');
  });

  it('answers 401 without a valid token and 400 for a state change without JSON (CSRF guard)', async () => {
    const none = await api(httpEvent('GET', '/api/docs'));
    expect(none.statusCode).toBe(401);
    expect(body(none)).toEqual({ error: { code: 'unauthorized', message: 'Sign in to open this document.' } });
    const { cookies } = await signIn('csrf');
    const form = await api(httpEvent('POST', '/api/docs', { cookies, body: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
    expect(form.statusCode).toBe(400);
    expect(body(form).error.code).toBe('bad_request');
    const expired = await h.auth.issuer.accessToken({ username: 'csrf', issuedAt: Math.floor(Date.now() / 1000) - 7200, ttlSeconds: 60 });
    const stale = await api(httpEvent('GET', '/api/me', { cookies: [`concord_at=${expired.token}`] }));
    expect(stale.statusCode).toBe(401);
    expect(body(stale).error.code).toBe('token_expired');
    expect((await api(httpEvent('GET', '/api/nope', { cookies }))).statusCode).toBe(404);
  });
});

describe('documents and sharing (FM-5.2)', () => {
  it('FM-5.2: create, list, rename, share with roles; viewers cannot rename; the last owner stays', async () => {
    const alice = (await signIn('ann')).cookies;
    const bob = (await signIn('bert')).cookies;
    const created = await api(httpEvent('POST', '/api/docs', { cookies: alice, body: { title: '  Plan  ' } }));
    expect(created.statusCode).toBe(201);
    const doc = body(created);
    expect(doc).toMatchObject({ title: 'Plan', role: 'owner', ownerId: 'ann' });
    const docId: string = doc.docId;
    expect(body(await api(httpEvent('GET', '/api/docs', { cookies: alice }))).documents).toContainEqual(doc);
    expect(body(await api(httpEvent('GET', '/api/docs', { cookies: bob }))).documents).toEqual([]);

    const forbidden = await api(httpEvent('GET', `/api/docs/${docId}`, { cookies: bob }));
    expect(forbidden.statusCode).toBe(403);
    expect((await api(httpEvent('GET', '/api/docs/no-such-doc', { cookies: bob }))).statusCode).toBe(404);

    expect((await api(httpEvent('PUT', `/api/docs/${docId}/members/nobody`, { cookies: alice, body: { role: 'editor' } }))).statusCode).toBe(404);
    expect((await api(httpEvent('PUT', `/api/docs/${docId}/members/bert`, { cookies: alice, body: { role: 'admin' } }))).statusCode).toBe(400);
    const shared = await api(httpEvent('PUT', `/api/docs/${docId}/members/bert`, { cookies: alice, body: { role: 'viewer' } }));
    expect(shared.statusCode).toBe(200);
    expect(body(shared)).toEqual({ userId: 'bert', role: 'viewer' });
    const seen = body(await api(httpEvent('GET', `/api/docs/${docId}`, { cookies: bob })));
    expect(seen).toMatchObject({ docId, role: 'viewer', members: expect.arrayContaining([{ userId: 'ann', role: 'owner' }, { userId: 'bert', role: 'viewer' }]) });
    const rename = await api(httpEvent('PATCH', `/api/docs/${docId}`, { cookies: bob, body: { title: 'Mine now' } }));
    expect(rename.statusCode).toBe(403);
    expect(body(rename).error.code).toBe('read_only');
    expect((await api(httpEvent('PUT', `/api/docs/${docId}/members/ann`, { cookies: bob, body: { role: 'viewer' } }))).statusCode).toBe(403);

    // The authorizer sees the change at once (role cache evicted).
    const bobToken = bob.find((c) => c.startsWith('concord_at='))!;
    expect((await authorizer(h.authorizerEvent(bobToken, docId))).context).toMatchObject({ role: 'viewer' });
    await api(httpEvent('PUT', `/api/docs/${docId}/members/bert`, { cookies: alice, body: { role: 'editor' } }));
    expect((await authorizer(h.authorizerEvent(bobToken, docId))).context).toMatchObject({ role: 'editor' });
    const renamed = await api(httpEvent('PATCH', `/api/docs/${docId}`, { cookies: bob, body: { title: 'Plan B' } }));
    expect(body(renamed)).toMatchObject({ title: 'Plan B', role: 'editor' });

    const lastOwner = await api(httpEvent('DELETE', `/api/docs/${docId}/members/ann`, { cookies: alice }));
    expect(lastOwner.statusCode).toBe(409);
    expect(body(lastOwner).error.code).toBe('conflict');
    expect((await api(httpEvent('PUT', `/api/docs/${docId}/members/ann`, { cookies: alice, body: { role: 'editor' } }))).statusCode).toBe(409);

    expect(body(await api(httpEvent('GET', '/api/users', { cookies: alice, query: { prefix: 'BE' } }))).users).toEqual([{ userId: 'bert', name: 'bert' }]);
  });

  it('FM-5.2: removing a member closes their live socket for further frames', async () => {
    const owner = (await signIn('olga')).cookies;
    const docId = body(await api(httpEvent('POST', '/api/docs', { cookies: owner, body: {} }))).docId;
    await signIn('pete');
    await api(httpEvent('PUT', `/api/docs/${docId}/members/pete`, { cookies: owner, body: { role: 'editor' } }));
    const { connectionId } = await h.open('pete', docId);
    expect((await api(httpEvent('DELETE', `/api/docs/${docId}/members/pete`, { cookies: owner }))).statusCode).toBe(204);
    const d = new Y.Doc();
    d.getText('t').insert(0, 'after removal');
    const frame = toBase64(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(d) }));
    await waitFor(async () => {
      await h.send(connectionId, frame);
      return h.endpoint.closed.has(connectionId);
    }, 10_000, 'the removed member to be refused');
    const last = h.endpoint.take(connectionId).map((f) => decodeFrame(f).message).at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'unauthorized' });
  });
});

describe('snapshots by version (FM-4.3, FM-4.6, FM-6.3)', () => {
  it('FM-4.6: latest is no-store; a version is immutable and private; versions list authors', async () => {
    const owner = (await signIn('sam')).cookies;
    const docId: string = body(await api(httpEvent('POST', '/api/docs', { cookies: owner, body: { title: 'Snap' } }))).docId;
    expect(body(await api(httpEvent('GET', `/api/docs/${docId}/snapshots/latest`, { cookies: owner })))).toEqual({ version: 0 });
    const { connectionId } = await h.open('sam', docId);
    for (const text of ['one ', 'two ', 'three']) {
      const d = new Y.Doc();
      d.getText('t').insert(0, text);
      await h.send(connectionId, toBase64(encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(d) })));
    }
    await compactHandler({ docIds: [docId] });
    const latest = await api(httpEvent('GET', `/api/docs/${docId}/snapshots/latest`, { cookies: owner }));
    expect(latest.headers!['cache-control']).toBe('no-store');
    const info = body(latest);
    expect(info).toMatchObject({ version: 3, url: `/api/docs/${docId}/snapshots/3` });
    const snap = await api(httpEvent('GET', info.url, { cookies: owner }));
    expect(snap.statusCode).toBe(200);
    expect(snap.headers!['content-type']).toBe('application/octet-stream');
    expect(snap.headers!['cache-control']).toBe('private, max-age=31536000, immutable');
    expect(snap.isBase64Encoded).toBe(true);
    const bytes = Buffer.from(snap.body as string, 'base64');
    expect(bytes.length).toBe(info.bytes);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, bytes);
    expect(doc.getText('t').toString()).toContain('three');
    const versions = body(await api(httpEvent('GET', `/api/docs/${docId}/versions`, { cookies: owner }))).versions;
    expect(versions).toEqual([{ version: 3, createdAt: expect.any(Number), authors: ['sam'], name: null, bytes: info.bytes }]);
    expect((await api(httpEvent('GET', `/api/docs/${docId}/snapshots/99`, { cookies: owner }))).statusCode).toBe(404);
    expect((await api(httpEvent('GET', `/api/docs/${docId}/snapshots/abc`, { cookies: owner }))).statusCode).toBe(400);
    const stranger = (await signIn('tess')).cookies;
    expect((await api(httpEvent('GET', info.url, { cookies: stranger }))).statusCode).toBe(403);
  });
});
