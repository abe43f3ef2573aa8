/**
 * In-memory reference implementations of the ports: the behaviour every adapter must match
 * (test/lambdas/adapters run the same contract tests against them), and the fixtures of the
 * core's property tests. Also used by a browser client for chunk reassembly.
 */
import type {
  AppendInput, Broadcaster, Cache, ChunkPiece, ChunkStore, Clock, CompactionInfo, Connection, Connections, DocumentMeta,
  Documents, OpLog, OpLogEntry, PostResult, Role, Snapshot, SnapshotInfo, SnapshotStore,
} from './ports';
import { systemClock } from './ports';
import { ConcordError } from './errors';
import { LIMITS } from './limits';

export class MemoryOpLog implements OpLog {
  private readonly entries = new Map<string, OpLogEntry[]>();
  private readonly floors = new Map<string, number>();
  /** Estimated stored size per document: last snapshot + bytes appended above its floor. */
  private readonly sizes = new Map<string, number>();
  private readonly documentBytes: number;
  constructor(private readonly clock: Clock = systemClock, options: { readonly documentBytes?: number } = {}) {
    this.documentBytes = options.documentBytes ?? LIMITS.documentBytes;
  }

  async append(docId: string, input: AppendInput): Promise<OpLogEntry> {
    const list = this.entries.get(docId) ?? [];
    const floor = this.floors.get(docId) ?? 0;
    // Same estimate as the DynamoDB log: latest snapshot + raw bytes appended since its floor.
    const stored = this.sizes.get(docId) ?? 0;
    if (stored + input.update.length > this.documentBytes) {
      throw new ConcordError('document_too_large', `document ${docId}: about ${stored} bytes stored, ${input.update.length} more would pass ${this.documentBytes}`);
    }
    const top = Math.max(floor, list.length ? list[list.length - 1].seq : 0);
    const entry: OpLogEntry = { docId, seq: top + 1, update: input.update, userId: input.userId, connectionId: input.connectionId, serverTime: this.clock.now() };
    list.push(entry);
    this.entries.set(docId, list);
    this.sizes.set(docId, stored + input.update.length);
    return entry;
  }
  async readAll(docId: string): Promise<OpLogEntry[]> {
    return [...(this.entries.get(docId) ?? [])];
  }
  async readSince(docId: string, afterSeq: number): Promise<OpLogEntry[]> {
    return (this.entries.get(docId) ?? []).filter((e) => e.seq > afterSeq);
  }
  async remove(docId: string, seqs: readonly number[], compaction?: CompactionInfo): Promise<void> {
    if (seqs.length === 0) return;
    // A loop, not Math.max(...seqs): spreading a long compaction's seqs overflows the call stack.
    const before = this.floors.get(docId) ?? 0;
    let floor = before;
    for (const seq of seqs) if (seq > floor) floor = seq;
    this.floors.set(docId, floor);
    const drop = new Set(seqs);
    const remaining = (this.entries.get(docId) ?? []).filter((e) => !drop.has(e.seq));
    this.entries.set(docId, remaining);
    if (compaction && floor > before) {
      let size = compaction.snapshotBytes;
      for (const e of remaining) if (e.seq > floor) size += e.update.length;
      this.sizes.set(docId, size);
    }
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  private readonly byDoc = new Map<string, Snapshot[]>();

  async latest(docId: string): Promise<Snapshot | null> {
    const list = this.byDoc.get(docId);
    return list && list.length ? list[list.length - 1] : null;
  }
  async get(docId: string, version: number): Promise<Snapshot | null> {
    return this.byDoc.get(docId)?.find((s) => s.version === version) ?? null;
  }
  async list(docId: string): Promise<SnapshotInfo[]> {
    return (this.byDoc.get(docId) ?? []).map(({ state, ...info }) => ({ ...info, bytes: state.length }));
  }
  async commit(snapshot: Snapshot): Promise<boolean> {
    const list = this.byDoc.get(snapshot.docId) ?? [];
    const latest = list.length ? list[list.length - 1].version : null;
    if (latest !== snapshot.baseVersion || (latest !== null && snapshot.version <= latest)) return false;
    list.push(snapshot);
    this.byDoc.set(snapshot.docId, list);
    return true;
  }
}

export class MemoryConnections implements Connections {
  private readonly byId = new Map<string, Connection>();
  async put(connection: Connection): Promise<void> {
    this.byId.set(connection.connectionId, connection);
  }
  async get(connectionId: string): Promise<Connection | null> {
    return this.byId.get(connectionId) ?? null;
  }
  async delete(connectionId: string): Promise<void> {
    this.byId.delete(connectionId);
  }
  async listByDocument(docId: string): Promise<Connection[]> {
    return [...this.byId.values()].filter((c) => c.docId === docId);
  }
}

/** Records frames per connection; a connection is 'gone' once closed or marked gone. */
export class MemoryBroadcaster implements Broadcaster {
  readonly sent = new Map<string, string[]>();
  readonly gone = new Set<string>();
  readonly closed = new Set<string>();
  async post(connectionId: string, frame: string): Promise<PostResult> {
    if (this.gone.has(connectionId) || this.closed.has(connectionId)) return 'gone';
    const list = this.sent.get(connectionId) ?? [];
    list.push(frame);
    this.sent.set(connectionId, list);
    return 'ok';
  }
  async close(connectionId: string): Promise<void> {
    this.closed.add(connectionId);
  }
  /** Frames sent to a connection since the last take. */
  take(connectionId: string): string[] {
    const list = this.sent.get(connectionId) ?? [];
    this.sent.set(connectionId, []);
    return list;
  }
}

export class MemoryChunkStore implements ChunkStore {
  private readonly sets = new Map<string, Map<number, ChunkPiece>>();
  async putPiece(connectionId: string, chunkId: string, piece: ChunkPiece): Promise<ChunkPiece | null> {
    const key = `${connectionId}\u0000${chunkId}`;
    const set = this.sets.get(key) ?? new Map<number, ChunkPiece>();
    this.sets.set(key, set);
    const existing = set.get(piece.index);
    if (existing) return existing;
    set.set(piece.index, piece);
    return null;
  }
  async pieces(connectionId: string, chunkId: string): Promise<ChunkPiece[]> {
    return [...(this.sets.get(`${connectionId}\u0000${chunkId}`)?.values() ?? [])];
  }
  async deleteSet(connectionId: string, chunkId: string): Promise<void> {
    this.sets.delete(`${connectionId}\u0000${chunkId}`);
  }
  /** Drops every set of a connection (on disconnect). */
  dropConnection(connectionId: string): void {
    for (const key of this.sets.keys()) if (key.startsWith(`${connectionId}\u0000`)) this.sets.delete(key);
  }
}

export class MemoryCache implements Cache {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  constructor(private readonly clock: Clock = systemClock) {}
  private live(key: string) {
    const v = this.values.get(key);
    if (v && v.expiresAt <= this.clock.now()) {
      this.values.delete(key);
      return undefined;
    }
    return v;
  }
  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlSeconds * 1000 });
  }
  async del(key: string): Promise<void> {
    this.values.delete(key);
  }
  async incr(key: string, ttlSeconds: number): Promise<number> {
    const v = this.live(key);
    const next = (v ? Number(v.value) : 0) + 1;
    this.values.set(key, { value: String(next), expiresAt: v?.expiresAt ?? this.clock.now() + ttlSeconds * 1000 });
    return next;
  }
}

