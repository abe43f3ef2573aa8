/**
 * A synchronous write-ahead journal of local changes in localStorage, for the moment between a
 * change and the commit of its IndexedDB write. y-indexeddb writes asynchronously, and a reload
 * or a closed tab aborts a transaction that has not committed yet: the last keystrokes typed
 * offline just before a reload were lost (FM-1.1, seen in the browser tests). Each local change
 * is appended synchronously; once an IndexedDB transaction started after it completes (the
 * database runs transactions on one store in order), the change is in IndexedDB and leaves the
 * journal, normally within milliseconds. Opening the document replays what the journal still
 * holds; applying a Yjs update twice is harmless.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from '../../../lambdas/core/protocol';

export interface JournalStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export class ReloadJournal {
  constructor(
    private readonly storage: JournalStorage,
    readonly key: string,
  ) {}

  /** Changes not yet known to be in IndexedDB, oldest first. */
  entries(): Uint8Array[] {
    return this.stored().flatMap((entry) => {
      try {
        return [fromBase64(entry)];
      } catch {
        return []; // not base64: skipped, like any entry that is not a Yjs update
      }
    });
  }

  get length(): number {
    return this.stored().length;
  }

  /** Returns false when storage refused it (quota): IndexedDB alone then keeps the change. */
  append(update: Uint8Array): boolean {
    return this.write([...this.stored(), toBase64(update)]);
  }

  /** Drops the oldest `count` entries: they are in IndexedDB now. */
  drop(count: number): void {
    this.write(this.stored().slice(count));
  }

  /** The entries as stored (base64), without decoding them. */
  private stored(): string[] {
    try {
      const parsed: unknown = JSON.parse(this.storage.getItem(this.key) ?? '[]');
      return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string') : [];
    } catch {
      return [];
    }
  }

  private write(entries: readonly string[]): boolean {
    try {
      if (entries.length === 0) this.storage.removeItem(this.key);
      else this.storage.setItem(this.key, JSON.stringify(entries));
      return true;
    } catch {
      return false;
    }
  }
}

/** Something that runs `then` once every IndexedDB write started so far has committed. */
export type CommitBarrier = (then: (committed: boolean) => void) => void;

/** A barrier on y-indexeddb's `updates` store: a readonly transaction queued behind its writes. */
export function indexedDbBarrier(db: IDBDatabase, storeName = 'updates'): CommitBarrier {
  return (then) => {
    try {
      const tx = db.transaction([storeName], 'readonly');
      tx.oncomplete = () => then(true);
      tx.onabort = tx.onerror = () => then(false);
    } catch {
      then(false); // the database is closing
    }
  };
}

/**
 * Applies what the journal holds to `doc`, then journals every later change whose origin is not
 * in `skipOrigins` (changes from the server or from IndexedDB itself are safe elsewhere), and
 * clears each one once `barrier` reports it committed. Returns the function that stops it.
 */
export function journalLocalChanges(doc: Y.Doc, journal: ReloadJournal, barrier: CommitBarrier, skipOrigins: readonly unknown[]): () => void {
  const replay = journal.entries();
  for (const update of replay) {
    try {
      Y.applyUpdate(doc, update);
    } catch {
      // Not a Yjs update (tampered with, or from an incompatible version): never block opening.
    }
  }
  let waiting = false;
  let stopped = false;
  const settle = () => {
    if (waiting || stopped) return;
    const covered = journal.length;
    if (covered === 0) return;
    waiting = true;
    barrier((committed) => {
      waiting = false;
      if (stopped) return;
      if (committed) journal.drop(covered);
      // Entries added meanwhile wait for the next barrier; a failed one is retried with them.
      if (committed && journal.length > 0) settle();
    });
  };
  const onUpdate = (update: Uint8Array, origin: unknown) => {
    if (skipOrigins.includes(origin)) return;
    if (journal.append(update)) settle();
  };
  doc.on('update', onUpdate);
  // The replayed entries are in the document again: y-indexeddb stores them, and the barrier
  // clears them once that is committed.
  settle();
  return () => {
    stopped = true;
    doc.off('update', onUpdate);
  };
}
