/**
 * A small OAuth 2.0 server for handler tests, speaking the Cognito hosted-UI endpoints the api
 * handler uses (`/oauth2/authorize`, `/oauth2/token` with authorization code + PKCE S256 and
 * refresh, `/oauth2/revoke`) plus `/.well-known/jwks.json`, signing with local/auth/token-issuer.
 * The authorize step signs in the user named by a `username` query parameter the test appends.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenIssuer, type TokenIssuer } from '../../local/auth/token-issuer';

export interface AuthServer {
  readonly url: string;
  readonly issuer: TokenIssuer;
  readonly jwksUrl: string;
  /** Refresh tokens revoked through /oauth2/revoke. */
  readonly revoked: Set<string>;
  /** Requests seen, by path (for assertions). */
  readonly requests: string[];
  accessTokenTtlSeconds: number;
  stop(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
  });

export async function startAuthServer(): Promise<AuthServer> {
  const codes = new Map<string, { username: string; challenge: string; redirectUri: string; clientId: string }>();
  const refreshTokens = new Map<string, string>();
  const revoked = new Set<string>();
  const requests: string[] = [];
  let issuer!: TokenIssuer;
  const state = { accessTokenTtlSeconds: 900 };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}`);
    const sendJson = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const tokensFor = async (username: string, withRefresh: boolean) => {
      const access = await issuer.accessToken({ username, ttlSeconds: state.accessTokenTtlSeconds });
      const idToken = await issuer.idToken({ username });
      const body: Record<string, unknown> = { access_token: access.token, id_token: idToken, token_type: 'Bearer', expires_in: state.accessTokenTtlSeconds };
      if (withRefresh) {
        const refresh = randomUUID();
        refreshTokens.set(refresh, username);
        body.refresh_token = refresh;
      }
      return body;
    };
    if (url.pathname === '/.well-known/jwks.json') return sendJson(200, issuer.jwks());
    if (url.pathname === '/oauth2/authorize' && req.method === 'GET') {
      const p = url.searchParams;
      if (p.get('response_type') !== 'code' || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge') || p.get('client_id') !== issuer.clientId) {
        return sendJson(400, { error: 'invalid_request' });
      }
      const code = randomUUID();
      codes.set(code, { username: p.get('username') ?? 'alice', challenge: p.get('code_challenge')!, redirectUri: p.get('redirect_uri')!, clientId: p.get('client_id')! });
      const redirect = new URL(p.get('redirect_uri')!);
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('state', p.get('state') ?? '');
      res.writeHead(302, { location: redirect.toString() }).end();
      return;
    }
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('grant_type') === 'authorization_code') {
        const entry = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
        if (!entry || entry.challenge !== challenge || entry.redirectUri !== form.get('redirect_uri') || entry.clientId !== form.get('client_id')) {
          return sendJson(400, { error: 'invalid_grant' });
        }
        return sendJson(200, await tokensFor(entry.username, true));
      }
      if (form.get('grant_type') === 'refresh_token') {
        const token = form.get('refresh_token') ?? '';
        const username = refreshTokens.get(token);
        if (!username || revoked.has(token)) return sendJson(400, { error: 'invalid_grant' });
        return sendJson(200, await tokensFor(username, false));
      }
      return sendJson(400, { error: 'unsupported_grant_type' });
    }
    if (url.pathname === '/oauth2/revoke' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      revoked.add(form.get('token') ?? '');
      res.writeHead(200).end();
      return;
    }
    sendJson(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  issuer = await createTokenIssuer({ issuer: url });
  return Object.assign(state, {
    url,
    issuer,
    jwksUrl: `${url}/.well-known/jwks.json`,
    revoked,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
