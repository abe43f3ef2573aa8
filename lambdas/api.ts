/**
 * The HTTP API behind `/api/*` (API Gateway HTTP API, payload format 2.0), exactly as
 * docs/api.md describes it: sign-in through OAuth authorization code + PKCE (Cognito's hosted UI
 * in AWS, the local stack's /local-auth issuer locally) with tokens only in httpOnly cookies
 * (FM-4.4), documents and sharing with per-document roles (FM-5.2), snapshots by immutable
 * version (FM-4.3, FM-4.6). Mutable responses are `no-store` (FM-4.5).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { ConcordError, ERROR_CODES, type ErrorCode } from './core/errors';
import { loadDocument, validateUpdate } from './core/document';
import { BODY_FIELD, restoreChanges } from './core/history';
import { compactDocument } from './compact';
import type { DocumentMeta, Role } from './core/ports';
import { forgetRole, isRevoked, revoke } from './access';
import { COOKIES, TokenRejectedError, parseCookies, serializeCookie, type CookieOptions, type VerifiedToken } from './auth';
import { oauthConfig } from './config';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';

type ApiErrorCode = ErrorCode | 'bad_request' | 'conflict';

const API_MESSAGES: Record<'bad_request' | 'conflict', string> = {
  bad_request: 'The request is malformed; check the method, path, Content-Type and body.',
  conflict: 'The change conflicts with the current state of the document.',
};

const STATUS: Partial<Record<ApiErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  read_only: 403,
  not_found: 404,
  conflict: 409,
  update_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

export class ApiError extends Error {
  constructor(readonly code: ApiErrorCode, readonly detail?: string, readonly status = STATUS[code] ?? 400, readonly sentence?: string) {
    super(detail ?? code);
  }
}

const noRoute = () => new ApiError('not_found', undefined, 404, 'There is no such API endpoint; see docs/api.md.');

type Result = APIGatewayProxyStructuredResultV2 & { headers: Record<string, string>; cookies?: string[] };

const NO_STORE = { 'cache-control': 'no-store' } as const;
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff' } as const;
/** Largest JSON body accepted. */
const MAX_BODY_BYTES = 16 * 1024;
const MAX_TITLE = 200;
const ROLES: readonly Role[] = ['owner', 'editor', 'viewer'];
const WRITERS: readonly Role[] = ['owner', 'editor'];
const MAX_VERSION_NAME = 100;
/** Compactions tried before naming gives up (a loser of the compare-and-set retries). */
const NAME_ATTEMPTS = 3;
const REFRESH_TOKEN_MAX_AGE = 30 * 24 * 3600;
const PKCE_MAX_AGE = 5 * 60;

const json = (statusCode: number, body: unknown, cookies?: string[]): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', ...NO_STORE, ...SECURITY_HEADERS },
  body: JSON.stringify(body),
  ...(cookies ? { cookies } : {}),
});

const empty = (statusCode: number, cookies?: string[], headers: Record<string, string> = {}): Result => ({
  statusCode,
  headers: { ...NO_STORE, ...SECURITY_HEADERS, ...headers },
  body: '',
  ...(cookies ? { cookies } : {}),
});

function errorResult(e: ApiError): Result {
  const base = e.sentence ?? (e.code in API_MESSAGES ? API_MESSAGES[e.code as keyof typeof API_MESSAGES] : ERROR_CODES[e.code as ErrorCode]);
  return json(e.status, { error: { code: e.code, message: e.detail ? `${base} (${e.detail})` : base } });
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string | undefined>;
  readonly headers: Record<string, string | undefined>;
  readonly cookies: Record<string, string>;
  readonly rawBody: string;
}

function toRequest(event: APIGatewayProxyEventV2): Request {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const rawBody = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: (event.rawPath ?? event.requestContext?.http?.path ?? '/').replace(/\/+$/, '') || '/',
    query: event.queryStringParameters ?? {},
    headers,
    cookies: parseCookies([...(event.cookies ?? []).map((c) => c), headers.cookie]),
    rawBody,
  };
}

