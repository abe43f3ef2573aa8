/**
 * DynamoDB TTL, which dynalite lacks: periodically deletes items whose TTL attribute (epoch
 * seconds, from contracts/tables.ts) is in the past, through the streams proxy so an op-log
 * deletion produces the REMOVE record (with DynamoDB as `userIdentity`) a real TTL deletion does.
 * Like DynamoDB, expiry is a background process: an expired item may be read until it is swept,
 * so code must not rely on TTL for correctness. DynamoDB deletes expired items lazily (typically
 * within days); the sweeper waits `graceMs` (default 1 h) past expiry before deleting, so local
 * behaviour stays close to AWS's usual timing instead of being stricter than it.
 */
import type { TableDefinition } from '../../contracts/tables';
import { dynamoCall } from './raw';
import { TTL_DELETE_HEADER } from './stream-proxy';

export interface TtlSweeperOptions {
  /** The streams proxy endpoint. */
  readonly endpoint: string;
  readonly tables: readonly { readonly name: string; readonly definition: TableDefinition }[];
  /** Time between sweeps (default 60 s). */
  readonly intervalMs?: number;
  /** How long past its expiry an item survives (default 1 h; 0 = delete as soon as expired). */
  readonly graceMs?: number;
  readonly now?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

type Item = Record<string, unknown>;

export class TtlSweeper {
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<number> | null = null;
  readonly stats = { sweeps: 0, deleted: 0 };

  constructor(private readonly options: TtlSweeperOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep().catch((error) => this.options.log?.({ level: 'WARN', message: 'TTL sweep failed', error: String(error) })), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One sweep now; resolves with the number of items deleted. */
  sweep(): Promise<number> {
    this.running ??= this.sweepOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async sweepOnce(): Promise<number> {
    const nowSeconds = Math.floor(((this.options.now ?? Date.now)() - (this.options.graceMs ?? 3600_000)) / 1000);
    let deleted = 0;
    for (const { name, definition } of this.options.tables) {
      const ttl = definition.ttlAttribute;
      if (!ttl) continue;
      const keyNames = [definition.partitionKey.name, ...(definition.sortKey ? [definition.sortKey.name] : [])];
      let startKey: Item | undefined;
      do {
        const page = await dynamoCall<{ Items?: Item[]; LastEvaluatedKey?: Item }>(this.options.endpoint, 'Scan', {
          TableName: name,
          FilterExpression: '#ttl < :now',
          ExpressionAttributeNames: { '#ttl': ttl },
          ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        });
        for (const item of page.Items ?? []) {
          const key = Object.fromEntries(keyNames.map((k) => [k, item[k]]));
          try {
            // Conditional, so an item whose expiry was pushed back meanwhile survives.
            await dynamoCall(
              this.options.endpoint,
              'DeleteItem',
              { TableName: name, Key: key, ConditionExpression: '#ttl < :now', ExpressionAttributeNames: { '#ttl': ttl }, ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } } },
              { [TTL_DELETE_HEADER]: '1' },
            );
            deleted++;
          } catch (error) {
            if (!String((error as { type?: string }).type).includes('ConditionalCheckFailed')) throw error;
          }
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    this.stats.sweeps++;
    this.stats.deleted += deleted;
    return deleted;
  }
}
