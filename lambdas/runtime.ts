/**
 * Dependency wiring for the handlers: every port is built from the environment on first use and
 * cached for the life of the container (Lambda) or process (local stack). A handler only touches
 * the ports it needs, so it only needs their variables. `resetRuntime()` closes everything (tests,
 * local stack shutdown) so the next invocation rebuilds from the current environment.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
import { resilientCache } from './core/cache';
import type { Cache, Clock } from './core/ports';
import { systemClock } from './core/ports';
import type { SessionDeps } from './core/session';
import { createTokenVerifier, type TokenVerifier } from './auth';
import { authConfig, awsConfig, cacheConfig, connectionsEndpoint, databaseConfig, dynamoEndpoint, sessionConfig, tableName } from './config';
import { ApiGatewayBroadcaster } from './adapters/apigateway-broadcaster';
import { createDocumentClient } from './adapters/dynamodb-client';
import { DynamoChunkStore, DynamoConnections } from './adapters/dynamodb-connections';
import { DynamoDocuments } from './adapters/dynamodb-documents';
import { DynamoOpLog } from './adapters/dynamodb-op-log';
import { PostgresSnapshotStore, createPool } from './adapters/postgres-snapshots';
import { RedisCache, createRedisClient } from './adapters/redis-cache';
import { getLogger, getMetrics, getTracer, invocationCounters, MetricUnit } from './observability';

type ResilientCache = Cache & { readonly healthy: () => boolean };

interface Built {
  dynamo?: ReturnType<typeof createDocumentClient>;
  opLog?: DynamoOpLog;
  connections?: DynamoConnections;
  chunks?: DynamoChunkStore;
  documents?: DynamoDocuments;
  pool?: pg.Pool;
  snapshots?: PostgresSnapshotStore;
  cache?: Promise<ResilientCache>;
  redis?: { quit(): Promise<unknown>; disconnect(): void };
  broadcaster?: ApiGatewayBroadcaster;
  verifier?: TokenVerifier;
}

let built: Built = {};
let clock: Clock = systemClock;

/** SDK client settings: region, and static credentials when running outside AWS (local servers). */
function sdkBase() {
  const aws = awsConfig();
  return {
    region: aws.region,
    ...(aws.localCredentials ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  };
}

function dynamo() {
  if (!built.dynamo) {
    const endpoint = dynamoEndpoint();
    const made = createDocumentClient({ ...sdkBase(), ...(endpoint ? { endpoint } : {}) });
    getTracer().captureAWSv3Client(made.client);
    built.dynamo = made;
  }
  return built.dynamo.doc;
}

export const runtime = {
  clock: (): Clock => clock,

  opLog(): DynamoOpLog {
    built.opLog ??= new DynamoOpLog(dynamo(), tableName('opLog'), { clock });
    return built.opLog;
  },

  connections(): DynamoConnections {
    built.connections ??= new DynamoConnections(dynamo(), tableName('connections'));
    return built.connections;
  },

  chunks(): DynamoChunkStore {
    built.chunks ??= new DynamoChunkStore(dynamo(), tableName('connections'), clock);
    return built.chunks;
  },

  documents(): DynamoDocuments {
    built.documents ??= new DynamoDocuments(dynamo(), tableName('documents'));
    return built.documents;
  },

  pool(): pg.Pool {
    if (!built.pool) {
      const pool = createPool(databaseConfig(), { region: awsConfig().region });
      // An idle client losing its connection (failover, proxy restart) must not crash the process.
      pool.on('error', (error) => getLogger().warn('PostgreSQL idle client error', { error }));
      built.pool = pool;
    }
    return built.pool;
  },

  snapshots(): PostgresSnapshotStore {
    built.snapshots ??= new PostgresSnapshotStore(runtime.pool());
    return built.snapshots;
  },

  /** Always resilient: with REDIS_URL unset or the server down, a per-process cache answers. */
  cache(): Promise<ResilientCache> {
    built.cache ??= (async () => {
      const config = cacheConfig();
      let inner: RedisCache | null = null;
      if (config.redisUrl) {
        let password: string | undefined;
        if (config.authSecretArn) {
          try {
            password = await readAuthToken(config.authSecretArn);
          } catch (error) {
            getLogger().error('Could not read the cache auth token; continuing without the cache', { error });
          }
        }
        if (!config.authSecretArn || password) {
          const client = createRedisClient({ url: config.redisUrl, password });
          built.redis = client;
          // Without an offline queue, commands issued before the connection is up fail: wait
          // (briefly) for it, so a cold start uses the cache from its first request.
          await firstConnection(client, 1500);
          inner = new RedisCache(client);
        }
      }
      return resilientCache(inner, {
        clock,
        onError: (operation, error) => {
          getLogger().warn('Cache unavailable, using the in-process fallback', { operation, error: (error as Error)?.message });
          getMetrics().addMetric('CacheFailures', MetricUnit.Count, 1);
        },
      });
    })();
    return built.cache;
  },

  broadcaster(): ApiGatewayBroadcaster {
    if (!built.broadcaster) {
      built.broadcaster = new ApiGatewayBroadcaster({ ...sdkBase(), endpoint: connectionsEndpoint() }, (result, bytes) => {
        const counters = invocationCounters();
        if (!counters) return;
        if (result === 'gone') counters.gone++;
        else {
          counters.posts++;
          counters.postedBytes += bytes;
        }
      });
      getTracer().captureAWSv3Client(built.broadcaster.client);
    }
    return built.broadcaster;
  },

  verifier(): TokenVerifier {
    built.verifier ??= createTokenVerifier(authConfig());
    return built.verifier;
  },

  async session(): Promise<SessionDeps> {
    return {
      opLog: runtime.opLog(),
      snapshots: runtime.snapshots(),
      connections: runtime.connections(),
      broadcaster: runtime.broadcaster(),
      chunks: runtime.chunks(),
      cache: await runtime.cache(),
      clock,
      rateLimitPerSecond: sessionConfig().rateLimitPerSecond,
    };
  },
};

function firstConnection(client: import('ioredis').Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
    client.once('error', done);
  });
}

async function readAuthToken(secretArn: string): Promise<string> {
  const client = new SecretsManagerClient(sdkBase());
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
    // A generated secret is JSON ({"password": "..."} or {"authToken": "..."}); a plain one is the token.
    try {
      const parsed = JSON.parse(SecretString) as Record<string, string>;
      return parsed.authToken ?? parsed.password ?? parsed.token ?? SecretString;
    } catch {
      return SecretString;
    }
  } finally {
    client.destroy();
  }
}

/**
 * Closes every client and forgets them, so the next invocation rebuilds from the environment.
 * `options.clock` replaces the server clock (tests only; never a client's clock).
 */
export async function resetRuntime(options: { clock?: Clock } = {}): Promise<void> {
  const old = built;
  built = {};
  clock = options.clock ?? systemClock;
  old.dynamo?.client.destroy();
  old.broadcaster?.client.destroy();
  old.redis?.disconnect();
  await old.pool?.end().catch(() => undefined);
}
