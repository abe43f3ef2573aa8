/**
 * `npm start` serves a build of the current web/ sources: it detects a missing or stale web/dist
 * and reports a failing build clearly.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebBuildError, ensureWebBuilt, webStatus } from '../../local/web-build';
import { REPO_ROOT } from './support/stack-process';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function fakeRepo(config = 'export default {};\n'): string {
  const root = mkdtempSync(join(tmpdir(), 'concord-webbuild-'));
  roots.push(root);
  mkdirSync(join(root, 'web', 'src'), { recursive: true });
  mkdirSync(join(root, 'lambdas', 'core'), { recursive: true });
  writeFileSync(join(root, 'package.json'), '{}');
  writeFileSync(join(root, 'lambdas', 'core', 'protocol.ts'), '');
  writeFileSync(join(root, 'web', 'index.html'), '<!doctype html>');
  writeFileSync(join(root, 'web', 'vite.config.ts'), config);
  writeFileSync(join(root, 'web', 'src', 'main.ts'), 'export {};');
  return root;
}

const setTime = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

describe('web client build check', () => {
  it('tells missing, fresh and stale builds apart, and a repo without a client', () => {
    const root = fakeRepo();
    expect(webStatus(root)).toBe('missing');
    mkdirSync(join(root, 'web', 'dist'));
    writeFileSync(join(root, 'web', 'dist', 'index.html'), 'built');
    for (const f of ['package.json', 'lambdas/core/protocol.ts', 'web/index.html', 'web/vite.config.ts', 'web/src/main.ts']) setTime(join(root, f), 1_000_000);
    setTime(join(root, 'web', 'dist', 'index.html'), 2_000_000);
    expect(webStatus(root)).toBe('fresh');
    setTime(join(root, 'web', 'src', 'main.ts'), 3_000_000);
    expect(webStatus(root)).toBe('stale');
    setTime(join(root, 'web', 'src', 'main.ts'), 1_000_000);
    setTime(join(root, 'lambdas', 'core', 'protocol.ts'), 3_000_000); // the client bundles the core
    expect(webStatus(root)).toBe('stale');

    const empty = mkdtempSync(join(tmpdir(), 'concord-webbuild-'));
    roots.push(empty);
    writeFileSync(join(empty, 'package.json'), '{}');
    expect(webStatus(empty)).toBe('no-sources');
  });

  it('builds a stale client beside web/dist and swaps it in whole', { timeout: 60_000 }, async () => {
    const root = fakeRepo("export default { root: 'web', logLevel: 'info' };\n");
    writeFileSync(join(root, 'web', 'index.html'), '<!doctype html><title>fresh build</title><script type="module" src="/src/main.ts"></script>');
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    mkdirSync(join(root, 'web', 'dist'));
    writeFileSync(join(root, 'web', 'dist', 'index.html'), 'old build');
    setTime(join(root, 'web', 'dist', 'index.html'), 1_000);
    expect(webStatus(root)).toBe('stale');
    const progress: string[] = [];
    expect(await ensureWebBuilt(root, (line) => progress.push(line))).toBe('fresh');
    expect(readFileSync(join(root, 'web', 'dist', 'index.html'), 'utf8')).toContain('fresh build');
    expect(readdirSync(join(root, 'web', 'dist', 'assets')).some((f) => f.endsWith('.js'))).toBe(true);
    expect(readdirSync(join(root, 'web')).filter((f) => f.startsWith('.dist-'))).toEqual([]);
    expect(webStatus(root)).toBe('fresh');
    expect(progress.join('\n')).toMatch(/sources changed, building/);
  });

  it('a failing build is a WebBuildError quoting the build output', { timeout: 60_000 }, async () => {
    const root = fakeRepo("throw new Error('deliberately broken vite config');\n");
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    const progress: string[] = [];
    const error = await ensureWebBuilt(root, (line) => progress.push(line)).catch((e) => e);
    expect(error).toBeInstanceOf(WebBuildError);
    expect(error.message).toMatch(/The web client build failed \(exit \d+\)/);
    expect(error.message).toContain('deliberately broken vite config');
    expect(progress.join('\n')).toMatch(/not built yet, building/);
  });
});
