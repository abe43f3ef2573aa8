/**
 * A synthetic editor for drills: one ClientSession over a WebSocket that appends a numbered marker
 * to a Y.Array every interval, reconnects with jittered backoff when the socket drops, and knows
 * which markers the server acknowledged. `verifyDocument` then reads the stored document with a
 * fresh client, so "edits lost" counts acknowledged markers missing from the server's copy.
 */
import * as Y from 'yjs';
import WebSocket from 'ws';
import { ClientSession } from '../../lambdas/core/client-session';

/** The shared type the drill writes to: separate from the editor's content, so drills never touch text. */
export const DRILL_ARRAY = 'concord-drill';

/** Opens a socket to the document; the caller decides URL, cookies and headers. */
export type SocketFactory = () => WebSocket;

export interface EditorStats {
  readonly sent: number;
  readonly acknowledged: number;
  readonly reconnects: number;
  /** Longest time between a marker's creation and its acknowledgement (ms). */
  readonly maxAckDelayMs: number;
  /** Server refusals by error code. */
  readonly errors: Readonly<Record<string, number>>;
}

/** Where markers go in the document and how they are read back (default: the drill array). */
export interface MarkerCodec {
  write(doc: Y.Doc, marker: string): void;
  read(doc: Y.Doc): string[];
}

export const arrayMarkers: MarkerCodec = {
  write: (doc, marker) => doc.getArray<string>(DRILL_ARRAY).push([marker]),
  read: (doc) => doc.getArray<string>(DRILL_ARRAY).toArray(),
};

export interface SyntheticEditorOptions {
  readonly connect: SocketFactory;
  readonly markers?: MarkerCodec;
  /** Marker prefix, unique per drill run. */
  readonly runId: string;
  readonly editIntervalMs?: number;
  /** Called on REAUTH (token expired mid-socket): refresh credentials before the reconnect. */
  readonly onReauth?: () => Promise<void>;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SyntheticEditor {
  readonly doc = new Y.Doc();
  readonly session: ClientSession;
  private socket: WebSocket | null = null;
  private stopped = false;
  private editTimer: ReturnType<typeof setTimeout> | null = null;
  private nextMarker = 0;
  /** Marker -> creation time, until acknowledged. */
  private readonly unacked = new Map<string, number>();
  private readonly acked = new Set<string>();
  private reconnects = 0;
  private maxAckDelayMs = 0;
  private readonly errors: Record<string, number> = {};
  private attempt = 0;
  private readonly now: () => number;

  constructor(private readonly options: SyntheticEditorOptions) {
    this.now = options.now ?? Date.now;
    this.session = new ClientSession(this.doc, null, {
      retryDelayMs: 500,
      events: {
        // The session resends refused-as-unavailable updates itself; once nothing is pending,
        // everything written so far is durable (acks come only after the durable write).
        pending: (count) => {
          if (count === 0) this.markAllAcknowledged();
        },
        error: (code) => {
          this.errors[code] = (this.errors[code] ?? 0) + 1;
        },
        reauth: (reason) => {
          this.options.log?.(`reauth: ${reason}`);
          void (async () => {
            await this.options.onReauth?.();
            this.socket?.close();
          })();
        },
      },
    });
  }

  get stats(): EditorStats {
    return { sent: this.nextMarker, acknowledged: this.acked.size, reconnects: this.reconnects, maxAckDelayMs: this.maxAckDelayMs, errors: { ...this.errors } };
  }
  get acknowledgedMarkers(): ReadonlySet<string> {
    return this.acked;
  }

  /** Connects and starts editing. Resolves once the first handshake completed. */
  async start(): Promise<void> {
    const synced = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (this.session.isSynced || this.stopped) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    this.open();
    await synced;
    this.resumeEditing();
  }

  /** (Re)starts the periodic edits, jittered so many editors do not tick in lockstep. */
  resumeEditing(): void {
    if (this.stopped || this.editTimer !== null) return;
    const interval = this.options.editIntervalMs ?? 250;
    const tick = () => {
      this.editTimer = setTimeout(() => {
        if (this.stopped || this.editTimer === null) return;
        this.edit();
        tick();
      }, interval * (0.5 + Math.random()));
    };
    tick();
  }

  /** Whether the socket is open and the handshake done. */
  get connected(): boolean {
    return this.socket !== null && this.session.isSynced;
  }

  /** One marker appended to the drill array (a local edit, sent when connected). */
  edit(): string {
    const marker = `${this.options.runId}:${this.nextMarker++}`;
    this.unacked.set(marker, this.now());
    (this.options.markers ?? arrayMarkers).write(this.doc, marker);
    return marker;
  }

  /** Stops editing and waits until every edit is acknowledged (or the timeout passes). */
  async stopEditing(timeoutMs: number): Promise<boolean> {
    if (this.editTimer) clearTimeout(this.editTimer);
    this.editTimer = null;
    const deadline = this.now() + timeoutMs;
    while (this.now() < deadline) {
      if (this.session.isSaved) {
        this.markAllAcknowledged();
        return true;
      }
      await sleep(50);
    }
    return false;
  }

  close(): void {
    this.stopped = true;
    if (this.editTimer) clearTimeout(this.editTimer);
    this.editTimer = null;
    this.socket?.close();
    this.session.destroy();
  }

  /** Drops the socket as a network failure would (tests and local drills). */
  dropSocket(): void {
    this.socket?.terminate();
  }

  private markAllAcknowledged(): void {
    // pending === 0 can also mean "not connected yet, nothing sent": only trust it when synced.
    if (!this.session.isSaved) return;
    const t = this.now();
    for (const [marker, createdAt] of this.unacked) {
      this.maxAckDelayMs = Math.max(this.maxAckDelayMs, t - createdAt);
      this.acked.add(marker);
    }
    this.unacked.clear();
  }

  private open(): void {
    if (this.stopped) return;
    const socket = this.options.connect();
    this.socket = socket;
    socket.on('open', () => {
      this.attempt = 0;
      this.session.connected((frame) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(frame);
      });
    });
    socket.on('message', (data) => {
      void this.session.receive(data.toString()).then(() => this.markAllAcknowledged());
    });
    socket.on('error', (e) => this.options.log?.(`socket error: ${e.message}`));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.session.disconnected();
      this.socket = null;
      if (this.stopped) return;
      this.reconnects++;
      // Jittered exponential backoff (FM-1.6): 200 ms doubling to 5 s, times 0.5-1.5.
      const delay = Math.min(5000, 200 * 2 ** this.attempt++) * (0.5 + Math.random());
      setTimeout(() => this.open(), delay);
    });
  }
}

/** Reads the stored document with a fresh client and compares it with the acknowledged markers. */
export async function verifyDocument(
  connect: SocketFactory,
  acknowledged: ReadonlySet<string>,
  timeoutMs = 30_000,
  markers: MarkerCodec = arrayMarkers,
): Promise<{ stored: number; lost: string[]; state: Uint8Array; doc: Y.Doc }> {
  const doc = new Y.Doc();
  const session = new ClientSession(doc, null);
  const socket = connect();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The verification client did not sync within ${timeoutMs / 1000} s.`)), timeoutMs);
      socket.on('open', () => session.connected((f) => socket.send(f)));
      socket.on('message', (data) => {
        void session.receive(data.toString()).then(() => {
          if (session.isSynced) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      socket.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const stored = new Set(markers.read(doc));
    return { stored: stored.size, lost: [...acknowledged].filter((m) => !stored.has(m)), state: Y.encodeStateAsUpdate(doc), doc };
  } finally {
    session.destroy();
    socket.close();
  }
}
