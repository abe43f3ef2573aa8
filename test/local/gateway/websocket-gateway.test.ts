/**
 * The API Gateway WebSocket emulator: event shapes, authorizer outcomes, limits (1003, 1009, idle,
 * max age) and the @connections management API driven by the real
 * @aws-sdk/client-apigatewaymanagementapi.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ApiGatewayManagementApiClient, DeleteConnectionCommand, GetConnectionCommand, GoneException, PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocketGateway, type GatewayLimits, type GatewayRoute } from '../../../local/gateway/websocket-gateway';

type Event = Record<string, any>;

interface Harness {
  gateway: WebSocketGateway;
  url: string;
  sdk: ApiGatewayManagementApiClient;
  events: { route: GatewayRoute; event: Event }[];
  stop(): Promise<void>;
}

const servers: Harness[] = [];

async function waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startHarness(limits: Partial<GatewayLimits> = {}, onMessage?: (event: Event, h: Harness) => Promise<void>, identitySources?: readonly string[]): Promise<Harness> {
  const events: Harness['events'] = [];
  let harness!: Harness;
  const gateway = new WebSocketGateway({
    domainName: 'local.test',
    limits,
    identitySources,
    invoke: async (route, event: Event) => {
      events.push({ route, event });
      if (route === 'authorizer') {
        const token = event.queryStringParameters?.token;
        if (token === 'deny') return { principalId: 'x', policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: event.methodArn }] } };
        if (token !== 'ok') throw new Error('Unauthorized');
        return {
          principalId: 'alice',
          policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
          context: { userId: 'alice', docId: event.queryStringParameters?.doc ?? 'd1' },
        };
      }
      if (route === 'connect') {
        if (event.queryStringParameters?.doc === 'reject') return { statusCode: 403 };
        if (event.queryStringParameters?.doc === 'post-in-connect') {
          // API Gateway: the connection does not exist for @connections until $connect returns.
          try {
            await harness.sdk.send(new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: 'early' }));
            return { statusCode: 500 };
          } catch (e) {
            return { statusCode: e instanceof GoneException ? 200 : 500 };
          }
        }
        return { statusCode: 200 };
      }
      if (route === 'message' && onMessage) await onMessage(event, harness);
      return { statusCode: 200 };
    },
  });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path.startsWith('/ws/@connections/')) void gateway.handleManagement(req, res, path.slice(3));
    else res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sdk = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}/ws`, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  harness = {
    gateway,
    url: `ws://127.0.0.1:${port}/ws`,
    sdk,
    events,
    async stop() {
      sdk.destroy();
      await gateway.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  servers.push(harness);
  return harness;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { Cookie: 'concord_at=abc' }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

afterEach(async () => {
  while (servers.length) await servers.pop()!.stop();
});

describe('WebSocket gateway emulator: $connect, $default, $disconnect', () => {
  it('runs the authorizer with a REQUEST event, passes its context to $connect and $default, and reports $disconnect', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok&doc=doc-42`);
    ws.send('aGVsbG8=');
    await waitFor(() => h.events.find((e) => e.route === 'message'), 'the $default invocation');
    ws.close(1000);
    await waitFor(() => h.events.find((e) => e.route === 'disconnect'), 'the $disconnect invocation');

    const auth = h.events.find((e) => e.route === 'authorizer')!.event;
    expect(auth.type).toBe('REQUEST');
    expect(auth.methodArn).toMatch(/\/ws\/\$connect$/);
    expect(auth.headers.Cookie).toBe('concord_at=abc');
    expect(auth.queryStringParameters).toEqual({ token: 'ok', doc: 'doc-42' });
    expect(auth.requestContext).toMatchObject({ routeKey: '$connect', eventType: 'CONNECT', stage: 'ws', domainName: 'local.test' });

    const connect = h.events.find((e) => e.route === 'connect')!.event;
    const connectionId = connect.requestContext.connectionId as string;
    expect(connectionId).toMatch(/^[A-Za-z0-9+/]{15}=$/);
    expect(connect.requestContext.authorizer).toMatchObject({ principalId: 'alice', userId: 'alice', docId: 'doc-42' });

    const message = h.events.find((e) => e.route === 'message')!.event;
    expect(message.body).toBe('aGVsbG8=');
    expect(message.isBase64Encoded).toBe(false);
    expect(message.requestContext).toMatchObject({ routeKey: '$default', eventType: 'MESSAGE', connectionId, stage: 'ws', domainName: 'local.test', authorizer: { docId: 'doc-42' } });
    expect(typeof message.requestContext.messageId).toBe('string');

    const disconnect = h.events.find((e) => e.route === 'disconnect')!.event;
    expect(disconnect.requestContext).toMatchObject({ routeKey: '$disconnect', eventType: 'DISCONNECT', connectionId, disconnectStatusCode: 1000 });
  });

  it('answers 401 when the authorizer throws Unauthorized and 403 on a Deny policy, without running $connect', async () => {
    const h = await startHarness();
    await expect(open(`${h.url}?token=nope`)).rejects.toThrow('HTTP 401');
    await expect(open(`${h.url}?token=deny`)).rejects.toThrow('HTTP 403');
    expect(h.events.filter((e) => e.route === 'connect')).toHaveLength(0);
  });

  it('answers 401 without invoking the authorizer when an identity source (Cookie header, doc query) is missing', async () => {
    const { AUTHORIZER_IDENTITY_SOURCES } = await import('../../../contracts/websocket');
    const h = await startHarness({}, undefined, AUTHORIZER_IDENTITY_SOURCES);
    const noCookie = new WebSocket(`${h.url}?token=ok&doc=d1`);
    const status = await new Promise<number>((resolve) => noCookie.once('unexpected-response', (_req, res) => resolve(res.statusCode!)));
    expect(status).toBe(401);
    await expect(open(`${h.url}?token=ok`)).rejects.toThrow('HTTP 401'); // cookie but no doc
    expect(h.events.filter((e) => e.route === 'authorizer')).toHaveLength(0);
    const ws = await open(`${h.url}?token=ok&doc=d1`);
    expect(h.events.filter((e) => e.route === 'authorizer')).toHaveLength(1);
    ws.close();
  });

  it('refuses the upgrade with the status $connect returns', async () => {
    const h = await startHarness();
    await expect(open(`${h.url}?token=ok&doc=reject`)).rejects.toThrow('HTTP 403');
  });

  it('answers 410 GoneException to a post made during the connection\'s own $connect', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok&doc=post-in-connect`);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});

describe('WebSocket gateway emulator: API Gateway limits', () => {
  it('closes with 1003 on a binary frame, without invoking $default', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const done = closed(ws);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await done).code).toBe(1003);
    expect(h.events.filter((e) => e.route === 'message')).toHaveLength(0);
  });

  it('closes with 1009 on a single frame over 32 KB', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const done = closed(ws);
    ws.send('a'.repeat(32 * 1024 + 1));
    expect((await done).code).toBe(1009);
    expect(h.events.filter((e) => e.route === 'message')).toHaveLength(0);
  });

  it('accepts a frame of exactly 32 KB and a fragmented message of 96 KB', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    ws.send('a'.repeat(32 * 1024));
    for (let i = 0; i < 4; i++) ws.send('b'.repeat(24 * 1024), { fin: i === 3 });
    const messages = await waitFor(() => {
      const m = h.events.filter((e) => e.route === 'message');
      return m.length === 2 ? m : null;
    }, 'two messages');
    expect(messages.map((m) => m.event.body.length).sort()).toEqual([32 * 1024, 96 * 1024]);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('closes with 1009 on a message over 128 KB made of frames under 32 KB', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const done = closed(ws);
    for (let i = 0; i < 5; i++) ws.send('c'.repeat(30 * 1024), { fin: i === 4 });
    expect((await done).code).toBe(1009);
    expect(h.events.filter((e) => e.route === 'message')).toHaveLength(0);
  });

  it('closes an idle connection (1001) after the idle timeout, and client messages keep it open', async () => {
    const h = await startHarness({ idleTimeoutMs: 1500 });
    const ws = await open(`${h.url}?token=ok`);
    const done = closed(ws);
    let closedEarly = false;
    void done.then(() => (closedEarly = true));
    // Activity every 300 ms for 2.1 s: longer than the timeout, yet the socket stays open.
    for (let i = 0; i < 7; i++) {
      ws.send('cGluZw==');
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(closedEarly).toBe(false);
    const started = Date.now();
    const { code } = await done;
    expect(code).toBe(1001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    await waitFor(() => h.events.find((e) => e.route === 'disconnect'), '$disconnect after idle close');
  });

  it('counts server posts through @connections as activity for the idle timeout', async () => {
    const h = await startHarness({ idleTimeoutMs: 1500 });
    const ws = await open(`${h.url}?token=ok`);
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    let closedEarly = false;
    const done = closed(ws);
    void done.then(() => (closedEarly = true));
    for (let i = 0; i < 7; i++) {
      await h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'a2VlcA==' }));
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(closedEarly).toBe(false);
    expect((await done).code).toBe(1001);
  });

  it('closes a connection (1001) at its maximum age even while it is active', async () => {
    const h = await startHarness({ maxConnectionAgeMs: 1200 });
    const ws = await open(`${h.url}?token=ok`);
    const done = closed(ws);
    const timer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('cGluZw=='), 100);
    const { code } = await done;
    clearInterval(timer);
    expect(code).toBe(1001);
  });
});

describe('WebSocket gateway emulator: @connections with the AWS SDK', () => {
  it('delivers a post to the socket as a text frame, answers GET, and 410 GoneException after disconnect', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const received: string[] = [];
    ws.on('message', (data, isBinary) => received.push(`${isBinary ? 'binary' : 'text'}:${data.toString()}`));
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;

    await h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'AAEC' }));
    await waitFor(() => received.length === 1, 'the posted frame');
    expect(received).toEqual(['text:AAEC']);

    const info = await h.sdk.send(new GetConnectionCommand({ ConnectionId: connectionId }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');

    const done = closed(ws);
    ws.close();
    await done;
    await waitFor(() => h.events.find((e) => e.route === 'disconnect'), '$disconnect');
    await expect(h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'late' }))).rejects.toBeInstanceOf(GoneException);
    await expect(h.sdk.send(new GetConnectionCommand({ ConnectionId: connectionId }))).rejects.toBeInstanceOf(GoneException);
  });

  it('answers a post at once, like API Gateway, even while the client is not reading; frames arrive in order once it reads', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const received: string[] = [];
    ws.on('message', (data) => received.push(data.toString()));
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    // A browser tab busy applying a large change stops reading its socket (Chrome's flow
    // control); the poster must not wait for it, or every other document's fan-out waits too.
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const frames = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(3, '0')}:${'x'.repeat(100 * 1024)}`);
    let answered = 0;
    const posts = (async () => {
      for (const Data of frames) {
        await h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data }));
        answered++;
      }
    })();
    // 20 MB is far more than the kernel buffers between the two ends hold.
    await waitFor(() => answered === frames.length, 'every post answered while the client is paused', 10_000);
    expect(received.length).toBeLessThan(frames.length);
    socket.resume();
    await posts;
    await waitFor(() => received.length === frames.length, 'every frame delivered once the client reads');
    expect(received).toEqual(frames);
  });

  it('closes (1011) a client that leaves more than the unread cap unread, and answers 410 from then on', async () => {
    const h = await startHarness({ unreadBytes: 2 * 1024 * 1024 });
    const ws = await open(`${h.url}?token=ok`);
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    let gone = -1;
    for (let i = 0; i < 1000 && gone < 0; i++) {
      try {
        await h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'y'.repeat(100 * 1024) }));
      } catch (e) {
        expect(e).toBeInstanceOf(GoneException);
        gone = i;
      }
    }
    // The kernel buffers some of what was posted; the cap counts only what the gateway still holds.
    expect(gone).toBeGreaterThan(20);
    await waitFor(() => h.events.find((e) => e.route === 'disconnect' && e.event.requestContext.connectionId === connectionId), '$disconnect');
    await expect(h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'late' }))).rejects.toBeInstanceOf(GoneException);
  });

  it('DELETE closes the socket and runs $disconnect', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    const done = closed(ws);
    await h.sdk.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    expect((await done).code).toBe(1000);
    await waitFor(() => h.events.find((e) => e.route === 'disconnect' && e.event.requestContext.connectionId === connectionId), '$disconnect');
  });

  it('refuses unsigned management requests (browsers cannot reach @connections)', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    const httpUrl = h.url.replace('ws://', 'http://');
    const res = await fetch(`${httpUrl}/@connections/${encodeURIComponent(connectionId)}`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(403);
    ws.close();
  });

  it('fault knob: drop cuts the socket without a close frame and $disconnect runs with 1006', async () => {
    const h = await startHarness();
    const ws = await open(`${h.url}?token=ok`);
    const connectionId = h.events.find((e) => e.route === 'connect')!.event.requestContext.connectionId as string;
    const done = closed(ws);
    expect(h.gateway.drop(connectionId)).toBe(true);
    expect((await done).code).toBe(1006);
    const disconnect = await waitFor(() => h.events.find((e) => e.route === 'disconnect'), '$disconnect');
    expect(disconnect.event.requestContext.disconnectStatusCode).toBe(1006);
    await expect(h.sdk.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }))).rejects.toBeInstanceOf(GoneException);
  });
});

