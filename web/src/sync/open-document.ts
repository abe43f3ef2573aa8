/**
 * Opening a document in the browser, in the order that keeps edits safe and first loads cheap:
 *
 * 1. the IndexedDB copy (y-indexeddb): edits made offline, even before a reload, are back first,
 *    with the last ones IndexedDB had not committed yet replayed from a localStorage journal;
 * 2. the latest snapshot over HTTPS (large documents; skipped quietly when offline);
 * 3. the socket (ConcordProvider), whose handshake sends whatever the server lacks.
 *
 * The IndexedDB database is per user and per document, so a second account on the same browser
 * never opens the first one's offline copy.
 */
import * as Y from 'yjs';
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import { IndexeddbPersistence } from 'y-indexeddb';
import { REMOTE_ORIGIN } from '../../../lambdas/core/client-session';
import { ConcordProvider } from './concord-provider';
import { indexedDbBarrier, journalLocalChanges, ReloadJournal } from './reload-journal';
import { loadLatestSnapshot, SNAPSHOT_ORIGIN } from './snapshot';

/** The y-indexeddb custom-store key holding the count of unacknowledged changes. */
const PENDING_KEY = 'concord:pending';
/** Give up waiting for IndexedDB (private windows may lack it) and work online only. */
const INDEXEDDB_WAIT_MS = 4000;

export interface OpenedDocument {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly provider: ConcordProvider;
  /** False when IndexedDB was unavailable: edits survive disconnections but not a reload. */
  readonly offlineCopy: boolean;
  close(): void;
}

export interface OpenDocumentOptions {
  readonly docId: string;
  readonly userId: string;
  readonly user: { readonly name: string; readonly color: string };
}

/** Journals local changes until IndexedDB has committed them (reload-journal.ts); no-op without localStorage. */
function startJournal(persistence: IndexeddbPersistence, doc: Y.Doc, key: string): () => void {
  let storage: Storage;
  try {
    storage = window.localStorage;
  } catch {
    return () => undefined;
  }
  if (!persistence.db) return () => undefined;
  return journalLocalChanges(doc, new ReloadJournal(storage, key), indexedDbBarrier(persistence.db), [persistence, REMOTE_ORIGIN, SNAPSHOT_ORIGIN]);
}

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms))]);

export async function openDocument(options: OpenDocumentOptions, signal: AbortSignal): Promise<OpenedDocument> {
  const doc = new Y.Doc();
  const awareness = new Awareness(doc);
  awareness.setLocalStateField('user', options.user);
  let persistence: IndexeddbPersistence | null = null;
  let carriedOverPending = 0;
  let stopJournal: () => void = () => undefined;
  const cleanup = () => {
    stopJournal();
    void persistence?.destroy();
    awareness.destroy();
    doc.destroy();
  };
  try {
    try {
      persistence = new IndexeddbPersistence(`concord:${options.userId}:${options.docId}`, doc);
      const loaded = await withTimeout(persistence.whenSynced, INDEXEDDB_WAIT_MS);
      if (loaded === 'timeout') {
        void persistence.destroy();
        persistence = null;
      } else {
        const stored = await withTimeout(persistence.get(PENDING_KEY) as Promise<unknown>, INDEXEDDB_WAIT_MS);
        if (typeof stored === 'number' && stored > 0) carriedOverPending = stored;
        stopJournal = startJournal(persistence, doc, `concord:journal:${options.userId}:${options.docId}`);
      }
    } catch {
      persistence = null;
    }
    if (signal.aborted) throw new DOMException('aborted', 'AbortError');
    if (navigator.onLine) {
      try {
        await loadLatestSnapshot(options.docId, doc);
      } catch {
        // The socket's handshake brings the whole document anyway; the snapshot only makes it cheaper.
      }
    }
    if (signal.aborted) throw new DOMException('aborted', 'AbortError');
  } catch (e) {
    cleanup();
    throw e;
  }
  const store = persistence;
  const provider = new ConcordProvider({
    docId: options.docId,
    doc,
    awareness,
    carriedOverPending,
    persistPending: store ? (count) => void store.set(PENDING_KEY, count).catch(() => undefined) : undefined,
  });
  // Leaving the page: tell the others now, so our caret does not linger until it times out.
  const onPageHide = () => removeAwarenessStates(awareness, [doc.clientID], 'page-hide');
  const onPageShow = (e: PageTransitionEvent) => {
    if (e.persisted && awareness.getLocalState() === null) awareness.setLocalState({ user: options.user });
  };
  window.addEventListener('pageshow', onPageShow);
  window.addEventListener('pagehide', onPageHide);
  return {
    doc,
    awareness,
    provider,
    offlineCopy: store !== null,
    close() {
      window.removeEventListener('pagehide', onPageHide);
      window.removeEventListener('pageshow', onPageShow);
      provider.destroy();
      cleanup();
    },
  };
}
