/**
 * `npm start` start-up errors: one clear line with a code and an exit status, never a stack trace.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDataDir } from './support/stack-process';

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('npm start: start-up errors', () => {
  it('a port in use exits with code 3 and one line naming the port', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const { port } = blocker.address() as AddressInfo;
    const data = tempDataDir();
    cleanups.push(data.remove);
    const result = await runCli(['--port', String(port), '--data-dir', data.dir, '--no-build']);
    expect(result.code).toBe(3);
    expect(result.stderr.trim()).toBe(`concord: error [port_in_use]: Port ${port} on 127.0.0.1 is already in use. Stop the other program or pass --port <another>.`);
    noStackTrace(result.stderr + result.stdout);
  });

  it('--reset wipes a Concord data folder before anything starts (even when start-up then fails)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const { port } = blocker.address() as AddressInfo;
    const data = tempDataDir();
    cleanups.push(data.remove);
    mkdirSync(join(data.dir, 'dynamodb'), { recursive: true });
    writeFileSync(join(data.dir, 'concord-local.json'), JSON.stringify({ format: 1 }));
    writeFileSync(join(data.dir, 'dynamodb', 'old-data.ldb'), 'old');
    // The port is taken, so the run stops right after preparing the data folder.
    const result = await runCli(['--port', String(port), '--data-dir', data.dir, '--no-build', '--reset']);
    expect(result.code).toBe(3);
    expect(existsSync(join(data.dir, 'dynamodb', 'old-data.ldb'))).toBe(false);
    expect(JSON.parse(readFileSync(join(data.dir, 'concord-local.json'), 'utf8')).format).toBe(1);
  });

  it('a corrupt data folder exits with code 4 and says how to recover', async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    mkdirSync(data.dir, { recursive: true });
    writeFileSync(join(data.dir, 'concord-local.json'), '{not json');
    const result = await runCli(['--port', '0', '--data-dir', data.dir, '--no-build']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^concord: error \[data_dir_corrupt\]: .*corrupt.*--reset/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    noStackTrace(result.stderr + result.stdout);
  });

  it('damaged DynamoDB data exits with code 4 and a clear line instead of crashing inside dynalite', async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    mkdirSync(join(data.dir, 'dynamodb'), { recursive: true });
    writeFileSync(join(data.dir, 'concord-local.json'), JSON.stringify({ format: 1 }));
    writeFileSync(join(data.dir, 'dynamodb', 'CURRENT'), 'MANIFEST-999999\n');
    const result = await runCli(['--port', '0', '--data-dir', data.dir, '--no-build']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^concord: error \[data_dir_corrupt\]: DynamoDB \(dynalite\) could not start: .*--reset/);
    noStackTrace(result.stderr + result.stdout);
  });

  it('a folder that is not a Concord data folder is refused, even with --reset', async () => {
    const data = tempDataDir();
    cleanups.push(data.remove);
    mkdirSync(data.dir, { recursive: true });
    writeFileSync(join(data.dir, 'thesis.docx'), 'precious');
    for (const extra of [[], ['--reset']]) {
      const result = await runCli(['--port', '0', '--data-dir', data.dir, '--no-build', ...extra]);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/not a Concord data folder/);
    }
  });

  it('an unknown option exits with code 2 and points to --help; --help prints usage', async () => {
    const bad = await runCli(['--prot', '1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^concord: error \[bad_option\]: .*--help/);
    noStackTrace(bad.stderr);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--data-dir <dir>/);
    expect(help.stdout).toMatch(/--reset/);
  });
});
