/**
 * A small HTTP proxy in front of dynalite that adds what dynalite lacks: a stream on the op-log
 * table, and write faults. The handlers' `@aws-sdk/client-dynamodb` talks to this proxy exactly as
 * to DynamoDB. For each successful PutItem / UpdateItem / DeleteItem / BatchWriteItem touching the
 * op-log table, it reads the item before and after the write (strongly consistent, straight from
 * dynalite) and appends an INSERT / MODIFY / REMOVE record with the new image, as a NEW_IMAGE
 * stream does; a write that changes nothing produces no record, as in DynamoDB. Writes to one
 * partition are serialised through the proxy so the stream order is the write order.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { TableDefinition } from '../../contracts/tables';
import { dynamoCall } from './raw';
import type { OpLogStream, StreamImage } from './streams';

/** Header the TTL sweeper sets on its deletions: their stream records name DynamoDB as the deleter. */
export const TTL_DELETE_HEADER = 'x-concord-ttl-delete';

export interface DynamoFaults {
  /** A DynamoDB error to return instead of performing this write, or null to let it through. */
  writeFailure(operation: string, tableName: string): DynamoErrorResponse | null;
}

export interface DynamoErrorResponse {
  readonly status: number;
  /** The error type, e.g. `com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException`. */
  readonly type: string;
  readonly message: string;
}

export interface StreamProxyOptions {
  /** dynalite's endpoint, e.g. http://127.0.0.1:4567. */
  readonly target: string;
  readonly opLogTableName: string;
  readonly opLogTable: TableDefinition;
  readonly stream: OpLogStream;
  readonly faults?: DynamoFaults;
  readonly port?: number;
  readonly host?: string;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface StreamProxy {
  readonly endpoint: string;
  readonly port: number;
  readonly stats: { writes: number; failedByFault: number; records: number };
  stop(): Promise<void>;
}

type Item = Record<string, StreamImage[string]>;

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Forwarded {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** Per-key promise chain: a simple async mutex so writes to one partition are serialised. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    for (const key of sorted) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const current = new Promise<void>((r) => (release = r));
      const tail = previous.then(() => current);
      this.tails.set(key, tail);
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
      await previous;
    }
    try {
      return await fn();
    } finally {
      for (const r of releases) r();
    }
  }
}

