/**
 * Version history (issue 9): restoring an earlier version as a NEW forward change, previews and a
 * block-level comparison, and the retention rule for automatic versions. Pure: no ports, no I/O.
 *
 * Why restore is a diff: a stored version is an old Yjs state, and applying it to the current
 * document changes nothing (every struct in it is already known, and the deletions since are
 * newer). So the current document is edited until its content equals the version's: the top-level
 * blocks both share at the start and at the end are kept (so concurrent edits there survive and
 * nothing moves under a collaborator's cursor), and only the differing middle is deleted and
 * re-inserted as deep copies. The restore is an ordinary transaction: it merges with concurrent
 * edits, fans out like any edit, and can be undone or restored away.
 */
import * as Y from 'yjs';

/** The Y.XmlFragment the web client's Tiptap editor binds to (web/src/editor/extensions.ts). */
export const BODY_FIELD = 'body';

type Block = Y.XmlElement | Y.XmlText;

const isBlock = (node: unknown): node is Block => node instanceof Y.XmlElement || node instanceof Y.XmlText;

/** Loads a stored version (a Yjs v1 update) into a fresh, throwaway document. */
export function versionDoc(state: Uint8Array): Y.Doc {
  const doc = new Y.Doc({ gc: true });
  Y.applyUpdate(doc, state);
  return doc;
}

/**
 * A block's canonical serialized form: node name, attributes (sorted) and content, with text
 * formatting. Two blocks with the same key render identically.
 */
export function blockKey(block: Block): string {
  if (block instanceof Y.XmlText) return `#text${attributesKey(block.getAttributes())}:${JSON.stringify(block.toDelta())}`;
  const children = block.toArray().filter(isBlock).map(blockKey);
  return `<${block.nodeName}${attributesKey(block.getAttributes())}>[${children.join(',')}]`;
}

function attributesKey(attributes: Record<string, unknown>): string {
  const keys = Object.keys(attributes).sort();
  return keys.length ? JSON.stringify(keys.map((k) => [k, attributes[k]])) : '';
}

/** The serialized top-level blocks of `field` in `doc`. */
export function blockKeys(doc: Y.Doc, field: string = BODY_FIELD): string[] {
  return doc.getXmlFragment(field).toArray().filter(isBlock).map(blockKey);
}

/** Plain text of a block (nested elements' text concatenated; embeds skipped). */
export function blockText(block: Block): string {
  if (block instanceof Y.XmlText) {
    return block
      .toDelta()
      .map((op: { insert?: unknown }) => (typeof op.insert === 'string' ? op.insert : ''))
      .join('');
  }
  const parts = block.toArray().filter(isBlock).map(blockText);
  // Blocks inside blocks (list items, quotes) read as separate lines.
  const nested = block.toArray().some((c) => c instanceof Y.XmlElement);
  return parts.join(nested ? '\n' : '');
}

export interface PreviewBlock {
  /** The node name, e.g. "paragraph", "heading", "bulletList". */
  readonly type: string;
  /** Heading level and similar attributes, for rendering. */
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly text: string;
  /** Canonical serialized form (see blockKey): equal keys mean equal blocks. */
  readonly key: string;
}

/** The top-level blocks of a document, for a read-only preview. */
export function previewBlocks(doc: Y.Doc, field: string = BODY_FIELD): PreviewBlock[] {
  return doc
    .getXmlFragment(field)
    .toArray()
    .filter(isBlock)
    .map((b) => ({
      type: b instanceof Y.XmlText ? 'text' : b.nodeName,
      attributes: b.getAttributes() as Record<string, unknown>,
      text: blockText(b),
      key: blockKey(b),
    }));
}

/** The plain text of a stored version: one line per top-level block. */
export function versionText(state: Uint8Array, field: string = BODY_FIELD): string {
  const doc = versionDoc(state);
  try {
    return previewBlocks(doc, field)
      .map((b) => b.text)
      .join('\n');
  } finally {
    doc.destroy();
  }
}

/** Deep copy of a block (element name, attributes, children; text with its formatting), not yet integrated. */
export function copyBlock(block: Block): Block {
  if (block instanceof Y.XmlText) {
    const text = new Y.XmlText();
    // Formatting travels in the delta's attributes; embeds are copied as they are.
    text.applyDelta(block.toDelta());
    for (const [k, v] of Object.entries(block.getAttributes())) text.setAttribute(k, v as string);
    return text;
  }
  const element = new Y.XmlElement(block.nodeName);
  for (const [k, v] of Object.entries(block.getAttributes())) element.setAttribute(k, v as string);
  element.insert(0, block.toArray().filter(isBlock).map(copyBlock));
  return element;
}

export interface RestoreOptions {
  /** Transaction origin (an UndoManager tracks `null` by default, i.e. a local edit). */
  readonly origin?: unknown;
}

export interface RestoreResult {
  /** The forward change as a Yjs v1 update, or null when the document already equals the version. */
  readonly update: Uint8Array | null;
  /** Top-level blocks removed from and inserted into the current document. */
  readonly removed: number;
  readonly inserted: number;
}

/**
 * Makes the content of `field` in `currentDoc` equal to the version's, as one new transaction on
 * `currentDoc` (see the file comment). Returns that transaction's update, to store and fan out.
 */
