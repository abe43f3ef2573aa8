/**
 * Core version history (lambdas/core/history.ts): restore as a new forward change, previews,
 * block comparison and the retention rule. Plain Y.Docs exchange updates like clients of one
 * server would; the document shape is the web client's (Y.XmlFragment "body" of Tiptap blocks).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import {
  BODY_FIELD,
  blockKeys,
  compareBlocks,
  previewBlocks,
  restoreChanges,
  versionsToPrune,
  versionText,
  AUTOMATIC_VERSION_WINDOW_MS,
  RECENT_VERSIONS_MS,
} from '../../../lambdas/core/history';

function paragraph(text: string, marks?: Record<string, unknown>): Y.XmlElement {
  const p = new Y.XmlElement('paragraph');
  const t = new Y.XmlText();
  t.insert(0, text, marks);
  p.insert(0, [t]);
  return p;
}

function heading(level: number, text: string): Y.XmlElement {
  const h = new Y.XmlElement('heading');
  h.setAttribute('level', level as unknown as string);
  const t = new Y.XmlText();
  t.insert(0, text);
  h.insert(0, [t]);
  return h;
}

const body = (doc: Y.Doc) => doc.getXmlFragment(BODY_FIELD);
const text = (doc: Y.Doc) => versionText(Y.encodeStateAsUpdate(doc));

/** A tiny "server": every update reaches every replica, in any order. */
function sync(...docs: Y.Doc[]) {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
}

function paragraphText(doc: Y.Doc, index: number): Y.XmlText {
  return (body(doc).get(index) as Y.XmlElement).get(0) as Y.XmlText;
}

describe('restoreChanges (issue 9)', () => {
  it('restoring a version from before a large deletion brings the text back, as one forward change', () => {
    const doc = new Y.Doc();
    body(doc).insert(0, [heading(1, 'Contract'), ...Array.from({ length: 50 }, (_, i) => paragraph(`Clause ${i}`, i % 2 ? { bold: true } : undefined))]);
    const version = Y.encodeStateAsUpdate(doc);
    const expected = text(doc);
    body(doc).delete(1, 45);
    expect(text(doc)).not.toBe(expected);

    // Naively applying the old state changes nothing: its clocks are older than the deletion.
    Y.applyUpdate(doc, version);
    expect(body(doc).length).toBe(6);

    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const result = restoreChanges(doc, version);
    expect(updates).toHaveLength(1);
    expect(result.update).toEqual(updates[0]);
    expect(text(doc)).toBe(expected);
    expect(blockKeys(doc)).toEqual(blockKeys(loaded(version)));
    // Formatting and attributes are copied, not only text.
    expect(previewBlocks(doc)[0]).toMatchObject({ type: 'heading', attributes: { level: 1 }, text: 'Contract' });
    expect((body(doc).get(2) as Y.XmlElement).get(0)).toBeInstanceOf(Y.XmlText);
    expect(((body(doc).get(2) as Y.XmlElement).get(0) as Y.XmlText).toDelta()).toEqual([{ insert: 'Clause 1', attributes: { bold: true } }]);
    // Only the missing middle was inserted: the kept blocks are the same Yjs items as before.
    expect(result).toMatchObject({ removed: 0, inserted: 45 });

    // Another replica that receives only the restore update reaches the same content.
    const other = new Y.Doc();
    Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
    expect(text(other)).toBe(expected);
  });

  it('returns no update when the document already equals the version', () => {
    const doc = new Y.Doc();
    body(doc).insert(0, [paragraph('same')]);
    const version = Y.encodeStateAsUpdate(doc);
    expect(restoreChanges(doc, version)).toEqual({ update: null, removed: 0, inserted: 0 });
  });

  it('FM-7.3: a restore while two other clients are editing converges with their concurrent edits preserved', () => {
    const restorer = new Y.Doc();
    body(restorer).insert(0, [paragraph('intro'), paragraph('alpha'), paragraph('beta'), paragraph('outro')]);
    const version = Y.encodeStateAsUpdate(restorer);
    const alice = new Y.Doc();
    const bob = new Y.Doc();
    sync(restorer, alice, bob);
    // After the version: the middle is rewritten.
    body(alice).delete(1, 2);
    body(alice).insert(1, [paragraph('gamma')]);
    sync(restorer, alice, bob);

    // Concurrently: alice types in the first block, bob in the last, while the restore happens.
    paragraphText(alice, 0).insert(5, ' by alice');
    paragraphText(bob, 2).insert(0, 'bob: ');
    const restored = restoreChanges(restorer, version);
    expect(restored.update).not.toBeNull();
    sync(alice, bob, restorer);

    const converged = text(restorer);
    expect(text(alice)).toBe(converged);
    expect(text(bob)).toBe(converged);
    expect(converged).toBe('intro by alice\nalpha\nbeta\nbob: outro');
  });

  it('a restore is undoable like any edit, and can itself be restored away', () => {
    const doc = new Y.Doc();
    body(doc).insert(0, [paragraph('one'), paragraph('two')]);
    const v1 = Y.encodeStateAsUpdate(doc);
    body(doc).delete(1, 1);
    body(doc).insert(1, [paragraph('three'), paragraph('four')]);
    const v2 = Y.encodeStateAsUpdate(doc);
    const v2Text = text(doc);

    const undo = new Y.UndoManager(body(doc), { trackedOrigins: new Set(['restore']) });
    restoreChanges(doc, v1, BODY_FIELD, { origin: 'restore' });
    expect(text(doc)).toBe('one\ntwo');
    undo.undo();
    expect(text(doc)).toBe(v2Text);
    undo.redo();
    expect(text(doc)).toBe('one\ntwo');

    // Restoring the version taken before the restore brings that state back.
    restoreChanges(doc, v2);
    expect(text(doc)).toBe(v2Text);
    expect(blockKeys(doc)).toEqual(blockKeys(loaded(v2)));
  });
});

