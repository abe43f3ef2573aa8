/**
 * The localStorage journal that covers local changes until IndexedDB has committed them
 * (web/src/sync/reload-journal.ts): a reload right after typing offline must not lose the last
 * keystrokes (FM-1.1).
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { journalLocalChanges, ReloadJournal, type CommitBarrier, type JournalStorage } from '../../web/src/sync/reload-journal';

class MemoryStorage implements JournalStorage {
  readonly items = new Map<string, string>();
  quotaBytes = Number.POSITIVE_INFINITY;
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    if (value.length > this.quotaBytes) throw new DOMException('quota', 'QuotaExceededError');
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

/** A barrier the test completes by hand, like an IndexedDB transaction that has not committed yet. */
function manualBarrier() {
  const waiting: ((committed: boolean) => void)[] = [];
  const barrier: CommitBarrier = (then) => waiting.push(then);
  return { barrier, waiting, commit: (ok = true) => waiting.shift()!(ok) };
}

const REMOTE = Symbol('remote');
const KEY = 'concord:journal:bob:doc1';

describe('FM-1.1: reload journal', () => {
  it('keeps local changes IndexedDB has not committed, and a reload replays them', () => {
    const storage = new MemoryStorage();
    const doc = new Y.Doc();
    const { barrier } = manualBarrier();
    journalLocalChanges(doc, new ReloadJournal(storage, KEY), barrier, [REMOTE]);
    doc.getText('t').insert(0, 'Written offline, kept across a reload.');
    // The page reloads now: IndexedDB never committed. A new page opens the same journal.
    const reopened = new Y.Doc();
    journalLocalChanges(reopened, new ReloadJournal(storage, KEY), manualBarrier().barrier, [REMOTE]);
    expect(reopened.getText('t').toString()).toBe('Written offline, kept across a reload.');
  });

  it('clears what IndexedDB committed; changes made while waiting wait for the next commit', () => {
    const storage = new MemoryStorage();
    const journal = new ReloadJournal(storage, KEY);
    const doc = new Y.Doc();
    const b = manualBarrier();
    journalLocalChanges(doc, journal, b.barrier, [REMOTE]);
    doc.getText('t').insert(0, 'a');
    doc.getText('t').insert(1, 'b');
    expect(journal.length).toBe(2);
    expect(b.waiting).toHaveLength(1);
    b.commit();
    // Only what existed when the barrier started is known to be committed.
    expect(journal.length).toBe(1);
    expect(b.waiting).toHaveLength(1);
    b.commit();
    expect(journal.length).toBe(0);
    expect(storage.items.has(KEY)).toBe(false);
  });

  it('a failed barrier keeps the entries (the next open replays them)', () => {
    const storage = new MemoryStorage();
    const journal = new ReloadJournal(storage, KEY);
    const doc = new Y.Doc();
    const b = manualBarrier();
    journalLocalChanges(doc, journal, b.barrier, [REMOTE]);
    doc.getText('t').insert(0, 'x');
    b.commit(false);
    expect(journal.length).toBe(1);
  });

  it('does not journal changes from the server or from IndexedDB itself', () => {
    const storage = new MemoryStorage();
    const journal = new ReloadJournal(storage, KEY);
    const doc = new Y.Doc();
    journalLocalChanges(doc, journal, manualBarrier().barrier, [REMOTE]);
    const other = new Y.Doc();
    other.getText('t').insert(0, 'from the server');
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other), REMOTE);
    expect(journal.length).toBe(0);
  });

  it('a full localStorage (quota) neither throws into the editor nor loses the change from the document', () => {
    const storage = new MemoryStorage();
    storage.quotaBytes = 100;
    const journal = new ReloadJournal(storage, KEY);
    const doc = new Y.Doc();
    journalLocalChanges(doc, journal, manualBarrier().barrier, [REMOTE]);
    expect(() => doc.getText('t').insert(0, 'y'.repeat(500))).not.toThrow();
    expect(doc.getText('t').length).toBe(500);
    expect(journal.length).toBe(0);
  });

  it('ignores a corrupted journal instead of failing to open the document', () => {
    const storage = new MemoryStorage();
    storage.setItem(KEY, '{not json');
    const doc = new Y.Doc();
    expect(() => journalLocalChanges(doc, new ReloadJournal(storage, KEY), manualBarrier().barrier, [REMOTE])).not.toThrow();
    expect(doc.getText('t').toString()).toBe('');
    // Valid JSON, but not Yjs updates.
    storage.setItem(KEY, JSON.stringify(['AAAA', '////', '%%not base64%%']));
    const other = new Y.Doc();
    expect(() => journalLocalChanges(other, new ReloadJournal(storage, KEY), manualBarrier().barrier, [REMOTE])).not.toThrow();
  });
});
