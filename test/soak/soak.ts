/**
 * The chaos soak (FM-8): simulated editors work on a few documents through the local stack (a
 * child process, exactly `npm start`) while faults are injected at random through its knobs:
 * failing DynamoDB writes, delayed and duplicated stream records, fan-out invocations crashing
 * mid-batch, dropped sockets, the cache
 * killed (with REDIS_URL), compaction running all along, and the whole stack restarted. Editors
 * come and go: one that leaves waits for "Saved" first, so its acknowledged edits then live only
 * on the server. At the end every document is read back with a fresh client (also after one more
 * restart): every acknowledged edit must be there and every editor must hold the same state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import WebSocket from 'ws';
import { SyntheticEditor, verifyDocument, type MarkerCodec } from '../../scripts/drill/editor';
import { runGatewayFuzz, type GatewayFuzzResult } from './gateway-fuzz';
import { admin, createDocument, refresh, share, signIn, socketHeaders, status, type SignedInUser } from './site-client';
import { StackProcess } from './stack-process';

export interface SoakOptions {
  readonly root: string;
  readonly clients: number;
  readonly documents: number;
  readonly durationMs: number;
  readonly seed: number;
  /** Malformed frames sent through the gateway after the chaos phase. */
  readonly fuzzCases: number;
  /** Real Redis/Valkey behind the stack's killable proxy (enables the cache-kill fault). */
  readonly redisUrl?: string;
  /** A real PostgreSQL (else the stack's PGlite); the soak uses a schema of its own in it. */
  readonly databaseUrl?: string;
  /** Restart the whole stack during the chaos phase (default true). */
  readonly restarts?: boolean;
  /** Restart once more at the end and read everything back again (default true). */
  readonly finalRestart?: boolean;
  /** Compaction threshold given to the stack: low, so compaction runs during the whole soak. */
  readonly compactAfterEntries?: number;
  readonly editIntervalMs?: number;
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly clients: number;
  readonly documents: number;
  readonly durationMs: number;
  readonly editsSent: number;
  readonly editsAcknowledged: number;
  /** Acknowledged edits missing from the stored document (must be 0). */
  readonly editsLost: number;
  readonly lostMarkers: readonly string[];
  /** Documents where an editor's state differs from the stored one (must be none). */
  readonly divergent: readonly string[];
  readonly faults: Readonly<Record<string, number>>;
  readonly faultsInjected: number;
  readonly reconnects: number;
  readonly stackStarts: number;
  readonly editorsRetired: number;
  readonly refusals: Readonly<Record<string, number>>;
  readonly fuzz: GatewayFuzzResult | null;
  /** Stream consumer failures and records sent to the on-failure file since the last start. */
  readonly consumers: Readonly<Record<string, { failures: number; discarded: number; crashes: number }>>;
  readonly problems: readonly string[];
}

/** Deterministic choices from the seed (timing still varies from run to run). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] };
}

const OPEN = '\u27E6';
const CLOSE = '\u27E7';
const MARKER_RE = new RegExp(`${OPEN}([^${CLOSE}]+)${CLOSE}`, 'g');

/**
 * Markers in a Y.Text, inserted only between markers (right after a closing bracket), so that a
 * concurrent insert never lands inside another marker and every marker stays readable.
 */
export function textMarkers(random: () => number): MarkerCodec {
  return {
    write(doc, marker) {
      const text = doc.getText('soak');
      const s = text.toString();
      const boundaries = [0];
      for (let i = 0; i < s.length; i++) if (s[i] === CLOSE) boundaries.push(i + 1);
      text.insert(boundaries[Math.floor(random() * boundaries.length)], `${OPEN}${marker}${CLOSE}`);
    },
    read: (doc) => [...doc.getText('soak').toString().matchAll(MARKER_RE)].map((m) => m[1]),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(intervalMs);
  }
  return condition();
}

type FaultKind = 'dynamo-write-failures' | 'stream-delay' | 'stream-duplicate' | 'fanout-crash' | 'drop-socket' | 'drop-all-sockets' | 'cache-kill' | 'stack-restart' | 'editor-churn' | 'compact-now';

