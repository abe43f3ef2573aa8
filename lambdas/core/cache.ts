/**
 * The cache is never the source of truth (invariant 4, FM-4.1). `resilientCache` wraps an adapter
 * so that a failing or unreachable cache degrades to a small per-process cache instead of failing
 * the caller, and reports each failure once per outage through `onError`.
 */
import { MemoryCache } from './memory';
import type { Cache, Clock } from './ports';
import { systemClock } from './ports';

export interface ResilientCacheOptions {
  readonly clock?: Clock;
  readonly onError?: (operation: string, error: unknown) => void;
}

export function resilientCache(inner: Cache | null, options: ResilientCacheOptions = {}): Cache & { readonly healthy: () => boolean } {
  const local = new MemoryCache(options.clock ?? systemClock);
  let failing = false;
  const attempt = async <T>(operation: string, remote: (c: Cache) => Promise<T>, fallback: () => Promise<T>): Promise<T> => {
    if (!inner) return fallback();
    try {
      const value = await remote(inner);
      failing = false;
      return value;
    } catch (error) {
      if (!failing) options.onError?.(operation, error);
      failing = true;
      return fallback();
    }
  };
  return {
    healthy: () => inner !== null && !failing,
    get: (key) => attempt('get', (c) => c.get(key), () => local.get(key)),
    set: (key, value, ttl) => attempt('set', (c) => c.set(key, value, ttl), () => local.set(key, value, ttl)),
    del: (key) => attempt('del', (c) => c.del(key), () => local.del(key)),
    incr: (key, ttl) => attempt('incr', (c) => c.incr(key, ttl), () => local.incr(key, ttl)),
  };
}