function cookieOptions(path: string, maxAgeSeconds: number, sameSite: 'Strict' | 'Lax'): CookieOptions {
  // Secure everywhere except a plain-http local origin (http://127.0.0.1), where a browser would
  // refuse to store a Secure cookie set over http.
  return { path, maxAgeSeconds, sameSite, secure: !oauthConfig().siteOrigin.startsWith('http://') };
}

const accessCookie = (token: string, maxAge: number) => serializeCookie(COOKIES.accessToken, token, cookieOptions('/', maxAge, 'Strict'));
const refreshCookie = (token: string, maxAge: number) => serializeCookie(COOKIES.refreshToken, token, cookieOptions('/api/auth', maxAge, 'Strict'));
const pkceCookie = (value: string, maxAge: number) => serializeCookie(COOKIES.pkce, value, cookieOptions('/api/auth', maxAge, 'Lax'));
const clearedCookies = () => [accessCookie('', 0), refreshCookie('', 0), pkceCookie('', 0)];

function parseJsonBody(req: Request): Record<string, unknown> {
  if (Buffer.byteLength(req.rawBody) > MAX_BODY_BYTES) throw new ApiError('update_too_large', `body above ${MAX_BODY_BYTES} bytes`, 413);
  if (!req.rawBody.trim()) return {};
  try {
    const parsed = JSON.parse(req.rawBody) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new ApiError('bad_request', 'the body is not a JSON object');
  }
}

/** CSRF guard on top of SameSite=Strict: a cross-site form cannot send application/json. */
function requireJson(req: Request): void {
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) return;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new ApiError('bad_request', 'state-changing requests must send Content-Type: application/json');
}

async function authenticate(req: Request): Promise<VerifiedToken> {
  const token = req.cookies[COOKIES.accessToken];
  if (!token) throw new ApiError('unauthorized');
  let verified: VerifiedToken;
  try {
    verified = await runtime.verifier().verify(token);
  } catch (e) {
    if (e instanceof TokenRejectedError) throw new ApiError(e.expired ? 'token_expired' : 'unauthorized', e.expired ? undefined : 'invalid access token');
    throw e;
  }
  if (await isRevoked(verified.jti)) throw new ApiError('unauthorized', 'signed out');
  getLogger().appendKeys({ userId: verified.userId });
  return verified;
}

/** The caller's role; 404 for a document that does not exist, 403 for one they cannot see. */
async function requireRole(docId: string, userId: string, allowed: readonly Role[]): Promise<{ meta: DocumentMeta; role: Role }> {
  getLogger().appendKeys({ docId });
  const documents = runtime.documents();
  const [meta, role] = await Promise.all([documents.get(docId), documents.roleOf(docId, userId)]);
  if (!meta) throw new ApiError('not_found');
  if (!role) throw new ApiError('forbidden');
  if (!allowed.includes(role)) throw new ApiError(role === 'viewer' ? 'read_only' : 'forbidden', `requires ${allowed.join(' or ')}`);
  return { meta, role };
}

const documentView = (meta: DocumentMeta, role: Role) => ({ docId: meta.docId, title: meta.title, role, ownerId: meta.ownerId, createdAt: meta.createdAt });

function safeReturnPath(value: string | undefined): string {
  // Same-site paths only: "/d/abc", never "//evil.example" or "https://...".
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || /[\r\n]/.test(value)) return '/';
  return value.slice(0, 2048);
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

interface TokenResponse {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
}