/** A schema of its own in a shared PostgreSQL, so parallel test files never see each other. */
async function isolatedDatabase(shared: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const pg = (await import('pg')).default;
  const schema = `soak_${Math.random().toString(36).slice(2, 10)}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: shared });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE SCHEMA ${schema}`);
  const url = new URL(shared);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), drop: () => run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const random = rng(options.seed);
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-soak-'));
  const database = options.databaseUrl ? await isolatedDatabase(options.databaseUrl) : null;
  const stack = new StackProcess({
    root: options.root,
    dataDir: join(dataDir, 'data'),
    env: {
      DATABASE_URL: database?.url,
      REDIS_URL: options.redisUrl,
      CONCORD_COMPACT_AFTER_ENTRIES: String(options.compactAfterEntries ?? 8),
      // The soak checks durability, not FM-1.8: the fuzzing socket sends far above the default budget.
      CONCORD_RATE_LIMIT_PER_SECOND: '100000',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    log,
  });
  const faults: Record<string, number> = {};
  const problems: string[] = [];
  const retired: { editor: SyntheticEditor; docId: string }[] = [];
  const live: { editor: SyntheticEditor; docId: string; user: SignedInUser }[] = [];
  let fuzz: GatewayFuzzResult | null = null;
  const consumers: Record<string, { failures: number; discarded: number; crashes: number }> = {};
  let origin = await stack.start();
  log(`local stack at ${origin} (data in ${dataDir})`);
  const wsUrl = (docId: string) => `${origin.replace(/^http/, 'ws')}/ws?doc=${encodeURIComponent(docId)}`;
  let editorSerial = 0;
  try {
    const owner = await signIn(origin, 'soak-owner');
    const users = await Promise.all(Array.from({ length: options.clients }, (_, i) => signIn(origin, `soak-user-${i}`)));
    const attacker = await signIn(origin, 'soak-mallory');
    const docIds: string[] = [];
    for (let d = 0; d < options.documents; d++) docIds.push(await createDocument(origin, owner, `Soak ${d}`));
    for (let i = 0; i < users.length; i++) await share(origin, owner, docIds[i % docIds.length], users[i].userId, 'editor');
    await share(origin, owner, docIds[0], attacker.userId, 'editor');

    const newEditor = async (user: SignedInUser, docId: string) => {
      const editor = new SyntheticEditor({
        connect: () => new WebSocket(wsUrl(docId), { headers: socketHeaders(user) }),
        runId: `e${editorSerial++}`,
        markers: textMarkers(random.next),
        editIntervalMs: options.editIntervalMs ?? 1000,
        onReauth: () => refresh(origin, user),
      });
      await editor.start();
      live.push({ editor, docId, user });
    };
    await Promise.all(users.map((u, i) => newEditor(u, docIds[i % docIds.length])));
    log(`${live.length} editors on ${docIds.length} document(s)`);

    // ------------------------------------------------------------ chaos
    const kinds: [FaultKind, number][] = [
      ['dynamo-write-failures', 3],
      ['stream-delay', 2],
      ['stream-duplicate', 2],
      ['fanout-crash', 2],
      ['drop-socket', 3],
      ['drop-all-sockets', 1],
      ['editor-churn', 2],
      // On top of the low threshold: a snapshot on demand, racing the stream-triggered ones.
      ['compact-now', 1],
      ...(options.redisUrl ? ([['cache-kill', 2]] as [FaultKind, number][]) : []),
      ...(options.restarts !== false ? ([['stack-restart', 1]] as [FaultKind, number][]) : []),
    ];
    const totalWeight = kinds.reduce((s, [, w]) => s + w, 0);
    const pickKind = (): FaultKind => {
      let x = random.next() * totalWeight;
      for (const [k, w] of kinds) if ((x -= w) < 0) return k;
      return kinds[0][0];
    };
    const knob = async (path: string, body: unknown = {}) => {
      const r = await admin(origin, path, body);
      if (r.status !== 200) throw new Error(`POST /_local${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    };
    const chaosStarts = Date.now();
    const chaosEnds = chaosStarts + options.durationMs;
    let lastRestart = Date.now();
    let restarted = false;
    const restartSpacingMs = Math.max(15_000, options.durationMs / 3);
    // Every kind once first (in a seeded order), so even a short run covers them all; a restart
    // at the latest halfway through; then random picks.
    const mustCover = kinds.map(([k]) => k).filter((k) => k !== 'stack-restart').sort(() => random.next() - 0.5);
    while (Date.now() < chaosEnds) {
      let kind = mustCover.shift() ?? pickKind();
      if (kind === 'stack-restart' && Date.now() - lastRestart < restartSpacingMs) kind = 'drop-socket';
      if (options.restarts !== false && !restarted && Date.now() - chaosStarts >= options.durationMs / 2) kind = 'stack-restart';
      if (kind === 'stack-restart') restarted = true;
      faults[kind] = (faults[kind] ?? 0) + 1;
      const hold = random.int(1000, 3000);
      switch (kind) {
        case 'dynamo-write-failures':
          await knob('/faults', { dynamoWriteFailureRate: random.int(10, 40) / 100 });
          await sleep(hold);
          await knob('/faults', { dynamoWriteFailureRate: 0 });
          break;
        case 'stream-delay':
          await knob('/faults', { streamDelayMs: random.int(200, 2000) });
          await sleep(hold);
          await knob('/faults', { streamDelayMs: 0 });
          break;
        case 'stream-duplicate':
          await knob('/faults', { streamDuplicateRate: random.int(30, 100) / 100 });
          await sleep(hold);
          await knob('/faults', { streamDuplicateRate: 0 });
          break;
        case 'fanout-crash':
          // At most 30 %: with fanout's 5 retries a record reaches the on-failure destination with
          // odds of 0.3^6 per record, so the run checks recovery, not the DLQ.
          await knob('/faults', { streamCrashConsumer: 'fanout', streamCrashRate: random.int(10, 30) / 100 });
          await sleep(hold);
          await knob('/faults', { streamCrashRate: 0 });
          break;
        case 'drop-socket': {
          const { connections } = await status(origin);
          if (connections.length) await knob('/connections/drop', { connectionId: random.pick(connections) });
          break;
        }
        case 'compact-now':
          await knob('/compact', { docIds: [random.pick(docIds)] });
          break;
        case 'drop-all-sockets':
          await knob('/connections/drop', {});
          break;
        case 'cache-kill':
          await knob('/cache/kill');
          await sleep(hold);
          await knob('/cache/restart');
          break;
        case 'editor-churn': {
          // A user finishes, waits for "Saved", closes the tab; someone opens the document anew.
          const index = random.int(0, live.length - 1);
          const leaving = live[index];
          if (await leaving.editor.stopEditing(20_000)) {
            leaving.editor.close();
            retired.push({ editor: leaving.editor, docId: leaving.docId });
            live.splice(index, 1);
            await newEditor(leaving.user, leaving.docId);
          } else {
            // Could not save within the bound (a fault is active): it keeps working instead.
            faults['editor-churn-postponed'] = (faults['editor-churn-postponed'] ?? 0) + 1;
            leaving.editor.resumeEditing();
          }
          break;
        }
        case 'stack-restart':
          log('restarting the local stack');
          origin = await stack.restart();
          lastRestart = Date.now();
          break;
      }
      await sleep(random.int(300, 1500));
    }
    await knob('/faults/reset');
    log(`chaos over: ${JSON.stringify(faults)}`);

    // ------------------------------------------------------------ fuzz through the gateway
    if (options.fuzzCases > 0) {
      await refresh(origin, attacker);
      fuzz = await runGatewayFuzz({ url: wsUrl(docIds[0]), headers: () => socketHeaders(attacker), cases: options.fuzzCases, seed: options.seed, log });
      problems.push(...fuzz.problems.slice(0, 50).map((p) => `fuzz: ${p}`));
      log(`fuzz: ${fuzz.cases} cases through the gateway, ${fuzz.problems.length} problem(s)`);
    }

    // ------------------------------------------------------------ settle and verify
    const saved = await Promise.all(live.map((l) => l.editor.stopEditing(120_000)));
    saved.forEach((ok, i) => {
      if (!ok) problems.push(`editor ${i} on ${live[i].docId} still had ${live[i].editor.session.pendingCount} unacknowledged change(s) two minutes after the faults stopped`);
    });
    log('every editor saved; draining the streams');
    try {
      await knob('/streams/drain');
    } catch (e) {
      problems.push(`the op-log stream did not drain within 60 s of the end (${(e as Error).message}); consumers: ${JSON.stringify((await status(origin)).consumers)}`);
    }
    log('waiting for the editors to converge');
    const texts = (docId: string) => live.filter((l) => l.docId === docId).map((l) => l.editor.doc.getText('soak').toString());
    for (const docId of docIds) {
      const converged = await waitUntil(() => new Set(texts(docId)).size <= 1, 60_000);
      if (!converged) problems.push(`the editors of ${docId} did not converge within 60 s of the end`);
    }
    log('editors converged; reading every document back');
    const acknowledged = new Set<string>();
    for (const e of [...retired, ...live]) for (const m of e.editor.acknowledgedMarkers) acknowledged.add(m);
    const markers = textMarkers(random.next);
    const lost = new Set<string>();
    const divergent = new Set<string>();
    const readBack = async (label: string) => {
      const states = new Map<string, string>();
      for (const docId of docIds) {
        const stored = await verifyDocument(() => new WebSocket(wsUrl(docId), { headers: socketHeaders(owner) }), acknowledged, 60_000, markers);
        const storedText = stored.doc.getText('soak').toString();
        states.set(docId, storedText);
        const present = new Set(markers.read(stored.doc));
        // Only this document's markers are expected in it.
        for (const e of [...retired, ...live]) {
          if (e.docId !== docId) continue;
          for (const m of e.editor.acknowledgedMarkers) if (!present.has(m)) lost.add(m);
        }
        for (const t of texts(docId)) if (t !== storedText) divergent.add(`${docId} (${label})`);
      }
      return states;
    };
    await refresh(origin, owner);
    const before = await readBack('end of run');
    if (options.finalRestart !== false) {
      log('restarting the stack once more to read everything back from disk');
      origin = await stack.restart();
      await refresh(origin, owner);
      const after = await readBack('after a final restart');
      for (const [docId, text] of before) if (after.get(docId) !== text) divergent.add(`${docId} (changed across the final restart)`);
    }

    const all = [...retired, ...live].map((e) => e.editor);
    const final = await status(origin);
    for (const [name, c] of Object.entries(final.consumers)) consumers[name] = { failures: c.failures, discarded: c.discarded, crashes: c.crashes };
    const refusals: Record<string, number> = {};
    for (const e of all) for (const [code, n] of Object.entries(e.stats.errors)) refusals[code] = (refusals[code] ?? 0) + n;
    return {
      clients: options.clients,
      documents: options.documents,
      durationMs: options.durationMs,
      editsSent: all.reduce((s, e) => s + e.stats.sent, 0),
      editsAcknowledged: all.reduce((s, e) => s + e.stats.acknowledged, 0),
      editsLost: lost.size,
      lostMarkers: [...lost],
      divergent: [...divergent],
      faults,
      faultsInjected: Object.entries(faults).filter(([k]) => !k.endsWith('-postponed')).reduce((s, [, n]) => s + n, 0),
      reconnects: all.reduce((s, e) => s + e.stats.reconnects, 0),
      stackStarts: stack.starts,
      editorsRetired: retired.length,
      refusals,
      fuzz,
      consumers,
      problems,
    };
  } finally {
    for (const l of live) l.editor.close();
    await stack.stop();
    await database?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function soakPassed(report: SoakReport): boolean {
  return report.editsLost === 0 && report.divergent.length === 0 && report.problems.length === 0 && report.editsAcknowledged === report.editsSent;
}

export function formatSoakReport(r: SoakReport): string {
  return [
    `Chaos soak: ${r.clients} editors, ${r.documents} document(s), ${(r.durationMs / 1000).toFixed(0)} s of faults`,
    `  edits sent ${r.editsSent}, acknowledged ${r.editsAcknowledged}, lost ${r.editsLost}`,
    `  faults injected ${r.faultsInjected}: ${Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  reconnects ${r.reconnects}, stack starts ${r.stackStarts}, editors retired after "Saved" ${r.editorsRetired}`,
    `  server refusals seen by editors: ${Object.entries(r.refusals).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  stream consumers since the last start: ${Object.entries(r.consumers).map(([k, v]) => `${k} ${v.failures} failed invocation(s) (${v.crashes} crashed by the knob), ${v.discarded} record(s) to the on-failure file`).join('; ') || 'n/a'}`,
    r.fuzz ? `  fuzz through the gateway: ${r.fuzz.cases} cases (${r.fuzz.closes1009} closed with 1009), ${r.fuzz.problems.length} problem(s)` : '  fuzz: skipped',
    `  divergent documents: ${r.divergent.length ? r.divergent.join(', ') : 'none'}`,
    ...(r.lostMarkers.length ? [`  LOST: ${r.lostMarkers.slice(0, 20).join(', ')}`] : []),
    ...r.problems.slice(0, 20).map((p) => `  PROBLEM: ${p}`),
    soakPassed(r) ? 'PASS' : 'FAIL',
  ].join('\n');
}
