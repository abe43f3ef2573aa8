/**
 * The browser side of a Concord connection: drives the shared, transport-agnostic ClientSession
 * (lambdas/core/client-session.ts) over a WebSocket to `/ws?doc=<docId>`, and owns everything a
 * socket in the wild needs that the protocol core does not:
 *
 * - reconnect with exponential backoff and full jitter; the backoff resets only once a connection
 *   has actually synced, so a server that accepts and drops at once cannot cause a hot loop;
 * - a planned reconnect before API Gateway's 2 h connection cap;
 * - a state-vector handshake on every (re)connect (ClientSession does it), so edits made while
 *   disconnected go out and missed remote edits come in (FM-1.1);
 * - REAUTH (or a refused handshake) → POST /api/auth/refresh → reconnect, without losing edits;
 * - `offline` closes the socket and stops retrying; `online` reconnects at once.
 *
 * The socket is authenticated by the httpOnly access-token cookie the browser sends with the
 * same-origin upgrade request: no token ever passes through JavaScript (FM-4.4).
 */
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { removeAwarenessStates } from 'y-protocols/awareness';
import { ClientSession } from '../../../lambdas/core/client-session';
import { API_GATEWAY_MAX_CONNECTION_MS, DEFAULT_BACKOFF, fullJitterDelay, plannedReconnectDelay, type BackoffPolicy } from './backoff';
import type { ConnectionState, SyncSnapshot } from './status';

