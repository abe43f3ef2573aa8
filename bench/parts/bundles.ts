/**
 * Cold start: each Lambda entry (contracts/env.ts HANDLER_ENTRIES) bundled with esbuild as the CDK
 * app's NodejsFunction does (ESM, minified, platform node, the same banner and external modules,
 * everything else bundled, the AWS SDK included), target node22; then module initialization
 * time: a fresh `node` importing the bundle, with placeholder configuration that points every
 * endpoint at 127.0.0.1 so nothing leaves the machine.
 */
import { existsSync, mkdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { HANDLER_ENTRIES, ENV } from '../../contracts/env';
import { median, round } from '../lib/stats';
import { runMeasured } from '../lib/processes';

export interface BundleResult {
  readonly handler: string;
  readonly bytes: number | null;
  readonly gzipBytes: number | null;
  readonly initMs: number | null;
  readonly note?: string;
}

// Kept equal to lib/lambda-defaults.ts (ESM_REQUIRE_BANNER, EXTERNAL_MODULES); read from there when it loads.
const FALLBACK_BANNER = "import { createRequire as __concordCreateRequire } from 'node:module'; const require = __concordCreateRequire(import.meta.url);";
const FALLBACK_EXTERNALS = ['pg-native', 'pg-cloudflare', 'cloudflare:sockets', 'bufferutil', 'utf-8-validate'];

const placeholderEnv = (): Record<string, string> => ({
  [ENV.OP_LOG_TABLE]: 'bench-op-log',
  [ENV.CONNECTIONS_TABLE]: 'bench-connections',
  [ENV.DOCUMENTS_TABLE]: 'bench-documents',
  [ENV.DYNAMODB_ENDPOINT]: 'http://127.0.0.1:9',
  [ENV.CONNECTIONS_ENDPOINT]: 'http://127.0.0.1:9',
  [ENV.DATABASE_URL]: 'postgresql://bench@127.0.0.1:9/bench',
  [ENV.JWT_ISSUER]: 'http://127.0.0.1:9/local-auth',
  [ENV.JWT_AUDIENCE]: 'concord-local',
  [ENV.JWKS_URL]: 'http://127.0.0.1:9/local-auth/.well-known/jwks.json',
  [ENV.SITE_ORIGIN]: 'http://127.0.0.1:9',
  [ENV.LOG_LEVEL]: 'ERROR',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  AWS_XRAY_SDK_ENABLED: 'false',
});

export async function measureBundles(repoRoot: string, outDir: string, runs: number): Promise<BundleResult[]> {
  mkdirSync(outDir, { recursive: true });
  let banner = FALLBACK_BANNER;
  let externals = FALLBACK_EXTERNALS;
  try {
    const defaults = await import('../../lib/lambda-defaults');
    banner = defaults.ESM_REQUIRE_BANNER;
    externals = [...defaults.EXTERNAL_MODULES];
  } catch {
    // The CDK app is optional for this part; the fallback mirrors it.
  }
  const results: BundleResult[] = [];
  for (const [name, entry] of Object.entries(HANDLER_ENTRIES)) {
    const entryPath = join(repoRoot, entry);
    if (!existsSync(entryPath)) {
      results.push({ handler: name, bytes: null, gzipBytes: null, initMs: null, note: `not measured: ${entry} does not exist` });
      continue;
    }
    const outfile = join(outDir, `${name}.mjs`);
    try {
      await build({ entryPoints: [entryPath], outfile, bundle: true, minify: true, format: 'esm', platform: 'node', target: 'node22', mainFields: ['module', 'main'], banner: { js: banner }, external: externals, logLevel: 'silent' });
    } catch (e) {
      results.push({ handler: name, bytes: null, gzipBytes: null, initMs: null, note: `not measured: esbuild failed (${(e as Error).message.split('\n')[0]})` });
      continue;
    }
    const bytes = statSync(outfile).size;
    const gzipBytes = gzipSync(readFileSync(outfile)).length;
    const script = `const t0 = performance.now(); await import(${JSON.stringify('file://' + outfile)}); process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));`;
    const times: number[] = [];
    let note: string | undefined;
    for (let i = 0; i < runs; i++) {
      const r = await runMeasured(['--input-type=module', '-e', script], { cwd: outDir, env: placeholderEnv(), timeoutMs: 30_000 });
      const m = /\{"ms":([\d.]+)\}/.exec(r.stdout);
      if (r.code === 0 && m) times.push(Number(m[1]));
      else {
        note = `initialization failed: ${(r.stderr.trim().split('\n').find((l) => /Error|error/.test(l)) ?? r.stderr.trim().split('\n')[0] ?? `exit ${r.code}`).slice(0, 200)}`;
        break;
      }
    }
    results.push({ handler: name, bytes, gzipBytes, initMs: times.length ? round(median(times)!, 1) : null, ...(note ? { note } : {}) });
  }
  return results;
}
