/**
 * Runs the real Lambda handlers against real local servers: dynalite (DynamoDB API), PostgreSQL
 * (the server at DATABASE_URL in a fresh database per harness, else embedded PGlite), Redis when
 * REDIS_URL is set (else the in-process fallback), a local @connections endpoint and an OAuth/JWKS
 * server. Builds the events API Gateway and DynamoDB Streams would send, so tests call the
 * `handler` exports exactly as Lambda (or the local stack) does.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as Y from 'yjs';
import { QueryCommand, type AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayRequestAuthorizerEvent, AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ENV } from '../../contracts/env';
import { ClientSession } from '../../lambdas/core/client-session';
import type { Role } from '../../lambdas/core/ports';
import { resetRuntime, runtime } from '../../lambdas/runtime';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded/dynamodb';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../local/embedded/postgres';
import { startAuthServer, type AuthServer } from './auth-server';
import { startConnectionsEndpoint, type ConnectionsEndpoint } from './connections-endpoint';
import { handler as authorizer } from '../../lambdas/authorizer';
import { handler as connect } from '../../lambdas/connect';
import { handler as disconnect } from '../../lambdas/disconnect';
import { handler as message } from '../../lambdas/message';
import { handler as migrate } from '../../lambdas/migrate';
import type { WebSocketEvent } from '../../lambdas/ws-event';
import { wsEvent as buildWsEvent, wsRequestContext, type WebSocketRouteKey } from './websocket-events';

export interface HarnessOptions {
  /** Start PostgreSQL (and run the migrations through the migrate handler). */
  readonly postgres?: boolean;
  /** Cache URL override: undefined = REDIS_URL from the environment, null = no cache server. */
  readonly redisUrl?: string | null;
  readonly rateLimitPerSecond?: number;
  readonly compactAfterEntries?: number;
}