async function tokenRequest(form: Record<string, string>): Promise<TokenResponse | null> {
  const config = oauthConfig();
  let response: Response;
  try {
    response = await fetch(`${config.domain}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    getLogger().error('OAuth token endpoint unreachable', { error });
    throw new ApiError('unavailable', 'the sign-in service did not answer');
  }
  if (response.status >= 500) throw new ApiError('unavailable', `the sign-in service answered ${response.status}`);
  if (!response.ok) {
    getLogger().info('OAuth token request refused', { status: response.status, body: (await response.text()).slice(0, 200) });
    return null;
  }
  return (await response.json()) as TokenResponse;
}

function displayName(idToken: string | undefined, fallback: string): string {
  if (!idToken) return fallback;
  try {
    // Only for display: the id token came straight from the token endpoint over TLS; identity is
    // the verified access token's username.
    const claims = decodeJwt(idToken);
    const name = claims.name ?? claims['cognito:username'] ?? claims.email;
    return typeof name === 'string' && name ? name.slice(0, 200) : fallback;
  } catch {
    return fallback;
  }
}

async function sessionCookies(tokens: TokenResponse, refreshToken: string | undefined): Promise<{ cookies: string[]; verified: VerifiedToken }> {
  if (!tokens.access_token) throw new ApiError('unavailable', 'the sign-in service returned no access token');
  let verified: VerifiedToken;
  try {
    verified = await runtime.verifier().verify(tokens.access_token);
  } catch (e) {
    getLogger().error('The sign-in service returned a token that does not verify', { error: (e as Error).message });
    throw new ApiError('unauthorized', 'the issued token could not be verified');
  }
  const maxAge = Math.floor((verified.expiresAt - runtime.clock().now()) / 1000);
  const cookies = [accessCookie(tokens.access_token, maxAge)];
  if (refreshToken) cookies.push(refreshCookie(refreshToken, REFRESH_TOKEN_MAX_AGE));
  return { cookies, verified };
}

// ---------------------------------------------------------------- routes

async function login(req: Request): Promise<Result> {
  const config = oauthConfig();
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const challenge = base64url(createHash('sha256').update(verifier).digest());
  const pkce = Buffer.from(JSON.stringify({ s: state, v: verifier, r: safeReturnPath(req.query.return) })).toString('base64url');
  const url = new URL(`${config.domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: 'openid profile',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return empty(302, [pkceCookie(pkce, PKCE_MAX_AGE)], { location: url.toString() });
}

async function callback(req: Request): Promise<Result> {
  const config = oauthConfig();
  let pkce: { s: string; v: string; r: string };
  try {
    pkce = JSON.parse(Buffer.from(req.cookies[COOKIES.pkce] ?? '', 'base64url').toString('utf8'));
  } catch {
    throw new ApiError('bad_request', 'the sign-in attempt expired; start again');
  }
  if (!pkce?.s || !pkce.v) throw new ApiError('bad_request', 'the sign-in attempt expired; start again');
  if (req.query.error) throw new ApiError('unauthorized', `sign-in failed: ${String(req.query.error).slice(0, 100)}`);
  if (!req.query.state || req.query.state !== pkce.s) throw new ApiError('bad_request', 'the sign-in state does not match; start again');
  if (!req.query.code) throw new ApiError('bad_request', 'no authorization code');
  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code: req.query.code,
    redirect_uri: config.redirectUri,
    code_verifier: pkce.v,
  });
  if (!tokens) throw new ApiError('unauthorized', 'the authorization code was refused; sign in again');
  const { cookies, verified } = await sessionCookies(tokens, tokens.refresh_token);
  await runtime.documents().recordUser({ userId: verified.userId, name: displayName(tokens.id_token, verified.userId) }, runtime.clock().now());
  getMetrics().addMetric('SignIns', MetricUnit.Count, 1);
  return empty(302, [...cookies, pkceCookie('', 0)], { location: safeReturnPath(pkce.r) });
}

async function refresh(req: Request): Promise<Result> {
  const refreshToken = req.cookies[COOKIES.refreshToken];
  if (!refreshToken) return json(401, errorBody('unauthorized'), clearedCookies());
  const tokens = await tokenRequest({ grant_type: 'refresh_token', client_id: oauthConfig().clientId, refresh_token: refreshToken });
  if (!tokens) return json(401, errorBody('unauthorized'), clearedCookies());
  const { cookies } = await sessionCookies(tokens, tokens.refresh_token);
  return empty(204, cookies);
}

const errorBody = (code: ErrorCode) => ({ error: { code, message: ERROR_CODES[code] } });

async function logout(req: Request): Promise<Result> {
  const token = req.cookies[COOKIES.accessToken];
  if (token) {
    try {
      const verified = await runtime.verifier().verify(token);
      await revoke(verified.jti, verified.expiresAt);
    } catch (e) {
      // An expired or invalid token needs no denylisting.
      if (!(e instanceof TokenRejectedError)) throw e;
    }
  }
  const refreshToken = req.cookies[COOKIES.refreshToken];
  if (refreshToken) {
    const config = oauthConfig();
    try {
      const response = await fetch(`${config.domain}/oauth2/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: refreshToken, client_id: config.clientId }).toString(),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) getLogger().warn('Refresh token revocation refused', { status: response.status });
    } catch (error) {
      // The cookies are cleared anyway; the refresh token expires on its own.
      getLogger().warn('Refresh token revocation failed', { error });
    }
  }
  return empty(204, clearedCookies());
}

async function me(req: Request): Promise<Result> {
  const user = await authenticate(req);
  const profile = await runtime.documents().getUser(user.userId);
  return json(200, { userId: user.userId, name: profile?.name ?? user.userId, expiresAt: user.expiresAt });
}

function titleFrom(body: Record<string, unknown>, required: boolean): string | undefined {
  if (body.title === undefined) {
    if (required) throw new ApiError('bad_request', 'title is required');
    return undefined;
  }
  if (typeof body.title !== 'string') throw new ApiError('bad_request', 'title must be a string');
  const title = body.title.trim();
  if (title.length === 0 || title.length > MAX_TITLE) throw new ApiError('bad_request', `title must have 1 to ${MAX_TITLE} characters`);
  return title;
}

async function route(req: Request): Promise<Result> {
  let parts: string[];
  try {
    parts = req.path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  } catch {
    throw new ApiError('bad_request', 'the path is not valid URL encoding');
  }
  if (parts[0] !== 'api') throw noRoute();
  const [, a, b, c, d, e] = parts;
  const is = (method: string, length: number) => req.method === method && parts.length === length;
  requireJson(req);

  if (a === 'auth') {
    if (b === 'login' && is('GET', 3)) return login(req);
    if (b === 'callback' && is('GET', 3)) return callback(req);
    if (b === 'refresh' && is('POST', 3)) return refresh(req);
    if (b === 'logout' && is('POST', 3)) return logout(req);
  }
  if (a === 'me' && is('GET', 2)) return me(req);
  if (a === 'users' && is('GET', 2)) {
    await authenticate(req);
    const prefix = (req.query.prefix ?? '').slice(0, 100);
    return json(200, { users: await runtime.documents().findUsers(prefix, 20) });
  }
  if (a === 'docs') {
    const user = await authenticate(req);
    const documents = runtime.documents();
    if (is('GET', 2)) return json(200, { documents: (await documents.listForUser(user.userId)).map((m) => documentView(m, m.role)) });
    if (is('POST', 2)) {
      const title = titleFrom(parseJsonBody(req), false) ?? 'Untitled document';
      const meta: DocumentMeta = { docId: base64url(randomBytes(12)), title, ownerId: user.userId, createdAt: runtime.clock().now() };
      await documents.create(meta);
      await forgetRole(meta.docId, user.userId);
      getLogger().info('Document created', { docId: meta.docId });
      return json(201, documentView(meta, 'owner'));
    }
    const docId = b;
    if (!docId) throw noRoute();
    if (is('GET', 3)) {
      const { meta, role } = await requireRole(docId, user.userId, ROLES);
      return json(200, { ...documentView(meta, role), members: await documents.members(docId) });
    }
    if (is('PATCH', 3)) {
      const title = titleFrom(parseJsonBody(req), true)!;
      const { meta, role } = await requireRole(docId, user.userId, ['owner', 'editor']);
      await documents.rename(docId, title);
      return json(200, documentView({ ...meta, title }, role));
    }
    if (c === 'members' && d && parts.length === 5 && (req.method === 'PUT' || req.method === 'DELETE')) {
      const target = d;
      const body = req.method === 'PUT' ? parseJsonBody(req) : {};
      const newRole = req.method === 'PUT' ? (body.role as Role) : null;
      if (req.method === 'PUT' && !ROLES.includes(newRole as Role)) throw new ApiError('bad_request', 'role must be owner, editor or viewer');
      await requireRole(docId, user.userId, ['owner']);
      if (req.method === 'PUT' && !(await documents.getUser(target))) throw new ApiError('not_found', `no user "${target}" has signed in yet`);
      const members = await documents.members(docId);
      const owners = members.filter((m) => m.role === 'owner');
      const current = members.find((m) => m.userId === target)?.role ?? null;
      if (current === 'owner' && newRole !== 'owner' && owners.length === 1) throw new ApiError('conflict', 'a document needs at least one owner');
      if (req.method === 'DELETE' && current === null) return empty(204);
      await documents.setRole(docId, target, newRole);
      await forgetRole(docId, target);
      // Live sockets of that user follow the change at once: new role, or closed on removal.
      const affected = await runtime.connections().updateRole(docId, target, newRole);
      getLogger().info('Sharing changed', { target, role: newRole, liveConnections: affected });
      return newRole ? json(200, { userId: target, role: newRole }) : empty(204);
    }
    if (c === 'snapshots' && d && parts.length === 5 && req.method === 'GET') {
      await requireRole(docId, user.userId, ROLES);
      const snapshots = runtime.snapshots();
      if (d === 'latest') {
        const infos = await snapshots.list(docId);
        if (infos.length === 0) return json(200, { version: 0 });
        const latest = infos.reduce((x, y) => (y.version > x.version ? y : x));
        return json(200, { version: latest.version, bytes: latest.bytes, url: `/api/docs/${encodeURIComponent(docId)}/snapshots/${latest.version}` });
      }
      if (!/^[1-9][0-9]{0,15}$/.test(d)) throw new ApiError('bad_request', 'a snapshot version is a positive integer');
      const snapshot = await snapshots.get(docId, Number(d));
      if (!snapshot) throw new ApiError('not_found', `no snapshot version ${d}`);
      return {
        statusCode: 200,
        headers: {
          'content-type': 'application/octet-stream',
          // Immutable once written, and per user: the browser keeps it, the edge never shares it.
          'cache-control': 'private, max-age=31536000, immutable',
          ...SECURITY_HEADERS,
        },
        body: Buffer.from(snapshot.state).toString('base64'),
        isBase64Encoded: true,
      };
    }
    if (c === 'versions' && parts.length === 4 && req.method === 'GET') {
      await requireRole(docId, user.userId, ROLES);
      const versions = (await runtime.snapshots().list(docId))
        .sort((x, y) => y.version - x.version)
        .map((v) => ({ version: v.version, createdAt: v.createdAt, authors: v.authors, name: v.name ?? null, bytes: v.bytes }));
      return json(200, { versions });
    }
    if (c === 'versions' && parts.length === 4 && req.method === 'POST') {
      const name = versionNameFrom(parseJsonBody(req));
      await requireRole(docId, user.userId, WRITERS);
      return nameVersion(docId, name);
    }
    if (c === 'versions' && d && e === 'restore' && parts.length === 6 && req.method === 'POST') {
      if (!/^[1-9][0-9]{0,15}$/.test(d)) throw new ApiError('bad_request', 'a version is a positive integer');
      await requireRole(docId, user.userId, WRITERS);
      return restoreVersion(docId, Number(d), user.userId);
    }
  }
  throw noRoute();
}

function versionNameFrom(body: Record<string, unknown>): string {
  if (typeof body.name !== 'string') throw new ApiError('bad_request', 'name is required and must be a string');
  const name = body.name.trim();
  if (name.length === 0 || name.length > MAX_VERSION_NAME) throw new ApiError('bad_request', `name must have 1 to ${MAX_VERSION_NAME} characters`);
  return name;
}

/**
 * Names the current state: compacts now (core compact, so the op-log tail becomes a snapshot),
 * then names the latest snapshot. Named versions are never thinned (docs/history.md).
 */
async function nameVersion(docId: string, name: string): Promise<Result> {
  const snapshots = runtime.snapshots();
  let compacted = false;
  for (let attempt = 0; attempt < NAME_ATTEMPTS && !compacted; attempt++) compacted = (await compactDocument(docId)).status !== 'conflict';
  if (!compacted) throw new ApiError('conflict', 'the document is being compacted by someone else; try again', 409, 'The version could not be saved because the document changed at the same moment; try again.');
  const infos = await snapshots.list(docId);
  if (infos.length === 0) throw new ApiError('conflict', 'the document has no content yet', 409, 'There is nothing to name yet: type something first.');
  const latest = infos.reduce((x, y) => (y.version > x.version ? y : x));
  if (!(await snapshots.nameVersion(docId, latest.version, name))) throw new ApiError('conflict', `version ${latest.version} disappeared; try again`);
  getLogger().info('Version named', { docId, version: latest.version });
  getMetrics().addMetric('VersionsNamed', MetricUnit.Count, 1);
  return json(201, { version: latest.version, createdAt: latest.createdAt, authors: latest.authors, name, bytes: latest.bytes });
}

/**
 * Restores a version as a new forward change (core restoreChanges) appended to the op log like
 * any edit, with the restoring user as its author and the server time (FM-7.3): the op-log stream
 * fans it out live, and it can itself be undone or restored away (the state before it is
 * compacted into a version first).
 */
async function restoreVersion(docId: string, version: number, userId: string): Promise<Result> {
  const snapshots = runtime.snapshots();
  const opLog = runtime.opLog();
  const target = await snapshots.get(docId, version);
  if (!target) throw new ApiError('not_found', `no version ${version}; it may have been thinned by the retention policy`);
  // The state just before the restore becomes a version too, so the restore can be restored away.
  // A lost compare-and-set only means another compaction just did the same.
  await compactDocument(docId);
  const { doc } = await loadDocument(docId, opLog, snapshots);
  let update: Uint8Array | null;
  try {
    update = restoreChanges(doc, target.state, BODY_FIELD).update;
  } finally {
    doc.destroy();
  }
  if (!update) return json(200, { seq: null, changed: false });
  try {
    validateUpdate(update);
  } catch (err) {
    if (err instanceof ConcordError && err.code === 'update_too_large') throw new ApiError('update_too_large', 'the restore is larger than one change may be');
    throw err;
  }
  const entry = await opLog.append(docId, { update, userId, connectionId: `api-restore-${randomBytes(6).toString('hex')}` });
  getLogger().info('Version restored', { docId, version, seq: entry.seq, bytes: update.length });
  getMetrics().addMetric('VersionsRestored', MetricUnit.Count, 1);
  return json(200, { seq: entry.seq, changed: true, serverTime: entry.serverTime });
}

export const handler = async (event: APIGatewayProxyEventV2, lambdaContext?: Context): Promise<Result> => {
  const req = toRequest(event);
  return instrumented('api', {}, async () => {
    try {
      const result = await route(req);
      getLogger().info('API request', { method: req.method, path: req.path, status: result.statusCode });
      return result;
    } catch (e) {
      if (e instanceof ApiError) {
        getLogger().info('API request refused', { method: req.method, path: req.path, status: e.status, code: e.code, detail: e.detail });
        return errorResult(e);
      }
      getLogger().error('API request failed', { method: req.method, path: req.path, error: e });
      getMetrics().addMetric('ApiErrors', MetricUnit.Count, 1);
      return errorResult(new ApiError('unavailable'));
    }
  }, lambdaContext);
};
