/**
 * A deterministic simulation of one document edited by N clients through the real core:
 * ClientSession on each client, handleFrame / fanoutDocument / compact on the server, over the
 * in-memory ports. Every step is chosen by fast-check, so a failing run is replayable and shrinks:
 *
 * - the network: client→server and server→client frames are delivered in any order, duplicated,
 *   or lost when a socket drops (frames already handed to the gateway may still be processed);
 * - the server: every port call waits at a gate, and the generated schedule decides which waiting
 *   call proceeds next, so handleFrame, fan-out and compactions interleave between their awaits
 *   (a compaction can read the snapshot, then see appends and other compactions before it reads
 *   the log, commits and deletes);
 * - the stream: op-log records reach fan-out in batches, out of order, or more than once.
 *
 * Invariants checked (BLUEPRINT §3): every acknowledged update is in the stored state after every
 * step; sequence numbers are never reused and never written at or below one already readable; at
 * the end every client and the stored document (snapshot + op log) are identical; no client ever
 * received an ERROR.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { ClientSession } from '../../../lambdas/core/client-session';
import { compact, loadDocument } from '../../../lambdas/core/document';
import { resilientCache } from '../../../lambdas/core/cache';
import { MemoryBroadcaster, MemoryChunkStore, MemoryConnections, MemoryOpLog, MemorySnapshotStore } from '../../../lambdas/core/memory';
import type { AppendInput, Connection, OpLog, OpLogEntry, SnapshotStore } from '../../../lambdas/core/ports';
import { decodeFrame, decodeMessage, messageRef } from '../../../lambdas/core/protocol';
import { fanoutDocument, handleFrame, type SessionDeps } from '../../../lambdas/core/session';
import { ManualClock } from '../../support/memory-server';

export type CompactFn = typeof compact;

export type Action =
  | { readonly kind: 'edit'; readonly client: number; readonly pos: number; readonly text: string; readonly del: number }
  | { readonly kind: 'bigEdit'; readonly client: number; readonly kilobytes: number }
  | { readonly kind: 'send'; readonly client: number; readonly pick: number; readonly dup: boolean }
  | { readonly kind: 'receive'; readonly client: number; readonly pick: number; readonly dup: boolean }
  | { readonly kind: 'fanout'; readonly skip: number; readonly count: number; readonly dup: boolean }
  | { readonly kind: 'compact' }
  | { readonly kind: 'step'; readonly picks: readonly number[] }
  | { readonly kind: 'drop'; readonly client: number; readonly lose: boolean }
  | { readonly kind: 'reconnect'; readonly client: number };

export interface Scenario {
  readonly clients: number;
  readonly warm: boolean;
  readonly actions: readonly Action[];
}

export interface ScenarioOptions {
  readonly maxClients?: number;
  readonly maxActions?: number;
  /** Relative weight of 40-70 KB inserts, which are chunked both ways (0 = none). */
  readonly bigEditWeight?: number;
  readonly compactWeight?: number;
  readonly dropWeight?: number;
}

export function scenarioArbitrary(options: ScenarioOptions = {}): fc.Arbitrary<Scenario> {
  const maxClients = options.maxClients ?? 4;
  const client = fc.nat({ max: maxClients - 1 });
  const pick = fc.nat({ max: 1000 });
  const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
  const action: fc.Arbitrary<Action> = fc.oneof(
    weighted(8, fc.record({ kind: fc.constant('edit' as const), client, pos: pick, text: fc.string({ minLength: 0, maxLength: 6 }), del: fc.nat({ max: 4 }) })),
    weighted(options.bigEditWeight ?? 0, fc.record({ kind: fc.constant('bigEdit' as const), client, kilobytes: fc.integer({ min: 40, max: 70 }) })),
    weighted(8, fc.record({ kind: fc.constant('send' as const), client, pick, dup: fc.nat({ max: 5 }).map((n) => n === 0) })),
    weighted(8, fc.record({ kind: fc.constant('receive' as const), client, pick, dup: fc.boolean() })),
    weighted(4, fc.record({ kind: fc.constant('fanout' as const), skip: pick, count: fc.integer({ min: 1, max: 4 }), dup: fc.boolean() })),
    weighted(options.compactWeight ?? 3, fc.constant({ kind: 'compact' as const })),
    weighted(10, fc.record({ kind: fc.constant('step' as const), picks: fc.array(pick, { minLength: 1, maxLength: 10 }) })),
    weighted(options.dropWeight ?? 1, fc.record({ kind: fc.constant('drop' as const), client, lose: fc.boolean() })),
    weighted(options.dropWeight ?? 1, fc.record({ kind: fc.constant('reconnect' as const), client })),
  );
  return fc.record({
    clients: fc.integer({ min: 2, max: maxClients }),
    warm: fc.boolean(),
    actions: fc.array(action, { minLength: 5, maxLength: options.maxActions ?? 100, size: 'max' }),
  });
}

