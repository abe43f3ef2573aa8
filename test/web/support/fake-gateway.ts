/**
 * A fake API Gateway for provider tests: browser-shaped WebSocket objects wired to the real server
 * logic (handleFrame / fanoutDocument over the in-memory ports, test/support/memory-server.ts).
 * Frames really go through the protocol core, so a provider bug shows up as a real divergence,
 * not as a mock expectation. Tests control the network: refuse handshakes, kill sockets, hold
 * acknowledgements, expire tokens.
 */
import * as Y from 'yjs';
import { decodeFrame, utf8Length } from '../../../lambdas/core/protocol';
import { loadDocument } from '../../../lambdas/core/document';
import type { Role } from '../../../lambdas/core/ports';
import { createMemoryServer } from '../../support/memory-server';
import type { NetworkMonitor, Scheduler, WebSocketFactory, WebSocketLike } from '../../../web/src/sync/concord-provider';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export class FakeSocket implements WebSocketLike {
  readyState = CONNECTING;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** Every frame the client sent, with its UTF-8 size. */
  readonly sentSizes: number[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;

  constructor(
    readonly gateway: FakeGateway,
    readonly connectionId: string,
    readonly url: string,
  ) {}

  send(data: string): void {
    if (this.readyState !== OPEN) throw new Error('send on a socket that is not open');
    this.sentSizes.push(utf8Length(data));
    this.gateway.fromClient(this, data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === CLOSED) return;
    this.closedByClient = { code, reason };
    this.readyState = CLOSED;
    void this.gateway.forget(this.connectionId);
  }

  /** Server side: the socket dies (network loss, gateway close). */
  kill(code = 1006, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    void this.gateway.forget(this.connectionId);
    this.onclose?.({ code, reason });
  }

  deliver(frame: string): void {
    if (this.readyState === OPEN) this.onmessage?.({ data: frame });
  }
}

export interface Identity {
  readonly userId: string;
  readonly role: Role;
}

export class FakeGateway {
  readonly server = createMemoryServer();
  readonly sockets: FakeSocket[] = [];
  /** When true, new sockets are refused at the handshake (as a Deny from the authorizer). */
  refuseHandshakes = false;
  /** Token lifetime given to each new connection. */
  tokenLifetimeMs = 15 * 60_000;
  /** Connections whose ACK frames are held back until released. */
  private readonly holdAcks = new Set<string>();
  private readonly heldAcks = new Map<string, string[]>();
  private queue: Promise<void> = Promise.resolve();
  private nextId = 0;

  constructor(readonly docId = 'doc-1') {}

  /** A factory for ConcordProvider: every socket it opens is this identity's. */
  factory(identity: Identity): WebSocketFactory {
    return (url) => {
      const socket = new FakeSocket(this, `conn-${++this.nextId}`, url);
      this.sockets.push(socket);
      // The upgrade completes asynchronously, as in a browser.
      setTimeout(() => void this.handshake(socket, identity), 0);
      return socket;
    };
  }

  socketsOf(urlMatcher?: (s: FakeSocket) => boolean): FakeSocket[] {
    return this.sockets.filter(urlMatcher ?? (() => true));
  }

  openSockets(): FakeSocket[] {
    return this.sockets.filter((s) => s.readyState === OPEN);
  }

  private async handshake(socket: FakeSocket, identity: Identity): Promise<void> {
    if (socket.readyState !== CONNECTING) return;
    if (this.refuseHandshakes) {
      socket.kill(1006, '');
      return;
    }
    const now = this.server.clock.now();
    await this.server.deps.connections.put({
      connectionId: socket.connectionId,
      docId: this.docId,
      userId: identity.userId,
      role: identity.role,
      connectedAt: now,
      tokenExpiresAt: now + this.tokenLifetimeMs,
    });
    socket.readyState = OPEN;
    socket.onopen?.({});
  }

  async forget(connectionId: string): Promise<void> {
    await this.server.deps.connections.delete(connectionId);
  }

  /** Frames are handled one at a time, in order, like a single-connection Lambda integration. */
  fromClient(socket: FakeSocket, frame: string): void {
    this.queue = this.queue.then(async () => {
      if (!(await this.server.deps.connections.get(socket.connectionId))) return;
      await this.server.frame(socket.connectionId, frame).catch(() => undefined);
      this.flushTo(socket);
      await this.server.drainStream();
      for (const other of this.sockets) if (other !== socket) this.flushTo(other);
      if (this.server.broadcaster.closed.has(socket.connectionId)) socket.kill(1000, 'closed by the server');
    });
  }

  private flushTo(socket: FakeSocket): void {
    for (const frame of this.server.broadcaster.take(socket.connectionId)) {
      if (this.holdAcks.has(socket.connectionId) && decodeFrame(frame).message.type === 'ack') {
        this.heldAcks.set(socket.connectionId, [...(this.heldAcks.get(socket.connectionId) ?? []), frame]);
        continue;
      }
      socket.deliver(frame);
    }
  }

  holdAcksFor(socket: FakeSocket): void {
    this.holdAcks.add(socket.connectionId);
  }

  releaseAcksFor(socket: FakeSocket): void {
    this.holdAcks.delete(socket.connectionId);
    const held = this.heldAcks.get(socket.connectionId) ?? [];
    this.heldAcks.delete(socket.connectionId);
    for (const frame of held) socket.deliver(frame);
  }

  /** Waits until every frame sent so far has been handled. */
  settled(): Promise<void> {
    return this.queue;
  }

  /** The document as stored: latest snapshot plus the op log. */
  async storedText(field = 'body'): Promise<string> {
    const { doc } = await loadDocument(this.docId, this.server.deps.opLog, this.server.deps.snapshots);
    const text = xmlText(doc.getXmlFragment(field));
    doc.destroy();
    return text;
  }
}

/** The concatenated text of an XmlFragment (paragraphs of Y.XmlText). */
export function xmlText(fragment: Y.XmlFragment): string {
  const out: string[] = [];
  const walk = (node: Y.XmlElement | Y.XmlText | Y.XmlFragment) => {
    if (node instanceof Y.XmlText) out.push(node.toString().replace(/<[^>]+>/g, ''));
    else node.toArray().forEach((child) => walk(child as Y.XmlElement | Y.XmlText));
  };
  walk(fragment);
  return out.join('');
}

export class FakeNetwork implements NetworkMonitor {
  online = true;
  private readonly listeners = new Set<(online: boolean) => void>();
  isOnline(): boolean {
    return this.online;
  }
  subscribe(listener: (online: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

/** Records what the provider schedules; timers run only when a test fires them. */
export class RecordingScheduler implements Scheduler {
  readonly timers: { id: number; ms: number; fn: () => void; cleared: boolean; fired: boolean }[] = [];
  private next = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const t = { id: ++this.next, ms, fn, cleared: false, fired: false };
    this.timers.push(t);
    return t.id;
  }
  clearTimeout(handle: unknown): void {
    const t = this.timers.find((x) => x.id === handle);
    if (t) t.cleared = true;
  }
  active() {
    return this.timers.filter((t) => !t.cleared && !t.fired);
  }
  fire(timer: { fn: () => void; fired: boolean }): void {
    timer.fired = true;
    timer.fn();
  }
}

export interface FetchCall {
  readonly method: string;
  readonly url: string;
}

/** A fetch stand-in for the two HTTP calls the provider makes. */
export function fakeFetch(routes: { refresh?: () => number; document?: () => number; me?: () => { status: number; expiresInMs: number } }) {
  const calls: FetchCall[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    calls.push({ method, url });
    let status = 404;
    if (method === 'GET' && url === '/api/me' && routes.me) {
      // The provider reads the remaining token lifetime against the server's Date header.
      const { status: meStatus, expiresInMs } = routes.me();
      const serverNow = Date.parse('2026-11-28T12:00:00Z');
      return new Response(JSON.stringify({ userId: 'alice', name: 'alice', expiresAt: serverNow + expiresInMs }), {
        status: meStatus,
        headers: { 'content-type': 'application/json', date: new Date(serverNow).toUTCString() },
      });
    }
    if (method === 'POST' && url === '/api/auth/refresh') status = routes.refresh?.() ?? 204;
    else if (method === 'GET' && url.startsWith('/api/docs/')) status = routes.document?.() ?? 200;
    const body = status >= 400 ? JSON.stringify({ error: { code: status === 403 ? 'forbidden' : status === 401 ? 'unauthorized' : 'not_found', message: `HTTP ${status} from the fake API` } }) : status === 204 ? null : '{}';
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fetch: fn, calls };
}
