/**
 * An API Gateway WebSocket API emulator (stage `ws`) in front of the production handlers:
 *
 * - upgrade → the REQUEST `authorizer` (401 on "Unauthorized", 403 on a Deny policy), then
 *   `$connect` with the authorizer's context; the socket opens only if `$connect` returns 2xx, so
 *   posting to a connection during its own `$connect` gets 410, as on AWS;
 * - each text message → `$default`, invoked concurrently like API Gateway (no per-connection order);
 * - close (either side, or a drop) → `$disconnect`;
 * - limits: binary frame → 1003, frame > 32 KB or message > 128 KB → 1009, idle timeout and
 *   maximum connection age → 1001 (messages either way count as activity);
 * - the `@connections` management API (POST/GET/DELETE), answering like API Gateway (410
 *   GoneException, 413 PayloadTooLargeException) so `@aws-sdk/client-apigatewaymanagementapi` works.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameInspector } from './frame-inspector';

export type GatewayRoute = 'authorizer' | 'connect' | 'message' | 'disconnect';

export interface GatewayLimits {
  /** Largest frame, bytes (API Gateway: 32 KB). */
  readonly frameBytes: number;
  /** Largest message, bytes (API Gateway: 128 KB). */
  readonly messageBytes: number;
  /** Close after this long without a message in either direction (API Gateway: 10 min). */
  readonly idleTimeoutMs: number;
  /** Close this long after connecting (API Gateway: 2 h). */
  readonly maxConnectionAgeMs: number;
  /**
   * Posted bytes a client may leave unread before the connection is closed (1011) and posts
   * answer 410. A local memory cap: posts do not wait for the client, so a tab that never reads
   * would otherwise grow the buffer without bound. API Gateway documents no such number.
   */
  readonly unreadBytes: number;
}

export const API_GATEWAY_LIMITS: GatewayLimits = {
  frameBytes: 32 * 1024,
  messageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60_000,
  maxConnectionAgeMs: 2 * 3600_000,
  unreadBytes: 64 * 1024 * 1024,
};

export interface WebSocketGatewayOptions {
  /** Runs a handler; resolves with its result or rejects with its error. */
  readonly invoke: (route: GatewayRoute, event: Record<string, unknown>) => Promise<unknown>;
  /** Host name the events carry in `requestContext.domainName`. */
  readonly domainName: string;
  readonly stage?: string;
  readonly apiId?: string;
  readonly limits?: Partial<GatewayLimits>;
  /** Skip the authorizer (a route with authorization NONE). */
  readonly withoutAuthorizer?: boolean;
  /**
   * The authorizer's identity sources (`route.request.header.X`, `route.request.querystring.X`):
   * when one is missing or empty, the upgrade is refused with 401 and the authorizer never runs.
   */
  readonly identitySources?: readonly string[];
  readonly log?: (entry: Record<string, unknown>) => void;
}

interface LiveConnection {
  readonly connectionId: string;
  readonly connectedAt: number;
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly authorizer: Record<string, unknown> | null;
  socket: WebSocket | null;
  state: 'connecting' | 'open' | 'closed';
  closing: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  ageTimer?: ReturnType<typeof setTimeout>;
  disconnectDone?: Promise<void>;
}

export class GatewayRefusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 500: 'Internal Server Error', 502: 'Bad Gateway' };

/** API Gateway connection ids look like `L0SM9cOFvHcCIhw=`: base64 of 11 random bytes. */
const newConnectionId = () => randomBytes(11).toString('base64');
const newRequestId = () => randomBytes(8).toString('base64').replace(/=+$/, '') + '=';

