/**
 * The local stack as a child process, started exactly as `npm start` starts it, so it can be
 * stopped and restarted (same port, same data folder) in the middle of a soak.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface StackProcessOptions {
  readonly root: string;
  readonly dataDir: string;
  /** 0 picks a free port on the first start; restarts reuse the port it got. */
  readonly port?: number;
  /** Extra environment for the stack (e.g. CONCORD_COMPACT_AFTER_ENTRIES, REDIS_URL). */
  readonly env?: Record<string, string | undefined>;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export class StackProcess {
  private child: ChildProcess | null = null;
  private port: number;
  origin = '';
  starts = 0;

  constructor(private readonly options: StackProcessOptions) {
    this.port = options.port ?? 0;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the stack and resolves with its origin once it printed "ready". */
  async start(): Promise<string> {
    const args = ['--import', 'tsx', resolve(this.options.root, 'local/main.ts'), '--port', String(this.port), '--data-dir', this.options.dataDir, '--no-build'];
    const env = { ...process.env, ...this.options.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, args, { cwd: this.options.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    let output = '';
    const origin = await new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`The local stack did not print "ready" within ${(this.options.startTimeoutMs ?? 90_000) / 1000} s:\n${output.slice(-2000)}`)), this.options.startTimeoutMs ?? 90_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const url = /Open (http:\/\/[^\s/]+)\//.exec(output);
        if (url && /^ready$/m.test(output)) {
          clearTimeout(timer);
          resolvePromise(url[1]);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`The local stack exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
      });
    });
    // Keep draining its output so the pipe never fills; only errors are worth showing.
    child.stdout!.removeAllListeners('data');
    child.stdout!.on('data', () => undefined);
    child.stderr!.removeAllListeners('data');
    child.stderr!.on('data', (c: Buffer) => {
      const text = c.toString();
      if (/error/i.test(text) && !/NodeVersionSupportWarning/.test(text)) this.options.log?.(`stack stderr: ${text.trim().slice(0, 4000)}`);
    });
    this.origin = origin;
    this.port = Number(new URL(origin).port);
    return origin;
  }

  /** Ctrl-C (clean shutdown: sockets closed, stream drained); SIGKILL after the timeout. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  async restart(): Promise<string> {
    await this.stop();
    return this.start();
  }
}
