/**
 * The local stack: every piece `npm start` runs, wired together, as a function tests can call.
 *
 *   browser ──► http://127.0.0.1:8787 ─┬─ /             web/dist (CloudFront behaviour and headers)
 *                                      ├─ /api/*        `api` handler (HTTP API payload 2.0)
 *                                      ├─ /ws           WebSocket gateway emulator ─► authorizer/connect/message/disconnect
 *                                      ├─ /local-auth/* local OAuth server (Cognito's endpoints)
 *                                      └─ /_local/*     fault knobs and status (local only)
 *   handlers ──► DynamoDB proxy (streams, faults) ──► dynalite (data dir)
 *            ──► @connections (internal port) ──► gateway
 *            ──► PostgreSQL: PGlite (data dir) or DATABASE_URL
 *            ──► cache: in-process, or REDIS_URL through a killable TCP proxy
 *   op-log stream ──► fanout, compact (Lambda event source mapping semantics; DLQ file)
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { ENV, type HandlerName } from '../contracts/env';
import { STREAM_CONSUMERS } from '../contracts/streams';
import { AUTHORIZER_IDENTITY_SOURCES, WEBSOCKET_STAGE } from '../contracts/websocket';
import { OP_LOG_TABLE, TABLES } from '../contracts/tables';
import { createOAuthServer } from './auth/oauth-server';
import { createTokenIssuer } from './auth/token-issuer';
import { startCacheProxy, type CacheProxy } from './cache-proxy';
import { startStreamProxy, type StreamProxy } from './dynamodb/stream-proxy';
import { OpLogStream, StreamConsumer } from './dynamodb/streams';
import { TtlSweeper } from './dynamodb/ttl-sweeper';
import { startEmbeddedDynamo, type EmbeddedDynamo } from './embedded/dynamodb';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded/postgres';
import { Faults, FaultSettingsError } from './faults';
import { WebSocketGateway, type GatewayLimits } from './gateway/websocket-gateway';
import { createHttpApi } from './http/http-api';
import { SECURITY_HEADERS, createStaticSite } from './http/static-site';
import { LambdaRuntime, type LambdaHandler } from './lambda-runtime';
import { ensureWebBuilt, type WebStatus } from './web-build';

export class LocalStackError extends Error {
  constructor(
    readonly code: 'port_in_use' | 'data_dir_corrupt' | 'data_dir_in_use' | 'web_build_failed' | 'handler_missing' | 'start_failed' | 'bad_option',
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'LocalStackError';
  }
}

export interface LocalStackOptions {
  /** Repository root (holds lambdas/, web/). */
  readonly root: string;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Wipe the data folder first. */
  readonly reset?: boolean;
  /** A real PostgreSQL instead of PGlite. */
  readonly databaseUrl?: string;
  /** A real Redis/Valkey instead of the in-process cache. */
  readonly redisUrl?: string;
  /** Build web/dist when missing or stale (default true). */
  readonly buildWeb?: boolean;
  readonly gatewayLimits?: Partial<GatewayLimits>;
  /** Time between TTL sweeps, ms (default 60 s). */
  readonly ttlSweepIntervalMs?: number;
  /** How long past expiry the TTL sweeper leaves an item, ms (default 1 h). */
  readonly ttlGraceMs?: number;
  /** Stream retry backoff start, ms (default 250). */
  readonly streamRetryDelayMs?: number;
  /** Replace handlers (tests of the emulators); the others are the production files. */
  readonly handlerOverrides?: Partial<Record<HandlerName, LambdaHandler>>;
  /** One line per component and progress messages. */
  readonly print?: (line: string) => void;
  /** Structured diagnostics from the emulators. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface LocalStack {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  readonly port: number;
  readonly dataDir: string;
  readonly connectionsEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly databaseUrl: string;
  readonly faults: Faults;
  readonly gateway: WebSocketGateway;
  readonly stream: OpLogStream;
  readonly consumers: readonly StreamConsumer[];
  readonly cacheProxy: CacheProxy | null;
  readonly runtime: LambdaRuntime;
  readonly ttlSweeper: TtlSweeper;
  readonly dlqFile: string;
  readonly webStatus: WebStatus;
  /** Waits until every stream record so far has been delivered (or sent to the DLQ); `flush` skips batching windows. */
  drainStreams(flush?: boolean): Promise<void>;
  /** Clean shutdown: closes sockets ($disconnect runs), flushes the stream, stops every server. */
  stop(): Promise<void>;
}

