/**
 * The real WebSocket handlers (authorizer, connect, message) wired as the CDK app and the local
 * stack wire them, through environment variables: dynalite for DynamoDB, a JWKS served over HTTP
 * by the local token issuer, and a recording @connections endpoint for postToConnection. Used by
 * the auth/access tests and the handler-level fuzz.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createOAuthServer } from '../../local/auth/oauth-server';
import { ENV } from '../../contracts/env';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded/dynamodb';
import { createTokenIssuer, type TokenIssuer } from '../../local/auth/token-issuer';
import { startEmbeddedPostgres } from '../../local/embedded/postgres';
import type { Clock } from '../../lambdas/core/ports';
import { wsEvent, wsRequestContext } from '../support/websocket-events';

/**
 * The snapshot database: the running PostgreSQL when DATABASE_URL is set (CI), isolated in a
 * schema of its own since test files run in parallel; otherwise an in-memory PGlite.
 */
async function startDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  const shared = process.env.CONCORD_TEST_SHARED_DATABASE_URL ?? process.env[ENV.DATABASE_URL];
  if (shared) {
    process.env.CONCORD_TEST_SHARED_DATABASE_URL = shared;
    const schema = `sec_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: shared });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const url = new URL(shared);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      url: url.toString(),
      stop: async () => {
        const c = new pg.Client({ connectionString: shared });
        await c.connect();
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
        await c.end();
      },
    };
  }
  const embedded = await startEmbeddedPostgres({ maxConnections: 8 });
  return { url: embedded.databaseUrl, stop: () => embedded.stop() };
}

export class MovableClock implements Clock {
  offsetMs = 0;
  now() {
    return Date.now() + this.offsetMs;
  }
}

/** A minimal @connections API: records posted frames, 410 for closed or unknown connections. */
async function startConnectionsRecorder() {
  const frames = new Map<string, string[]>();
  const closed = new Set<string>();
  const server: Server = createServer((req, res) => {
    const match = /^\/ws\/@connections\/([^/?]+)/.exec(req.url ?? '');
    const id = match ? decodeURIComponent(match[1]) : '';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!id || !frames.has(id) || closed.has(id)) {
        res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' }).end(JSON.stringify({ message: 'Gone' }));
        return;
      }
      if (req.method === 'POST') frames.get(id)!.push(Buffer.concat(chunks).toString());
      else if (req.method === 'DELETE') closed.add(id);
      res.writeHead(req.method === 'DELETE' ? 204 : 200, { 'content-type': 'application/json' }).end(req.method === 'DELETE' ? undefined : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/ws`,
    /** Lets the connection receive frames (the gateway knows it). */
    open: (id: string) => void frames.set(id, frames.get(id) ?? []),
    take: (id: string) => frames.get(id)?.splice(0) ?? [],
    isClosed: (id: string) => closed.has(id),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The deployed site's origin as the api handler sees it (https, as behind CloudFront). */
export const SITE_ORIGIN = 'https://concord.example';

export type ApiResult = APIGatewayProxyStructuredResultV2 & { headers: Record<string, string>; cookies?: string[] };

export interface HandlerHarness {
  readonly issuer: TokenIssuer;
  readonly dynamo: EmbeddedDynamo;
  readonly clock: MovableClock;
  readonly connections: Awaited<ReturnType<typeof startConnectionsRecorder>>;
  readonly jwksUrl: string;
  readonly handlers: {
    authorizer: typeof import('../../lambdas/authorizer').handler;
    connect: typeof import('../../lambdas/connect').handler;
    message: typeof import('../../lambdas/message').handler;
    api: typeof import('../../lambdas/api').handler;
  };
  /** One HTTP API request to the api handler (payload format 2.0). */
  api(method: string, path: string, options?: { cookies?: Record<string, string>; body?: unknown; query?: Record<string, string> }): Promise<ApiResult>;
  /** The whole sign-in: /api/auth/login, the OAuth server with login_hint, /api/auth/callback. */
  signIn(username: string): Promise<{ setCookies: string[]; cookies: Record<string, string>; location: string }>;
  readonly runtime: typeof import('../../lambdas/runtime').runtime;
  authorizerEvent(options: { cookie?: string; docId?: string; query?: Record<string, string> }): APIGatewayRequestAuthorizerEvent;
  /** Runs the authorizer, then connect with its context; returns the connection id (or the refusal). */
  connectAs(token: string, docId: string): Promise<{ connectionId: string; result: APIGatewayAuthorizerResult }>;
  /** One $default frame from a connection. */
  send(connectionId: string, frame: string): Promise<unknown>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Sees every DynamoDB request (target and JSON body) before dynalite does. */
  readonly onDynamoRequest?: (target: string, body: Record<string, unknown>) => void;
}

/** A pass-through HTTP proxy in front of dynalite that shows each request to `onRequest`. */
async function startDynamoTap(target: string, onRequest: (target: string, body: Record<string, unknown>) => void) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      try {
        onRequest(String(req.headers['x-amz-target'] ?? ''), JSON.parse(raw.toString() || '{}') as Record<string, unknown>);
      } catch {
        /* not JSON: still forwarded */
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const upstream = await fetch(`${target}${req.url ?? '/'}`, { method: req.method, headers, body: raw.length ? raw : undefined });
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      });
      res.writeHead(upstream.status, out).end(Buffer.from(await upstream.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function startHandlerHarness(options: HarnessOptions = {}): Promise<HandlerHarness> {
  const connections = await startConnectionsRecorder();
  let oauth: ReturnType<typeof createOAuthServer> | null = null;
  // The local OAuth server (Cognito's endpoints and the JWKS), as the local stack mounts it.
  const jwksServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (oauth && path.startsWith('/local-auth/')) void oauth(req, res, path.slice('/local-auth'.length));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
  const issuer = await createTokenIssuer({ issuer: `${origin}/local-auth` });
  oauth = createOAuthServer({ issuer, allowedRedirectUris: [`${SITE_ORIGIN}/api/auth/callback`], defaultLogoutUri: `${SITE_ORIGIN}/` });
  const dynamo = await startEmbeddedDynamo({ tablePrefix: `t${randomUUID().slice(0, 8)}-` });
  const database = await startDatabase();
  const tap = options.onDynamoRequest ? await startDynamoTap(dynamo.endpoint, options.onDynamoRequest) : null;
  Object.assign(process.env, dynamo.env, tap ? { [ENV.DYNAMODB_ENDPOINT]: tap.endpoint } : {}, {
    [ENV.CONNECTIONS_ENDPOINT]: connections.endpoint,
    [ENV.JWT_ISSUER]: issuer.issuer,
    [ENV.JWT_AUDIENCE]: issuer.clientId,
    [ENV.JWKS_URL]: `${origin}/local-auth/.well-known/jwks.json`,
    [ENV.DATABASE_URL]: database.url,
    [ENV.COGNITO_DOMAIN]: `${origin}/local-auth`,
    [ENV.COGNITO_CLIENT_ID]: issuer.clientId,
    [ENV.SITE_ORIGIN]: SITE_ORIGIN,
    [ENV.RATE_LIMIT_PER_SECOND]: '100000',
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  delete process.env[ENV.REDIS_URL];
  const { resetRuntime, runtime } = await import('../../lambdas/runtime');
  const clock = new MovableClock();
  await resetRuntime({ clock });
  await (await import('../../lambdas/migrate')).handler({ RequestType: 'Create' });
  const handlers = {
    authorizer: (await import('../../lambdas/authorizer')).handler,
    connect: (await import('../../lambdas/connect')).handler,
    message: (await import('../../lambdas/message')).handler,
    api: (await import('../../lambdas/api')).handler,
  };
  const api: HandlerHarness['api'] = async (method, path, options = {}) => {
    const cookies = Object.entries(options.cookies ?? {}).map(([k, v]) => `${k}=${v}`);
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: path,
      rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
      cookies,
      headers: { host: new URL(SITE_ORIGIN).host, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      queryStringParameters: options.query,
      requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, domainName: new URL(SITE_ORIGIN).host, stage: '$default', requestId: randomUUID(), routeKey: '$default', timeEpoch: Date.now() },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    return (await handlers.api(event)) as ApiResult;
  };
  const cookieValues = (setCookies: readonly string[]) => {
    const out: Record<string, string> = {};
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      out[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1));
    }
    return out;
  };
  const signIn: HandlerHarness['signIn'] = async (username) => {
    const login = await api('GET', '/api/auth/login', { query: { return: '/d/x' } });
    const pkce = cookieValues(login.cookies ?? []).concord_pkce;
    const authorize = new URL(login.headers.location);
    authorize.searchParams.set('login_hint', username);
    const answer = await fetch(authorize, { redirect: 'manual' });
    const back = new URL(answer.headers.get('location') ?? '');
    const callback = await api('GET', '/api/auth/callback', { cookies: { concord_pkce: encodeURIComponent(pkce) }, query: Object.fromEntries(back.searchParams) });
    if (callback.statusCode !== 302) throw new Error(`sign-in failed: ${callback.statusCode} ${String(callback.body)}`);
    return { setCookies: [...(login.cookies ?? []), ...(callback.cookies ?? [])], cookies: cookieValues(callback.cookies ?? []), location: callback.headers.location };
  };
  const authorizerEvent: HandlerHarness['authorizerEvent'] = ({ cookie, docId, query }) =>
    ({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:local/ws/$connect',
      resource: '$connect',
      path: '/ws',
      httpMethod: 'GET',
      headers: { Host: '127.0.0.1', ...(cookie !== undefined ? { Cookie: cookie } : {}) },
      multiValueHeaders: {},
      queryStringParameters: { ...(docId !== undefined ? { doc: docId } : {}), ...query },
      multiValueQueryStringParameters: {},
      pathParameters: {},
      stageVariables: {},
      requestContext: wsRequestContext('$connect', randomUUID()),
    }) as unknown as APIGatewayRequestAuthorizerEvent;

  return {
    issuer,
    dynamo,
    clock,
    connections,
    jwksUrl: `${origin}/local-auth/.well-known/jwks.json`,
    handlers,
    runtime,
    api,
    signIn,
    authorizerEvent,
    async connectAs(token, docId) {
      const event = authorizerEvent({ cookie: `concord_at=${token}`, docId });
      const result = await handlers.authorizer(event);
      const connectionId = (event.requestContext as { connectionId: string }).connectionId;
      if (result.policyDocument.Statement[0].Effect === 'Allow') {
        const connected = await handlers.connect(wsEvent('$connect', connectionId, undefined, { ...result.context, principalId: result.principalId }) as never);
        if ((connected as { statusCode: number }).statusCode === 200) connections.open(connectionId);
      }
      return { connectionId, result };
    },
    send(connectionId, frame) {
      return handlers.message(wsEvent('$default', connectionId, frame) as never);
    },
    async stop() {
      await resetRuntime();
      await database.stop();
      await tap?.stop();
      await dynamo.stop();
      await connections.stop();
      await new Promise<void>((r) => jwksServer.close(() => r()));
    },
  };
}