/** Holds every port call until the schedule releases it. */
class Interleaver {
  private readonly waiting: (() => void)[] = [];
  readonly gate = (): Promise<void> => new Promise((resolve) => this.waiting.push(resolve));
  get pending(): number {
    return this.waiting.length;
  }
  /** Lets one waiting call proceed, then runs everything it unblocks up to the next gate. */
  async release(pick: number): Promise<boolean> {
    if (this.waiting.length === 0) return false;
    const [resolve] = this.waiting.splice(pick % this.waiting.length, 1);
    resolve();
    await settle();
    return true;
  }
}

/** setImmediate runs after the microtask queue is empty: every unblocked continuation has run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function gated<T extends object>(target: T, gate: () => Promise<void>): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const value = Reflect.get(t, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await gate();
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/**
 * Records every seq handed out and checks BLUEPRINT invariant 3 on each append: a seq is never
 * reused and never at or below one already readable (any seq ever appended or read was readable).
 */
export class CheckedOpLog implements OpLog {
  readonly violations: string[] = [];
  readonly stream: OpLogEntry[] = [];
  private readonly used = new Set<number>();
  private maxReadable = 0;
  get appended(): number {
    return this.used.size;
  }
  constructor(private readonly inner: OpLog) {}
  async append(docId: string, input: AppendInput): Promise<OpLogEntry> {
    const entry = await this.inner.append(docId, input);
    if (this.used.has(entry.seq)) this.violations.push(`seq ${entry.seq} reused`);
    if (entry.seq <= this.maxReadable) this.violations.push(`seq ${entry.seq} written at or below readable seq ${this.maxReadable}`);
    this.used.add(entry.seq);
    this.seen([entry]);
    this.stream.push(entry);
    return entry;
  }
  async readAll(docId: string): Promise<OpLogEntry[]> {
    return this.seen(await this.inner.readAll(docId));
  }
  async readSince(docId: string, afterSeq: number): Promise<OpLogEntry[]> {
    return this.seen(await this.inner.readSince(docId, afterSeq));
  }
  remove(docId: string, seqs: readonly number[]): Promise<void> {
    return this.inner.remove(docId, seqs);
  }
  private seen(entries: OpLogEntry[]): OpLogEntry[] {
    for (const e of entries) if (e.seq > this.maxReadable) this.maxReadable = e.seq;
    return entries;
  }
}

type Ranges = Map<number, [number, number][]>;

const addRange = (ranges: Ranges, client: number, start: number, end: number) => {
  const list = ranges.get(client) ?? [];
  list.push([start, end]);
  ranges.set(client, list);
};

/** Sorts and merges adjacent or overlapping ranges, so containment is one lookup. */
const normalize = (ranges: Ranges): Ranges => {
  for (const [client, list] of ranges) {
    list.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of list) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    ranges.set(client, merged);
  }
  return ranges;
};

/**
 * What an update contains: its struct ranges (by client and clock) and its deleted ranges. Works
 * on updates whose dependencies are missing too (pending structs are still structs in the update),
 * so an update stored out of order still counts as present.
 */