/** The subset of the DOM WebSocket the provider uses (a fake one in unit tests). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

/** Where online/offline signals come from: `window` and `navigator` in the browser. */
export interface NetworkMonitor {
  isOnline(): boolean;
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ConcordProviderOptions {
  readonly docId: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  /** Absolute ws(s) URL; defaults to the page's origin + `/ws?doc=<docId>`. */
  readonly url?: string;
  readonly createWebSocket?: WebSocketFactory;
  readonly fetch?: typeof fetch;
  readonly network?: NetworkMonitor;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  /** The gateway's maximum connection age; a planned reconnect happens before it. */
  readonly maxConnectionAgeMs?: number;
  /**
   * Local changes from a previous page load that were never acknowledged (restored from the
   * IndexedDB copy): counted as pending until the server has acknowledged everything.
   */
  readonly carriedOverPending?: number;
  /** Called whenever the pending count changes, to keep it with the offline copy. */
  readonly persistPending?: (count: number) => void;
  /**
   * Local changes (and presence) made within this window go out as one message. 80 ms is below
   * what a reader perceives and keeps even a very fast typist far under the gateway's
   * per-connection rate limit (FM-1.8).
   */
  readonly batchMs?: number;
  /** Open the socket from the constructor (default true). */
  readonly autoConnect?: boolean;
}

/** Codes after which reconnecting cannot help until the user does something. */
const NO_ACCESS_CODES = new Set(['forbidden', 'not_found']);
/** Codes that mean the access token is missing or expired: refresh it, then reconnect. */
const REAUTH_CODES = new Set(['unauthorized', 'token_expired']);

const OPEN = 1;
/** Refresh the session this long (plus jitter of the same size) before the token expires. */
const SESSION_REFRESH_MARGIN_MS = 60_000;
const MIN_SESSION_REFRESH_MS = 5_000;
export const DEFAULT_BATCH_MS = 80;

export function browserNetwork(): NetworkMonitor {
  return {
    isOnline: () => navigator.onLine,
    subscribe(listener) {
      const on = () => listener(true);
      const off = () => listener(false);
      window.addEventListener('online', on);
      window.addEventListener('offline', off);
      return () => {
        window.removeEventListener('online', on);
        window.removeEventListener('offline', off);
      };
    },
  };
}

export function sameOriginSocketUrl(docId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?doc=${encodeURIComponent(docId)}`;
}

type Listener = (snapshot: SyncSnapshot) => void;

export class ConcordProvider {
  readonly docId: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly session: ClientSession;

  private readonly url: string;
  private readonly createWebSocket: WebSocketFactory;
  private readonly fetchImpl: typeof fetch;
  private readonly network: NetworkMonitor;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;
  private readonly maxConnectionAgeMs: number;
  private readonly persistPending: ((count: number) => void) | undefined;

  private ws: WebSocketLike | null = null;
  private wsOpened = false;
  private connection: ConnectionState = 'connecting';
  private everOpened = false;
  private attempt = 0;
  private retryTimer: unknown = null;
  private plannedTimer: unknown = null;
  private sessionTimer: unknown = null;
  private reauthInFlight = false;
  private destroyed = false;
  private carriedOver: number;
  private lastError: SyncSnapshot['lastError'] = null;
  private receiving: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<Listener>();
  private readonly unsubscribeNetwork: () => void;
  private snapshot: SyncSnapshot;
  private lastPersisted = -1;

  constructor(options: ConcordProviderOptions) {
    this.docId = options.docId;
    this.doc = options.doc;
    this.awareness = options.awareness;
    this.url = options.url ?? sameOriginSocketUrl(options.docId);
    this.createWebSocket = options.createWebSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike);
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.network = options.network ?? browserNetwork();
    this.scheduler = options.scheduler ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.maxConnectionAgeMs = options.maxConnectionAgeMs ?? API_GATEWAY_MAX_CONNECTION_MS;
    this.carriedOver = Math.max(0, options.carriedOverPending ?? 0);
    this.persistPending = options.persistPending;

    this.session = new ClientSession(this.doc, this.awareness, {
      batchMs: options.batchMs ?? DEFAULT_BATCH_MS,
      events: {
        synced: () => {
          // Only a connection that got as far as a full sync proves the server is healthy again.
          this.attempt = 0;
          this.update();
        },
        pending: () => this.update(),
        ack: () => this.update(),
        error: (code, message) => this.onServerError(code, message),
        reauth: () => void this.reauthenticate(),
      },
    });
    this.snapshot = this.computeSnapshot();
    this.unsubscribeNetwork = this.network.subscribe((online) => (online ? this.onOnline() : this.onOffline()));
    if (options.autoConnect !== false) this.connect();
    else this.setConnection('closed');
  }

  /** The current status, stable between changes (usable with React's useSyncExternalStore). */
  getSnapshot = (): SyncSnapshot => this.snapshot;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Opens the socket now (cancelling any scheduled retry). */
  connect(): void {
    if (this.destroyed) return;
    this.clearRetry();
    this.openSocket();
  }

  /** Stops for good: tells the others we left, closes the socket, keeps nothing scheduled. */
  destroy(): void {
    if (this.destroyed) return;
    // Announce our departure while the transport still exists, so carets disappear at once.
    removeAwarenessStates(this.awareness, [this.doc.clientID], 'local-departure');
    this.destroyed = true;
    this.clearRetry();
    this.dropSocket('client closed the document');
    this.unsubscribeNetwork();
    this.session.destroy();
    this.setConnection('closed');
    this.listeners.clear();
  }

  private openSocket(): void {
    if (this.destroyed || this.ws || this.reauthInFlight) return;
    if (!this.network.isOnline()) {
      this.setConnection('offline');
      return;
    }
    this.setConnection(this.everOpened ? 'reconnecting' : 'connecting');
    let ws: WebSocketLike;
    try {
      ws = this.createWebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.wsOpened = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.wsOpened = true;
      this.everOpened = true;
      this.lastError = null;
      this.setConnection('open');
      this.session.connected((frame) => {
        if (ws.readyState === OPEN) ws.send(frame);
      });
      this.schedulePlannedReconnect();
      void this.scheduleSessionRefresh(ws);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      const frame = ev.data;
      // One frame at a time, in arrival order (chunk reassembly is asynchronous).
      this.receiving = this.receiving.then(() => this.session.receive(frame)).then(() => this.update());
    };
    ws.onerror = () => undefined; // a close event always follows
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      const opened = this.wsOpened;
      this.detach();
      void this.afterClose(opened, ev.code);
    };
  }

  private async afterClose(opened: boolean, code: number): Promise<void> {
    if (this.destroyed || this.reauthInFlight) return;
    if (!this.network.isOnline()) {
      this.setConnection('offline');
      return;
    }
    const lastCode = this.lastError?.code;
    if (lastCode && NO_ACCESS_CODES.has(lastCode)) {
      this.setConnection('no-access');
      return;
    }
    if (lastCode && REAUTH_CODES.has(lastCode)) {
      await this.reauthenticate();
      return;
    }
    // Policy violation before or without any explanation: the gateway's authorizer refused the
    // upgrade (browsers do not expose the HTTP status). Ask the HTTP API why.
    if (!opened || code === 1008) {
      this.setConnection(this.everOpened ? 'reconnecting' : 'connecting');
      const verdict = await this.probeAccess();
      if (this.destroyed || this.ws || this.reauthInFlight) return;
      if (verdict === 'reauth') {
        await this.reauthenticate();
        return;
      }
      if (verdict === 'no-access') {
        this.setConnection('no-access');
        return;
      }
    }
    this.scheduleRetry();
  }

  /** Why might the socket have been refused? One cheap HTTP call answers it. */
  private async probeAccess(): Promise<'ok' | 'reauth' | 'no-access' | 'unknown'> {
    try {
      const res = await this.fetchImpl(`/api/docs/${encodeURIComponent(this.docId)}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.status === 401) return 'reauth';
      if (res.status === 403 || res.status === 404) {
        const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
        this.lastError = {
          code: body?.error?.code ?? (res.status === 403 ? 'forbidden' : 'not_found'),
          message: body?.error?.message ?? (res.status === 403 ? 'You do not have access to this document. Ask its owner to share it with you.' : 'The document does not exist or was deleted.'),
        };
        return 'no-access';
      }
      return res.ok ? 'ok' : 'unknown';
    } catch {
      return 'unknown';
    }
  }

  /**
   * The access token expired (REAUTH mid-socket, or a refused handshake): refresh it from the
   * httpOnly refresh cookie, then reconnect. Edits made meanwhile stay in the Y.Doc (and in
   * IndexedDB) and go out in the next handshake.
   */
  private async reauthenticate(): Promise<void> {
    if (this.reauthInFlight || this.destroyed) return;
    this.reauthInFlight = true;
    this.clearRetry();
    this.dropSocket('refreshing the session');
    this.setConnection('reauthenticating');
    let outcome: 'ok' | 'signed-out' | 'retry';
    try {
      const res = await this.fetchImpl('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: '{}',
      });
      outcome = res.ok ? 'ok' : res.status === 401 || res.status === 403 ? 'signed-out' : 'retry';
    } catch {
      outcome = 'retry';
    }
    this.reauthInFlight = false;
    if (this.destroyed) return;
    if (outcome === 'signed-out') {
      this.lastError = { code: 'unauthorized', message: 'Your session ended. Sign in again to keep editing; your changes are kept on this device.' };
      this.setConnection('signed-out');
      return;
    }
    if (this.lastError && REAUTH_CODES.has(this.lastError.code)) this.lastError = null;
    if (outcome === 'ok') this.openSocket();
    else if (!this.network.isOnline()) this.setConnection('offline');
    else this.scheduleRetry();
  }

  private onServerError(code: string, message: string): void {
    this.lastError = { code, message };
    if (REAUTH_CODES.has(code)) void this.reauthenticate();
    else this.update();
  }

  private onOffline(): void {
    if (this.destroyed) return;
    this.clearRetry();
    this.dropSocket('browser went offline');
    this.setConnection('offline');
  }

  private onOnline(): void {
    if (this.destroyed || this.connection === 'signed-out' || this.connection === 'no-access') return;
    this.attempt = 0;
    this.connect();
  }

  private scheduleRetry(): void {
    if (this.destroyed) return;
    this.clearRetry();
    const delay = fullJitterDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.setConnection(this.everOpened ? 'reconnecting' : 'connecting');
    this.retryTimer = this.scheduler.setTimeout(() => {
      this.retryTimer = null;
      this.openSocket();
    }, delay);
  }

  private schedulePlannedReconnect(): void {
    this.clearPlanned();
    const ws = this.ws;
    this.plannedTimer = this.scheduler.setTimeout(() => {
      this.plannedTimer = null;
      if (this.ws !== ws || this.destroyed) return;
      // Reconnect on our terms, not the gateway's: nothing in flight is lost (ClientSession
      // resends it in the handshake), and no backoff is needed since nothing failed.
      this.dropSocket('planned reconnect before the connection age limit');
      this.openSocket();
    }, plannedReconnectDelay(this.maxConnectionAgeMs, this.random));
  }

  /**
   * Refreshes the session shortly before the access token expires, then reconnects. The server
   * stops delivering to a connection once its token (and its connection record) expires, so a
   * reader who never types would otherwise stop seeing others' edits. The remaining lifetime is
   * measured on the server's clock (its Date header), never the browser's.
   */
  private async scheduleSessionRefresh(ws: WebSocketLike): Promise<void> {
    let remainingMs: number;
    try {
      const res = await this.fetchImpl('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const body = (await res.json().catch(() => null)) as { expiresAt?: unknown } | null;
      const serverNow = Date.parse(res.headers.get('date') ?? '');
      if (typeof body?.expiresAt !== 'number' || Number.isNaN(serverNow)) return;
      remainingMs = body.expiresAt - serverNow;
    } catch {
      return; // the REAUTH path still covers an expired token
    }
    if (this.ws !== ws || this.destroyed) return;
    const margin = SESSION_REFRESH_MARGIN_MS * (1 + this.random());
    const delay = remainingMs > 4 * SESSION_REFRESH_MARGIN_MS ? remainingMs - margin : Math.max(MIN_SESSION_REFRESH_MS, remainingMs * 0.75);
    this.clearSessionRefresh();
    this.sessionTimer = this.scheduler.setTimeout(() => {
      this.sessionTimer = null;
      if (this.ws === ws && !this.destroyed) void this.reauthenticate();
    }, delay);
  }

  private clearSessionRefresh(): void {
    if (this.sessionTimer !== null) this.scheduler.clearTimeout(this.sessionTimer);
    this.sessionTimer = null;
  }

  /** Closes the current socket (if any) and hands its unacknowledged edits back to the session. */
  private dropSocket(reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.detach();
    try {
      ws.close(1000, reason.slice(0, 120));
    } catch {
      // Already closing.
    }
  }

  private detach(): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    this.ws = null;
    this.clearPlanned();
    this.clearSessionRefresh();
    if (this.wsOpened) this.session.disconnected();
    this.wsOpened = false;
    this.receiving = Promise.resolve();
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearPlanned(): void {
    if (this.plannedTimer !== null) this.scheduler.clearTimeout(this.plannedTimer);
    this.plannedTimer = null;
  }

  private setConnection(state: ConnectionState): void {
    this.connection = state;
    this.update();
  }

  private computeSnapshot(): SyncSnapshot {
    const saved = this.connection === 'open' && this.session.isSaved;
    // Changes restored from a previous page load are covered by this connection's handshake; they
    // count as pending until the server has acknowledged everything.
    if (saved) this.carriedOver = 0;
    return {
      connection: this.connection,
      synced: this.connection === 'open' && this.session.isSynced,
      saved: saved && this.carriedOver === 0,
      pending: this.session.pendingCount + this.carriedOver,
      lastError: this.lastError,
    };
  }

  private update(): void {
    const next = this.computeSnapshot();
    const prev = this.snapshot;
    if (prev && prev.connection === next.connection && prev.synced === next.synced && prev.saved === next.saved && prev.pending === next.pending && prev.lastError === next.lastError) return;
    this.snapshot = next;
    if (next.pending !== this.lastPersisted && this.persistPending) {
      this.lastPersisted = next.pending;
      this.persistPending(next.pending);
    }
    for (const l of this.listeners) l(next);
  }
}
