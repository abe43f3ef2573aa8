/**
 * Ports: what the collaboration core needs from the outside world. Each has an in-memory
 * implementation (memory.ts) for tests and one adapter per backing service (lambdas/adapters/).
 * None of them is given a client's clock: every time here is the server's.
 */

export type Role = 'owner' | 'editor' | 'viewer';

export const canWrite = (role: Role): boolean => role === 'owner' || role === 'editor';

export interface OpLogEntry {
  readonly docId: string;
  /** Server-assigned, per document, strictly increasing, never reused. */
  readonly seq: number;
  /** A Yjs v1 update, already validated. */
  readonly update: Uint8Array;
  /** Who sent it and over which connection (audit, FM-7.3). */
  readonly userId: string;
  readonly connectionId: string;
  /** Server time of the durable write, epoch milliseconds. */
  readonly serverTime: number;
}

export interface AppendInput {
  readonly update: Uint8Array;
  readonly userId: string;
  readonly connectionId: string;
}

export interface OpLog {
  /**
   * Durably appends an update and returns its sequence number. Resolves only once the write is
   * durable (the ack to the client is sent after this). The new seq is above every seq ever
   * readable for the document, including entries already removed by compaction.
   */
  append(docId: string, input: AppendInput): Promise<OpLogEntry>;
  /** Every entry still in the log, ascending by seq, strongly consistent. */
  readAll(docId: string): Promise<OpLogEntry[]>;
  /** Entries with seq > afterSeq, ascending. */
  readSince(docId: string, afterSeq: number): Promise<OpLogEntry[]>;
  /**
   * Removes exactly the given entries after compaction merged them. Raises the document's
   * sequence floor to max(seqs) first, so those numbers are never handed out again. `compaction`
   * (when the entries went into a new snapshot) lets the log restart its document-size estimate
   * from the snapshot's size (`document_too_large`, LIMITS.documentBytes).
   */
  remove(docId: string, seqs: readonly number[], compaction?: CompactionInfo): Promise<void>;
}

/** What compaction tells the op log about the snapshot that now holds the removed entries. */
export interface CompactionInfo {
  /** Size of the committed snapshot's state, bytes. */
  readonly snapshotBytes: number;
}

export interface Snapshot {
  readonly docId: string;
  /** The highest op-log seq merged into this snapshot. */
  readonly version: number;
  /** Version of the snapshot this one was built on (null for the first). */
  readonly baseVersion: number | null;
  /** Yjs v1 update encoding the whole document state. */
  readonly state: Uint8Array;
  /** Users whose entries were merged into this snapshot since its base (FM-7.3). */
  readonly authors: readonly string[];
  /** Server time of creation, epoch milliseconds. */
  readonly createdAt: number;
  /** A user-given name ("Draft sent to legal"); named versions never expire. */
  readonly name?: string | null;
}

export type SnapshotInfo = Omit<Snapshot, 'state'> & { readonly bytes: number };

export interface SnapshotStore {
  latest(docId: string): Promise<Snapshot | null>;
  get(docId: string, version: number): Promise<Snapshot | null>;
  list(docId: string): Promise<SnapshotInfo[]>;
  /**
   * Compare-and-set: stores `snapshot` only if the document's latest snapshot version is still
   * `snapshot.baseVersion` (null = none yet). Returns false (and stores nothing) otherwise, so
   * concurrent compactions form one linear chain in which each snapshot contains the previous.
   */
  commit(snapshot: Snapshot): Promise<boolean>;
}

export interface Connection {
  readonly connectionId: string;
  readonly docId: string;
  readonly userId: string;
  readonly role: Role;
  /** Server time the socket was accepted, epoch ms. */
  readonly connectedAt: number;
  /** The access token's `exp`, epoch ms; messages after it get a REAUTH (FM-5.1). */
  readonly tokenExpiresAt: number;
}

export interface Connections {
  put(connection: Connection): Promise<void>;
  get(connectionId: string): Promise<Connection | null>;
  delete(connectionId: string): Promise<void>;
  listByDocument(docId: string): Promise<Connection[]>;
}

export type PostResult = 'ok' | 'gone';

export interface Broadcaster {
  /** Sends one text frame to a connection; 'gone' when the socket no longer exists (410). */
  post(connectionId: string, frame: string): Promise<PostResult>;
  /** Closes a connection (used after REAUTH). */
  close(connectionId: string): Promise<void>;
}

export interface ChunkPiece {
  readonly index: number;
  readonly count: number;
  readonly totalBytes: number;
  readonly piece: Uint8Array;
}

/**
 * In-flight chunk sets, per connection. Pieces live across invocations (API Gateway may hand the
 * frames of one message to different Lambda instances), so this is durable in AWS (DynamoDB with
 * TTL) and in memory in a browser.
 */
export interface ChunkStore {
  /** Stores a piece; if that index already exists the stored piece is returned instead. */
  putPiece(connectionId: string, chunkId: string, piece: ChunkPiece): Promise<ChunkPiece | null>;
  pieces(connectionId: string, chunkId: string): Promise<ChunkPiece[]>;
  deleteSet(connectionId: string, chunkId: string, count: number): Promise<void>;
}

/**
 * Cache (Redis/Valkey in AWS). Never the source of truth: every method may fail or miss, and
 * callers must work without it (invariant 4, FM-4.1). Wrap adapters in `resilientCache`.
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Increments a counter that expires `ttlSeconds` after its first increment; returns the count. */
  incr(key: string, ttlSeconds: number): Promise<number>;
}

export interface DocumentMeta {
  readonly docId: string;
  readonly title: string;
  readonly ownerId: string;
  readonly createdAt: number;
}

export interface Documents {
  create(meta: DocumentMeta): Promise<void>;
  get(docId: string): Promise<DocumentMeta | null>;
  rename(docId: string, title: string): Promise<void>;
  roleOf(docId: string, userId: string): Promise<Role | null>;
  setRole(docId: string, userId: string, role: Role | null): Promise<void>;
  members(docId: string): Promise<{ userId: string; role: Role }[]>;
  listForUser(userId: string): Promise<(DocumentMeta & { role: Role })[]>;
}

/** Server time source (injected so tests can move it; never a client's clock). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
