/** `cdk synth` time and peak memory, and the web client's initial JavaScript size. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { runMeasured } from '../lib/processes';
import { round } from '../lib/stats';

export interface SynthResult {
  readonly measured: boolean;
  readonly wallMs?: number;
  readonly peakRssMb?: number;
  readonly note?: string;
}

export async function measureSynth(repoRoot: string): Promise<SynthResult> {
  if (!existsSync(join(repoRoot, 'bin/concord.ts')) || !existsSync(join(repoRoot, 'cdk.json'))) {
    return { measured: false, note: 'not measured: the CDK app (bin/concord.ts, cdk.json) does not exist yet' };
  }
  const out = mkdtempSync(join(tmpdir(), 'concord-bench-cdk-'));
  try {
    // --no-notices and no version check: the CLI must not reach the internet.
    const r = await runMeasured([join(repoRoot, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '--no-notices', '--no-version-reporting', '--output', out], {
      cwd: repoRoot,
      env: { CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_CLI_TELEMETRY: '1', AWS_REGION: 'us-east-1', CDK_DEFAULT_REGION: 'us-east-1', CDK_DEFAULT_ACCOUNT: '123456789012' },
      timeoutMs: 600_000,
    });
    if (r.code !== 0) return { measured: false, wallMs: round(r.wallMs), note: `not measured: cdk synth exited with ${r.code}: ${(r.stderr.trim().split('\n').find((l) => /error/i.test(l)) ?? r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}` };
    return { measured: true, wallMs: round(r.wallMs), peakRssMb: round(r.peakRssBytes / 2 ** 20, 1) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export interface WebSizeResult {
  readonly measured: boolean;
  readonly files?: { path: string; bytes: number; gzipBytes: number }[];
  readonly gzipBytes?: number;
  readonly note?: string;
}

/** The scripts index.html loads before anything lazy: module entry scripts and modulepreloads. */
export function measureWebSize(repoRoot: string): WebSizeResult {
  const dist = join(repoRoot, 'web/dist');
  const indexFile = join(dist, 'index.html');
  if (!existsSync(indexFile)) return { measured: false, note: 'not measured: web/dist is not built (npm run build:web)' };
  const html = readFileSync(indexFile, 'utf8');
  const srcs = new Set<string>();
  for (const m of html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)) srcs.add(m[1]);
  for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)) srcs.add(m[1]);
  const files = [...srcs].map((src) => {
    const body = readFileSync(join(dist, src.replace(/^\//, '')));
    return { path: src, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
  });
  if (files.length === 0) return { measured: false, note: 'not measured: web/dist/index.html loads no module script' };
  return { measured: true, files, gzipBytes: files.reduce((s, f) => s + f.gzipBytes, 0) };
}
