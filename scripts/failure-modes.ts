/**
 * Writes docs/failure-modes.md: every failure mode of the naive design (BLUEPRINT §6), the fix in
 * Concord, and the tests that prove it, by file and exact test name. The test names come from
 * `vitest list` (collected, not run), so every name cited is a real test at generation time.
 *
 *   node --import tsx scripts/failure-modes.ts            # collects with vitest, writes the doc
 *   node --import tsx scripts/failure-modes.ts --list x.json   # from a saved `vitest list --json=x.json`
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface FailureMode {
  readonly id: string;
  readonly seed: string;
  readonly fix: string;
}

export const FAILURE_MODES: readonly FailureMode[] = [
  { id: 'FM-1.1', seed: 'socket loss, stale view, lost local edits', fix: 'The client (`ClientSession`, web provider) reconnects with jittered exponential backoff and resyncs by state vector (sync step 1/2); unacknowledged edits stay in the Y.Doc and its IndexedDB copy (with a localStorage journal covering the writes IndexedDB has not committed when the page reloads) and go out in the next handshake. "Saved" means every edit is acknowledged.' },
  { id: 'FM-1.2', seed: 'broadcast only to one server\'s clients', fix: 'API Gateway holds every socket; the fan-out Lambda posts each stored update to every connection of the document (connections table, by-document index) through `@connections`.' },
  { id: 'FM-1.3', seed: 'polling Postgres every 2 s', fix: 'The DynamoDB op-log stream drives fan-out and compaction (two consumers); nothing polls.' },
  { id: 'FM-1.4', seed: 'last-write-wins on client clocks', fix: 'Yjs CRDT merges; the server assigns a per-document sequence number at the durable write; no client time is read anywhere.' },
  { id: 'FM-1.5', seed: 'duplicates, reordering', fix: 'Yjs updates are idempotent and commutative, so redelivered, duplicated or reordered stream records and resent messages are harmless; acknowledgements are matched by content ref, not by order.' },
  { id: 'FM-1.6', seed: 'socket count limits per server', fix: 'Sockets are API Gateway\'s (quotas in docs/deploy.md); clients reconnect with jittered backoff so a mass disconnect does not become a reconnect storm.' },
  { id: 'FM-1.7', seed: 'full HTML snapshot every 30 s', fix: 'Only incremental Yjs updates are written (op log); compaction merges them into Yjs snapshots in Aurora, with compare-and-set so concurrent compactions form one chain.' },
  { id: 'FM-1.8', seed: 'bursts flood the server', fix: 'Stage and route throttling, a per-connection rate limit answered with `rate_limited` (the client retries), chunking of large messages under the 32 KB frame limit.' },
  { id: 'FM-2.1', seed: 'round-robin LB breaks sessions', fix: 'API Gateway pins each socket; handlers are stateless (connection state in DynamoDB), so no sticky sessions exist.' },
  { id: 'FM-2.2', seed: 'health checks flapping', fix: 'No servers of ours to health-check: managed endpoints, with alarms on Lambda errors, stream iterator age and API errors.' },
  { id: 'FM-2.3', seed: 'single load balancer', fix: 'Regional managed services across two or more AZs (VPC subnets, Multi-AZ Aurora and ElastiCache, DynamoDB).' },
  { id: 'FM-3.1', seed: 'write hotspot on one primary', fix: 'The op log is partitioned by document in on-demand DynamoDB, and a document\'s numbers come from an atomic counter (writers in many containers never retry against each other); Aurora only receives compacted snapshots, off the editing path.' },
  { id: 'FM-3.2', seed: 'replica lag', fix: 'Live state is read from the op log with strongly consistent reads only (sync step 1 and sequence allocation); Aurora readers serve nothing on the live path.' },
  { id: 'FM-3.3', seed: 'lost commits on crash', fix: 'An update is acknowledged only after its durable op-log write; a failed write answers `unavailable` and the client resends; PITR on the op log, Aurora backups; restarts lose nothing.' },
  { id: 'FM-3.4', seed: 'schema migrations under load', fix: 'Versioned, forward-only, checksummed SQL migrations (expand/contract) run at deploy by a custom resource, under an advisory lock.' },
  { id: 'FM-3.5', seed: 'snapshot bloat', fix: 'Compaction removes exactly the merged op-log entries (tombstones and parts expire by TTL after the stream has let go of them); document size limits; automatic versions thinned by retention, named versions kept.' },
  { id: 'FM-3.6', seed: 'stored HTML, XSS', fix: 'No HTML is stored: only validated Yjs updates of a schema-bound editor model; every frame is decoded and validated before storage (fuzzed); CSP and security headers at the edge and locally.' },
  { id: 'FM-4.1', seed: 'Redis single point of failure', fix: 'Multi-AZ ElastiCache replication group with automatic failover; in code the cache is optional (`resilientCache` falls back to an in-process cache), so editing continues with it down. Drill: ElastiCache TestFailover (docs/drills.md).' },
  { id: 'FM-4.2', seed: 'pub/sub loses messages', fix: 'The durable op log and its stream with bounded retries, bisect on error, partial batch failures and an on-failure queue; clients resync on reconnect, and on the same socket as soon as a received change waits for one they never got, so a missed fan-out heals; posts to a slow reader never hold up the others (request timeouts, no waiting for the client to read).' },
  { id: 'FM-4.3', seed: 'cache stampede on load', fix: 'Large documents load the latest snapshot over HTTPS at an immutable, versioned URL (browser-cached), then the socket carries only the tail.' },
  { id: 'FM-4.4', seed: 'JWT in localStorage', fix: 'Tokens live only in HttpOnly, Secure, SameSite cookies set by the api handler; short-lived access tokens with refresh; the socket authenticates with the cookie, never a URL parameter.' },
  { id: 'FM-4.5', seed: 'CDN caches API responses', fix: 'CloudFront behaviors `/api/*` and `/ws` use CachingDisabled; API responses carry `Cache-Control: no-store`.' },
  { id: 'FM-4.6', seed: 'stale CDN after writes', fix: 'Content-hashed assets cached forever, `index.html` no-cache (invalidated on deploy), snapshot versions addressed by sequence number.' },
  { id: 'FM-5.1', seed: '24 h tokens, no revocation', fix: '15-minute access tokens with refresh; sign-out denylists the token id (checked by the authorizer) and revokes the refresh token; a token expiring mid-socket gets REAUTH and the socket closes.' },
  { id: 'FM-5.2', seed: 'no per-document ACL', fix: 'Roles per document (owner/editor/viewer) checked by the authorizer at connect and per message (a viewer\'s update is refused with `read_only`); a connection can only touch its own document.' },
  { id: 'FM-5.3', seed: 'symmetric key in the repo', fix: 'RS256 tokens verified against the issuer\'s JWKS (Cognito in AWS, the local issuer\'s own key pair locally); forged, tampered, unsigned and algorithm-confused tokens are refused; no secret in code or template.' },
  { id: 'FM-6.1', seed: 'partition from the database', fix: 'Managed Multi-AZ failover (Aurora writer + reader); the client keeps editing offline and syncs after. Drill: Aurora FailoverDBCluster with a synthetic editor (docs/drills.md).' },
  { id: 'FM-6.2', seed: 'client clock skew', fix: 'Nothing reads client clocks: order comes from the CRDT and server sequence numbers; expiry and rate limits use server time.' },
  { id: 'FM-6.3', seed: 'payload size limits', fix: 'Messages over one 32 KB frame are chunked (23 KB pieces, reassembled across invocations); frames over 32 KB close with 1009 at the gateway; large loads go over HTTPS; updates above 400 KB are split across DynamoDB items.' },
  { id: 'FM-6.4', seed: 'DNS TTL on scaling', fix: 'Clients only ever talk to the CloudFront distribution (site, `/api/*`, `/ws`); the managed endpoints behind it scale without DNS changes visible to clients. That CloudFront routes `/api/*` and `/ws` to the two APIs is proven by the FM-4.5 test of `test/lib/edge.test.ts`.' },
  { id: 'FM-7.1', seed: 'no latency visibility', fix: 'EMF metrics for ack latency and fan-out delay (from the stream record\'s creation time), a dashboard and X-Ray tracing.' },
  { id: 'FM-7.2', seed: 'no back-pressure metrics', fix: 'Stream iterator age, DLQ depth, Lambda throttles and errors, with alarms to an SNS topic.' },
  { id: 'FM-7.3', seed: 'no audit log', fix: 'Every op-log entry carries user, connection and server time; snapshots record their authors; version history keeps who changed what.' },
  { id: 'FM-8', seed: 'no chaos testing', fix: 'Local fault knobs (DynamoDB write failures, stream delay/duplication, fan-out crashing mid-batch, cache kill, socket drops, compaction on demand) driven by the chaos soak (`npm run soak`, a short run in `npm test`) and fuzzing; AWS failover drills (`npm run drill`, ElastiCache TestFailover and Aurora failover).' },
];

export interface ListedTest {
  readonly name: string;
  readonly file: string;
}

/** Tests whose full name cites the id (FM-1.1 does not match FM-1.10; FM-8 does not match FM-8.x). */
export function testsFor(id: string, tests: readonly ListedTest[]): ListedTest[] {
  const re = new RegExp(`${id.replace('.', '\\.')}(?![.\\d])`);
  return tests.filter((t) => re.test(t.name));
}

