/**
 * A local stand-in for Amazon Cognito's hosted UI and OAuth endpoints, mounted at `/local-auth`.
 * It speaks the same protocol the `api` handler uses against Cognito (authorization code + PKCE
 * S256, refresh_token grant, revoke, JWKS, logout) and signs RS256 tokens shaped like Cognito's
 * with the key from token-issuer.ts. Sign-in asks only for a name: it is for one machine, and the
 * page says so. `login_hint` signs in directly (scripts and tests).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenIssuer } from './token-issuer';

export interface OAuthServerOptions {
  readonly issuer: TokenIssuer;
  /** Redirect URIs the client may use (the site's /api/auth/callback). */
  readonly allowedRedirectUris: readonly string[];
  /** Where to send the browser after /logout when no logout_uri is given. */
  readonly defaultLogoutUri: string;
  /** File persisting refresh tokens, so a restart keeps people signed in; memory only when unset. */
  readonly refreshTokenFile?: string;
  readonly accessTokenTtlSeconds?: number;
  readonly refreshTokenTtlSeconds?: number;
}

interface PendingCode {
  readonly username: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly expiresAt: number;
}

interface RefreshRecord {
  readonly username: string;
  readonly clientId: string;
  readonly expiresAt: number;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function createOAuthServer(options: OAuthServerOptions) {
  const codes = new Map<string, PendingCode>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const accessTtl = options.accessTokenTtlSeconds ?? 15 * 60;
  const refreshTtl = options.refreshTokenTtlSeconds ?? 30 * 24 * 3600;
  const clientId = options.issuer.clientId;

  if (options.refreshTokenFile && existsSync(options.refreshTokenFile)) {
    let stored: Record<string, RefreshRecord>;
    try {
      stored = JSON.parse(readFileSync(options.refreshTokenFile, 'utf8')) as Record<string, RefreshRecord>;
    } catch (e) {
      throw new Error(`The session file ${options.refreshTokenFile} is corrupt (${(e as Error).message}); delete it or run with --reset.`);
    }
    for (const [k, v] of Object.entries(stored)) if (v.expiresAt > Date.now()) refreshTokens.set(k, v);
  }
  const persist = () => {
    if (!options.refreshTokenFile) return;
    const tmp = `${options.refreshTokenFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(refreshTokens)), { mode: 0o600 });
    renameSync(tmp, options.refreshTokenFile);
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store', pragma: 'no-cache' });
    res.end(text);
  };
  const oauthError = (res: ServerResponse, status: number, error: string, description: string) => json(res, status, { error, error_description: description });
  const html = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };

  /** Validates an authorize request; returns an error sentence or null. */
  const checkAuthorize = (p: URLSearchParams): string | null => {
    if (p.get('response_type') !== 'code') return 'response_type must be "code".';
    if (p.get('client_id') !== clientId) return `client_id must be "${clientId}".`;
    const redirect = p.get('redirect_uri') ?? '';
    if (!options.allowedRedirectUris.includes(redirect)) return `redirect_uri "${redirect}" is not registered; expected one of ${options.allowedRedirectUris.join(', ')}.`;
    if (p.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(p.get('code_challenge') ?? '')) return 'A PKCE code_challenge with code_challenge_method=S256 is required.';
    return null;
  };

  const issueCode = (res: ServerResponse, p: URLSearchParams, username: string) => {
    const code = randomBytes(24).toString('base64url');
    codes.set(code, {
      username,
      clientId,
      redirectUri: p.get('redirect_uri')!,
      codeChallenge: p.get('code_challenge')!,
      expiresAt: Date.now() + 5 * 60_000,
    });
    const target = new URL(p.get('redirect_uri')!);
    target.searchParams.set('code', code);
    if (p.get('state') !== null) target.searchParams.set('state', p.get('state')!);
    res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
    res.end();
  };

  const signInPage = (p: URLSearchParams, error = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Concord local sign-in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem;border-radius:6px}
input,button{font-size:1rem;padding:.5rem;margin-top:.5rem}.err{color:#a00}</style></head>
<body><h1>Concord</h1>
<p class="warn"><strong>Local sign-in (development only).</strong> This page belongs to the local stack started by
<code>npm start</code>. There is no password: anyone using this machine can sign in as anyone. On AWS, sign-in goes
through Amazon Cognito instead.</p>
<form method="post" action="authorize">
${[...p.entries()].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('\n')}
<label>Your name<br><input name="username" autofocus required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,31}" maxlength="32"></label>
<button type="submit">Sign in</button>
${error ? `<p class="err">${escapeHtml(error)}</p>` : ''}
<p><small>Letters, digits, dot, dash and underscore; up to 32 characters.</small></p>
</form></body></html>`;

  const tokenResponse = async (username: string, withRefresh: boolean) => {
    const access = await options.issuer.accessToken({ username, ttlSeconds: accessTtl });
    const idToken = await options.issuer.idToken({ username, ttlSeconds: accessTtl });
    const body: Record<string, unknown> = { access_token: access.token, id_token: idToken, token_type: 'Bearer', expires_in: accessTtl };
    if (withRefresh) {
      const refresh = randomBytes(32).toString('base64url');
      refreshTokens.set(refresh, { username, clientId, expiresAt: Date.now() + refreshTtl * 1000 });
      persist();
      body.refresh_token = refresh;
    }
    return body;
  };

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (path === '/.well-known/jwks.json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' });
      res.end(JSON.stringify(options.issuer.jwks()));
      return;
    }
    if (path === '/oauth2/authorize' && (req.method === 'GET' || req.method === 'POST')) {
      const params = req.method === 'GET' ? url.searchParams : await readForm(req);
      const problem = checkAuthorize(params);
      if (problem) return html(res, 400, `<!doctype html><title>Sign-in error</title><p>Local sign-in error: ${escapeHtml(problem)}</p>`);
      const name = req.method === 'POST' ? (params.get('username') ?? '') : (params.get('login_hint') ?? '');
      params.delete('username');
      if (name) {
        if (!USERNAME.test(name)) return html(res, 400, signInPage(params, 'That name is not allowed: use letters, digits, dot, dash or underscore (at most 32).'));
        return issueCode(res, params, name);
      }
      return html(res, 200, signInPage(params));
    }
    if (path === '/oauth2/token' && req.method === 'POST') {
      const form = await readForm(req);
      // Cognito accepts the client id in the body or as HTTP Basic credentials.
      const basic = /^Basic (.+)$/i.exec(String(req.headers.authorization ?? ''));
      const sentClientId = form.get('client_id') ?? (basic ? Buffer.from(basic[1], 'base64').toString().split(':')[0] : null);
      if (sentClientId !== clientId) return oauthError(res, 400, 'invalid_client', 'Unknown client_id.');
      const grant = form.get('grant_type');
      if (grant === 'authorization_code') {
        const code = form.get('code') ?? '';
        const pending = codes.get(code);
        codes.delete(code); // single use, whatever happens next
        if (!pending || pending.expiresAt < Date.now()) return oauthError(res, 400, 'invalid_grant', 'The authorization code is unknown, used or expired.');
        if (form.get('redirect_uri') !== pending.redirectUri) return oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match the authorize request.');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!verifier || challenge !== pending.codeChallenge) return oauthError(res, 400, 'invalid_grant', 'The PKCE code_verifier does not match the code_challenge.');
        return json(res, 200, await tokenResponse(pending.username, true));
      }
      if (grant === 'refresh_token') {
        const record = refreshTokens.get(form.get('refresh_token') ?? '');
        if (!record || record.expiresAt < Date.now()) return oauthError(res, 400, 'invalid_grant', 'The refresh token is unknown, revoked or expired.');
        // Like Cognito: new access and id tokens, the same refresh token.
        return json(res, 200, await tokenResponse(record.username, false));
      }
      return oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token.');
    }
    if (path === '/oauth2/revoke' && req.method === 'POST') {
      const form = await readForm(req);
      const token = form.get('token') ?? '';
      if (refreshTokens.delete(token)) persist();
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (path === '/logout' && req.method === 'GET') {
      const logoutUri = url.searchParams.get('logout_uri') ?? options.defaultLogoutUri;
      const allowedOrigin = new URL(options.defaultLogoutUri).origin;
      let target: URL;
      try {
        target = new URL(logoutUri, options.defaultLogoutUri);
      } catch {
        return html(res, 400, '<!doctype html><p>Local sign-in: logout_uri is not a URL.</p>');
      }
      if (target.origin !== allowedOrigin) return html(res, 400, '<!doctype html><p>Local sign-in: logout_uri must be on this site.</p>');
      res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
      res.end();
      return;
    }
    json(res, 404, { error: 'not_found', error_description: `No local OAuth endpoint at ${path}.` });
  };
}
