/**
 * The load generator: N clients on one document, each typing keystrokes from the automerge-paper
 * trace at its own line, at a Poisson rate per client, for a fixed time. Measures edit-to-peer
 * latency (local transaction until the update is applied at each other client), ack latency,
 * frames and bytes per update per recipient, and the server's CPU time per edit; then waits for
 * every acknowledgement and for convergence and verifies the outcome (bench/lib/verify.ts).
 */
import * as Y from 'yjs';
import { connectClient, type ConnectTarget, type LoadClient, type ServerKind, type Traffic } from './clients';
import { summarize, round, type Summary } from './stats';
import type { SequentialTrace } from './traces';
import { treeCpuMs } from './processes';
import { verifyRun, type VerifyResult } from './verify';

export const FIELD = 'bench';

/** Edit-to-peer latency: which sender edits each receiver has applied, by the sender's clock. */
export class LatencyTracker {
  private readonly sends = new Map<number, { clock: number; t: number }[]>();
  private readonly seen = new Map<Y.Doc, Map<number, number>>();
  readonly samples: number[] = [];

  recordSend(clientId: number, clock: number, t: number): void {
    const list = this.sends.get(clientId) ?? [];
    list.push({ clock, t });
    this.sends.set(clientId, list);
  }

  /** `update` has just been applied to `doc` (the receiver). */
  onRemoteUpdate(doc: Y.Doc, update: Uint8Array): void {
    const now = performance.now();
    const { to } = Y.parseUpdateMeta(update);
    let seen = this.seen.get(doc);
    if (!seen) this.seen.set(doc, (seen = new Map()));
    for (const client of to.keys()) {
      const list = this.sends.get(client);
      if (!list) continue;
      const state = Y.getState(doc.store, client);
      let i = seen.get(client) ?? 0;
      while (i < list.length && list[i].clock <= state) this.samples.push(now - list[i++].t);
      seen.set(client, i);
    }
  }
}

/** Deterministic PRNG (mulberry32), so every server gets the same keystrokes at the same rhythm. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LoadTarget {
  readonly kind: ServerKind;
  target(index: number): ConnectTarget;
  /** The server's pid (CPU accounting of its process tree). */
  readonly pid: number;
  /** Concord: the stored document read back by a fresh client after the writers left. */
  readStored?: () => Promise<Y.Doc>;
}

export interface LoadOptions {
  readonly clients: number;
  /** Keystrokes per second per client. */
  readonly ratePerClient: number;
  readonly durationMs: number;
  readonly trace: SequentialTrace;
  readonly seed: number;
  readonly settleTimeoutMs: number;
  readonly onProgress?: (line: string) => void;
}

export interface LoadResult {
  readonly kind: ServerKind;
  readonly clients: number;
  readonly ratePerClient: number;
  readonly edits: number;
  readonly typingMs: number;
  readonly settleMs: number;
  readonly editToPeerMs: Summary;
  readonly ackMs: Summary | null;
  readonly serverCpuUsPerEdit: number;
  readonly framesPerUpdatePerRecipient: number | null;
  readonly bytesPerUpdatePerRecipient: number | null;
  readonly bytesSentPerEdit: number;
  readonly clientErrors: string[];
  readonly verify: VerifyResult;
  readonly finalTextLength: number;
}

const sumTraffic = (clients: readonly LoadClient[]): Traffic =>
  clients.reduce(
    (s, c) => {
      for (const k of Object.keys(s) as (keyof Traffic)[]) s[k] += c.traffic[k];
      return s;
    },
    { framesIn: 0, bytesIn: 0, updateFramesIn: 0, updateBytesIn: 0, ackFramesIn: 0, framesOut: 0, bytesOut: 0 },
  );