export function restoreChanges(currentDoc: Y.Doc, versionState: Uint8Array, field: string = BODY_FIELD, options: RestoreOptions = {}): RestoreResult {
  const version = versionDoc(versionState);
  try {
    const target = version.getXmlFragment(field).toArray().filter(isBlock);
    const fragment = currentDoc.getXmlFragment(field);
    const current = fragment.toArray();
    const currentKeys = current.map((n) => (isBlock(n) ? blockKey(n) : '\u0000'));
    const targetKeys = target.map(blockKey);
    let prefix = 0;
    while (prefix < current.length && prefix < target.length && currentKeys[prefix] === targetKeys[prefix]) prefix++;
    let suffix = 0;
    while (
      suffix < current.length - prefix &&
      suffix < target.length - prefix &&
      currentKeys[current.length - 1 - suffix] === targetKeys[target.length - 1 - suffix]
    )
      suffix++;
    const removed = current.length - prefix - suffix;
    const inserted = target.slice(prefix, target.length - suffix);
    if (removed === 0 && inserted.length === 0) return { update: null, removed: 0, inserted: 0 };
    const updates: Uint8Array[] = [];
    const capture = (update: Uint8Array) => updates.push(update);
    currentDoc.on('update', capture);
    try {
      currentDoc.transact(() => {
        if (removed > 0) fragment.delete(prefix, removed);
        if (inserted.length > 0) fragment.insert(prefix, inserted.map(copyBlock));
      }, options.origin ?? null);
    } finally {
      currentDoc.off('update', capture);
    }
    return { update: updates.length === 1 ? updates[0] : Y.mergeUpdates(updates), removed, inserted: inserted.length };
  } finally {
    version.destroy();
  }
}

export type BlockChange =
  | { readonly kind: 'same'; readonly versionIndex: number; readonly currentIndex: number }
  /** In the version, not in the current document (a restore brings it back). */
  | { readonly kind: 'version-only'; readonly versionIndex: number }
  /** In the current document, not in the version (a restore removes it). */
  | { readonly kind: 'current-only'; readonly currentIndex: number };

/**
 * Block-level comparison of a version with the current document (longest common subsequence of
 * block keys), in document order, for highlighting what differs. Quadratic in the block count;
 * beyond `maxCells` it falls back to common prefix/suffix with everything between differing.
 */
export function compareBlocks(versionKeys: readonly string[], currentKeys: readonly string[], maxCells = 4_000_000): BlockChange[] {
  let start = 0;
  while (start < versionKeys.length && start < currentKeys.length && versionKeys[start] === currentKeys[start]) start++;
  let endV = versionKeys.length;
  let endC = currentKeys.length;
  while (endV > start && endC > start && versionKeys[endV - 1] === currentKeys[endC - 1]) {
    endV--;
    endC--;
  }
  const out: BlockChange[] = [];
  for (let i = 0; i < start; i++) out.push({ kind: 'same', versionIndex: i, currentIndex: i });
  const n = endV - start;
  const m = endC - start;
  if (n * m > maxCells) {
    for (let i = start; i < endC; i++) out.push({ kind: 'current-only', currentIndex: i });
    for (let i = start; i < endV; i++) out.push({ kind: 'version-only', versionIndex: i });
  } else {
    // lcs[i][j] = LCS length of version[start+i..endV) and current[start+j..endC).
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = versionKeys[start + i] === currentKeys[start + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && versionKeys[start + i] === currentKeys[start + j]) {
        out.push({ kind: 'same', versionIndex: start + i, currentIndex: start + j });
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        out.push({ kind: 'current-only', currentIndex: start + j });
        j++;
      } else {
        out.push({ kind: 'version-only', versionIndex: start + i });
        i++;
      }
    }
  }
  const shift = versionKeys.length - endV;
  for (let k = 0; k < shift; k++) out.push({ kind: 'same', versionIndex: endV + k, currentIndex: endC + k });
  return out;
}

/** Automatic versions are thinned to at most one per window of this length (docs/history.md). */
export const AUTOMATIC_VERSION_WINDOW_MS = 5 * 60 * 1000;
/** Automatic versions younger than this are all kept (fine-grained recent history). */
export const RECENT_VERSIONS_MS = 60 * 60 * 1000;

export interface RetentionPolicy {
  readonly windowMs?: number;
  readonly recentMs?: number;
}

export interface RetainedVersion {
  readonly version: number;
  readonly createdAt: number;
  readonly name?: string | null;
}

/**
 * The retention rule (docs/history.md): every named version is kept; the latest version is kept
 * (it is the document's base); automatic versions created less than `recentMs` before `now` are
 * kept; older automatic ones are thinned to the newest in each `windowMs` window of creation time.
 * Returns the versions to delete, ascending. Every snapshot holds the whole document state, so
 * deleting one never makes another unloadable.
 */
export function versionsToPrune(versions: readonly RetainedVersion[], now: number, policy: RetentionPolicy = {}): number[] {
  const windowMs = policy.windowMs ?? AUTOMATIC_VERSION_WINDOW_MS;
  const recentMs = policy.recentMs ?? RECENT_VERSIONS_MS;
  if (versions.length === 0) return [];
  const latest = Math.max(...versions.map((v) => v.version));
  const newestPerWindow = new Map<number, number>();
  for (const v of versions) {
    if (v.name) continue;
    const window = Math.floor(v.createdAt / windowMs);
    newestPerWindow.set(window, Math.max(newestPerWindow.get(window) ?? 0, v.version));
  }
  return versions
    .filter((v) => !v.name && v.version !== latest && now - v.createdAt >= recentMs)
    .filter((v) => newestPerWindow.get(Math.floor(v.createdAt / windowMs)) !== v.version)
    .map((v) => v.version)
    .sort((a, b) => a - b);
}
