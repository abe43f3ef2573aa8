/**
 * Yjs document logic: validating updates, loading a document from its snapshot and op log, and
 * compaction. Pure functions over the ports; no AWS, no clocks other than the injected one.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { ConcordError } from './errors';
import { LIMITS } from './limits';
import type { Clock, OpLog, OpLogEntry, Snapshot, SnapshotStore } from './ports';

/**
 * Fully decodes a Yjs v1 update, and integrates it into a scratch document, before anything is
 * stored (invariant 5). Decoding alone is not enough: some corrupted updates decode but make
 * Y.applyUpdate throw, and one of those in the op log would make the document unloadable (every
 * handshake, compaction and fan-out of it would fail). Structs whose dependencies are absent from
 * the scratch document just wait as pending, so valid updates never fail here. Throws
 * ConcordError `update_too_large` or `bad_update`.
 */
export function validateUpdate(update: Uint8Array): void {
  if (update.length > LIMITS.updateBytes) throw new ConcordError('update_too_large', `${update.length} bytes`);
  const scratch = new Y.Doc({ gc: true });
  try {
    Y.decodeUpdate(update);
    Y.applyUpdate(scratch, update);
  } catch (e) {
    throw new ConcordError('bad_update', (e as Error).message);
  } finally {
    scratch.destroy();
  }
}

/** True for an update that carries no structs and no deletions (e.g. an up-to-date step 2). */
export function isEmptyUpdate(update: Uint8Array): boolean {
  const decoded = Y.decodeUpdate(update);
  return decoded.structs.length === 0 && decoded.ds.clients.size === 0;
}

/**
 * Decodes a y-protocols awareness update fully (clients, clocks, JSON states). Throws
 * ConcordError `bad_awareness`.
 */
export function validateAwareness(update: Uint8Array): void {
  try {
    const d = decoding.createDecoder(update);
    const n = decoding.readVarUint(d);
    for (let i = 0; i < n; i++) {
      decoding.readVarUint(d);
      decoding.readVarUint(d);
      JSON.parse(decoding.readVarString(d));
    }
    if (decoding.hasContent(d)) throw new Error('trailing bytes');
  } catch (e) {
    throw new ConcordError('bad_awareness', (e as Error).message);
  }
}

export interface LoadedDocument {
  readonly doc: Y.Doc;
  readonly snapshot: Snapshot | null;
  /** Op-log entries not yet compacted, ascending. */
  readonly tail: OpLogEntry[];
}

/**
 * Latest snapshot + every remaining op-log entry. Every remaining entry is applied, not only
 * those above the snapshot's version: merging is idempotent, and this way an entry is visible
 * until the moment compaction deletes it after it is durably in a snapshot.
 */
export async function loadDocument(docId: string, opLog: OpLog, snapshots: SnapshotStore): Promise<LoadedDocument> {
  // Entries first, snapshot second: an entry deleted between the two reads is already in the
  // snapshot we read next (compaction commits the snapshot before it deletes).
  const tail = await opLog.readAll(docId);
  const snapshot = await snapshots.latest(docId);
  const doc = new Y.Doc({ gc: true });
  if (snapshot) Y.applyUpdate(doc, snapshot.state);
  for (const entry of tail) Y.applyUpdate(doc, entry.update);
  return { doc, snapshot, tail };
}

/** The whole stored state as one update (snapshot + tail), without building a Y.Doc twice. */
export async function loadState(docId: string, opLog: OpLog, snapshots: SnapshotStore): Promise<Uint8Array> {
  const { doc } = await loadDocument(docId, opLog, snapshots);
  const state = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return state;
}

export type CompactionResult =
  | { readonly status: 'nothing-to-do' }
  | { readonly status: 'compacted'; readonly version: number; readonly merged: number; readonly bytes: number }
  | { readonly status: 'cleaned'; readonly removed: number }
  | { readonly status: 'conflict' };

export interface CompactionOptions {
  readonly clock: Clock;
  /** Merge only if at least this many entries are newer than the latest snapshot. */
  readonly minEntries?: number;
}

/**
 * Compaction (invariant 3): merge the latest snapshot and the op-log entries into a new snapshot,
 * commit it with compare-and-set on the base version, then remove exactly the entries it merged.
 * Safe to run concurrently: a loser of the compare-and-set deletes nothing.
 *
 * Entries at or below the latest snapshot's version are usually already in it, but sequence
 * numbers are not always written in order: a writer that stalls between claiming its number and
 * writing the entry can land below a snapshot built meanwhile (adapters/dynamodb-op-log.ts). So
 * such entries are never trusted blindly: they are merged again with the fresh ones
 * (idempotent), and without fresh ones they are removed only if they are verifiably contained in
 * the snapshot. A late entry therefore stays readable until a snapshot really contains it.
 */
export async function compact(docId: string, opLog: OpLog, snapshots: SnapshotStore, options: CompactionOptions): Promise<CompactionResult> {
  const base = await snapshots.latest(docId);
  const entries = await opLog.readAll(docId);
  const baseVersion = base?.version ?? 0;
  const covered = entries.filter((e) => e.seq <= baseVersion);
  const fresh = entries.filter((e) => e.seq > baseVersion);
  if (fresh.length === 0 || fresh.length < (options.minEntries ?? 1)) {
    if (covered.length === 0 || !base || !containsAll(base.state, covered)) return { status: 'nothing-to-do' };
    await opLog.remove(docId, covered.map((e) => e.seq));
    return { status: 'cleaned', removed: covered.length };
  }
  const doc = new Y.Doc({ gc: true });
  if (base) Y.applyUpdate(doc, base.state);
  for (const entry of entries) Y.applyUpdate(doc, entry.update);
  const state = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  const version = fresh[fresh.length - 1].seq;
  const committed = await snapshots.commit({
    docId,
    version,
    baseVersion: base?.version ?? null,
    state,
    authors: [...new Set(fresh.map((e) => e.userId))].sort(),
    createdAt: options.clock.now(),
    name: null,
  });
  if (!committed) return { status: 'conflict' };
  await opLog.remove(docId, entries.map((e) => e.seq), { snapshotBytes: state.length });
  return { status: 'compacted', version, merged: fresh.length, bytes: state.length };
}

/** True when applying `entries` to `state` changes nothing (and leaves nothing pending). */
function containsAll(state: Uint8Array, entries: readonly OpLogEntry[]): boolean {
  const doc = new Y.Doc({ gc: true });
  try {
    Y.applyUpdate(doc, state);
    const before = Y.snapshot(doc);
    // Pending structs are invisible to the snapshot comparison, so any pending means "not proven".
    if (doc.store.pendingStructs || doc.store.pendingDs) return false;
    for (const entry of entries) Y.applyUpdate(doc, entry.update);
    if (doc.store.pendingStructs || doc.store.pendingDs) return false;
    return Y.equalSnapshots(before, Y.snapshot(doc));
  } finally {
    doc.destroy();
  }
}
