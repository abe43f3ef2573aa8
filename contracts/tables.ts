/**
 * DynamoDB table shapes, the one source of truth for the CDK app (`lib/`) and the local stack
 * (`local/`, which creates the same tables in dynalite). Attribute names used by the adapters
 * live here too, so a key rename cannot drift between infra and code.
 */

export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface GlobalIndex {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** Logical name: the CDK construct id and the local table name. */
  readonly logicalName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly GlobalIndex[];
  /** Attribute holding an epoch-seconds expiry, when the table uses DynamoDB TTL. */
  readonly ttlAttribute?: string;
  /** Whether the table has a stream (NEW_IMAGE) that drives fan-out and compaction. */
  readonly stream: boolean;
}

/**
 * Op log: one partition per document (FM-3.1), sort key = server-assigned sequence number.
 * Item `seq = 0` is the document's head: it holds the sequence floor raised by compaction so a
 * sequence number is never reused after the entries below it are deleted.
 */
export const OP_LOG_TABLE: TableDefinition = {
  logicalName: 'OpLog',
  partitionKey: { name: 'docId', type: 'S' },
  sortKey: { name: 'seq', type: 'N' },
  globalIndexes: [],
  ttlAttribute: 'expiresAt',
  stream: true,
};

/**
 * Connections and in-flight chunk sets. A connection item is `pk = connectionId, sk = "conn"`
 * and carries `docId`, so the sparse `byDocument` index lists exactly the live connections of a
 * document. Chunk pieces are `pk = connectionId, sk = "chunk#<id>#<index>"`. Everything expires
 * through TTL (no longer than the token's life and API Gateway's 2 h connection cap).
 */
export const CONNECTIONS_TABLE: TableDefinition = {
  logicalName: 'Connections',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalIndexes: [
    {
      indexName: 'byDocument',
      partitionKey: { name: 'docId', type: 'S' },
      sortKey: { name: 'connectionId', type: 'S' },
    },
  ],
  ttlAttribute: 'expiresAt',
  stream: false,
};

/**
 * Documents and their access lists: `pk = docId, sk = "meta"` (title, owner, created) and
 * `pk = docId, sk = "member#<userId>"` (role). The sparse `byMember` index (on `memberId`, only
 * set on member items) lists a user's documents. Revoked token ids are `pk = "revoked#<jti>"`.
 */
export const DOCUMENTS_TABLE: TableDefinition = {
  logicalName: 'Documents',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalIndexes: [
    {
      indexName: 'byMember',
      partitionKey: { name: 'memberId', type: 'S' },
      sortKey: { name: 'pk', type: 'S' },
    },
  ],
  ttlAttribute: 'expiresAt',
  stream: false,
};

export const TABLES = [OP_LOG_TABLE, CONNECTIONS_TABLE, DOCUMENTS_TABLE] as const;
