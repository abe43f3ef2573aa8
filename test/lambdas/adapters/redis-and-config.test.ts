/**
 * The Redis cache adapter (when REDIS_URL is set) held to the in-memory cache's behaviour, and
 * configuration errors that name the missing variable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { MemoryCache } from '../../../lambdas/core/memory';
import { resilientCache } from '../../../lambdas/core/cache';
import type { Cache } from '../../../lambdas/core/ports';
import { RedisCache, createRedisClient } from '../../../lambdas/adapters/redis-cache';
import { ConfigError, authConfig, databaseConfig, oauthConfig, sessionConfig, tablesConfig } from '../../../lambdas/config';

const redisUrl = process.env.REDIS_URL;
const clients: { disconnect(): void }[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

const caches: [string, () => Promise<Cache>][] = [['memory', async () => new MemoryCache()]];
if (redisUrl) {
  caches.push([
    'redis',
    async () => {
      const client = createRedisClient({ url: redisUrl, keyPrefix: `t:${randomUUID()}:` });
      clients.push(client);
      await new Promise((r) => client.once('ready', r));
      return new RedisCache(client);
    },
  ]);
}

if (process.env.CI && !redisUrl) {
  it('CI provides REDIS_URL for the Redis adapter contract', () => {
    throw new Error('REDIS_URL is not set: CI must provide Redis so the Redis adapter is tested.');
  });
}

describe.each(caches)('cache contract (%s)', (_name, make) => {
  it('get/set/del, and incr counts within its window', async () => {
    const cache = await make();
    expect(await cache.get('k')).toBeNull();
    await cache.set('k', 'v', 60);
    expect(await cache.get('k')).toBe('v');
    await cache.del('k');
    expect(await cache.get('k')).toBeNull();
    expect(await cache.incr('n', 60)).toBe(1);
    expect(await cache.incr('n', 60)).toBe(2);
    expect(await cache.incr('n', 60)).toBe(3);
  });
});

describe('FM-4.1: a dead cache fails fast and the resilient wrapper answers', () => {
  it('a Redis client pointed at a closed port errors quickly; resilientCache falls back', async () => {
    const client = createRedisClient({ url: 'redis://127.0.0.1:9', connectTimeoutMs: 300 });
    clients.push(client);
    const errors: string[] = [];
    const cache = resilientCache(new RedisCache(client), { onError: (op) => errors.push(op) });
    const started = Date.now();
    await cache.set('a', '1', 60);
    expect(await cache.get('a')).toBe('1');
    expect(await cache.incr('r', 2)).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(cache.healthy()).toBe(false);
    expect(errors).toEqual(['set']); // reported once per outage
  });
});

describe('configuration errors name the variable', () => {
  it.each([
    ['CONCORD_OP_LOG_TABLE', () => tablesConfig({ CONCORD_CONNECTIONS_TABLE: 'c', CONCORD_DOCUMENTS_TABLE: 'd' })],
    ['CONCORD_DOCUMENTS_TABLE', () => tablesConfig({ CONCORD_OP_LOG_TABLE: 'o', CONCORD_CONNECTIONS_TABLE: 'c' })],
    ['CONCORD_JWKS_URL', () => authConfig({ CONCORD_JWT_ISSUER: 'i', CONCORD_JWT_AUDIENCE: 'a' })],
    ['CONCORD_JWKS_URL', () => authConfig({ CONCORD_JWT_ISSUER: 'i', CONCORD_JWT_AUDIENCE: 'a', CONCORD_JWKS_URL: 'not a url' })],
    ['DATABASE_URL (or CONCORD_DB_HOST)', () => databaseConfig({})],
    ['CONCORD_DB_USER', () => databaseConfig({ CONCORD_DB_HOST: 'proxy', CONCORD_DB_NAME: 'concord' })],
    ['CONCORD_SITE_ORIGIN', () => oauthConfig({ CONCORD_COGNITO_DOMAIN: 'https://auth.example' })],
    ['CONCORD_RATE_LIMIT_PER_SECOND', () => sessionConfig({ CONCORD_RATE_LIMIT_PER_SECOND: '-3' })],
  ])('%s', (variable, read) => {
    let error: unknown;
    try {
      read();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toContain(variable);
  });

  it('IAM database settings are accepted without DATABASE_URL', () => {
    expect(databaseConfig({ CONCORD_DB_HOST: 'proxy.example', CONCORD_DB_NAME: 'concord', CONCORD_DB_USER: 'app' })).toEqual({ kind: 'iam', host: 'proxy.example', port: 5432, database: 'concord', user: 'app' });
  });
});
