/**
 * Connections and in-flight chunk pieces on DynamoDB (contracts/tables.ts CONNECTIONS_TABLE).
 * A connection is `pk = connectionId, sk = "conn"` with `docId` (so the sparse `byDocument` index
 * lists exactly the live connections of a document); a chunk piece is
 * `pk = connectionId, sk = "chunk#<id>#<index>"`. Everything carries `expiresAt` (TTL, epoch s).
 */
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ChunkPiece, ChunkStore, Clock, Connection, Connections, Role } from '../core/ports';
import { systemClock } from '../core/ports';
import { backoffMs, inGroups, isConditionalCheckFailed, sleep } from './dynamodb-client';

const CONNECTION_SK = 'conn';
/** API Gateway closes every WebSocket after 2 hours. */
export const MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;
/** Unfinished chunk sets are garbage after this long (the client resends). */
const CHUNK_TTL_MS = 10 * 60 * 1000;
const BY_DOCUMENT = 'byDocument';

const pieceSk = (chunkId: string, index: number) => `chunk#${chunkId}#${String(index).padStart(6, '0')}`;

export class DynamoConnections implements Connections {
  constructor(private readonly db: DynamoDBDocumentClient, private readonly table: string) {}

  async put(connection: Connection): Promise<void> {
    // TTL no later than the token's expiry and the gateway's 2 h cap: a connection item never
    // outlives the right to use it (DynamoDB deletes lazily; 410s clean up the rest).
    const expiresAtMs = Math.min(connection.tokenExpiresAt, connection.connectedAt + MAX_CONNECTION_MS);
    await this.db.send(new PutCommand({
      TableName: this.table,
      Item: {
        pk: connection.connectionId,
        sk: CONNECTION_SK,
        connectionId: connection.connectionId,
        docId: connection.docId,
        userId: connection.userId,
        role: connection.role,
        connectedAt: connection.connectedAt,
        tokenExpiresAt: connection.tokenExpiresAt,
        expiresAt: Math.ceil(expiresAtMs / 1000),
      },
    }));
  }

  async get(connectionId: string): Promise<Connection | null> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: connectionId, sk: CONNECTION_SK }, ConsistentRead: true }));
    return Item ? toConnection(Item) : null;
  }

  /** Deletes the connection and any chunk pieces it left behind. */
  async delete(connectionId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: connectionId, sk: CONNECTION_SK } }));
    const { Items } = await this.db.send(new QueryCommand({
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :c)',
      ExpressionAttributeValues: { ':p': connectionId, ':c': 'chunk#' },
      ProjectionExpression: 'pk, sk',
    }));
    if (Items?.length) await batchDelete(this.db, this.table, Items.map((i) => ({ pk: i.pk, sk: i.sk })));
  }

  async listByDocument(docId: string): Promise<Connection[]> {
    const out: Connection[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(new QueryCommand({
        TableName: this.table,
        IndexName: BY_DOCUMENT,
        KeyConditionExpression: 'docId = :d',
        ExpressionAttributeValues: { ':d': docId },
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) out.push(toConnection(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Changes the role of a user's live connections to a document (sharing changed, FM-5.2). */
  async updateRole(docId: string, userId: string, role: Role | null): Promise<number> {
    const mine = (await this.listByDocument(docId)).filter((c) => c.userId === userId);
    for (const c of mine) {
      if (role) await this.put({ ...c, role });
      else await this.delete(c.connectionId);
    }
    return mine.length;
  }
}

function toConnection(item: Record<string, unknown>): Connection {
  return {
    connectionId: String(item.connectionId ?? item.pk),
    docId: String(item.docId),
    userId: String(item.userId),
    role: item.role as Role,
    connectedAt: Number(item.connectedAt),
    tokenExpiresAt: Number(item.tokenExpiresAt),
  };
}

async function batchDelete(db: DynamoDBDocumentClient, table: string, keys: Record<string, unknown>[]): Promise<void> {
  for (const group of inGroups(keys, 25)) {
    let requests = group.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 10) throw new Error(`Could not delete ${requests.length} connection items after ${attempt} attempts (throttled).`);
      if (attempt > 0) await sleep(backoffMs(attempt, 20, 1000));
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
}

/** Chunk pieces across invocations: frames of one message may reach different Lambda instances. */
export class DynamoChunkStore implements ChunkStore {
  constructor(private readonly db: DynamoDBDocumentClient, private readonly table: string, private readonly clock: Clock = systemClock) {}

  async putPiece(connectionId: string, chunkId: string, piece: ChunkPiece): Promise<ChunkPiece | null> {
    const Key = { pk: connectionId, sk: pieceSk(chunkId, piece.index) };
    try {
      await this.db.send(new PutCommand({
        TableName: this.table,
        Item: { ...Key, idx: piece.index, pieces: piece.count, totalBytes: piece.totalBytes, piece: piece.piece, expiresAt: Math.ceil((this.clock.now() + CHUNK_TTL_MS) / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return null;
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key, ConsistentRead: true }));
      return Item ? toPiece(Item) : null;
    }
  }

  async pieces(connectionId: string, chunkId: string): Promise<ChunkPiece[]> {
    const out: ChunkPiece[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :c)',
        ExpressionAttributeValues: { ':p': connectionId, ':c': `chunk#${chunkId}#` },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) out.push(toPiece(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async deleteSet(connectionId: string, chunkId: string): Promise<void> {
    // Delete what exists rather than trust the announced count: an inconsistent set may hold
    // pieces that claimed another count.
    const { Items } = await this.db.send(new QueryCommand({
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :c)',
      ExpressionAttributeValues: { ':p': connectionId, ':c': `chunk#${chunkId}#` },
      ConsistentRead: true,
      ProjectionExpression: 'pk, sk',
    }));
    if (Items?.length) await batchDelete(this.db, this.table, Items.map((i) => ({ pk: i.pk, sk: i.sk })));
  }
}

function toPiece(item: Record<string, unknown>): ChunkPiece {
  return { index: Number(item.idx), count: Number(item.pieces), totalBytes: Number(item.totalBytes), piece: new Uint8Array(item.piece as Uint8Array) };
}