const DATA_MARKER = 'concord-local.json';
const DATA_FORMAT = 1;

/** Checks (or creates) the data folder; refuses a corrupt one or one another stack is using. */
function prepareDataDir(dataDir: string, reset: boolean): void {
  if (reset && existsSync(dataDir)) {
    if (existsSync(dataDir) && statSync(dataDir).isDirectory() && readdirSync(dataDir).length > 0 && !existsSync(join(dataDir, DATA_MARKER))) {
      throw new LocalStackError('data_dir_corrupt', `Refusing to --reset ${dataDir}: it is not a Concord data folder (no ${DATA_MARKER}). Choose another --data-dir.`, 4);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
    throw new LocalStackError('data_dir_corrupt', `The data folder ${dataDir} is a file, not a folder. Remove it or choose another --data-dir.`, 4);
  }
  mkdirSync(dataDir, { recursive: true });
  const marker = join(dataDir, DATA_MARKER);
  if (existsSync(marker)) {
    let format: unknown;
    try {
      format = (JSON.parse(readFileSync(marker, 'utf8')) as { format?: unknown }).format;
    } catch {
      throw new LocalStackError('data_dir_corrupt', `The data folder ${dataDir} is corrupt (${DATA_MARKER} is unreadable). Run \`npm start -- --reset\` to start from scratch.`, 4);
    }
    if (format !== DATA_FORMAT) {
      throw new LocalStackError('data_dir_corrupt', `The data folder ${dataDir} has format ${String(format)}; this version reads format ${DATA_FORMAT}. Run \`npm start -- --reset\`.`, 4);
    }
  } else {
    if (readdirSync(dataDir).length > 0) {
      throw new LocalStackError('data_dir_corrupt', `The folder ${dataDir} is not empty and is not a Concord data folder. Choose another --data-dir.`, 4);
    }
    writeFileSync(marker, JSON.stringify({ format: DATA_FORMAT, createdAt: new Date().toISOString() }));
  }
  const lock = join(dataDir, 'stack.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    let alive = false;
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (alive) throw new LocalStackError('data_dir_in_use', `The data folder ${dataDir} is in use by another local stack (pid ${pid}). Stop it or choose another --data-dir.`, 4);
  }
  writeFileSync(lock, String(process.pid));
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new LocalStackError('port_in_use', `Port ${port} on ${host} is already in use. Stop the other program or pass --port <another>.`, 3));
      else if (e.code === 'EACCES') reject(new LocalStackError('port_in_use', `Not allowed to listen on ${host}:${port}. Use a port above 1024 (--port).`, 3));
      else reject(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolvePromise((server.address() as AddressInfo).port);
    });
  });
}

/** Wraps a component's start-up failure into one clear sentence. */
async function component<T>(name: string, hint: string, start: () => Promise<T>, dataPath?: string): Promise<T> {
  // A failure to open data that already existed is a damaged data folder, whatever the message.
  const hadData = dataPath !== undefined && existsSync(dataPath) && readdirSync(dataPath).length > 0;
  try {
    return await start();
  } catch (e) {
    if (e instanceof LocalStackError) throw e;
    if ((e as { code?: string })?.code === 'handler_missing') throw new LocalStackError('handler_missing', (e as Error).message, 1);
    const message = (e as Error)?.message ?? String(e);
    const corrupt = hadData || /corrupt|checksum|LEVEL_|unexpected end|truncated|not a database|PANIC/i.test(message);
    throw new LocalStackError(corrupt ? 'data_dir_corrupt' : 'start_failed', `${name} could not start: ${message.split('\n')[0]}. ${hint}`, corrupt ? 4 : 1);
  }
}

