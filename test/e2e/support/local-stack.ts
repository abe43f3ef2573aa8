/**
 * Starts the local stack exactly as `npm start` does (`node --import tsx local/main.ts`), on a
 * free port and a fresh data folder, and waits for its "ready" line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface RunningStack {
  readonly origin: string;
  readonly dataDir: string;
  /** Everything the stack printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const root = resolve(import.meta.dirname, '../../..');

/**
 * The environment a user's `npm start` would have: without what the test runner adds (vitest sets
 * NODE_ENV=test, which would make a web rebuild a development build).
 */
function npmStartEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_ENV;
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'TEST') delete env[key];
  return env;
}

export async function startLocalStack(options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunningStack> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-e2e-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', '--port', '0', '--data-dir', dataDir], {
    cwd: root,
    env: { ...npmStartEnv(), POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));

  const origin = await new Promise<string>((resolveOrigin, reject) => {
    const timer = setTimeout(() => reject(new Error(`the local stack did not print "ready" within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /Open (http:\/\/[^\s]+?)\/? in your browser\.\s*\nready/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveOrigin(m[1].replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the local stack exited with code ${code} before "ready":\n${out}`));
    });
  });

  return {
    origin,
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGINT');
        const forced = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(forced);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
