/**
 * Authentication and per-document access, table-driven, against the real authorizer, connect and
 * message handlers (FM-4.4, FM-5.1, FM-5.2, FM-5.3). Tokens come from the local token issuer and
 * are verified through its JWKS over HTTP, exactly as in the local stack and in AWS.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, exportSPKI, generateKeyPair, importJWK } from 'jose';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { decodeFrame, encodeFrames, type Message } from '../../lambdas/core/protocol';
import { startHandlerHarness, type HandlerHarness } from './handler-harness';

let h: HandlerHarness;
const DOC = `doc-${randomUUID().slice(0, 8)}`;
const OTHER_DOC = `doc-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  h = await startHandlerHarness();
  const docs = h.runtime.documents();
  await docs.create({ docId: DOC, title: 'Plan', ownerId: 'olivia', createdAt: Date.now() });
  await docs.setRole(DOC, 'eddie', 'editor');
  await docs.setRole(DOC, 'vera', 'viewer');
  await docs.create({ docId: OTHER_DOC, title: 'Secret', ownerId: 'mallory', createdAt: Date.now() });
});
afterAll(async () => {
  await h?.stop();
});

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** Tokens that must never open a socket, and how each is made. */
const REJECTED_TOKENS: [string, () => Promise<string | null>][] = [
  ['no token cookie', async () => null],
  ['malformed token (not a JWT)', async () => 'not-a-jwt'],
  ['malformed token (three garbage segments)', async () => 'e30.e30.AAAA'],
  ['expired token', async () => (await h.issuer.accessToken({ username: 'eddie', issuedAt: Math.floor(Date.now() / 1000) - 3600, ttlSeconds: 900 })).token],
  [
    'FM-5.3 wrong signature: signed by another RS256 key under the same kid',
    async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT({ token_use: 'access', client_id: h.issuer.clientId, username: 'eddie', jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS256', kid: h.issuer.kid })
        .setIssuer(h.issuer.issuer)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    },
  ],
  [
    'FM-5.3 tampered payload (username changed after signing)',
    async () => {
      const [header, payload, signature] = (await h.issuer.accessToken({ username: 'mallory' })).token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      return `${header}.${b64url(JSON.stringify({ ...claims, username: 'olivia' }))}.${signature}`;
    },
  ],
  [
    'FM-5.3 alg "none" (unsigned)',
    async () => `${b64url(JSON.stringify({ alg: 'none', kid: h.issuer.kid }))}.${b64url(JSON.stringify({ token_use: 'access', client_id: h.issuer.clientId, username: 'olivia', jti: 'x', iss: h.issuer.issuer, exp: Math.floor(Date.now() / 1000) + 600 }))}.`,
  ],
  [
    'FM-5.3 HS256 signed with the public key as the secret (algorithm confusion)',
    async () => {
      const pem = await exportSPKI((await importJWK(h.issuer.jwks().keys[0], 'RS256')) as CryptoKey);
      return new SignJWT({ token_use: 'access', client_id: h.issuer.clientId, username: 'olivia', jti: randomUUID() })
        .setProtectedHeader({ alg: 'HS256', kid: h.issuer.kid })
        .setIssuer(h.issuer.issuer)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(pem));
    },
  ],
  ['wrong issuer', async () => (await h.issuer.accessToken({ username: 'eddie', overrides: { iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other' } })).token],
  ['wrong client_id (audience)', async () => (await h.issuer.accessToken({ username: 'eddie', overrides: { client_id: 'another-app-client' } })).token],
  ['token_use=id (an id token is not an access token)', async () => h.issuer.idToken({ username: 'eddie' })],
  ['no username claim', async () => (await h.issuer.accessToken({ username: 'eddie', overrides: { username: '' } })).token],
];

describe('FM-5.1 FM-5.3 authorizer: tokens that must not open a socket', () => {
  it.each(REJECTED_TOKENS)('%s → 401 Unauthorized, no connection', async (_name, make) => {
    const token = await make();
    const event = h.authorizerEvent({ cookie: token === null ? undefined : `theme=dark; concord_at=${token}`, docId: DOC });
    await expect(h.handlers.authorizer(event)).rejects.toThrow(/^Unauthorized$/);
  });

  it('FM-4.4 a valid token in the query string instead of the httpOnly cookie is not accepted', async () => {
    const { token } = await h.issuer.accessToken({ username: 'eddie' });
    await expect(h.handlers.authorizer(h.authorizerEvent({ docId: DOC, query: { token, access_token: token } }))).rejects.toThrow(/^Unauthorized$/);
  });

  it('FM-5.1 a token revoked at logout (jti on the denylist) is refused although its signature and expiry are valid', async () => {
    const issued = await h.issuer.accessToken({ username: 'eddie' });
    const allowed = await h.handlers.authorizer(h.authorizerEvent({ cookie: `concord_at=${issued.token}`, docId: DOC }));
    expect(allowed.policyDocument.Statement[0].Effect).toBe('Allow');
    await h.runtime.documents().revokeToken(issued.jti, issued.exp * 1000);
    await expect(h.handlers.authorizer(h.authorizerEvent({ cookie: `concord_at=${issued.token}`, docId: DOC }))).rejects.toThrow(/^Unauthorized$/);
  });
});

const effect = (r: APIGatewayAuthorizerResult) => r.policyDocument.Statement[0].Effect;

describe('FM-5.2 authorizer: roles per document', () => {
  const cases: [string, string, string, 'Allow' | 'Deny', string | undefined][] = [
    ['owner on own document', 'olivia', DOC, 'Allow', 'owner'],
    ['editor', 'eddie', DOC, 'Allow', 'editor'],
    ['viewer', 'vera', DOC, 'Allow', 'viewer'],
    ['valid token, no role on the document', 'eddie', OTHER_DOC, 'Deny', undefined],
    ['valid token, a document that does not exist', 'eddie', 'doc-does-not-exist', 'Deny', undefined],
    ['valid token, no document named', 'eddie', '', 'Deny', undefined],
    ['valid token, an absurdly long document id', 'eddie', 'd'.repeat(5000), 'Deny', undefined],
  ];
  it.each(cases)('%s → %s', async (_name, user, docId, expected, role) => {
    const issued = await h.issuer.accessToken({ username: user });
    const result = await h.handlers.authorizer(h.authorizerEvent({ cookie: `concord_at=${issued.token}`, docId }));
    expect(effect(result)).toBe(expected === 'Allow' ? 'Allow' : 'Deny');
    if (expected === 'Allow') {
      expect(result.context).toMatchObject({ userId: user, role, docId, tokenExpiresAt: issued.exp * 1000, jti: issued.jti });
    } else {
      expect(result.context).toEqual({ code: 'forbidden' });
    }
  });
});

// ------------------------------------------------------------------ over the socket

const yUpdate = (text: string) => {
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(d);
};
const messagesTo = (connectionId: string): Message[] => h.connections.take(connectionId).map((f) => decodeFrame(f).message);
const storedTexts = async (docId: string) => {
  const d = new Y.Doc();
  for (const e of await h.runtime.opLog().readAll(docId)) Y.applyUpdate(d, e.update);
  return d.getText('t').toString();
};

describe('FM-5.2 message handler: what a connection may do', () => {
  it('an editor\'s update is stored and acknowledged (the control for the refusals below)', async () => {
    const { token } = await h.issuer.accessToken({ username: 'eddie' });
    const { connectionId } = await h.connectAs(token, DOC);
    const [frame] = encodeFrames({ type: 'sync-update', update: yUpdate('from eddie. ') });
    await h.send(connectionId, frame);
    const replies = messagesTo(connectionId);
    expect(replies.map((m) => m.type)).toEqual(['ack']);
    expect(await storedTexts(DOC)).toContain('from eddie.');
  });

  it('FM-5.2 a viewer sending an update gets read_only and nothing is stored', async () => {
    const { token } = await h.issuer.accessToken({ username: 'vera' });
    const { connectionId } = await h.connectAs(token, DOC);
    const before = (await h.runtime.opLog().readAll(DOC)).length;
    for (const type of ['sync-update', 'sync-step2'] as const) {
      const [frame] = encodeFrames({ type, update: yUpdate('from vera') });
      await h.send(connectionId, frame);
      const replies = messagesTo(connectionId);
      expect(replies).toEqual([expect.objectContaining({ type: 'error', code: 'read_only' })]);
    }
    expect((await h.runtime.opLog().readAll(DOC)).length).toBe(before);
    expect(await storedTexts(DOC)).not.toContain('vera');
  });

  it('FM-5.2 an editor of one document cannot write another: updates land in the connection\'s document only', async () => {
    const { token } = await h.issuer.accessToken({ username: 'eddie' });
    const { connectionId } = await h.connectAs(token, DOC);
    const [frame] = encodeFrames({ type: 'sync-update', update: yUpdate('meant for the secret doc') });
    await h.send(connectionId, frame);
    expect(await h.runtime.opLog().readAll(OTHER_DOC)).toEqual([]);
  });

  it('a frame from a connection that was never authorized gets unauthorized and is closed; nothing stored', async () => {
    const rogue = `rogue-${randomUUID()}`;
    h.connections.open(rogue);
    const before = (await h.runtime.opLog().readAll(DOC)).length;
    const [frame] = encodeFrames({ type: 'sync-update', update: yUpdate('rogue') });
    await h.send(rogue, frame);
    expect(messagesTo(rogue)).toEqual([expect.objectContaining({ type: 'error', code: 'unauthorized' })]);
    expect(h.connections.isClosed(rogue)).toBe(true);
    expect((await h.runtime.opLog().readAll(DOC)).length).toBe(before);
  });

  it('FM-5.1 a token expiring mid-socket: the next frame gets REAUTH, the socket is closed, and the update is not stored', async () => {
    const issued = await h.issuer.accessToken({ username: 'eddie', ttlSeconds: 60 });
    const { connectionId } = await h.connectAs(issued.token, DOC);
    const [first] = encodeFrames({ type: 'sync-update', update: yUpdate('before expiry. ') });
    await h.send(connectionId, first);
    expect(messagesTo(connectionId).map((m) => m.type)).toEqual(['ack']);
    // Server time passes the token's exp (the message handler caches connections for 2 s).
    h.clock.offsetMs = 61_000 + 3_000;
    try {
      const before = (await h.runtime.opLog().readAll(DOC)).length;
      const [late] = encodeFrames({ type: 'sync-update', update: yUpdate('after expiry') });
      await h.send(connectionId, late);
      const replies = messagesTo(connectionId);
      expect(replies).toEqual([{ type: 'reauth', reason: expect.stringContaining('expired') }]);
      expect(h.connections.isClosed(connectionId)).toBe(true);
      expect((await h.runtime.opLog().readAll(DOC)).length).toBe(before);
      expect(await storedTexts(DOC)).not.toContain('after expiry');
    } finally {
      h.clock.offsetMs = 0;
    }
  });

  it('FM-5.1 connect refuses an authorizer context whose token already expired', async () => {
    const connectionId = randomUUID();
    const result = await h.handlers.connect({
      requestContext: { connectionId, routeKey: '$connect', eventType: 'CONNECT', authorizer: { userId: 'eddie', role: 'editor', docId: DOC, tokenExpiresAt: Date.now() - 1000, jti: 'j' } },
      isBase64Encoded: false,
    } as never);
    expect(result).toMatchObject({ statusCode: 401 });
    expect(await h.runtime.connections().get(connectionId)).toBeNull();
  });
});

describe('the harness itself', () => {
  it('a token verified against this JWKS differs from one of another issuer key (sanity of the forged-key case)', async () => {
    const a = await h.issuer.accessToken({ username: 'eddie' });
    const digest = (s: string) => createHash('sha256').update(s).digest('hex');
    const forged = await REJECTED_TOKENS[4][1]();
    expect(digest(a.token.split('.')[2])).not.toBe(digest(String(forged).split('.')[2]));
    expect(JSON.parse(Buffer.from(String(forged).split('.')[0], 'base64url').toString()).kid).toBe(h.issuer.kid);
  });
});

// ------------------------------------------------------------------ cookies and sign-out (api handler)

const attributes = (setCookie: string) => {
  const [pair, ...rest] = setCookie.split(';').map((p) => p.trim());
  const attrs = new Map(rest.map((a) => {
    const eq = a.indexOf('=');
    return eq < 0 ? [a.toLowerCase(), true as string | true] : [a.slice(0, eq).toLowerCase(), a.slice(eq + 1)];
  }));
  return { name: pair.slice(0, pair.indexOf('=')), value: pair.slice(pair.indexOf('=') + 1), attrs };
};

describe('FM-4.4 the api handler keeps tokens in httpOnly Secure SameSite cookies', () => {
  it('FM-4.4 sign-in sets concord_at and concord_rt HttpOnly; Secure; SameSite=Strict and the PKCE cookie HttpOnly; Secure; SameSite=Lax, with the documented paths', async () => {
    const { setCookies, location } = await h.signIn('carol');
    const byName = new Map(setCookies.map((c) => attributes(c)).filter((c) => c.value !== '').map((c) => [c.name, c]));
    const expected: [string, string, string][] = [
      ['concord_at', 'Strict', '/'],
      ['concord_rt', 'Strict', '/api/auth'],
      ['concord_pkce', 'Lax', '/api/auth'],
    ];
    for (const [name, sameSite, path] of expected) {
      const cookie = byName.get(name);
      expect(cookie, `${name} was set`).toBeDefined();
      expect(cookie!.attrs.get('httponly'), `${name} HttpOnly`).toBe(true);
      expect(cookie!.attrs.get('secure'), `${name} Secure`).toBe(true);
      expect(cookie!.attrs.get('samesite'), `${name} SameSite`).toBe(sameSite);
      expect(cookie!.attrs.get('path'), `${name} Path`).toBe(path);
    }
    // The access token is short-lived (15 minutes or less), and never put in a URL.
    expect(Number(byName.get('concord_at')!.attrs.get('max-age'))).toBeLessThanOrEqual(15 * 60);
    const token = decodeURIComponent(byName.get('concord_at')!.value);
    expect(location).not.toContain(token.slice(0, 20));
    expect(location).toBe('/d/x');
  });

  it('FM-4.4 the token is usable only as a cookie: /api/me answers from the cookie and returns no token in its body', async () => {
    const { cookies } = await h.signIn('carol');
    const me = await h.api('GET', '/api/me', { cookies: { concord_at: encodeURIComponent(cookies.concord_at) } });
    expect(me.statusCode).toBe(200);
    expect(JSON.parse(String(me.body))).toMatchObject({ userId: 'carol' });
    expect(String(me.body)).not.toContain(cookies.concord_at.slice(0, 20));
    expect(me.headers['cache-control']).toBe('no-store');
    const anonymous = await h.api('GET', '/api/me');
    expect(anonymous.statusCode).toBe(401);
  });

  it('FM-5.1 sign-out denylists the access token (the authorizer then refuses it), revokes the refresh token and clears every cookie', async () => {
    const { cookies } = await h.signIn('eddie');
    const at = cookies.concord_at;
    const before = await h.handlers.authorizer(h.authorizerEvent({ cookie: `concord_at=${encodeURIComponent(at)}`, docId: DOC }));
    expect(before.policyDocument.Statement[0].Effect).toBe('Allow');
    const logout = await h.api('POST', '/api/auth/logout', { cookies: { concord_at: encodeURIComponent(at), concord_rt: encodeURIComponent(cookies.concord_rt) }, body: {} });
    expect(logout.statusCode).toBe(204);
    for (const c of (logout.cookies ?? []).map(attributes)) {
      expect(c.value, `${c.name} cleared`).toBe('');
      expect(c.attrs.get('max-age')).toBe('0');
    }
    expect((logout.cookies ?? []).map((c) => attributes(c).name).sort()).toEqual(['concord_at', 'concord_pkce', 'concord_rt']);
    await expect(h.handlers.authorizer(h.authorizerEvent({ cookie: `concord_at=${encodeURIComponent(at)}`, docId: DOC }))).rejects.toThrow(/^Unauthorized$/);
    const refreshed = await h.api('POST', '/api/auth/refresh', { cookies: { concord_rt: encodeURIComponent(cookies.concord_rt) }, body: {} });
    expect(refreshed.statusCode).toBe(401);
  });
});
