/**
 * Opening a large document cold: the automerge-paper trace (259,778 keystrokes, 104,852 characters)
 * replayed into one Y.Doc, uploaded to each server, plus a short tail of later keystrokes; then a
 * fresh client opens it while no other client is connected. Concord: the latest snapshot over
 * HTTP(S) (GET /api/docs/:id/snapshots/latest, then the immutable version) and the tail over the
 * socket; the peers: everything over the socket, loaded by the server from its own persistence.
 */
import * as Y from 'yjs';
import { connectClient, type ConnectTarget, type LoadClient, type ServerKind } from '../lib/clients';
import { api, type CookieJar } from '../lib/concord-stack';
import { FIELD } from '../lib/latency';
import { median, round } from '../lib/stats';

export interface LargeDocInput {
  readonly doc: Y.Doc;
  /** The same history as `batches` updates, in order (Concord's op log receives these). */
  readonly batches: readonly Uint8Array[];
  readonly ops: number;
}

export interface OpenResult {
  readonly kind: ServerKind;
  readonly opens: number;
  readonly openMs: number | null;
  readonly openMsAll: number[];
  readonly bytesHttp: number;
  readonly bytesSocketIn: number;
  readonly bytesSocketOut: number;
  readonly bytesTotal: number;
  readonly snapshotVersion?: number;
  readonly tailEntries?: number;
  readonly textLength: number;
  readonly problems: string[];
  readonly note?: string;
}

/** Replays the trace into `FIELD` and cuts its history into `count` merged updates. */
export function prepareLargeDoc(trace: { txns: readonly { patches: readonly [number, number, string][] }[] }, count: number): LargeDocInput {
  const doc = new Y.Doc();
  const text = doc.getText(FIELD);
  const batches: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => pending.push(u));
  const per = Math.ceil(trace.txns.length / count);
  let ops = 0;
  for (let i = 0; i < trace.txns.length; i++) {
    doc.transact(() => {
      for (const [pos, del, ins] of trace.txns[i].patches) {
        if (del) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
        ops++;
      }
    });
    if ((i + 1) % per === 0 || i === trace.txns.length - 1) {
      batches.push(Y.mergeUpdates(pending));
      pending = [];
    }
  }
  return { doc, batches, ops };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Types `count` keystrokes at the end of the document: the tail not yet in any snapshot. */
function typeTail(client: LoadClient, count: number): void {
  for (let i = 0; i < count; i++) client.edit((d) => d.getText(FIELD).insert(d.getText(FIELD).length, 'tail '[i % 5]));
}

export interface ServerForOpen {
  readonly kind: ServerKind;
  target(): ConnectTarget;
  /** Concord: HTTP origin and a signed-in owner. */
  readonly concord?: { origin: string; jar: CookieJar; docId: string };
}

export async function measureLargeOpen(server: ServerForOpen, input: LargeDocInput, options: { opens: number; tail: number; snapshotWaitMs: number; onProgress?: (l: string) => void }): Promise<OpenResult> {
  const problems: string[] = [];
  const uploader = await connectClient(`${server.kind}#uploader`, server.target(), { timeoutMs: 60_000 });
  let snapshotVersion: number | undefined;
  let tailEntries: number | undefined;
  let note: string | undefined;
  try {
    if (server.kind === 'concord') {
      // One message per batch, paced under the per-connection rate limit (50 messages/s).
      for (let i = 0; i < input.batches.length; i++) {
        uploader.edit((d) => Y.applyUpdate(d, input.batches[i]));
        await sleep(25);
        if (i % 50 === 0) options.onProgress?.(`${server.kind}: uploading the large document, ${i}/${input.batches.length} updates`);
      }
    } else {
      uploader.edit((d) => Y.applyUpdate(d, Y.encodeStateAsUpdate(input.doc)));
    }
    await waitFor(() => (uploader.unacknowledged() ?? 0) === 0, 300_000, `${server.kind} to acknowledge the upload`);
    if (server.concord) {
      const { origin, jar, docId } = server.concord;
      const deadline = performance.now() + options.snapshotWaitMs;
      for (;;) {
        const latest = await api<{ version: number }>(origin, jar, 'GET', `/api/docs/${docId}/snapshots/latest`);
        if (latest.version > 0) {
          snapshotVersion = latest.version;
          break;
        }
        if (performance.now() > deadline) {
          note = `no snapshot appeared within ${options.snapshotWaitMs} ms; the whole document came over the socket`;
          break;
        }
        await sleep(250);
      }
    }
    typeTail(uploader, options.tail);
    await waitFor(() => (uploader.unacknowledged() ?? 0) === 0, 120_000, `${server.kind} to acknowledge the tail`);
    if (server.kind === 'y-websocket') await sleep(300); // no acknowledgements: let the last frames land
  } finally {
    await uploader.close();
  }
  const expected = uploader.doc.getText(FIELD).toString();
  if (server.concord && snapshotVersion !== undefined) tailEntries = input.batches.length + options.tail - snapshotVersion;
  // Let the peers store and unload the document (Hocuspocus stores on the last disconnect).
  await sleep(1_500);

  const times: number[] = [];
  let bytesHttp = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (let i = 0; i < options.opens; i++) {
    const doc = new Y.Doc();
    const t0 = performance.now();
    let http = 0;
    if (server.concord) {
      const { origin, jar, docId } = server.concord;
      const res = await fetch(`${origin}/api/docs/${docId}/snapshots/latest`, { headers: { cookie: jar.header() } });
      const body = await res.text();
      http += Buffer.byteLength(body);
      const latest = JSON.parse(body) as { version: number; url?: string };
      if (latest.version > 0 && latest.url) {
        const snap = await fetch(new URL(latest.url, origin), { headers: { cookie: jar.header() } });
        const bytes = new Uint8Array(await snap.arrayBuffer());
        http += bytes.length;
        Y.applyUpdate(doc, bytes);
      }
    }
    const opener = await connectClient(`${server.kind}#opener`, server.target(), { doc, timeoutMs: 120_000 });
    try {
      await waitFor(() => doc.getText(FIELD).length === expected.length, 120_000, `${server.kind} to deliver the whole document`);
      times.push(performance.now() - t0);
      if (doc.getText(FIELD).toString() !== expected) problems.push(`${server.kind}: the opened document differs from what was uploaded`);
      bytesHttp = http;
      bytesIn = opener.traffic.bytesIn;
      bytesOut = opener.traffic.bytesOut;
    } finally {
      await opener.close();
    }
    options.onProgress?.(`${server.kind}: cold open ${i + 1}/${options.opens}: ${round(times[times.length - 1])} ms`);
    await sleep(500);
  }
  return {
    kind: server.kind,
    opens: times.length,
    openMs: times.length ? round(median(times)!) : null,
    openMsAll: times.map((t) => round(t)),
    bytesHttp,
    bytesSocketIn: bytesIn,
    bytesSocketOut: bytesOut,
    bytesTotal: bytesHttp + bytesIn + bytesOut,
    snapshotVersion,
    tailEntries,
    textLength: expected.length,
    problems,
    ...(note ? { note } : {}),
  };
}
