/**
 * Runs the local stack as a child process exactly as `npm start` does (`node --import tsx
 * local/main.ts`), parses the printed URL, waits for "ready", and signs users in over HTTP through
 * the same OAuth redirects a browser follows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export interface StackProcess {
  readonly origin: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDataDir(): { dir: string; remove(): void } {
  const parent = mkdtempSync(join(tmpdir(), 'concord-local-'));
  return { dir: join(parent, 'data'), remove: () => rmSync(parent, { recursive: true, force: true }) };
}

/** Starts `npm start`'s command; resolves once "ready" is printed (rejects with the output if it exits first). */
export function runStack(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 90_000): Promise<StackProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const output = () => `--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the local stack did not print "ready" within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    const onData = () => {
      const ready = /^ready$/m.test(stdout);
      const url = /^Open (http:\/\/\S+?)\/? in your browser\.$/m.exec(stdout);
      if (ready && url) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolvePromise({
          origin: url[1],
          child,
          output,
          async stop(signal = 'SIGINT') {
            if (child.exitCode !== null) return child.exitCode;
            child.kill(signal);
            const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
            const code = await exited;
            clearTimeout(killer);
            return code;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`the local stack exited with ${code} before "ready"\n${output()}`), { exitCode: code, stdout, stderr }));
    });
  });
}

/** Runs the CLI to completion (for start-up errors); resolves with exit code and output. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A cookie jar for one user: what a browser would keep for the site. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  absorb(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Signs a user in as a browser would: /api/auth/login → the local authorize endpoint (with
 * login_hint, the scripted sign-in) → /api/auth/callback, keeping cookies along the way.
 */
export async function signIn(origin: string, username: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const login = await fetch(`${origin}/api/auth/login?return=/`, { redirect: 'manual' });
  jar.absorb(login);
  if (login.status !== 302) throw new Error(`login answered ${login.status}: ${await login.text()}`);
  const authorize = new URL(login.headers.get('location')!, origin);
  if (authorize.origin !== new URL(origin).origin || !authorize.pathname.startsWith('/local-auth/oauth2/authorize')) {
    throw new Error(`login redirected somewhere unexpected: ${authorize}`);
  }
  authorize.searchParams.set('login_hint', username);
  const code = await fetch(authorize, { redirect: 'manual' });
  if (code.status !== 302) throw new Error(`authorize answered ${code.status}: ${await code.text()}`);
  const callback = new URL(code.headers.get('location')!, origin);
  const done = await fetch(callback, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.absorb(done);
  if (done.status !== 302 || !jar.get('concord_at')) throw new Error(`callback answered ${done.status} without an access cookie: ${await done.text()}`);
  return jar;
}

export async function api<T = unknown>(origin: string, jar: CookieJar, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { cookie: jar.header(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  jar.absorb(res);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A PostgreSQL schema of its own on the shared server (CI), as `?options=-c search_path=...`. */
export async function isolatedDatabaseUrl(shared: string): Promise<{ url: string; drop(): Promise<void> }> {
  const { default: pg } = await import('pg');
  const schema = `local_stack_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: shared });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(shared);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: shared });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
