/**
 * Access checks shared by the authorizer and the api handler: a user's role on a document (cached
 * briefly; the api evicts it on change) and the revoked-token denylist (cache first, the documents
 * table as the source of truth, FM-5.1).
 */
import type { Role } from './core/ports';
import { runtime } from './runtime';

/** How long a user's role on a document is cached (the api handler evicts it on change). */
export const ROLE_CACHE_SECONDS = 30;
export const roleCacheKey = (docId: string, userId: string) => `role:${docId}:${userId}`;
export const revokedCacheKey = (jti: string) => `revoked:${jti}`;
const NO_ROLE = '-';

/** The denylist: cache first (set by logout), the documents table as the source of truth. */
export async function isRevoked(jti: string): Promise<boolean> {
  const cache = await runtime.cache();
  if ((await cache.get(revokedCacheKey(jti))) === '1') return true;
  const revoked = await runtime.documents().isTokenRevoked(jti);
  if (revoked) await cache.set(revokedCacheKey(jti), '1', 3600);
  return revoked;
}

/** A user's role on a document, cached briefly. */
export async function roleFor(docId: string, userId: string): Promise<Role | null> {
  const cache = await runtime.cache();
  const key = roleCacheKey(docId, userId);
  const cached = await cache.get(key);
  if (cached === NO_ROLE) return null;
  if (cached === 'owner' || cached === 'editor' || cached === 'viewer') return cached;
  const role = await runtime.documents().roleOf(docId, userId);
  await cache.set(key, role ?? NO_ROLE, ROLE_CACHE_SECONDS);
  return role;
}

/** Forgets a cached role after sharing changed. */
export async function forgetRole(docId: string, userId: string): Promise<void> {
  await (await runtime.cache()).del(roleCacheKey(docId, userId));
}

/** Denylists a token id until the token expires: durable first, then the cache. */
export async function revoke(jti: string, expiresAtMs: number): Promise<void> {
  await runtime.documents().revokeToken(jti, expiresAtMs);
  const ttl = Math.ceil((expiresAtMs - runtime.clock().now()) / 1000);
  if (ttl > 0) await (await runtime.cache()).set(revokedCacheKey(jti), '1', ttl);
}
