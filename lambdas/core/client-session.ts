/**
 * The client half of the protocol, transport-agnostic: the browser provider (web/), the Node test
 * clients, benchmarks and the soak test all drive one of these. It knows which local updates the
 * server has acknowledged (by message ref, no clocks, no ids), so a status of "Saved" is true.
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { acceptChunk } from './chunks';
import { MemoryChunkStore } from './memory';
import { decodeFrame, decodeMessage, encodeFrames, encodeMessage, messageRef, type Message } from './protocol';

export interface ClientSessionEvents {
  /** The first server step 2 after (re)connecting has been applied. */
  synced?: () => void;
  /** The number of local changes not yet acknowledged changed. */
  pending?: (count: number) => void;
  /** The server refused something (code from errors.ts). */
  error?: (code: string, message: string) => void;
  /** The token expired mid-socket: refresh it and reconnect. */
  reauth?: (reason: string) => void;
  /** An ack arrived (seq 0 = nothing needed storing). */
  ack?: (seq: number, ref: string) => void;
  /** A remote update waited too long for one it depends on: the session asked the server for a diff. */
  resync?: () => void;
}

export interface ClientSessionOptions {
  /** Delay before resending an update the server could not store ('unavailable'). */
  readonly retryDelayMs?: number;
  /**
   * Coalesce local changes made within this many milliseconds into one message (Y.mergeUpdates),
   * and presence changes into their latest state: a fast typist then sends a few messages a
   * second instead of two per keystroke, well under the per-connection rate limit (FM-1.8).
   * While a batch is unacknowledged the next one keeps growing (up to `maxHoldMs`), so a slow
   * server gets fewer, larger messages instead of a growing queue.
   * 0 (the default) sends every change at once.
   */
  readonly batchMs?: number;
  /** Longest a batch waits for the previous one's acknowledgement (default 2000 ms). */
  readonly maxHoldMs?: number;
  /**
   * How long a remote update may wait for one it depends on before the session asks the server
   * for everything it lacks (sync step 1 with its state vector; default 2000 ms, doubling while
   * the gap stays open). Deliveries can arrive out of order, so a short wait avoids needless
   * resyncs; a delivery that was lost for good (a fan-out that gave up) is recovered without
   * waiting for a reconnect.
   */
  readonly gapResyncMs?: number;
  readonly events?: ClientSessionEvents;
}

/** The transaction origin of changes applied from the server (so local-only hooks can skip them). */
export const REMOTE_ORIGIN = Symbol('concord-remote');
const REMOTE = REMOTE_ORIGIN;

/** Errors without a ref after which every unacknowledged message is resent. */
const RESEND_ALL_CODES = new Set(['unavailable', 'chunk_incomplete', 'chunk_inconsistent']);

export class ClientSession {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness | null;
  /** Sent but not yet acknowledged updates, by ref; kept to resend after 'unavailable'. */
  private readonly pending = new Map<string, Uint8Array>();
  /** Local changes made while disconnected; they go out in our step 2 of the next handshake. */
  private offlineChanges = 0;
  /** Our step 2 has been sent in answer to the server's step 1 on this connection. */
  private handshakeDone = false;
  private transport: ((frame: string) => void) | null = null;
  private chunks = new MemoryChunkStore();
  private synced = false;
  private readonly events: ClientSessionEvents;
  private readonly retryDelayMs: number;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private resendAllScheduled = false;
  private resendAllFailures = 0;
  private readonly batchMs: number;
  /** Local updates waiting for the batch window to close (counted as pending). */
  private batch: Uint8Array[] = [];
  private batchTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxHoldMs: number;
  /** How long the current batch has waited for an acknowledgement (counted in windows, no clock). */
  private heldMs = 0;
  private awarenessTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly gapResyncMs: number;
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  /** Resyncs asked for while the same gap stayed open (for the backoff). */
  private gapResyncs = 0;

  constructor(doc: Y.Doc, awareness: awarenessProtocol.Awareness | null, options: ClientSessionOptions = {}) {
    this.doc = doc;
    this.awareness = awareness;
    this.events = options.events ?? {};
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.batchMs = Math.max(0, options.batchMs ?? 0);
    this.maxHoldMs = Math.max(0, options.maxHoldMs ?? 2000);
    this.gapResyncMs = Math.max(0, options.gapResyncMs ?? 2000);
    doc.on('update', this.onDocUpdate);
    awareness?.on('update', this.onAwarenessUpdate);
  }