export class MemoryDocuments implements Documents {
  private readonly metas = new Map<string, DocumentMeta>();
  private readonly roles = new Map<string, Map<string, Role>>();
  async create(meta: DocumentMeta): Promise<void> {
    this.metas.set(meta.docId, meta);
    this.roles.set(meta.docId, new Map([[meta.ownerId, 'owner']]));
  }
  async get(docId: string): Promise<DocumentMeta | null> {
    return this.metas.get(docId) ?? null;
  }
  async rename(docId: string, title: string): Promise<void> {
    const meta = this.metas.get(docId);
    if (meta) this.metas.set(docId, { ...meta, title });
  }
  async roleOf(docId: string, userId: string): Promise<Role | null> {
    return this.roles.get(docId)?.get(userId) ?? null;
  }
  async setRole(docId: string, userId: string, role: Role | null): Promise<void> {
    const m = this.roles.get(docId) ?? new Map<string, Role>();
    if (role) m.set(userId, role);
    else m.delete(userId);
    this.roles.set(docId, m);
  }
  async members(docId: string): Promise<{ userId: string; role: Role }[]> {
    return [...(this.roles.get(docId) ?? new Map()).entries()].map(([userId, role]) => ({ userId, role }));
  }
  async listForUser(userId: string): Promise<(DocumentMeta & { role: Role })[]> {
    const out: (DocumentMeta & { role: Role })[] = [];
    for (const [docId, m] of this.roles) {
      const role = m.get(userId);
      const meta = this.metas.get(docId);
      if (role && meta) out.push({ ...meta, role });
    }
    return out;
  }
}