/** Opens (and closes) dynalite's LevelDB store, so damage is reported before dynalite starts. */
async function checkLevelDb(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const { Level } = fromDynalite('level') as { Level: new (path: string, options: object) => LevelLike };
  const db = new Level(path, { valueEncoding: 'json' });
  try {
    await db.open();
    for await (const key of db.keys({ limit: 1 })) void key;
  } catch (e) {
    const err = e as Error & { cause?: Error };
    throw new Error(`${err.message}${err.cause ? ` (${err.cause.message})` : ''}`);
  } finally {
    await db.close().catch(() => undefined);
  }
}

interface LevelLike {
  open(): Promise<void>;
  close(): Promise<void>;
  keys(options: { limit: number }): AsyncIterable<unknown>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString() || '{}';
  const parsed = JSON.parse(text) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('expected a JSON object');
  return parsed as Record<string, unknown>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const print = options.print ?? (() => undefined);
  const log = options.log ?? (() => undefined);
  const root = resolve(options.root);
  const dataDir = resolve(options.dataDir);
  const region = 'us-east-1';
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };

  prepareDataDir(dataDir, options.reset ?? false);
  cleanups.push(() => {
    try {
      if (readFileSync(join(dataDir, 'stack.pid'), 'utf8') === String(process.pid)) unlinkSync(join(dataDir, 'stack.pid'));
    } catch {
      /* already gone */
    }
  });

  // The public server listens first: with --port 0 its port decides the origin everything uses.
  let ready = false;
  let route: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  let upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void = (_req, socket) => socket.destroy();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!ready) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('The local stack is starting; retry in a moment.');
      return;
    }
    route(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => (ready ? upgrade(req, socket as Socket, head) : socket.destroy()));
  try {
    const port = await listen(server, options.port, options.host);
    const hostForUrl = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host.includes(':') ? `[${options.host}]` : options.host;
    const origin = `http://${hostForUrl}:${port}`;
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          for (const s of sockets) s.destroy();
        }),
    );
    print(`  data       ${dataDir}`);

    if (!['127.0.0.1', 'localhost', '::1'].includes(options.host)) {
      print(`  WARNING    listening on ${options.host}: anyone who can reach this address can sign in as anyone (the local sign-in has no password)`);
    }
    const webBuild = options.buildWeb === false ? Promise.resolve<WebStatus>('fresh') : ensureWebBuilt(root, (line) => print(`  ${line}`));
    webBuild.catch(() => undefined); // awaited below; a failure before then must not count as unhandled

    const faults = new Faults();
    const dynamoHint = `Its data is in ${join(dataDir, 'dynamodb')}; run with --reset to start from scratch.`;
    // dynalite opens its LevelDB lazily and throws from inside its request handler when that
    // fails, which would end the process with a stack trace: open it once first.
    await component('DynamoDB (dynalite)', dynamoHint, () => checkLevelDb(join(dataDir, 'dynamodb')), join(dataDir, 'dynamodb'));
    // PGlite's first start (initdb) is the slowest step: it runs while everything else starts.
    const postgresStart: Promise<EmbeddedPostgres | null> = options.databaseUrl
      ? Promise.resolve(null)
      : component('PostgreSQL (PGlite)', `Its data is in ${join(dataDir, 'postgres')}; run with --reset to start from scratch.`, () =>
          startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres') }),
          join(dataDir, 'postgres'),
        );
    // Whatever happens next, an embedded PostgreSQL that started is stopped on failure.
    cleanups.push(async () => (await postgresStart.catch(() => null))?.stop());
    const runtime = new LambdaRuntime({ root, region, overrides: options.handlerOverrides, timeoutsMs: { api: 29_000, message: 29_000, connect: 29_000, authorizer: 29_000 } });
    // Handlers read their environment on first invocation, so importing them now is safe.
    const handlersLoaded = component('The handlers', 'Check lambdas/ (see the error above).', () =>
      runtime.preload(['authorizer', 'connect', 'message', 'disconnect', 'api', 'fanout', 'compact', 'migrate']),
    );
    handlersLoaded.catch(() => undefined);
    postgresStart.catch(() => undefined);
    const issuer = await component('The token issuer', 'Run with --reset to create new keys.', () =>
      createTokenIssuer({ issuer: `${origin}/local-auth`, keyFile: join(dataDir, 'keys', 'signing-key.json') }),
    );

    const dynamo: EmbeddedDynamo = await component('DynamoDB (dynalite)', dynamoHint, () => startEmbeddedDynamo({ path: join(dataDir, 'dynamodb') }), join(dataDir, 'dynamodb'));
    cleanups.push(() => dynamo.stop());
    const opLogTableName = dynamo.tableNames[OP_LOG_TABLE.logicalName];
    const stream = new OpLogStream({ tableName: opLogTableName, region, journalDir: join(dataDir, 'stream') });
    const proxy: StreamProxy = await startStreamProxy({ target: dynamo.endpoint, opLogTableName, opLogTable: OP_LOG_TABLE, stream, faults: faults.dynamo, log });
    cleanups.push(() => proxy.stop());
    const ttlSweeper = new TtlSweeper({
      endpoint: proxy.endpoint,
      tables: TABLES.map((definition) => ({ name: dynamo.tableNames[definition.logicalName], definition })),
      intervalMs: options.ttlSweepIntervalMs,
      graceMs: options.ttlGraceMs,
      log,
    });
    ttlSweeper.start();
    cleanups.push(() => ttlSweeper.stop());
    print(`  dynamodb   ${proxy.endpoint} (streams, TTL and faults proxy) -> dynalite ${dynamo.endpoint}, data in ${join(dataDir, 'dynamodb')}`);

    let databaseUrl = options.databaseUrl;
    const postgres = await postgresStart;
    if (postgres) {
      databaseUrl = postgres.databaseUrl;
      print(`  postgres   ${databaseUrl} (PGlite, data in ${join(dataDir, 'postgres')})`);
    } else {
      print(`  postgres   ${databaseUrl!.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')} (DATABASE_URL)`);
    }
    if (!databaseUrl) throw new LocalStackError('start_failed', 'No PostgreSQL: neither DATABASE_URL nor the embedded PGlite is available.', 1);

    let cacheProxy: CacheProxy | null = null;
    if (options.redisUrl) {
      const redisUrl = options.redisUrl;
      cacheProxy = await component('The cache proxy', 'Check REDIS_URL.', () => startCacheProxy(redisUrl));
      cleanups.push(() => cacheProxy!.stop());
      print(`  cache      ${cacheProxy.url} (killable proxy) -> ${redisUrl.replace(/\/\/([^:@/]*):[^@/]+@/, '//$1:***@')} (REDIS_URL)`);
    } else {
      print('  cache      in-process memory cache (set REDIS_URL for Redis/Valkey)');
    }

    // @connections lives on an internal port, like the execute-api endpoint only Lambdas call.
    let gateway: WebSocketGateway | null = null;
    const management = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (!gateway || !url.pathname.startsWith('/ws/@connections/')) {
        res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'NotFoundException' });
        res.end(JSON.stringify({ message: 'Not Found' }));
        return;
      }
      gateway.handleManagement(req, res, url.pathname.slice('/ws'.length)).catch((e) => {
        log({ level: 'ERROR', message: '@connections failed', error: String(e) });
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    const managementPort = await listen(management, 0, '127.0.0.1');
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          management.close(() => r());
          management.closeAllConnections();
        }),
    );
    const connectionsEndpoint = `http://127.0.0.1:${managementPort}/ws`;

    // The handlers read these lazily on their first invocation. Nothing may reach AWS: every
    // endpoint is local and the catch-all AWS_ENDPOINT_URL points at a closed local port.
    const env: Record<string, string> = {
      ...dynamo.env,
      [ENV.DYNAMODB_ENDPOINT]: proxy.endpoint,
      [ENV.CONNECTIONS_ENDPOINT]: connectionsEndpoint,
      [ENV.DATABASE_URL]: databaseUrl,
      [ENV.JWT_ISSUER]: issuer.issuer,
      [ENV.JWT_AUDIENCE]: issuer.clientId,
      [ENV.JWKS_URL]: `${origin}/local-auth/.well-known/jwks.json`,
      [ENV.COGNITO_DOMAIN]: `${origin}/local-auth`,
      [ENV.COGNITO_CLIENT_ID]: issuer.clientId,
      [ENV.SITE_ORIGIN]: origin,
      [ENV.SERVICE_NAME]: process.env[ENV.SERVICE_NAME] ?? 'concord',
      [ENV.METRICS_NAMESPACE]: process.env[ENV.METRICS_NAMESPACE] ?? 'Concord',
      [ENV.LOG_LEVEL]: process.env[ENV.LOG_LEVEL] ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    };
    Object.assign(process.env, env);
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    if (cacheProxy) process.env[ENV.REDIS_URL] = cacheProxy.url;
    else delete process.env[ENV.REDIS_URL];

    const gatewayRoutes: Record<string, HandlerName> = { authorizer: 'authorizer', connect: 'connect', message: 'message', disconnect: 'disconnect' };
    await handlersLoaded;
    await component('The database migrations', 'Check the database (DATABASE_URL) or run with --reset.', () => runtime.invoke('migrate', { RequestType: 'Create', source: 'concord.local' }));

    const domainName = new URL(origin).host;
    gateway = new WebSocketGateway({
      invoke: (r, event) => runtime.invoke(gatewayRoutes[r], event),
      domainName,
      stage: WEBSOCKET_STAGE,
      identitySources: AUTHORIZER_IDENTITY_SOURCES,
      limits: options.gatewayLimits,
      log,
    });
    const gw = gateway;
    cleanups.push(() => gw.close());
    print(`  websocket  ${origin.replace(/^http/, 'ws')}/ws (API Gateway emulator; @connections at ${connectionsEndpoint})`);

    const dlqFile = join(dataDir, 'dlq.jsonl');
    const consumers = STREAM_CONSUMERS.map(
      (definition) =>
        new StreamConsumer(stream, {
          definition,
          functionArn: runtime.functionArn(definition.handler),
          invoke: (event) => runtime.invoke(definition.handler, event),
          onFailure: (record) => appendFileSync(dlqFile, JSON.stringify({ consumer: definition.handler, ...record }) + '\n'),
          retryDelayMs: options.streamRetryDelayMs,
          faults: faults.stream,
          log,
          checkpointFile: join(dataDir, 'stream', `checkpoint-${definition.handler}.json`),
        }),
    );
    // Records a previous run stored but did not deliver (a crash) go out now; the rest of the
    // journal is released.
    stream.compactJournal();
    for (const c of consumers) c.start();
    const drainStreams = async (flush = false) => {
      // Draining one consumer can race a record appended by another's handler: loop until all idle.
      while (!consumers.every((c) => c.isIdle())) await Promise.all(consumers.map((c) => c.drain({ flush })));
    };
    cleanups.push(() => {
      for (const c of consumers) c.stop();
    });
    print(`  streams    op log -> ${STREAM_CONSUMERS.map((c) => c.handler).join(', ')} (on-failure records in ${dlqFile})`);

    const oauth = createOAuthServer({
      issuer,
      allowedRedirectUris: [`${origin}/api/auth/callback`],
      defaultLogoutUri: `${origin}/`,
      refreshTokenFile: join(dataDir, 'keys', 'refresh-tokens.json'),
    });
    print(`  auth       ${origin}/local-auth (local sign-in, RS256 key in ${join(dataDir, 'keys')})`);
    const api = createHttpApi({ invoke: (event) => runtime.invoke('api', event), domainName, log });
    print(`  api        ${origin}/api`);

    const webStatus = await webBuild.catch((e: Error) => {
      throw new LocalStackError('web_build_failed', e.message, 5);
    });
    const site = createStaticSite(join(root, 'web', 'dist'));
    print(`  web        ${origin}/ (${webStatus === 'no-sources' ? 'web/ has no client yet' : 'web/dist'})`);

    const admin = async (req: IncomingMessage, res: ServerResponse, path: string) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      // Local only, and no cross-site requests: a JSON content type forces a CORS preflight we never grant.
      if (req.method === 'POST' && !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return reply(415, { error: { code: 'bad_request', message: 'Send Content-Type: application/json.' } });
      }
      if (req.headers.origin && req.headers.origin !== origin) return reply(403, { error: { code: 'forbidden', message: 'The admin endpoint only answers this site.' } });
      try {
        if (path === '/status' && req.method === 'GET') {
          return reply(200, {
            faults: faults.current,
            cache: cacheProxy ? (cacheProxy.running ? 'running' : 'killed') : 'in-process',
            connections: gw.connectionIds(),
            gateway: gw.stats,
            dynamoProxy: proxy.stats,
            consumers: Object.fromEntries(consumers.map((c) => [c.name, { ...c.stats, idle: c.isIdle() }])),
          });
        }
        if (req.method !== 'POST') return reply(405, { error: { code: 'bad_request', message: 'Use POST.' } });
        const body = await readJson(req);
        switch (path) {
          case '/faults':
            return reply(200, faults.set(body));
          case '/faults/reset':
            faults.reset();
            return reply(200, faults.current);
          case '/cache/kill':
          case '/cache/restart':
            if (!cacheProxy) {
              return reply(409, {
                error: { code: 'no_cache_server', message: 'The cache is in-process (REDIS_URL unset): there is no cache server to kill. Start with REDIS_URL set to use this knob.' },
              });
            }
            await (path === '/cache/kill' ? cacheProxy.kill() : cacheProxy.restart());
            return reply(200, { cache: cacheProxy.running ? 'running' : 'killed' });
          case '/connections/drop': {
            const ids = typeof body.connectionId === 'string' ? [body.connectionId] : gw.connectionIds();
            return reply(200, { dropped: ids.filter((id) => gw.drop(id)) });
          }
          case '/compact': {
            // The compact handler's direct invocation (lambdas/compact.ts): compaction on demand.
            const docIds = body.docIds;
            if (!Array.isArray(docIds) || docIds.length === 0 || !docIds.every((d) => typeof d === 'string' && d.length > 0)) {
              return reply(400, { error: { code: 'bad_request', message: 'Send {"docIds": ["<docId>", ...]}.' } });
            }
            return reply(200, { result: await runtime.invoke('compact', { docIds }) });
          }
          case '/streams/drain':
            await drainStreams(body.flush === true);
            return reply(200, { drained: true });
          default:
            return reply(404, { error: { code: 'not_found', message: `No admin endpoint ${path}; see docs/local.md.` } });
        }
      } catch (e) {
        if (e instanceof FaultSettingsError || e instanceof SyntaxError) return reply(400, { error: { code: 'bad_request', message: e.message } });
        throw e;
      }
    };

    route = (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const fail = (e: unknown) => {
        log({ level: 'ERROR', message: 'request failed', path, error: String(e) });
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Internal Server Error' }));
        } else res.destroy();
      };
      if (path === '/api' || path.startsWith('/api/')) return void api(req, res).catch(fail);
      if (path.startsWith('/local-auth/')) return void oauth(req, res, path.slice('/local-auth'.length)).catch(fail);
      if (path.startsWith('/_local/')) return void admin(req, res, path.slice('/_local'.length)).catch(fail);
      if (path === '/ws') {
        res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket' });
        res.end(JSON.stringify({ message: 'Upgrade Required' }));
        return;
      }
      site(req, res);
    };
    upgrade = (req, socket, head) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/ws') {
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
        return;
      }
      gw.handleUpgrade(req, socket, head);
    };
    ready = true;

    let stopping: Promise<void> | null = null;
    return {
      origin,
      port,
      dataDir,
      connectionsEndpoint,
      dynamoEndpoint: proxy.endpoint,
      databaseUrl,
      faults,
      gateway: gw,
      stream,
      consumers,
      cacheProxy,
      runtime,
      ttlSweeper,
      dlqFile,
      webStatus,
      drainStreams,
      stop() {
        stopping ??= (async () => {
          ready = false;
          // Sockets close first ($disconnect runs), then the stream drains, then clients and servers stop.
          await gw.close();
          await Promise.race([drainStreams(true), new Promise((r) => setTimeout(r, 10_000))]);
          for (const c of consumers) c.stop();
          const { resetRuntime } = await import('../lambdas/runtime');
          await resetRuntime().catch(() => undefined);
          await cleanup();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
