/** Child processes for the benchmark: servers on free 127.0.0.1 ports, their CPU time and memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Milliseconds from spawn to the ready line. */
  readonly startMs: number;
  readonly stdout: () => string;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

/** Spawns `node <args>` and resolves when stdout matches `ready`; rejects on exit or timeout. */
export function startServer(name: string, args: string[], ready: RegExp, options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-200_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready within ${options.timeoutMs ?? 120_000} ms.\n${out}\n${err}`));
    }, options.timeoutMs ?? 120_000);
    const onData = () => {
      if (!ready.test(out)) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({
        child,
        pid: child.pid!,
        startMs: performance.now() - t0,
        stdout: () => out,
        stderr: () => err,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${child.exitCode}) before it was ready.\n${out}\n${err}`));
    });
  });
}

const TICKS_PER_SECOND = 100;

function readStat(pid: number): { ppid: number; cpuMs: number; rssBytes: number } | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24 (pages).
    return { ppid: Number(fields[1]), cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND, rssBytes: Number(fields[21]) * 4096 };
  } catch {
    return null;
  }
}

/** The process and all its live descendants (Linux /proc). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(entry));
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** User + system CPU milliseconds of a process tree (10 ms resolution). */
export function treeCpuMs(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + (readStat(pid)?.cpuMs ?? 0), 0);
}

export function treeRssBytes(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + (readStat(pid)?.rssBytes ?? 0), 0);
}

/** Runs `node <args>` to completion, sampling the tree's resident memory; reports wall time and peak. */
export function runMeasured(args: string[], options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs: number }): Promise<{ code: number | null; wallMs: number; peakRssBytes: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peak = 0;
  child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-50_000)));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-50_000)));
  const sampler = setInterval(() => {
    if (child.pid) peak = Math.max(peak, treeRssBytes(child.pid));
  }, 50);
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearInterval(sampler);
      clearTimeout(killer);
      resolve({ code, wallMs: performance.now() - t0, peakRssBytes: peak, stdout, stderr });
    });
  });
}
