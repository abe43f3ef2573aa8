/**
 * `npm start`: the whole of Concord on one machine, with the production handlers.
 * Prints one line per component, then the URL to open, then "ready". Ctrl-C shuts down cleanly.
 */
import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalStackError, startLocalStack, type LocalStack } from './stack';

const HELP = `Usage: npm start -- [options]

Runs Concord locally: the web client, the HTTP API, the WebSocket API (API Gateway emulator),
DynamoDB (dynalite) with a streams emulator, PostgreSQL (PGlite, or DATABASE_URL), a cache
(in-process, or REDIS_URL) and a local sign-in. See docs/local.md.

Options:
  --port <n>         HTTP port (default: $PORT or 8787; 0 picks a free port)
  --host <addr>      address to listen on (default 127.0.0.1)
  --data-dir <dir>   data folder (default .concord-data); a restart keeps everything in it
  --reset            wipe the data folder first
  --no-build         serve web/dist as it is, without rebuilding it when stale
  --ws-idle-timeout-ms <n>   WebSocket idle timeout (default 600000, API Gateway's 10 min)
  --ws-max-age-ms <n>        WebSocket maximum connection age (default 7200000, 2 h)
  -h, --help         show this help

Environment: DATABASE_URL (a PostgreSQL server instead of PGlite), REDIS_URL (Redis/Valkey
instead of the in-process cache), POWERTOOLS_LOG_LEVEL (handler logs; default WARN).`;

// The SDK's Node 20 end-of-support notice would interleave with the component lines; the README states the Node version.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function fail(code: string, message: string, exitCode: number): never {
  process.stderr.write(`concord: error [${code}]: ${message}\n`);
  process.exit(exitCode);
}

function integer(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail('bad_option', `${name} must be an integer >= ${min} (got "${raw}"). See --help.`, 2);
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'data-dir': { type: 'string', default: '.concord-data' },
        reset: { type: 'boolean', default: false },
        'no-build': { type: 'boolean', default: false },
        'ws-idle-timeout-ms': { type: 'string' },
        'ws-max-age-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail('bad_option', `${(e as Error).message}. See --help.`, 2);
  }
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const port = integer('--port', (values.port as string | undefined) ?? process.env.PORT, 8787);
  if (port > 65535) fail('bad_option', `--port must be at most 65535 (got ${port}).`, 2);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const idle = integer('--ws-idle-timeout-ms', values['ws-idle-timeout-ms'] as string | undefined, 10 * 60_000, 1);
  const maxAge = integer('--ws-max-age-ms', values['ws-max-age-ms'] as string | undefined, 2 * 3600_000, 1);

  process.stdout.write('Concord local stack\n');
  // Signals are handled from the start: Ctrl-C during start-up waits for the components that are
  // starting (PGlite may be creating its database) and stops them, instead of leaving them half-written.
  let stack: LocalStack | null = null;
  let stopRequested: string | null = null;
  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown || (stopRequested && !stack)) {
      process.stderr.write('concord: forced exit\n');
      process.exit(130);
    }
    if (!stack) {
      stopRequested = signal;
      process.stdout.write(`\n${signal}: stopping as soon as start-up finishes (press Ctrl-C again to force)...\n`);
      return;
    }
    shuttingDown = true;
    process.stdout.write(`\n${signal}: shutting down (closing sockets, flushing the stream)...\n`);
    stack
      .stop()
      .then(() => {
        process.stdout.write('stopped\n');
        process.exit(0);
      })
      .catch((e) => {
        process.stderr.write(`concord: error [stop_failed]: ${(e as Error).message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    stack = await startLocalStack({
      root,
      port,
      host: values.host as string,
      dataDir: resolve(values['data-dir'] as string),
      reset: values.reset as boolean,
      databaseUrl: process.env.DATABASE_URL || undefined,
      redisUrl: process.env.REDIS_URL || undefined,
      buildWeb: !values['no-build'],
      gatewayLimits: { idleTimeoutMs: idle, maxConnectionAgeMs: maxAge },
      print: (line) => process.stdout.write(line + '\n'),
      log: (entry) => {
        if (entry.level === 'ERROR' || entry.level === 'WARN') process.stderr.write(JSON.stringify({ source: 'local-stack', ...entry }) + '\n');
      },
    });
  } catch (e) {
    if (e instanceof LocalStackError) fail(e.code, e.message, e.exitCode);
    fail('start_failed', `${(e as Error)?.message ?? String(e)}`, 1);
  }
  if (stopRequested) return shutdown(stopRequested);
  process.stdout.write(`\nOpen ${stack.origin}/ in your browser.\nready\n`);
}

// A handler's stray rejection is logged, not fatal: in Lambda it would end one container, not the service.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(JSON.stringify({ source: 'local-stack', level: 'ERROR', message: 'unhandled rejection', error: String((reason as Error)?.stack ?? reason) }) + '\n');
});

main().catch((e) => fail('start_failed', (e as Error)?.message ?? String(e), 1));