export async function startStreamProxy(options: StreamProxyOptions): Promise<StreamProxy> {
  const target = new URL(options.target);
  const { opLogTable, opLogTableName, stream } = options;
  const keyNames = [opLogTable.partitionKey.name, ...(opLogTable.sortKey ? [opLogTable.sortKey.name] : [])];
  const lock = new KeyedLock();
  const stats = { writes: 0, failedByFault: 0, records: 0 };

  const forward = (req: IncomingMessage, body: Buffer): Promise<Forwarded> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (res) => {
        readBody(res).then((b) => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: b }), reject);
      });
      upstream.on('error', reject);
      upstream.end(body);
    });

  /** A strongly consistent GetItem straight to dynalite (not through the faults). */
  const getItem = async (key: Item): Promise<Item | null> =>
    (await dynamoCall<{ Item?: Item }>(options.target, 'GetItem', { TableName: opLogTableName, Key: key, ConsistentRead: true })).Item ?? null;

  const keyOf = (item: Item): Item => Object.fromEntries(keyNames.map((k) => [k, item[k]]));
  const partitionOf = (key: Item): string => JSON.stringify(key[opLogTable.partitionKey.name]);

  /** The op-log keys a write request touches. */
  const opLogKeys = (operation: string, payload: Record<string, unknown>): Item[] => {
    if (operation === 'BatchWriteItem') {
      const requests = ((payload.RequestItems as Record<string, unknown[]> | undefined) ?? {})[opLogTableName] ?? [];
      return requests.map((r) => {
        const w = r as { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } };
        return keyOf(w.PutRequest ? w.PutRequest.Item : (w.DeleteRequest?.Key ?? {}));
      });
    }
    if (payload.TableName !== opLogTableName) return [];
    if (operation === 'PutItem') return [keyOf((payload.Item as Item) ?? {})];
    return [keyOf((payload.Key as Item) ?? {})];
  };

  const unprocessedKeys = (response: Buffer): Set<string> => {
    try {
      const parsed = JSON.parse(response.toString()) as { UnprocessedItems?: Record<string, unknown[]> };
      const list = parsed.UnprocessedItems?.[opLogTableName] ?? [];
      return new Set(
        list.map((r) => {
          const w = r as { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } };
          return JSON.stringify(keyOf(w.PutRequest ? w.PutRequest.Item : (w.DeleteRequest?.Key ?? {})));
        }),
      );
    } catch {
      return new Set();
    }
  };

  const emitChanges = (keys: Item[], before: (Item | null)[], after: (Item | null)[], byTtl: boolean) => {
    keys.forEach((key, i) => {
      const old = before[i];
      const now = after[i];
      if (!old && !now) return;
      if (old && now && isDeepStrictEqual(old, now)) return; // no change, no record
      const eventName = !old ? 'INSERT' : now ? 'MODIFY' : 'REMOVE';
      stream.append({
        eventName,
        keys: key as StreamImage,
        ...(now ? { newImage: now as StreamImage } : {}),
        partitionKey: partitionOf(key),
        // What a TTL deletion's record carries in DynamoDB Streams.
        ...(byTtl && !now ? { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } } : {}),
      });
      stats.records++;
    });
  };

  const send = (res: ServerResponse, f: Forwarded) => {
    const headers = { ...f.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(f.body.length);
    res.writeHead(f.status, headers);
    res.end(f.body);
  };

  const sendError = (res: ServerResponse, error: DynamoErrorResponse) => {
    // The shape DynamoDB returns (JSON 1.0 protocol); the SDK maps `__type` to its exception class.
    const body = Buffer.from(JSON.stringify({ __type: error.type, message: error.message }));
    res.writeHead(error.status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': String(body.length),
      'x-amzn-requestid': `LOCALFAULT${Date.now()}`,
    });
    res.end(body);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.split('.').pop() ?? '';
      if (!WRITE_OPERATIONS.has(operation)) return send(res, await forward(req, body));
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
      } catch {
        return send(res, await forward(req, body)); // dynalite returns the proper SerializationException
      }
      const tables = operation === 'BatchWriteItem' ? Object.keys((payload.RequestItems as object) ?? {}) : [String(payload.TableName)];
      const byTtl = operation === 'DeleteItem' && req.headers[TTL_DELETE_HEADER] === '1';
      stats.writes++;
      for (const table of byTtl ? [] : tables) {
        const failure = options.faults?.writeFailure(operation, table);
        if (failure) {
          stats.failedByFault++;
          options.log?.({ level: 'WARN', message: 'fault: failing a DynamoDB write', operation, table, error: failure.type });
          return sendError(res, failure);
        }
      }
      const keys = opLogKeys(operation, payload);
      if (keys.length === 0) return send(res, await forward(req, body));
      const result = await lock.run(keys.map(partitionOf), async () => {
        const before = await Promise.all(keys.map(getItem));
        const forwarded = await forward(req, body);
        if (forwarded.status === 200) {
          const skipped = operation === 'BatchWriteItem' ? unprocessedKeys(forwarded.body) : new Set<string>();
          const done = keys.filter((k) => !skipped.has(JSON.stringify(k)));
          // A successful PutItem stored exactly its item: no read needed for the new image (one
          // round trip less inside the partition lock, on every op-log entry and part).
          const after = operation === 'PutItem' ? [payload.Item as Item] : await Promise.all(done.map(getItem));
          emitChanges(done, done.map((k) => before[keys.indexOf(k)]), after, byTtl);
        }
        return forwarded;
      });
      send(res, result);
    })().catch((error) => {
      options.log?.({ level: 'ERROR', message: 'dynamodb proxy failure', error: String(error) });
      if (!res.headersSent) sendError(res, { status: 500, type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'The local DynamoDB proxy failed; see the stack log.' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