export function coverage(update: Uint8Array): { structs: Ranges; deletes: Ranges } {
  const decoded = Y.decodeUpdate(update);
  const structs: Ranges = new Map();
  for (const s of decoded.structs) if (!(s instanceof Y.Skip)) addRange(structs, s.id.client, s.id.clock, s.id.clock + s.length);
  const deletes: Ranges = new Map();
  for (const [client, items] of decoded.ds.clients) for (const item of items) addRange(deletes, client, item.clock, item.clock + item.len);
  return { structs: normalize(structs), deletes: normalize(deletes) };
}

const contains = (outer: Ranges, inner: Ranges): boolean => {
  for (const [client, list] of inner) {
    const have = outer.get(client) ?? [];
    for (const [start, end] of list) if (!have.some(([s, e]) => s <= start && end <= e)) return false;
  }
  return true;
};

interface Acked {
  readonly seq: number;
  readonly ref: string;
  readonly cover: ReturnType<typeof coverage>;
}

interface SimClient {
  readonly index: number;
  readonly doc: Y.Doc;
  readonly session: ClientSession;
  connection: Connection | null;
  generation: number;
  /** Frames handed to the network, with the connection they were sent on. */
  readonly outbox: { connection: Connection; frame: string }[];
  inbox: string[];
  /** Our own reassembly of what this client sent, to know which update an ack refers to. */
  readonly sentByRef: Map<string, Uint8Array>;
  readonly outgoingChunks: Map<string, Uint8Array[]>;
}

export interface SimulationResult {
  readonly acked: number;
  readonly entriesAppended: number;
  readonly compactions: number;
  readonly chunkedFrames: number;
  /** Sequence-invariant violations of the op log (only non-zero with checkSequences: false). */
  readonly sequenceViolations: number;
}

const DOC_ID = 'doc';

/**
 * Runs one scenario and throws (with a sentence saying which invariant broke) if any invariant
 * fails. `compactFn` defaults to the real compaction; tests pass broken variants to show the
 * checks catch them; `makeOpLog` likewise lets a test swap in a broken op log.
 */
