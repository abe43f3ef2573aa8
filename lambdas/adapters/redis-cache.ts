/**
 * Redis/Valkey cache via ioredis (ElastiCache in AWS: rediss:// with TLS and an auth token from
 * Secrets Manager). Used for rate limits, presence, the role cache and the token denylist cache,
 * never as the source of truth: the runtime always wraps it in the core's `resilientCache`, and
 * the client fails fast (no offline queue, short timeouts) so a dead cache costs milliseconds.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Cache } from '../core/ports';

/** INCR plus an expiry set only by the first increment, atomically. */
const INCR_WITH_TTL = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

export interface RedisCacheOptions {
  readonly url: string;
  /** AUTH token (ElastiCache). */
  readonly password?: string;
  /** Key prefix, so several stacks or test files can share one server. */
  readonly keyPrefix?: string;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

export function createRedisClient(options: RedisCacheOptions): Redis {
  const tls = options.url.startsWith('rediss://');
  const redisOptions: RedisOptions = {
    connectTimeout: options.connectTimeoutMs ?? 1000,
    commandTimeout: options.commandTimeoutMs ?? 500,
    // Fail a command at once while disconnected instead of queueing it behind a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep reconnecting in the background (capped), so the cache comes back after a failover.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    keyPrefix: options.keyPrefix,
    ...(options.password ? { password: options.password } : {}),
    ...(tls ? { tls: {} } : {}),
  };
  const client = new Redis(options.url, redisOptions);
  // Errors surface through failed commands (and resilientCache's onError); an unhandled 'error'
  // event would otherwise be printed on every reconnect attempt.
  client.on('error', () => undefined);
  return client;
}

export class RedisCache implements Cache {
  constructor(readonly client: Redis) {}

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }
  async del(key: string): Promise<void> {
    await this.client.del(key);
  }
  async incr(key: string, ttlSeconds: number): Promise<number> {
    return Number(await this.client.eval(INCR_WITH_TTL, 1, key, Math.max(1, Math.ceil(ttlSeconds))));
  }
}