async function waitUntil(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const svKey = (doc: Y.Doc) => Buffer.from(Y.encodeStateVector(doc)).toString('base64');

function converged(clients: readonly LoadClient[]): boolean {
  const first = svKey(clients[0].doc);
  return clients.every((c) => svKey(c.doc) === first) && clients.every((c) => c.doc.getText(FIELD).length === clients[0].doc.getText(FIELD).length);
}

export async function runLoad(target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const { clients: n, trace } = options;
  const clients: LoadClient[] = [];
  const reader: LoadClient[] = [];
  try {
    // Connect in small groups: a burst of 50 handshakes is a different benchmark.
    for (let i = 0; i < n; i += 5) {
      const group = await Promise.all(Array.from({ length: Math.min(5, n - i) }, (_, k) => connectClient(`${target.kind}#${i + k}`, target.target(i + k))));
      clients.push(...group);
    }
    // One line per client; each types at the end of its own line.
    const seed = Array.from({ length: n }, (_, i) => `line ${i}: \n`).join('');
    clients[0].edit((doc) => doc.getText(FIELD).insert(0, seed));
    if (!(await waitUntil(() => clients.every((c) => c.doc.getText(FIELD).length === seed.length) && clients.every((c) => (c.unacknowledged() ?? 0) === 0), options.settleTimeoutMs))) {
      throw new Error(`${target.kind}: the seed text did not reach every client within ${options.settleTimeoutMs} ms`);
    }
    const cursors = clients.map((c, i) => {
      const text = c.doc.getText(FIELD).toString();
      let idx = -1;
      for (let k = 0; k <= i; k++) idx = text.indexOf('\n', idx + 1);
      return Y.createRelativePositionFromTypeIndex(c.doc.getText(FIELD), idx);
    });

    const tracker = new LatencyTracker();
    for (const c of clients) c.onRemoteUpdate = (u) => tracker.onRemoteUpdate(c.doc, u);
    const before = sumTraffic(clients);
    const ackBefore = clients.map((c) => c.ackLatencies.length);
    const cpuBefore = treeCpuMs(target.pid);
    const random = seededRandom(options.seed);
    let edits = 0;
    const t0 = performance.now();
    const typing = clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          let k = (i * 7919) % trace.txns.length;
          const tick = () => {
            if (performance.now() - t0 >= options.durationMs) return resolve();
            const [, del, ins] = trace.txns[k].patches[0] ?? [0, 0, ''];
            k = (k + 1) % trace.txns.length;
            const sent = client.edit((doc) => {
              const text = doc.getText(FIELD);
              const at = Y.createAbsolutePositionFromRelativePosition(cursors[i], doc)?.index ?? text.length;
              if (ins) text.insert(at, ins.replace(/\n/g, ' '));
              else if (del && at > 0 && text.toString()[at - 1] !== '\n') text.delete(at - 1, 1);
            });
            edits++;
            if (sent) tracker.recordSend(client.doc.clientID, sent.clock, sent.t);
            setTimeout(tick, -Math.log(1 - random()) * (1000 / options.ratePerClient));
          };
          setTimeout(tick, random() * (1000 / options.ratePerClient));
        }),
    );
    const progress = setInterval(() => options.onProgress?.(`${target.kind} ${n} clients: ${edits} edits, ${tracker.samples.length} deliveries`), 2_000);
    await Promise.all(typing);
    clearInterval(progress);
    const typingMs = performance.now() - t0;
    const settled = await waitUntil(() => clients.every((c) => (c.unacknowledged() ?? 0) === 0) && converged(clients), options.settleTimeoutMs);
    const settleMs = performance.now() - t0 - typingMs;
    const cpuMs = treeCpuMs(target.pid) - cpuBefore;
    const after = sumTraffic(clients);
    const recipients = edits * (n - 1);

    let stored: Y.Doc | null = null;
    if (target.readStored) {
      for (const c of clients) await c.close();
      stored = await target.readStored();
    } else {
      // The peers keep the document in memory: a late joiner must get the same state.
      const late = await connectClient(`${target.kind}#reader`, target.target(n));
      reader.push(late);
      await waitUntil(() => (late.unacknowledged() ?? 0) === 0 && converged([...clients, late]), 10_000);
    }
    const verify = verifyRun({
      clients: [...clients, ...reader].map((c) => ({ name: c.name, doc: c.doc, ackedRanges: c.ackedRanges(), unacknowledged: c.unacknowledged() })),
      stored,
      field: FIELD,
    });
    if (!settled) verify.problems.unshift(`not settled within ${options.settleTimeoutMs} ms after typing stopped`);
    const ackSamples = clients.flatMap((c, i) => c.ackLatencies.slice(ackBefore[i]));
    return {
      kind: target.kind,
      clients: n,
      ratePerClient: options.ratePerClient,
      edits,
      typingMs: round(typingMs),
      settleMs: round(settleMs),
      editToPeerMs: summarize(tracker.samples),
      ackMs: target.kind === 'y-websocket' ? null : summarize(ackSamples),
      serverCpuUsPerEdit: round((cpuMs * 1000) / Math.max(1, edits), 1),
      framesPerUpdatePerRecipient: recipients ? round((after.updateFramesIn - before.updateFramesIn) / recipients, 3) : null,
      bytesPerUpdatePerRecipient: recipients ? round((after.updateBytesIn - before.updateBytesIn) / recipients, 1) : null,
      bytesSentPerEdit: round((after.bytesOut - before.bytesOut) / Math.max(1, edits), 1),
      clientErrors: [...new Set(clients.flatMap((c) => c.errors))].slice(0, 10),
      verify: { ok: verify.problems.length === 0, problems: verify.problems },
      finalTextLength: clients[0].doc.getText(FIELD).length,
    };
  } finally {
    for (const c of [...clients, ...reader]) await c.close().catch(() => undefined);
  }
}