export async function runScenario(
  scenario: Scenario,
  compactFn: CompactFn = compact,
  /** Gets the schedule's gate, so an op log can have await points inside its own operations. */
  makeOpLog: (gate: () => Promise<void>) => OpLog = () => new MemoryOpLog(new ManualClock()),
  options: { readonly checkSequences?: boolean } = {},
): Promise<SimulationResult> {
  const clock = new ManualClock();
  const interleaver = new Interleaver();
  const opLog = new CheckedOpLog(makeOpLog(interleaver.gate));
  const snapshots = new MemorySnapshotStore();
  const connections = new MemoryConnections();
  const broadcaster = new MemoryBroadcaster();
  const chunks = new MemoryChunkStore();
  const gatedOpLog = gated<OpLog>(opLog, interleaver.gate);
  const gatedSnapshots = gated<SnapshotStore>(snapshots, interleaver.gate);
  const deps: SessionDeps = {
    opLog: gatedOpLog,
    snapshots: gatedSnapshots,
    connections: gated(connections, interleaver.gate),
    broadcaster,
    chunks: gated(chunks, interleaver.gate),
    cache: resilientCache(null, { clock }),
    clock,
    rateLimitPerSecond: 1_000_000,
  };

  const failures: string[] = [];
  const clientErrors: string[] = [];
  const acked: Acked[] = [];
  const tasks = new Set<Promise<unknown>>();
  let compactions = 0;
  let chunkedFrames = 0;
  const track = (label: string, promise: Promise<unknown>) => {
    const p = promise.then(
      () => undefined,
      (e: unknown) => {
        failures.push(`${label} threw: ${(e as Error).stack ?? e}`);
      },
    );
    tasks.add(p);
    void p.finally(() => tasks.delete(p));
  };

  const clients: SimClient[] = [];
  const connect = async (c: SimClient) => {
    c.generation++;
    const connection: Connection = {
      connectionId: `c${c.index}g${c.generation}`,
      docId: DOC_ID,
      userId: `user${c.index}`,
      role: 'editor',
      connectedAt: clock.now(),
      tokenExpiresAt: clock.now() + 3_600_000,
    };
    // $connect registers the socket before any frame of it is processed.
    await connections.put(connection);
    c.connection = connection;
    c.outgoingChunks.clear();
    c.session.connected((frame) => {
      c.outbox.push({ connection, frame });
      trackOutgoing(c, frame);
    });
  };
  const trackOutgoing = (c: SimClient, frame: string) => {
    let { message, bytes } = decodeFrame(frame);
    if (message.type === 'chunk') {
      chunkedFrames++;
      const pieces = c.outgoingChunks.get(message.id) ?? [];
      pieces[message.index] = message.piece;
      c.outgoingChunks.set(message.id, pieces);
      if (pieces.filter(Boolean).length < message.count) return;
      c.outgoingChunks.delete(message.id);
      bytes = Buffer.concat(pieces);
      message = decodeMessage(bytes);
    }
    if (message.type === 'sync-step2' || message.type === 'sync-update') c.sentByRef.set(messageRef(bytes), message.update);
  };
  const drop = async (c: SimClient, lose: boolean) => {
    if (!c.connection) return;
    // $disconnect: the gateway forgets the socket; frames already received may still be handled.
    broadcaster.gone.add(c.connection.connectionId);
    await connections.delete(c.connection.connectionId);
    c.connection = null;
    if (lose) c.outbox.length = 0;
    c.inbox = [];
    c.session.disconnected();
  };

  for (let i = 0; i < scenario.clients; i++) {
    const doc = new Y.Doc();
    doc.clientID = i + 1; // deterministic replays
    const client: SimClient = {
      index: i,
      doc,
      connection: null,
      generation: 0,
      outbox: [],
      inbox: [],
      sentByRef: new Map(),
      outgoingChunks: new Map(),
      session: undefined as unknown as ClientSession,
    };
    (client as { session: ClientSession }).session = new ClientSession(doc, null, {
      retryDelayMs: 1,
      events: {
        error: (code, message) => clientErrors.push(`client ${i}: ${code} ${message}`),
        ack: (seq, ref) => {
          const update = client.sentByRef.get(ref);
          if (seq > 0 && update) acked.push({ seq, ref, cover: coverage(update) });
        },
      },
    });
    clients.push(client);
    await connect(client);
  }

  const collectDownstream = () => {
    for (const c of clients) if (c.connection) c.inbox.push(...broadcaster.take(c.connection.connectionId));
  };

  /** BLUEPRINT invariant 1, checked against the durable state at this instant. */
  const checkAckedPresent = async (when: string) => {
    if (acked.length === 0) return;
    // Raw ports: an instantaneous read (gated effects only happen when the schedule says so).
    const { doc } = await loadDocument(DOC_ID, opLog, snapshots);
    const stored = coverage(Y.encodeStateAsUpdate(doc));
    doc.destroy();
    for (const a of acked) {
      if (!contains(stored.structs, a.cover.structs) || !contains(stored.deletes, a.cover.deletes)) {
        failures.push(`${when}: acknowledged update seq ${a.seq} (ref ${a.ref}) is missing from the stored document`);
        return;
      }
    }
  };

  const deliverUp = (c: SimClient, index: number, dup: boolean) => {
    const item = dup ? c.outbox[index] : c.outbox.splice(index, 1)[0];
    track(`handleFrame(${item.connection.connectionId})`, handleFrame(deps, item.connection, item.frame));
  };
  const deliverDown = async (c: SimClient, index: number, dup: boolean) => {
    const frame = dup ? c.inbox[index] : c.inbox.splice(index, 1)[0];
    await c.session.receive(frame);
  };
  const fanout = (skip: number, count: number, dup: boolean) => {
    const start = skip % opLog.stream.length;
    const batch = dup ? opLog.stream.slice(start, start + count) : opLog.stream.splice(start, count);
    track('fanout', fanoutDocument(deps, DOC_ID, batch));
  };
  const startCompaction = () => {
    compactions++;
    track('compact', compactFn(DOC_ID, gatedOpLog, gatedSnapshots, { clock }));
  };
  /** Runs every started task to completion, first come first served. */
  const drainTasks = async () => {
    for (let guard = 0; tasks.size > 0; guard++) {
      if (guard > 100_000) throw new Error('simulation did not quiesce: tasks stuck without waiting on a port');
      if (!(await interleaver.release(0))) await settle();
    }
  };

  async function deliverUntilSaved() {
    let rounds = 0;
    for (; rounds < 50 && failures.length === 0; rounds++) {
      collectDownstream();
      const busy = clients.some((c) => c.outbox.length || c.inbox.length || !c.session.isSaved) || opLog.stream.length > 0;
      if (!busy) break;
      for (const c of clients) while (c.inbox.length) await deliverDown(c, 0, false);
      for (const c of clients) while (c.outbox.length) deliverUp(c, 0, false);
      if (opLog.stream.length) fanout(0, opLog.stream.length, false);
      await drainTasks();
    }
    if (rounds >= 50) failures.push('the clients did not settle within 50 delivery rounds');
  }

  // A warm start begins with every handshake done, so more of the session is live editing.
  if (scenario.warm) await deliverUntilSaved();

  for (const action of scenario.actions) {
    const c = 'client' in action ? clients[action.client % clients.length] : undefined;
    switch (action.kind) {
      case 'edit': {
        const text = c!.doc.getText('t');
        const pos = action.pos % (text.length + 1);
        if (action.del > 0 && pos < text.length) text.delete(pos, Math.min(action.del, text.length - pos));
        if (action.text) text.insert(pos % (text.length + 1), action.text);
        break;
      }
      case 'bigEdit': {
        const text = c!.doc.getText('t');
        text.insert(text.length, String.fromCharCode(97 + c!.index).repeat(action.kilobytes * 1024));
        break;
      }
      case 'send':
        if (c!.outbox.length) deliverUp(c!, action.pick % c!.outbox.length, action.dup);
        break;
      case 'receive':
        if (c!.inbox.length) await deliverDown(c!, action.pick % c!.inbox.length, action.dup);
        break;
      case 'fanout':
        if (opLog.stream.length) fanout(action.skip, action.count, action.dup);
        break;
      case 'compact':
        startCompaction();
        break;
      case 'step':
        for (const p of action.picks) await interleaver.release(p);
        await checkAckedPresent('during the session');
        break;
      case 'drop':
        await drop(c!, action.lose);
        break;
      case 'reconnect':
        if (!c!.connection) await connect(c!);
        break;
    }
    collectDownstream();
    if (failures.length) break;
  }

  // Quiesce: finish in-flight work, reconnect everyone, then deliver everything in order until
  // nothing moves and every client reports "saved".
  await drainTasks();
  await checkAckedPresent('after the session');
  for (const c of clients) if (!c.connection) await connect(c);
  await deliverUntilSaved();
  // A last compaction must not lose anything either.
  startCompaction();
  await drainTasks();
  await checkAckedPresent('after the final compaction');

  const { doc: stored } = await loadDocument(DOC_ID, opLog, snapshots);
  if (stored.store.pendingStructs || stored.store.pendingDs) failures.push('the stored document has updates whose dependencies were never stored');
  const storedText = stored.getText('t').toString();
  const storedSnapshot = Y.snapshot(stored);
  for (const c of clients) {
    if (c.doc.getText('t').toString() !== storedText) failures.push(`client ${c.index} text differs from the stored document`);
    else if (!Y.equalSnapshots(Y.snapshot(c.doc), storedSnapshot)) failures.push(`client ${c.index} state (state vector or deletions) differs from the stored document`);
    c.session.destroy();
    c.doc.destroy();
  }
  stored.destroy();
  if (options.checkSequences !== false) failures.push(...opLog.violations);
  if (clientErrors.length) failures.push(`clients received errors: ${clientErrors.slice(0, 3).join('; ')}`);
  if (failures.length) throw new Error(failures.join('\n'));
  return { acked: acked.length, entriesAppended: opLog.appended, compactions, chunkedFrames, sequenceViolations: opLog.violations.length };
}