/** A fresh database on the PostgreSQL server at `serverUrl`, dropped by `drop()`. */
export async function createScratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `concord_t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        // Wait for the test's pools to finish closing instead of killing their connections at
        // once: a terminated connection surfaces as an uncaught error in whichever test runs next.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name}${attempt >= 30 ? ' WITH (FORCE)' : ''}`);
            return;
          } catch (e) {
            if ((e as { code?: string }).code !== '55006' || attempt >= 30) throw e; // 55006: still in use
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

export async function startHarness(options: HarnessOptions = {}) {
  const [dynamo, endpoint, auth] = await Promise.all([startEmbeddedDynamo(), startConnectionsEndpoint(), startAuthServer()]);
  let embedded: EmbeddedPostgres | undefined;
  let scratch: { url: string; drop(): Promise<void> } | undefined;
  let databaseUrl = '';
  if (options.postgres) {
    if (process.env.DATABASE_URL_SERVER ?? process.env.DATABASE_URL) {
      // Remember the server URL: DATABASE_URL is replaced by the scratch database below.
      process.env.DATABASE_URL_SERVER ??= process.env.DATABASE_URL;
      scratch = await createScratchDatabase(process.env.DATABASE_URL_SERVER!);
      databaseUrl = scratch.url;
    } else {
      embedded = await startEmbeddedPostgres();
      databaseUrl = embedded.databaseUrl;
    }
  }
  const redisUrl = options.redisUrl === undefined ? process.env.REDIS_URL_SERVER ?? process.env.REDIS_URL : options.redisUrl;
  process.env.REDIS_URL_SERVER ??= process.env.REDIS_URL ?? '';
  const env: Record<string, string | undefined> = {
    ...dynamo.env,
    [ENV.CONNECTIONS_ENDPOINT]: endpoint.endpoint,
    [ENV.DATABASE_URL]: databaseUrl || undefined,
    [ENV.REDIS_URL]: redisUrl || undefined,
    [ENV.JWT_ISSUER]: auth.issuer.issuer,
    [ENV.JWT_AUDIENCE]: auth.issuer.clientId,
    [ENV.JWKS_URL]: auth.jwksUrl,
    [ENV.COGNITO_DOMAIN]: auth.url,
    [ENV.COGNITO_CLIENT_ID]: auth.issuer.clientId,
    [ENV.SITE_ORIGIN]: 'https://concord.test',
    [ENV.RATE_LIMIT_PER_SECOND]: String(options.rateLimitPerSecond ?? 1000),
    [ENV.COMPACT_AFTER_ENTRIES]: String(options.compactAfterEntries ?? 1000),
    [ENV.LOG_LEVEL]: process.env.CONCORD_TEST_LOG_LEVEL ?? 'SILENT',
    POWERTOOLS_METRICS_DISABLED: process.env.CONCORD_TEST_METRICS ? 'false' : 'true',
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await resetRuntime();
  if (options.postgres) await migrate({ RequestType: 'Create' });

  let streamSeq = 0;
  const streamed = new Map<string, number>();

  const harness = {
    dynamo: dynamo as EmbeddedDynamo,
    endpoint: endpoint as ConnectionsEndpoint,
    auth: auth as AuthServer,
    databaseUrl,
    env,

    /** Mints an access token cookie header for a user. */
    async cookie(username: string, ttlSeconds = 900): Promise<{ cookie: string; jti: string; exp: number }> {
      const t = await auth.issuer.accessToken({ username, ttlSeconds });
      return { cookie: `concord_at=${t.token}`, jti: t.jti, exp: t.exp };
    },

    authorizerEvent(cookie: string | undefined, docId: string | undefined, connectionId: string = randomUUID()): APIGatewayRequestAuthorizerEvent {
      return {
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/ws/$connect',
        headers: cookie ? { Cookie: cookie, Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com' } : { Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com' },
        multiValueHeaders: cookie ? { Cookie: [cookie] } : {},
        queryStringParameters: docId === undefined ? {} : { doc: docId },
        multiValueQueryStringParameters: docId === undefined ? {} : { doc: [docId] },
        requestContext: wsRequestContext('$connect', connectionId),
      } as unknown as APIGatewayRequestAuthorizerEvent;
    },

    wsEvent(routeKey: WebSocketRouteKey, connectionId: string, body?: string, authorizerContext?: Record<string, unknown>): WebSocketEvent {
      return buildWsEvent(routeKey, connectionId, body, authorizerContext);
    },

    /**
     * Opens a socket as API Gateway would: authorizer on $connect with the cookie and `doc`, then
     * the connect handler with the authorizer's context. Returns the connection id (or the refusal).
     */
    async open(username: string, docId: string, ttlSeconds = 900): Promise<{ connectionId: string; jti: string }> {
      const { cookie, jti } = await harness.cookie(username, ttlSeconds);
      const connectionId = `c-${randomUUID()}`;
      const result = await authorizer(harness.authorizerEvent(cookie, docId, connectionId));
      if (result.policyDocument.Statement[0].Effect !== 'Allow') throw new Error(`authorizer denied ${username} on ${docId}`);
      const response = await connect(harness.wsEvent('$connect', connectionId, undefined, { ...result.context, principalId: result.principalId }));
      if ((response as { statusCode: number }).statusCode !== 200) throw new Error(`connect refused: ${JSON.stringify(response)}`);
      return { connectionId, jti };
    },

    /** Sends one text frame through the message handler. */
    send: (connectionId: string, frame: string) => message(harness.wsEvent('$default', connectionId, frame)),

    close: (connectionId: string) => disconnect(harness.wsEvent('$disconnect', connectionId)),

    /** Creates a document owned by `ownerId`, with extra members. */
    async createDocument(ownerId: string, members: Record<string, Role> = {}): Promise<string> {
      const docId = `d-${randomUUID()}`;
      const documents = runtime.documents();
      await documents.create({ docId, title: 'Test', ownerId, createdAt: Date.now() });
      for (const [userId, role] of Object.entries(members)) await documents.setRole(docId, userId, role);
      for (const userId of [ownerId, ...Object.keys(members)]) await documents.recordUser({ userId, name: userId }, Date.now());
      return docId;
    },

    /**
     * The stream records DynamoDB Streams would deliver for the op-log items of `docId` written
     * since the last call (INSERT, NEW_IMAGE, binary as base64 as in a Lambda event), including
     * part items, which the consumers must skip; not the head item, which the event source
     * mapping's filter drops (its counter changes with every append).
     */
    async streamRecords(docId: string): Promise<DynamoDBRecord[]> {
      // From seq 1: the head item (seq 0) never reaches a consumer (OP_LOG_ENTRY_FILTER_PATTERN).
      const after = streamed.get(docId) ?? 0;
      const records: DynamoDBRecord[] = [];
      const { Items } = await dynamo.client.send(new QueryCommand({
        TableName: dynamo.tableNames.OpLog,
        KeyConditionExpression: 'docId = :d AND seq > :s',
        ExpressionAttributeValues: { ':d': { S: docId }, ':s': { N: String(after) } },
        ConsistentRead: true,
      }));
      for (const item of Items ?? []) {
        const seq = Number(item.seq.N);
        streamed.set(docId, Math.max(streamed.get(docId) ?? 0, seq));
        records.push(streamRecord(item, ++streamSeq));
      }
      return records;
    },

    streamEvent: (records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records }),

    async stop() {
      await resetRuntime();
      await Promise.all([dynamo.stop(), endpoint.stop(), auth.stop()]);
      await embedded?.stop();
      await scratch?.drop().catch(() => undefined);
    },
  };
  return harness;
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

function toLambdaAttribute(v: SdkAttributeValue): AttributeValue {
  if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
  if (v.M !== undefined) return { M: Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, toLambdaAttribute(x)])) };
  if (v.L !== undefined) return { L: v.L.map(toLambdaAttribute) };
  return v as AttributeValue;
}