function requestTime(ms: number): string {
  // API Gateway's format: 09/Apr/2015:12:34:56 +0000
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export class WebSocketGateway {
  readonly limits: GatewayLimits;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, LiveConnection>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly options: WebSocketGatewayOptions;
  private readonly stage: string;
  private readonly apiId: string;
  private closed = false;
  readonly stats = { connects: 0, refused: 0, messages: 0, disconnects: 0, posts: 0 };

  constructor(options: WebSocketGatewayOptions) {
    this.options = options;
    this.stage = options.stage ?? 'ws';
    this.apiId = options.apiId ?? 'local';
    this.limits = { ...API_GATEWAY_LIMITS, ...options.limits };
    // No permessage-deflate (API Gateway negotiates none), ws enforces the message limit (1009).
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: this.limits.messageBytes });
  }

  get connectionCount(): number {
    return [...this.connections.values()].filter((c) => c.state === 'open').length;
  }

  connectionIds(): string[] {
    return [...this.connections.values()].filter((c) => c.state === 'open').map((c) => c.connectionId);
  }

  /** Handles an HTTP upgrade request for the WebSocket path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    const task = this.connect(req, socket, head).catch((error) => {
      this.options.log?.({ level: 'ERROR', message: 'websocket connect failed', error: String(error) });
      refuse(socket, 500, 'Internal server error');
    });
    this.track(task);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  private baseContext(c: Pick<LiveConnection, 'connectionId' | 'connectedAt' | 'sourceIp' | 'userAgent'>, routeKey: string, eventType: string) {
    const now = Date.now();
    return {
      routeKey,
      eventType,
      extendedRequestId: newRequestId(),
      requestTime: requestTime(now),
      messageDirection: 'IN',
      stage: this.stage,
      connectedAt: c.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: c.sourceIp, userAgent: c.userAgent },
      requestId: newRequestId(),
      domainName: this.options.domainName,
      connectionId: c.connectionId,
      apiId: this.apiId,
    };
  }

  private async connect(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    // API Gateway keeps the header names as the client sent them.
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      const value = req.rawHeaders[i + 1];
      headers[name] = value;
      (multiValueHeaders[name] ??= []).push(value);
    }
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) {
      query[k] = v;
      (multiQuery[k] ??= []).push(v);
    }
    const hasQuery = url.searchParams.size > 0;
    const base = {
      connectionId: newConnectionId(),
      connectedAt: Date.now(),
      sourceIp: (socket as Socket).remoteAddress ?? '127.0.0.1',
      userAgent: req.headers['user-agent'] ?? '',
    };

    let authorizer: Record<string, unknown> | null = null;
    if (!this.options.withoutAuthorizer) {
      for (const source of this.options.identitySources ?? []) {
        const header = /^route\.request\.header\.(.+)$/.exec(source);
        const queryName = /^route\.request\.querystring\.(.+)$/.exec(source);
        const present = header ? Boolean(req.headers[header[1].toLowerCase()]) : queryName ? Boolean(url.searchParams.get(queryName[1])) : true;
        if (!present) {
          this.stats.refused++;
          return refuse(socket, 401, 'Unauthorized');
        }
      }
      const event = {
        type: 'REQUEST',
        methodArn: `arn:aws:execute-api:us-east-1:000000000000:${this.apiId}/${this.stage}/$connect`,
        headers,
        multiValueHeaders,
        queryStringParameters: hasQuery ? query : {},
        multiValueQueryStringParameters: hasQuery ? multiQuery : {},
        stageVariables: {},
        requestContext: this.baseContext(base, '$connect', 'CONNECT'),
      };
      let result: unknown;
      try {
        result = await this.options.invoke('authorizer', event);
      } catch (error) {
        this.stats.refused++;
        // An authorizer throwing exactly "Unauthorized" means 401; anything else is a 500.
        if ((error as Error)?.message === 'Unauthorized') return refuse(socket, 401, 'Unauthorized');
        this.options.log?.({ level: 'ERROR', message: 'authorizer failed', error: String(error) });
        return refuse(socket, 500, 'Internal server error');
      }
      const policy = result as { principalId?: string; policyDocument?: { Statement?: { Effect?: string; Action?: unknown }[] }; context?: Record<string, unknown> } | null;
      const statements = policy?.policyDocument?.Statement ?? [];
      const allowed = statements.length > 0 && statements.some((s) => s.Effect === 'Allow') && !statements.some((s) => s.Effect === 'Deny');
      if (!allowed) {
        this.stats.refused++;
        return refuse(socket, 403, 'Forbidden');
      }
      authorizer = { principalId: policy?.principalId ?? '', integrationLatency: 0, ...(policy?.context ?? {}) };
    }

    const connection: LiveConnection = {
      ...base,
      lastActiveAt: base.connectedAt,
      headers,
      multiValueHeaders,
      authorizer,
      socket: null,
      state: 'connecting',
      closing: false,
    };
    this.connections.set(connection.connectionId, connection);
    let response: unknown;
    try {
      response = await this.options.invoke('connect', {
        headers,
        multiValueHeaders,
        ...(hasQuery ? { queryStringParameters: query, multiValueQueryStringParameters: multiQuery } : {}),
        requestContext: { ...this.baseContext(connection, '$connect', 'CONNECT'), ...(authorizer ? { authorizer } : {}) },
        isBase64Encoded: false,
      });
    } catch (error) {
      this.connections.delete(connection.connectionId);
      this.stats.refused++;
      this.options.log?.({ level: 'ERROR', message: '$connect handler failed', connectionId: connection.connectionId, error: String(error) });
      return refuse(socket, 500, 'Internal server error');
    }
    const status = typeof (response as { statusCode?: unknown })?.statusCode === 'number' ? (response as { statusCode: number }).statusCode : 200;
    if (status < 200 || status >= 300) {
      this.connections.delete(connection.connectionId);
      this.stats.refused++;
      return refuse(socket, status, STATUS_TEXT[status] ?? 'Refused');
    }
    if (socket.destroyed || this.closed) {
      // The client left during $connect: API Gateway still reports the disconnect.
      connection.state = 'open';
      this.finishClose(connection, 1006, 'Client left during $connect');
      return;
    }
    this.stats.connects++;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(connection, ws, socket as Socket));
  }

  private open(connection: LiveConnection, ws: WebSocket, socket: Socket): void {
    connection.socket = ws;
    connection.state = 'open';
    // Runs before ws's own parser sees the bytes, so an oversized frame is caught at its header.
    const inspector = new FrameInspector((frame) => {
      const isData = frame.opcode <= 0x2;
      if (isData && frame.payloadLength > this.limits.frameBytes) this.violate(connection, 1009, 'Frame too big');
    });
    socket.prependListener('data', (chunk: Buffer) => inspector.push(chunk));

    connection.idleTimer = setTimeout(() => this.closeWith(connection, 1001, 'Going away'), this.limits.idleTimeoutMs);
    connection.ageTimer = setTimeout(() => this.closeWith(connection, 1001, 'Going away'), this.limits.maxConnectionAgeMs);

    ws.on('message', (data, isBinary) => {
      if (connection.closing) return;
      if (isBinary) return this.violate(connection, 1003, 'Binary frames are not supported');
      connection.lastActiveAt = Date.now();
      connection.idleTimer?.refresh();
      this.stats.messages++;
      const body = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      const event = {
        requestContext: {
          ...this.baseContext(connection, '$default', 'MESSAGE'),
          messageId: newRequestId(),
          ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
        },
        body,
        isBase64Encoded: false,
      };
      this.track(
        this.options.invoke('message', event).catch((error) => {
          this.options.log?.({ level: 'ERROR', message: '$default handler failed', connectionId: connection.connectionId, error: String(error) });
        }),
      );
    });
    ws.on('close', (code, reason) => this.finishClose(connection, code, reason.toString()));
    ws.on('error', (error) => this.options.log?.({ level: 'WARN', message: 'websocket error', connectionId: connection.connectionId, error: String(error) }));
  }

  /** Closes for a protocol violation; nothing else from this socket reaches the handlers. */
  private violate(connection: LiveConnection, code: number, reason: string): void {
    if (connection.closing) return;
    this.options.log?.({ level: 'INFO', message: 'closing websocket: limit', connectionId: connection.connectionId, code, reason });
    this.closeWith(connection, code, reason);
  }

  private closeWith(connection: LiveConnection, code: number, reason: string): void {
    if (connection.closing || !connection.socket) return;
    connection.closing = true;
    const ws = connection.socket;
    ws.close(code, reason);
    // A client that never answers the close frame is cut off, as the gateway would.
    setTimeout(() => ws.terminate(), 2000).unref();
  }

  private finishClose(connection: LiveConnection, code: number, reason: string): Promise<void> {
    if (connection.disconnectDone) return connection.disconnectDone;
    connection.closing = true;
    connection.state = 'closed';
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.ageTimer);
    this.stats.disconnects++;
    const event = {
      headers: connection.headers,
      multiValueHeaders: connection.multiValueHeaders,
      requestContext: {
        ...this.baseContext(connection, '$disconnect', 'DISCONNECT'),
        disconnectStatusCode: code,
        disconnectReason: reason,
        ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
      },
      isBase64Encoded: false,
    };
    connection.disconnectDone = this.track(
      this.options
        .invoke('disconnect', event)
        .catch((error) => this.options.log?.({ level: 'ERROR', message: '$disconnect handler failed', connectionId: connection.connectionId, error: String(error) }))
        .then(() => undefined),
    ).finally(() => this.connections.delete(connection.connectionId));
    return connection.disconnectDone;
  }

  /** Fault knob: cuts a connection without a close frame (a dropped network); `$disconnect` runs. */
  drop(connectionId: string): boolean {
    const c = this.connections.get(connectionId);
    if (!c || c.state !== 'open' || !c.socket) return false;
    c.closing = true;
    c.socket.terminate();
    return true;
  }

  /**
   * The `@connections` management API. `path` is relative to the stage, e.g.
   * `/@connections/abc%3D`. Answers as API Gateway does, including its error shapes.
   */
  async handleManagement(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const match = /^\/@connections\/([^/]+)$/.exec(path);
    const reply = (status: number, body?: unknown, errorType?: string) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'x-amzn-requestid': randomUUID(),
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      res.end(text);
    };
    if (!match) return reply(404, { message: 'Not Found' }, 'NotFoundException');
    if (!/^AWS4-HMAC-SHA256 /.test(String(req.headers.authorization ?? ''))) {
      // API Gateway requires SigV4 here; the check also keeps browsers (which cannot sign) out.
      return reply(403, { message: 'Missing Authentication Token' }, 'ForbiddenException');
    }
    const connectionId = decodeURIComponent(match[1]);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const connection = this.connections.get(connectionId);
    const live = connection && connection.state === 'open' && connection.socket && !connection.closing && connection.socket.readyState === 1;
    if (!live) return reply(410, { message: null }, 'GoneException');
    const ws = connection.socket!;
    switch (req.method) {
      case 'POST': {
        if (body.length > this.limits.messageBytes) return reply(413, { message: 'Message too long' }, 'PayloadTooLargeException');
        if (ws.bufferedAmount + body.length > this.limits.unreadBytes) {
          this.violate(connection, 1011, 'Client is not reading its messages');
          return reply(410, { message: null }, 'GoneException');
        }
        this.stats.posts++;
        // Traffic in either direction counts as activity for the idle timeout.
        connection.lastActiveAt = Date.now();
        connection.idleTimer?.refresh();
        // API Gateway answers once it has taken the message, not when the client has read it: a
        // client that stops reading (a busy browser tab) must not hold up the poster, which in the
        // fan-out would hold up every other document's delivery. Frames keep their order.
        ws.send(body, { binary: !isUtf8(body) }, () => undefined);
        return reply(200);
      }
      case 'GET':
        return reply(200, {
          connectedAt: new Date(connection.connectedAt).toISOString(),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        });
      case 'DELETE':
        this.closeWith(connection, 1000, '');
        res.writeHead(204, { 'x-amzn-requestid': randomUUID() });
        return void res.end();
      default:
        return reply(405, { message: 'Method Not Allowed' });
    }
  }

  /**
   * Shutdown: refuses new sockets, closes every open one with 1001 (running `$disconnect`), and
   * waits for handler invocations in flight.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.connections.values()) {
      if (c.state === 'open') this.closeWith(c, 1001, 'Going away');
    }
    const deadline = Date.now() + 10_000;
    while ((this.inflight.size > 0 || [...this.connections.values()].some((c) => c.state !== 'closed')) && Date.now() < deadline) {
      // Always yield to the event loop: the close handshakes need I/O, not just microtasks.
      await new Promise((r) => setTimeout(r, 20));
      if (this.inflight.size > 0) await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 100))]);
    }
    for (const c of this.connections.values()) c.socket?.terminate();
    this.wss.close();
  }
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message });
  // Full close once the response is flushed: a client that ignores it must not keep the socket.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
