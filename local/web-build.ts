/**
 * Makes sure web/dist is a build of the current web/ sources before serving it: when dist is
 * missing or older than any source file, runs the same build as `npm run build:web` and shows its
 * progress. Concurrent starts (tests) share one build through a lock file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export class WebBuildError extends Error {
  readonly code = 'web_build_failed';
}

const IGNORED = new Set(['dist', 'node_modules', '.vite']);
const isBuildOutput = (name: string) => name.startsWith('.dist-');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (IGNORED.has(entry.name) || isBuildOutput(entry.name)) continue;
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export type WebStatus = 'fresh' | 'stale' | 'missing' | 'no-sources';

export function webStatus(root: string): WebStatus {
  const web = resolve(root, 'web');
  if (!existsSync(join(web, 'vite.config.ts')) || !existsSync(join(web, 'index.html'))) return 'no-sources';
  const index = join(web, 'dist', 'index.html');
  if (!existsSync(index)) return 'missing';
  // The shared core and the client's dependencies are sources too.
  const sourcesNewest = Math.max(newestMtime(web), newestMtime(resolve(root, 'lambdas/core')), statSync(resolve(root, 'package.json')).mtimeMs);
  return statSync(index).mtimeMs >= sourcesNewest ? 'fresh' : 'stale';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds web/dist if needed. `progress` receives human-readable lines. */
export async function ensureWebBuilt(root: string, progress: (line: string) => void): Promise<WebStatus> {
  let status = webStatus(root);
  if (status === 'fresh' || status === 'no-sources') return status;
  const lockFile = join(tmpdir(), `concord-web-build-${createHash('sha1').update(resolve(root)).digest('hex').slice(0, 12)}.lock`);
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readFileSync(lockFile, 'utf8') || '0');
      if (holder && !alive(holder)) {
        try {
          unlinkSync(lockFile);
        } catch {
          /* another waiter removed it */
        }
        continue;
      }
      progress('web client: waiting for another build to finish');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    status = webStatus(root);
    if (status === 'fresh') return status;
    progress(`web client: ${status === 'missing' ? 'not built yet' : 'sources changed'}, building (npm run build:web)`);
    const vite = resolve(root, 'node_modules/vite/bin/vite.js');
    const output: string[] = [];
    // Build beside web/dist and swap it in, so a server (or a test) reading web/dist never sees
    // a half-written build.
    const staging = join(root, 'web', `.dist-build-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    const code = await new Promise<number>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--outDir', staging, '--emptyOutDir'], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FORCE_COLOR: '0' },
      });
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line.trim()) continue;
          output.push(line);
          if (/transforming|rendering|computing|built in|✓/i.test(line)) progress(`web client: ${line.trim()}`);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (c) => resolvePromise(c ?? 1));
    });
    if (code !== 0 || !existsSync(join(staging, 'index.html'))) {
      rmSync(staging, { recursive: true, force: true });
      throw new WebBuildError(`The web client build failed (exit ${code}). Last output:\n${output.slice(-15).join('\n')}\nFix web/ and run \`npm run build:web\` to see the full log.`);
    }
    const dist = join(root, 'web', 'dist');
    const old = join(root, 'web', `.dist-old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(staging, dist);
    rmSync(old, { recursive: true, force: true });
    return 'fresh';
  } finally {
    try {
      unlinkSync(lockFile);
    } catch {
      /* already gone */
    }
  }
}
