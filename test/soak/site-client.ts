/**
 * A signed-in user of the local stack, speaking only the documented HTTP API (docs/api.md): the
 * OAuth sign-in with `login_hint`, documents and sharing, token refresh, and the admin knobs.
 */
import { cookieFromSetCookie } from '../../scripts/drill/site';

export interface SignedInUser {
  readonly userId: string;
  accessToken: string;
  refreshToken: string;
}

const cookieHeader = (user: SignedInUser) => `concord_at=${encodeURIComponent(user.accessToken)}; concord_rt=${encodeURIComponent(user.refreshToken)}`;

/** /api/auth/login → /local-auth/oauth2/authorize?login_hint → /api/auth/callback. */
export async function signIn(origin: string, userId: string): Promise<SignedInUser> {
  const login = await fetch(`${origin}/api/auth/login?return=/`, { redirect: 'manual' });
  const pkce = cookieFromSetCookie(login.headers.getSetCookie(), 'concord_pkce');
  const authorize = new URL(login.headers.get('location') ?? '', origin);
  authorize.searchParams.set('login_hint', userId);
  const code = await fetch(authorize, { redirect: 'manual' });
  const callback = new URL(code.headers.get('location') ?? '', origin);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: `concord_pkce=${pkce}` } });
  const set = done.headers.getSetCookie();
  const at = cookieFromSetCookie(set, 'concord_at');
  const rt = cookieFromSetCookie(set, 'concord_rt');
  if (done.status !== 302 || !at || !rt) throw new Error(`Signing in ${userId} failed: HTTP ${done.status} ${await done.text()}`);
  return { userId, accessToken: decodeURIComponent(at), refreshToken: decodeURIComponent(rt) };
}

async function api(origin: string, user: SignedInUser, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${origin}${path}`, {
    method,
    headers: { cookie: cookieHeader(user), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

export async function createDocument(origin: string, owner: SignedInUser, title: string): Promise<string> {
  const res = await api(origin, owner, 'POST', '/api/docs', { title });
  if (res.status !== 201) throw new Error(`Creating a document failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { docId: string }).docId;
}

export async function share(origin: string, owner: SignedInUser, docId: string, userId: string, role: 'editor' | 'viewer'): Promise<void> {
  const res = await api(origin, owner, 'PUT', `/api/docs/${encodeURIComponent(docId)}/members/${encodeURIComponent(userId)}`, { role });
  if (res.status !== 200) throw new Error(`Sharing ${docId} with ${userId} failed: HTTP ${res.status} ${await res.text()}`);
}

/** POST /api/auth/refresh: a new access token from the refresh cookie. */
export async function refresh(origin: string, user: SignedInUser): Promise<void> {
  const res = await fetch(`${origin}/api/auth/refresh`, { method: 'POST', headers: { cookie: cookieHeader(user), 'content-type': 'application/json' }, body: '{}' });
  const at = cookieFromSetCookie(res.headers.getSetCookie(), 'concord_at');
  if (res.status !== 204 || !at) throw new Error(`Refreshing ${user.userId}'s token failed: HTTP ${res.status}`);
  user.accessToken = decodeURIComponent(at);
}

/** The local stack's admin endpoints (local/stack.ts, docs/local.md). */
export async function admin(origin: string, path: string, body: unknown = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${origin}/_local${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export interface ConsumerStats {
  readonly invocations: number;
  readonly failures: number;
  readonly discarded: number;
  /** Invocations the crash knob failed mid-batch (`streamCrashRate`). */
  readonly crashes: number;
  readonly idle: boolean;
}

export async function status(origin: string): Promise<{ connections: string[]; cache: string; faults: Record<string, unknown>; consumers: Record<string, ConsumerStats>; dynamoProxy: Record<string, number> }> {
  const res = await fetch(`${origin}/_local/status`, { signal: AbortSignal.timeout(30_000) });
  return (await res.json()) as { connections: string[]; cache: string; faults: Record<string, unknown>; consumers: Record<string, ConsumerStats>; dynamoProxy: Record<string, number> };
}

export const socketHeaders = (user: SignedInUser) => ({ cookie: `concord_at=${encodeURIComponent(user.accessToken)}` });
