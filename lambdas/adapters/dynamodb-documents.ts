/**
 * Documents, access lists, the user directory and revoked token ids on DynamoDB
 * (contracts/tables.ts DOCUMENTS_TABLE):
 *   pk = docId,            sk = "meta"              title, ownerId, createdAt
 *   pk = docId,            sk = "member#<userId>"   role, memberId (the sparse byMember index)
 *   pk = "users",          sk = "user#<lower>#<id>" userId, name (share-dialog prefix search)
 *   pk = "revoked#<jti>",  sk = "revoked"           expiresAt (TTL = the token's own expiry)
 */
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DocumentMeta, Documents, Role } from '../core/ports';
import { backoffMs, inGroups, isConditionalCheckFailed, sleep } from './dynamodb-client';

const META = 'meta';
const MEMBER = 'member#';
const USERS_PK = 'users';
const REVOKED = 'revoked';
const BY_MEMBER = 'byMember';

const userSk = (userId: string) => `user#${userId.toLowerCase()}#${userId}`;

export interface UserProfile {
  readonly userId: string;
  readonly name: string;
}

export class DocumentExistsError extends Error {
  constructor(docId: string) {
    super(`Document ${docId} already exists.`);
    this.name = 'DocumentExistsError';
  }
}

export class DynamoDocuments implements Documents {
  constructor(private readonly db: DynamoDBDocumentClient, private readonly table: string) {}

  async create(meta: DocumentMeta): Promise<void> {
    // Owner first, meta second (no transactions in dynalite): a half-created document has a
    // member item and no meta, which every reader treats as nonexistent.
    await this.setRole(meta.docId, meta.ownerId, 'owner');
    try {
      await this.db.send(new PutCommand({
        TableName: this.table,
        Item: { pk: meta.docId, sk: META, docId: meta.docId, title: meta.title, ownerId: meta.ownerId, createdAt: meta.createdAt },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (e) {
      if (isConditionalCheckFailed(e)) throw new DocumentExistsError(meta.docId);
      throw e;
    }
  }

  async get(docId: string): Promise<DocumentMeta | null> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: docId, sk: META }, ConsistentRead: true }));
    return Item ? toMeta(Item) : null;
  }

  async rename(docId: string, title: string): Promise<void> {
    await this.db.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: docId, sk: META },
      UpdateExpression: 'SET title = :t',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':t': title },
    }));
  }

  async roleOf(docId: string, userId: string): Promise<Role | null> {
    const { Item } = await this.db.send(new GetCommand({
      TableName: this.table,
      Key: { pk: docId, sk: `${MEMBER}${userId}` },
      ConsistentRead: true,
      ProjectionExpression: '#r',
      ExpressionAttributeNames: { '#r': 'role' },
    }));
    return (Item?.role as Role | undefined) ?? null;
  }

  async setRole(docId: string, userId: string, role: Role | null): Promise<void> {
    const Key = { pk: docId, sk: `${MEMBER}${userId}` };
    if (role === null) {
      await this.db.send(new DeleteCommand({ TableName: this.table, Key }));
      return;
    }
    await this.db.send(new PutCommand({ TableName: this.table, Item: { ...Key, memberId: userId, userId, role } }));
  }

  async members(docId: string): Promise<{ userId: string; role: Role }[]> {
    const out: { userId: string; role: Role }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :m)',
        ExpressionAttributeValues: { ':p': docId, ':m': MEMBER },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) out.push({ userId: String(item.userId), role: item.role as Role });
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async listForUser(userId: string): Promise<(DocumentMeta & { role: Role })[]> {
    const roles = new Map<string, Role>();
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(new QueryCommand({
        TableName: this.table,
        IndexName: BY_MEMBER,
        KeyConditionExpression: 'memberId = :u',
        ExpressionAttributeValues: { ':u': userId },
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) roles.set(String(item.pk), item.role as Role);
      start = page.LastEvaluatedKey;
    } while (start);
    const out: (DocumentMeta & { role: Role })[] = [];
    for (const group of inGroups([...roles.keys()], 100)) {
      let keys: Record<string, unknown>[] = group.map((docId) => ({ pk: docId, sk: META }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 10) throw new Error('Could not read the document list (DynamoDB throttled); retry.');
        if (attempt > 0) await sleep(backoffMs(attempt, 20, 1000));
        const result = await this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
        for (const item of result.Responses?.[this.table] ?? []) {
          const meta = toMeta(item);
          out.push({ ...meta, role: roles.get(meta.docId)! });
        }
        keys = result.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || a.docId.localeCompare(b.docId));
  }

  /** Records (or refreshes) a user in the directory at sign-in. */
  async recordUser(profile: UserProfile, now: number): Promise<void> {
    await this.db.send(new PutCommand({
      TableName: this.table,
      Item: { pk: USERS_PK, sk: userSk(profile.userId), userId: profile.userId, name: profile.name, lastSignInAt: now },
    }));
  }

  async getUser(userId: string): Promise<UserProfile | null> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: USERS_PK, sk: userSk(userId) }, ConsistentRead: true }));
    return Item ? { userId: String(Item.userId), name: String(Item.name) } : null;
  }

  /** Users whose id starts with `prefix` (case-insensitive), at most `limit`. */
  async findUsers(prefix: string, limit: number): Promise<UserProfile[]> {
    const { Items } = await this.db.send(new QueryCommand({
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': USERS_PK, ':s': `user#${prefix.toLowerCase()}` },
      Limit: limit,
    }));
    return (Items ?? []).map((i) => ({ userId: String(i.userId), name: String(i.name) }));
  }

  /** Denylists a token id until the token itself expires (FM-5.1). */
  async revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    await this.db.send(new PutCommand({
      TableName: this.table,
      Item: { pk: `${REVOKED}#${jti}`, sk: REVOKED, expiresAt: Math.ceil(expiresAtMs / 1000) },
    }));
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: `${REVOKED}#${jti}`, sk: REVOKED }, ConsistentRead: true }));
    return Item !== undefined;
  }
}

function toMeta(item: Record<string, unknown>): DocumentMeta {
  return { docId: String(item.docId ?? item.pk), title: String(item.title), ownerId: String(item.ownerId), createdAt: Number(item.createdAt) };
}
