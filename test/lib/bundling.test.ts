/**
 * The one synth with real bundling: esbuild (the local devDependency, no Docker) bundles every
 * handler of contracts/env.ts, and the bundles are checked to be the real handlers: ESM with the
 * `require` banner, minified, with a source map, exporting `handler`, containing the handler's own
 * messages, and behaving like it when invoked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_ENTRIES, type HandlerName } from '../../contracts/env';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from '../../lib/lambda-defaults';
import { functionByService, scratchDir, synthConcord } from './support/synth';

const handlers = Object.keys(HANDLER_ENTRIES) as HandlerName[];
const bundleDirs = new Map<HandlerName, string>();

interface Probe {
  readonly exports: Record<string, string>;
  readonly authorizerNoCookie: string;
  readonly connectWithoutAuthorizer: string;
}
let probe: Probe;

/**
 * Loads the bundles in a plain Node process (as Lambda does, without the test runner's module
 * transform) and invokes two of them with events they must refuse.
 */
const PROBE_SCRIPT = `
const bundles = JSON.parse(process.argv[1]);
const exports = {};
const mods = {};
for (const [name, url] of Object.entries(bundles)) { mods[name] = await import(url); exports[name] = typeof mods[name].handler; }
const settle = (p) => p.then((v) => 'resolved ' + JSON.stringify(v), (e) => 'rejected ' + e.message);
const authorizerNoCookie = await settle(mods.authorizer.handler({ type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abc/ws/$connect', headers: {}, queryStringParameters: { doc: 'doc-1' }, requestContext: { connectionId: 'c1' } }));
const connectWithoutAuthorizer = await settle(mods.connect.handler({ requestContext: { connectionId: 'c1', routeKey: '$connect', eventType: 'CONNECT' } }));
process.stdout.write('\\n@@probe@@' + JSON.stringify({ exports, authorizerNoCookie, connectWithoutAuthorizer }) + '\\n');
process.exit(0);
`;

beforeAll(() => {
  const outdir = scratchDir('concord-bundled-');
  const synthesized = synthConcord({ stage: 'prod', bundlingStacks: ['Concord-prod-App'], outdir });
  const assembly = synthesized.app.synth();
  for (const handler of handlers) {
    const key = functionByService(synthesized.appStack, handler).props.Code.S3Key as string;
    bundleDirs.set(handler, join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`));
  }
  const urls = Object.fromEntries(handlers.map((h) => [h, pathToFileURL(join(bundleDirs.get(h)!, 'index.mjs')).href]));
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, JSON.stringify(urls)], {
    encoding: 'utf8',
    timeout: 120_000,
    // Each bundle carries its own Yjs (one per Lambda); loading all eight in one process makes
    // Yjs warn on stderr, which says nothing about the bundles.
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', POWERTOOLS_DEV: 'false' },
  });
  // The handlers log to stdout too (structured JSON); the result is the marked line.
  const marked = output.split('\n').find((line) => line.startsWith('@@probe@@'));
  if (!marked) throw new Error(`the probe printed no result:\n${output}`);
  probe = JSON.parse(marked.slice('@@probe@@'.length)) as Probe;
}, 300_000);

/** Plain string literals of a source file (log and error messages). */
function messagesOf(file: string): string[] {
  const source = readFileSync(join(REPO_ROOT, file), 'utf8');
  return [...source.matchAll(/'([A-Z][^'\\\n$]{8,})'/g)].map((m) => m[1]);
}

describe('handler bundles (real esbuild bundling)', () => {
  it.each(handlers)('%s: a minified ESM bundle with the require banner and a source map', (handler) => {
    const dir = bundleDirs.get(handler)!;
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    const lines = code.split('\n').length;
    expect(code.length / lines, 'minified: long lines').toBeGreaterThan(500);
    expect(statSync(join(dir, 'index.mjs')).size).toBeLessThan(10 * 1024 * 1024);
    expect(code).not.toContain('aws-cdk-lib');
  });

  it.each(handlers)('%s: is built from its entry file (its own messages are in the bundle) and exports handler', (handler) => {
    const code = readFileSync(join(bundleDirs.get(handler)!, 'index.mjs'), 'utf8');
    const messages = messagesOf(HANDLER_ENTRIES[handler]);
    expect(messages.length, `${HANDLER_ENTRIES[handler]} has no message to look for`).toBeGreaterThan(0);
    expect(messages.filter((m) => code.includes(m)), 'messages of the entry file found in the bundle').not.toEqual([]);
    expect(probe.exports[handler]).toBe('function');
  });

  it('authorizer bundle: refuses a socket without the access-token cookie, as API Gateway expects (401)', () => {
    expect(probe.authorizerNoCookie).toBe('rejected Unauthorized');
  });

  it('connect bundle: refuses a $connect that did not go through the authorizer', () => {
    expect(probe.connectWithoutAuthorizer).toMatch(/^resolved \{"statusCode":401/);
  });
});