describe('restoreChanges (property)', () => {
  const blocks = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 8 });
  it('for any version and current block lists, the result equals the version and only the differing middle changes', () => {
    fc.assert(
      fc.property(blocks, blocks, (versionTexts, currentTexts) => {
        const version = new Y.Doc();
        body(version).insert(0, versionTexts.map((t) => paragraph(t)));
        const doc = new Y.Doc();
        body(doc).insert(0, currentTexts.map((t) => paragraph(t)));
        const result = restoreChanges(doc, Y.encodeStateAsUpdate(version));
        expect(blockKeys(doc)).toEqual(blockKeys(version));
        const kept = currentTexts.length - result.removed;
        expect(kept).toBe(versionTexts.length - result.inserted);
        expect(result.update === null).toBe(result.removed === 0 && result.inserted === 0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('compareBlocks', () => {
  it('marks blocks only in the version, only in the current document, and the same', () => {
    const changes = compareBlocks(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'e']);
    expect(changes).toEqual([
      { kind: 'same', versionIndex: 0, currentIndex: 0 },
      { kind: 'current-only', currentIndex: 1 },
      { kind: 'version-only', versionIndex: 1 },
      { kind: 'same', versionIndex: 2, currentIndex: 2 },
      { kind: 'same', versionIndex: 3, currentIndex: 3 },
      { kind: 'current-only', currentIndex: 4 },
    ]);
  });

  it('falls back to prefix/suffix beyond the size cap and still covers every block', () => {
    const changes = compareBlocks(['a', 'b', 'c', 'z'], ['a', 'c', 'b', 'z'], 1);
    expect(changes.filter((c) => c.kind === 'version-only').map((c) => (c as { versionIndex: number }).versionIndex)).toEqual([1, 2]);
    expect(changes.filter((c) => c.kind === 'current-only')).toHaveLength(2);
    expect(changes.filter((c) => c.kind === 'same')).toHaveLength(2);
  });
});

describe('versionsToPrune (docs/history.md)', () => {
  const W = AUTOMATIC_VERSION_WINDOW_MS;
  const now = 100 * W;
  const old = now - RECENT_VERSIONS_MS - 10 * W;
  it('keeps named versions, the latest, recent ones, and the newest older automatic version per window', () => {
    const versions = [
      { version: 10, createdAt: old + 1, name: null },
      { version: 20, createdAt: old + 2, name: 'Draft sent to legal' },
      { version: 30, createdAt: old + 3, name: null },
      { version: 40, createdAt: old + W + 1, name: null },
      { version: 50, createdAt: old + 3 * W + 1, name: null },
      { version: 60, createdAt: old + 3 * W + 2, name: null },
      { version: 70, createdAt: old + 3 * W + 3, name: null },
      // Recent: all kept even within one window.
      { version: 80, createdAt: now - 3, name: null },
      { version: 90, createdAt: now - 2, name: null },
      { version: 100, createdAt: now - 1, name: null },
    ];
    expect(versionsToPrune(versions, now)).toEqual([10, 50, 60]);
    expect(versionsToPrune(versions, now, { recentMs: 0 })).toEqual([10, 50, 60, 80, 90]);
    expect(versionsToPrune([], now)).toEqual([]);
    // The latest is kept even when it is old and shares a window with nothing newer.
    expect(versionsToPrune([{ version: 1, createdAt: 5 }, { version: 2, createdAt: 4 }], now)).toEqual([1]);
  });
});

function loaded(state: Uint8Array): Y.Doc {
  const d = new Y.Doc();
  Y.applyUpdate(d, state);
  return d;
}
