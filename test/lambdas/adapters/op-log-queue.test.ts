/**
 * Appends from one process to one document queue instead of colliding on the conditional put
 * (the local stack runs every handler in one process; the benchmark found the collisions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoOpLog } from '../../../lambdas/adapters/dynamodb-op-log';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../../local/embedded/dynamodb';

let ddb: EmbeddedDynamo;
let db: DynamoDBDocumentClient;
beforeAll(async () => {
  ddb = await startEmbeddedDynamo();
  db = DynamoDBDocumentClient.from(ddb.client);
});
afterAll(async () => {
  await ddb?.stop();
});

/** A document client that counts the puts it sends. */
function countingPuts(inner: DynamoDBDocumentClient) {
  const counter = { puts: 0 };
  const client = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return (command: unknown, ...rest: unknown[]) => {
          if (command instanceof PutCommand) counter.puts++;
          return (target.send as (...a: unknown[]) => unknown).call(target, command, ...rest);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as DynamoDBDocumentClient;
  return { client, counter };
}

describe('DynamoOpLog append queue (FM-1.8, FM-3.1)', () => {
  it('FM-3.1: concurrent appends to one document from one process take one put each, in call order', async () => {
    const { client, counter } = countingPuts(db);
    const log = new DynamoOpLog(client, ddb.tableNames.OpLog);
    const docId = `d-${randomUUID()}`;
    const entries = await Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append(docId, { update: new Uint8Array([i]), userId: `u${i}`, connectionId: `c${i}` })),
    );
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(counter.puts).toBe(20);
  });

  it('a failed append does not block the appends queued behind it', async () => {
    const log = new DynamoOpLog(db, ddb.tableNames.OpLog, { documentBytes: 10 });
    const docId = `d-${randomUUID()}`;
    const tooBig = log.append(docId, { update: new Uint8Array(50), userId: 'u', connectionId: 'c' });
    const fits = log.append(docId, { update: new Uint8Array(5), userId: 'u', connectionId: 'c' });
    await expect(tooBig).rejects.toMatchObject({ code: 'document_too_large' });
    await expect(fits).resolves.toMatchObject({ seq: 1 });
  });
});