  get isSynced(): boolean {
    return this.synced;
  }
  get pendingCount(): number {
    return this.pending.size + this.offlineChanges + this.batch.length;
  }
  /** True when connected, synced and every local change is acknowledged. */
  get isSaved(): boolean {
    return this.transport !== null && this.synced && this.handshakeDone && this.pendingCount === 0;
  }

  /** The socket opened: start the handshake with our state vector. */
  connected(send: (frame: string) => void): void {
    this.transport = send;
    this.synced = false;
    this.chunks = new MemoryChunkStore();
    this.handshakeDone = false;
    // Whatever was in flight is covered by our step 2 in the handshake.
    this.offlineChanges += this.pending.size;
    this.pending.clear();
    this.emitPending();
    this.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(this.doc) });
    if (this.awareness) {
      this.send({ type: 'query-awareness' });
      if (this.awareness.getLocalState() !== null) {
        this.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]) });
      }
    }
  }

  /** The socket closed. Local edits keep accumulating and go out in the next handshake. */
  disconnected(): void {
    this.transport = null;
    this.dropBatch();
    this.clearGapTimer();
    this.synced = false;
    this.handshakeDone = false;
    this.offlineChanges += this.pending.size;
    this.pending.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.resendAllScheduled = false;
    if (this.awareness) {
      const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID);
      awarenessProtocol.removeAwarenessStates(this.awareness, others, REMOTE);
    }
    this.emitPending();
  }

  /** One text frame from the server. Malformed frames are reported, never thrown. */
  async receive(frame: string): Promise<void> {
    let message: Message;
    try {
      message = decodeFrame(frame).message;
      if (message.type === 'chunk') {
        const bytes = await acceptChunk(this.chunks, 'server', message);
        if (!bytes) return;
        message = decodeMessage(bytes);
      }
    } catch (e) {
      this.events.error?.('bad_message', (e as Error).message);
      return;
    }
    switch (message.type) {
      case 'sync-step2':
      case 'sync-update':
        try {
          Y.applyUpdate(this.doc, message.update, REMOTE);
        } catch (e) {
          this.events.error?.('bad_update', (e as Error).message);
          return;
        }
        if (message.type === 'sync-step2' && !this.synced) {
          this.synced = true;
          this.events.synced?.();
        }
        this.watchForGap();
        break;
      case 'sync-step1': {
        // The server's state vector: answer with everything it lacks (offline edits included).
        const diff = Y.encodeStateAsUpdate(this.doc, message.stateVector);
        this.offlineChanges = 0;
        this.handshakeDone = true;
        this.sendUpdate({ type: 'sync-step2', update: diff });
        break;
      }
      case 'awareness':
        if (this.awareness) awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, REMOTE);
        break;
      case 'ack':
        this.resendAllFailures = 0;
        this.pending.delete(message.ref);
        this.events.ack?.(message.seq, message.ref);
        this.emitPending();
        if (this.batchTimer && this.pending.size === 0) {
          // A batch was waiting for this acknowledgement: send it now.
          clearTimeout(this.batchTimer);
          this.flushBatch();
        }
        break;
      case 'error': {
        const update = message.ref ? this.pending.get(message.ref) : undefined;
        if (update && (message.code === 'unavailable' || message.code === 'rate_limited')) {
          this.resendLater([message.ref]);
        } else if (!message.ref && RESEND_ALL_CODES.has(message.code)) {
          // The server could not tell which message failed (a chunk set, or a failure before the
          // message was decoded): resend everything unacknowledged; updates are idempotent.
          this.resendAllLater();
        } else if (update) {
          this.pending.delete(message.ref);
          this.emitPending();
        }
        this.events.error?.(message.code, message.message);
        break;
      }
      case 'reauth':
        this.events.reauth?.(message.reason);
        break;
      default:
        break;
    }
  }

  destroy(): void {
    this.dropBatch();
    this.clearGapTimer();
    this.doc.off('update', this.onDocUpdate);
    this.awareness?.off('update', this.onAwarenessUpdate);
    for (const t of this.timers) clearTimeout(t);
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === REMOTE) return;
    if (!this.transport || !this.handshakeDone) {
      // Before our step 2 is sent it will carry this change too.
      this.offlineChanges++;
      this.emitPending();
      return;
    }
    if (this.batchMs === 0) {
      this.sendUpdate({ type: 'sync-update', update });
      return;
    }
    this.batch.push(update);
    this.emitPending();
    this.batchTimer ??= setTimeout(this.flushBatch, this.batchMs);
  };

  private readonly flushBatch = () => {
    this.batchTimer = null;
    if (this.batch.length === 0 || !this.transport) return;
    if (this.pending.size > 0 && this.heldMs < this.maxHoldMs) {
      // The previous batch is still unacknowledged: keep merging into this one.
      this.heldMs += this.batchMs;
      this.batchTimer = setTimeout(this.flushBatch, this.batchMs);
      return;
    }
    this.heldMs = 0;
    const updates = this.batch;
    this.batch = [];
    this.sendUpdate({ type: 'sync-update', update: updates.length === 1 ? updates[0] : Y.mergeUpdates(updates) });
  };

  /** True while Yjs holds remote changes back because something they build on never arrived. */
  private hasGap(): boolean {
    return this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null;
  }

  /**
   * After applying remote changes: if some of them wait for a change this client never received,
   * ask the server for a diff against our state vector once the gap has stayed open for a while.
   * The server's step 2 fills the gap; its step 1 is answered like any handshake's.
   */
  private watchForGap(): void {
    if (!this.hasGap()) {
      this.gapResyncs = 0;
      this.clearGapTimer();
      return;
    }
    if (this.gapTimer || !this.transport) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (!this.transport || !this.hasGap()) return;
      this.gapResyncs++;
      this.events.resync?.();
      this.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(this.doc) });
      // Still open after the answer (the server lacks it too, or the answer was lost): try again later.
      this.watchForGap();
    }, this.gapResyncMs * 2 ** Math.min(this.gapResyncs, 5));
  }

  private clearGapTimer(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  /** Batched changes not yet sent are in the document: the next handshake's step 2 carries them. */
  private dropBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    if (this.awarenessTimer) clearTimeout(this.awarenessTimer);
    this.batchTimer = this.awarenessTimer = null;
    this.heldMs = 0;
    this.offlineChanges += this.batch.length;
    this.batch = [];
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
    if (origin === REMOTE || !this.transport || !this.awareness) return;
    const changed = [...added, ...updated, ...removed].filter((id) => id === this.doc.clientID);
    if (!changed.length) return;
    // Leaving (local state removed) goes out at once; anything else may wait for the batch window.
    if (this.batchMs === 0 || this.awareness.getLocalState() === null) {
      this.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed) });
      return;
    }
    this.awarenessTimer ??= setTimeout(() => {
      this.awarenessTimer = null;
      if (this.transport && this.awareness) this.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]) });
    }, this.batchMs);
  };

  private sendUpdate(message: Message & { update: Uint8Array }): void {
    const bytes = encodeMessage(message);
    let frames: string[];
    try {
      frames = encodeFrames(bytes);
    } catch (e) {
      // Over LIMITS.updateBytes: it cannot be sent; it stays unsaved (never reported as saved).
      this.offlineChanges++;
      this.emitPending();
      this.events.error?.('update_too_large', (e as Error).message);
      return;
    }
    this.pending.set(messageRef(bytes), bytes);
    this.emitPending();
    for (const frame of frames) this.transport?.(frame);
  }

  /**
   * One resend of everything pending, however many ref-less errors arrive (every piece of a chunk
   * set can fail on its own: resending per error would multiply the traffic), with exponential
   * backoff while they keep coming and a reset on the next ack.
   */
  private resendAllLater(): void {
    if (this.resendAllScheduled) return;
    this.resendAllScheduled = true;
    const backoff = 2 ** Math.min(this.resendAllFailures++, 5);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.resendAllScheduled = false;
      for (const bytes of this.pending.values()) if (this.transport) for (const f of encodeFrames(bytes)) this.transport(f);
    }, this.retryDelayMs * backoff * (0.5 + Math.random()));
    this.timers.add(timer);
  }

  /** Resends the given pending messages after a jittered delay (server time is never needed). */
  private resendLater(refs: readonly string[]): void {
    if (refs.length === 0) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      for (const ref of refs) {
        const bytes = this.pending.get(ref);
        if (this.transport && bytes) for (const f of encodeFrames(bytes)) this.transport(f);
      }
    }, this.retryDelayMs * (0.5 + Math.random()));
    this.timers.add(timer);
  }

  private send(message: Message): void {
    for (const frame of encodeFrames(message)) this.transport?.(frame);
  }

  private emitPending(): void {
    this.events.pending?.(this.pendingCount);
  }
}
