/**
 * The production bundle stays lean: the JavaScript a first visit downloads (the entry script and
 * what index.html preloads) stays under 300 KB gzipped, because the editor (Tiptap, ProseMirror,
 * Yjs) is a separate chunk loaded only on the document screen. `npm test` builds web/dist first.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';

const dist = join(import.meta.dirname, '../../web/dist');
const INITIAL_BUDGET_GZIP = 300 * 1024;

beforeAll(async () => {
  if (existsSync(join(dist, 'index.html'))) return;
  const { build } = await import('vite');
  await build({ configFile: join(import.meta.dirname, '../../web/vite.config.ts'), logLevel: 'warn' });
});

const gz = (file: string) => gzipSync(readFileSync(join(dist, file))).length;

function initialScripts(): string[] {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g)].map((m) => m[1]);
  return [...new Set(refs)];
}

describe('web bundle', () => {
  it('keeps the initial JavaScript under 300 KB gzipped, with the editor in a lazy chunk', () => {
    const initial = initialScripts();
    expect(initial.length).toBeGreaterThan(0);
    const initialGzip = initial.reduce((n, f) => n + gz(f), 0);
    console.info(`initial JS: ${initial.join(', ')} = ${(initialGzip / 1024).toFixed(1)} KB gzipped`);
    expect(initialGzip).toBeLessThan(INITIAL_BUDGET_GZIP);

    const all = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js')).map((f) => `assets/${f}`);
    const editorChunks = all.filter((f) => readFileSync(join(dist, f), 'utf8').includes('collaborationCaret'));
    expect(editorChunks.length).toBeGreaterThan(0);
    for (const chunk of editorChunks) expect(initial).not.toContain(chunk);
  });

  it('names every asset by its content hash, so it can be cached forever (FM-4.6)', () => {
    const assets = readdirSync(join(dist, 'assets')).filter((f) => !f.endsWith('.map'));
    expect(assets.length).toBeGreaterThan(1);
    for (const f of assets) expect(f).toMatch(/-[A-Za-z0-9_-]{8,}\.(js|css)$/);
  });

  it('ships no inline script (a strict script-src CSP can hold)', () => {
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    for (const m of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(m[1]).toMatch(/\bsrc=/);
      expect(m[2].trim()).toBe('');
    }
  });
});