/** A DynamoDB Streams INSERT record, shaped as Lambda receives it. */
export function streamRecord(item: Record<string, SdkAttributeValue>, sequence: number): DynamoDBRecord {
  const image = Object.fromEntries(Object.entries(item).map(([k, v]) => [k, toLambdaAttribute(v)]));
  return {
    eventID: randomUUID().replace(/-/g, ''),
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { docId: image.docId, seq: image.seq },
      NewImage: image,
      SequenceNumber: String(1_000_000_000 + sequence).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/OpLog/stream/2026-01-01T00:00:00.000',
  };
}

/** A y-protocols client speaking to the handlers: frames out through `send`, in from @connections. */
export function wsClient(harness: Harness, connectionId: string) {
  const doc = new Y.Doc();
  const outbox: string[] = [];
  const errors: string[] = [];
  const reauths: string[] = [];
  const session = new ClientSession(doc, null, { retryDelayMs: 10, events: { error: (code) => errors.push(code), reauth: (r) => reauths.push(r) } });
  session.connected((f) => outbox.push(f));
  return {
    doc,
    session,
    errors,
    reauths,
    connectionId,
    /** Sends queued frames, then applies what the server sent back, until quiet. */
    async sync(rounds = 4) {
      for (let i = 0; i < rounds; i++) {
        while (outbox.length) await harness.send(connectionId, outbox.shift()!);
        for (const f of harness.endpoint.take(connectionId)) await session.receive(f);
        if (outbox.length === 0 && harness.endpoint.peek(connectionId).length === 0) break;
      }
    },
    /** Applies frames delivered (e.g. by fan-out) without sending anything. */
    async receive() {
      for (const f of harness.endpoint.take(connectionId)) await session.receive(f);
    },
    text: () => doc.getText('t').toString(),
  };
}

export type WsClient = ReturnType<typeof wsClient>;

/** A minimal HTTP API v2 event. */
export function httpEvent(method: string, path: string, options: { cookies?: string[]; body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { host: 'concord.test', ...(body !== undefined || method !== 'GET' ? { 'content-type': 'application/json' } : {}), ...options.headers };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    cookies: options.cookies,
    headers,
    queryStringParameters: options.query,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'concord.test',
      domainPrefix: 'concord',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: false,
  };
}

/** Polls `check` until it returns true (no fixed sleeps in tests). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
