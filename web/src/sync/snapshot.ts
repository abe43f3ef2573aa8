/**
 * Large documents load over HTTPS first (FM-6.3, FM-4.3): the latest compacted snapshot, by its
 * immutable versioned URL (the browser may cache it forever), is applied before the socket opens,
 * so the handshake's state vector already covers it and the socket carries only the tail.
 */
import * as Y from 'yjs';

/** Origin of snapshot updates: not a local edit, so nothing to send back or count as pending. */
export const SNAPSHOT_ORIGIN = Symbol('concord-snapshot');

export interface LatestSnapshot {
  readonly version: number;
  readonly bytes?: number;
  readonly url?: string;
}

export async function loadLatestSnapshot(docId: string, doc: Y.Doc, fetchImpl: typeof fetch = (i, n) => fetch(i, n)): Promise<LatestSnapshot> {
  const res = await fetchImpl(`/api/docs/${encodeURIComponent(docId)}/snapshots/latest`, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  });
  if (!res.ok) throw new Error(`latest snapshot: HTTP ${res.status}`);
  const latest = (await res.json()) as LatestSnapshot;
  if (!latest.version || !latest.url) return { version: 0 };
  const body = await fetchImpl(latest.url, { credentials: 'same-origin' });
  if (!body.ok) throw new Error(`snapshot ${latest.version}: HTTP ${body.status}`);
  const state = new Uint8Array(await body.arrayBuffer());
  Y.applyUpdate(doc, state, SNAPSHOT_ORIGIN);
  return { version: latest.version, bytes: state.length, url: latest.url };
}