export function renderDoc(tests: readonly ListedTest[], generatedFrom: string): string {
  const lines: string[] = [
    '# Failure modes of the naive design, their fixes, and the tests that prove them',
    '',
    'Every failure mode of the seed design (`FM-x.y`, BLUEPRINT §6), what Concord does about it, and',
    'the tests that prove it, by file and exact test name (`describe > test`). Test names cite the ids',
    'they prove, and this page is generated from the suite itself (`vitest list`), so every name',
    `below is a real test: regenerate it with \`node --import tsx scripts/failure-modes.ts\` (${generatedFrom}).`,
    'Run one with `npx vitest run <file> -t "<part of its name>"`.',
    '',
    'Beyond the per-row tests, three suites cut across many rows: the chaos soak',
    '(`test/soak/`, `npm run soak`; FM-8), the fuzzers (`test/fuzz/`; invariant 5) and the failover',
    'drills for AWS (`scripts/drill.ts`, [drills.md](drills.md); FM-4.1, FM-6.1).',
    '',
    '| id | seed failure mode | fix in Concord | tests |',
    '|---|---|---|---|',
  ];
  for (const fm of FAILURE_MODES) {
    const found = testsFor(fm.id, tests);
    lines.push(`| [${fm.id}](#${fm.id.toLowerCase().replace('.', '')}) | ${fm.seed} | ${fm.fix.replace(/\|/g, '\\|')} | ${found.length ? `${found.length}` : '**no test**'} |`);
  }
  lines.push('');
  for (const fm of FAILURE_MODES) {
    const found = testsFor(fm.id, tests);
    lines.push(`## ${fm.id}`, '', `**Seed:** ${fm.seed}.`, '', `**Fix:** ${fm.fix}`, '');
    if (found.length === 0) {
      lines.push('**No test cites this id yet.**', '');
      continue;
    }
    const byFile = new Map<string, string[]>();
    for (const t of found) byFile.set(t.file, [...(byFile.get(t.file) ?? []), t.name]);
    for (const [file, names] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`- \`${file}\``);
      for (const n of names) lines.push(`  - ${n.replace(/\|/g, '\\|')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function collect(root: string): ListedTest[] {
  const dir = mkdtempSync(join(tmpdir(), 'concord-fm-'));
  try {
    const out = join(dir, 'list.json');
    execFileSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'list', `--json=${out}`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    return JSON.parse(readFileSync(out, 'utf8')) as ListedTest[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { values } = parseArgs({ options: { list: { type: 'string' }, out: { type: 'string', default: join(root, 'docs/failure-modes.md') } } });
  const raw = values.list ? (JSON.parse(readFileSync(values.list, 'utf8')) as ListedTest[]) : collect(root);
  const tests = raw.map((t) => ({ name: t.name, file: relative(root, resolve(root, t.file)) }));
  writeFileSync(values.out!, renderDoc(tests, `${tests.length} tests collected`) + '\n');
  const missing = FAILURE_MODES.filter((fm) => testsFor(fm.id, tests).length === 0).map((fm) => fm.id);
  console.log(`wrote ${relative(root, values.out!)}: ${FAILURE_MODES.length} failure modes, ${missing.length ? `without a test: ${missing.join(', ')}` : 'each with at least one test'}`);
}
