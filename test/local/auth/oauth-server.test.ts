/**
 * The local OAuth server (Cognito's endpoints): PKCE S256 is enforced, codes are single-use,
 * refresh and revoke work, tokens verify against the served JWKS, and the sign-in page says it is
 * local-only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOAuthServer } from '../../../local/auth/oauth-server';
import { createTokenIssuer } from '../../../local/auth/token-issuer';

let server: Server;
let origin: string;
const SITE = 'http://site.test';
const REDIRECT = `${SITE}/api/auth/callback`;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = await createTokenIssuer({ issuer: `${origin}/local-auth` });
  const oauth = createOAuthServer({ issuer, allowedRedirectUris: [REDIRECT], defaultLogoutUri: `${SITE}/` });
  server.on('request', (req, res) => void oauth(req, res, (req.url ?? '').split('?')[0].replace('/local-auth', '')));
});

afterAll(() => new Promise((r) => server.close(r)));

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(challenge: string, extra: Record<string, string> = {}) {
  const url = new URL(`${origin}/local-auth/oauth2/authorize`);
  const params = { response_type: 'code', client_id: 'concord-local', redirect_uri: REDIRECT, state: 's1', code_challenge: challenge, code_challenge_method: 'S256', scope: 'openid', ...extra };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

async function codeFor(username: string, challenge: string): Promise<string> {
  const res = await fetch(authorizeUrl(challenge, { login_hint: username }), { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin + location.pathname).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe('s1');
  return location.searchParams.get('code')!;
}

const token = (form: Record<string, string>) =>
  fetch(`${origin}/local-auth/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });

describe('local OAuth server', () => {
  it('exchanges a code with the right PKCE verifier for RS256 tokens that verify against the JWKS', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor('carol', challenge);
    const res = await token({ grant_type: 'authorization_code', client_id: 'concord-local', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const jwks = await (await fetch(`${origin}/local-auth/.well-known/jwks.json`)).json();
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: `${origin}/local-auth` });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ token_use: 'access', client_id: 'concord-local', username: 'carol' });
    expect(typeof body.refresh_token).toBe('string');
  });

  it('refuses a wrong PKCE verifier, and a code is single-use', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor('dave', challenge);
    const wrong = await token({ grant_type: 'authorization_code', client_id: 'concord-local', code, redirect_uri: REDIRECT, code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).error).toBe('invalid_grant');
    const reused = await token({ grant_type: 'authorization_code', client_id: 'concord-local', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(reused.status).toBe(400);
  });

  it('refuses an authorize request without S256 PKCE or with an unregistered redirect_uri', async () => {
    expect((await fetch(authorizeUrl('x', { code_challenge_method: 'plain', login_hint: 'a' }), { redirect: 'manual' })).status).toBe(400);
    expect((await fetch(authorizeUrl(pkce().challenge, { redirect_uri: 'https://evil.test/cb', login_hint: 'a' }), { redirect: 'manual' })).status).toBe(400);
  });

  it('refreshes with the refresh token until it is revoked', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor('erin', challenge);
    const { refresh_token } = await (await token({ grant_type: 'authorization_code', client_id: 'concord-local', code, redirect_uri: REDIRECT, code_verifier: verifier })).json();
    const refreshed = await token({ grant_type: 'refresh_token', client_id: 'concord-local', refresh_token });
    expect(refreshed.status).toBe(200);
    expect((await refreshed.json()).access_token).toBeTruthy();
    const revoke = await fetch(`${origin}/local-auth/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: refresh_token, client_id: 'concord-local' }) });
    expect(revoke.status).toBe(200);
    expect((await token({ grant_type: 'refresh_token', client_id: 'concord-local', refresh_token })).status).toBe(400);
  });

  it('shows a clearly local-only sign-in page, and its form signs in', async () => {
    const { challenge } = pkce();
    const page = await fetch(authorizeUrl(challenge));
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toMatch(/Local sign-in \(development only\)/);
    expect(html).toMatch(/name="username"/);
    const form = new URLSearchParams([...authorizeUrl(challenge).searchParams, ['username', 'frank']]);
    const posted = await fetch(`${origin}/local-auth/oauth2/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, redirect: 'manual' });
    expect(posted.status).toBe(302);
    expect(new URL(posted.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    const bad = await fetch(`${origin}/local-auth/oauth2/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([...authorizeUrl(challenge).searchParams, ['username', '<script>']]), redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain('<script>');
  });

  it('logout redirects only to the site', async () => {
    const ok = await fetch(`${origin}/local-auth/logout?client_id=concord-local&logout_uri=${encodeURIComponent(`${SITE}/signed-out`)}`, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe(`${SITE}/signed-out`);
    const evil = await fetch(`${origin}/local-auth/logout?logout_uri=${encodeURIComponent('https://evil.test/')}`, { redirect: 'manual' });
    expect(evil.status).toBe(400);
  });
});
