/**
 * Concord's local stack as the benchmark uses it: `npm start`'s command as a child process on a
 * free port and a temporary data folder, users signed in through the same OAuth redirects a
 * browser follows (docs/api.md), documents created and shared over the HTTP API.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startServer, type ServerProcess } from './processes';

export interface ConcordStack {
  readonly origin: string;
  readonly wsBase: string;
  readonly server: ServerProcess;
  readonly port: number;
}

export async function startConcord(repoRoot: string, dataDir: string, port?: number): Promise<ConcordStack> {
  const p = port ?? (await freePort());
  const args = ['--import', 'tsx', 'local/main.ts', '--port', String(p), '--data-dir', dataDir];
  // Serve web/dist as built; rebuilding the client is not what this measures.
  if (existsSync(join(repoRoot, 'web/dist/index.html'))) args.push('--no-build');
  const server = await startServer('Concord local stack', args, /^ready$/m, { cwd: repoRoot, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' }, timeoutMs: 180_000 });
  const url = /^Open (http:\/\/\S+?)\/? in your browser\.$/m.exec(server.stdout());
  const origin = url ? url[1] : `http://127.0.0.1:${p}`;
  return { origin, wsBase: `${origin.replace(/^http/, 'ws')}/ws`, server, port: p };
}

export class CookieJar {
  private readonly cookies = new Map<string, string>();
  absorb(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
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

export async function signIn(origin: string, username: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const login = await fetch(`${origin}/api/auth/login?return=/`, { redirect: 'manual' });
  jar.absorb(login);
  if (login.status !== 302) throw new Error(`sign-in: /api/auth/login answered ${login.status}`);
  const authorize = new URL(login.headers.get('location')!, origin);
  authorize.searchParams.set('login_hint', username);
  const code = await fetch(authorize, { redirect: 'manual' });
  if (code.status !== 302) throw new Error(`sign-in: authorize answered ${code.status}`);
  const done = await fetch(new URL(code.headers.get('location')!, origin), { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.absorb(done);
  if (!jar.get('concord_at')) throw new Error(`sign-in: the callback answered ${done.status} without an access cookie`);
  return jar;
}

export async function api<T>(origin: string, jar: CookieJar, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { cookie: jar.header(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  jar.absorb(res);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** Signs in `users` users, creates a document owned by the first and shares it with the others as editor. */
export async function createSharedDocument(stack: ConcordStack, title: string, users: number): Promise<{ docId: string; tokens: string[]; owner: CookieJar }> {
  const jars = await Promise.all(Array.from({ length: users }, (_, i) => signIn(stack.origin, `bench-user-${i}`)));
  const owner = jars[0];
  const { docId } = await api<{ docId: string }>(stack.origin, owner, 'POST', '/api/docs', { title });
  for (let i = 1; i < users; i++) await api(stack.origin, owner, 'PUT', `/api/docs/${docId}/members/bench-user-${i}`, { role: 'editor' });
  return { docId, tokens: jars.map((j) => j.get('concord_at')!), owner };
}
