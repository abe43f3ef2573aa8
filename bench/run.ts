/**
 * `npm run bench` (`-- --quick` for a run under 2 minutes): Concord's local stack side by side with
 * @y/websocket-server and @hocuspocus/server, same machine, same run, same client load. Writes
 * bench/results/<name>.json, .md and .svg (name: latest, or quick with --quick) and exits non-zero
 * if any run lost an acknowledged edit or did not converge. See bench/README.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import { connectClient, type ServerKind } from './lib/clients';
import { createSharedDocument, startConcord, type ConcordStack } from './lib/concord-stack';
import { costModel } from './lib/cost';
import { holdsRange } from './lib/verify';
import { FIELD, runLoad, type LoadResult } from './lib/latency';
import { startPeer, type PeerServer } from './lib/peers';
import { round } from './lib/stats';
import { countOps, loadSequentialTrace } from './lib/traces';
import { measureBundles, type BundleResult } from './parts/bundles';
import { measureSynth, measureWebSize, type SynthResult, type WebSizeResult } from './parts/build-tools';
import { measureHandlerCpu, type HandlerCpuResult } from './parts/handler-cpu';
import { measureLargeOpen, prepareLargeDoc, type OpenResult } from './parts/large-doc';
import { renderMarkdown, renderSvg } from './report';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PEERS = ['y-websocket', 'hocuspocus'] as const;

const CONFIGS = {
  full: { loads: [[2, 1], [2, 2.5], [2, 5], [5, 5], [10, 5], [50, 5]] as [number, number][], editsPerRun: 150, minMs: 4_000, maxMs: 15_000, settleTimeoutMs: 300_000, handlerUpdates: 2_000, handlerRecipients: [1, 4, 9, 49], handlerBatches: [1, 10], largeDoc: true, largeDocOpens: 3, largeDocBatches: 220, largeDocTail: 20, bundleInitRuns: 3, synth: true },
  quick: { loads: [[2, 2.5], [2, 5]] as [number, number][], editsPerRun: 60, minMs: 3_000, maxMs: 3_000, settleTimeoutMs: 60_000, handlerUpdates: 300, handlerRecipients: [4], handlerBatches: [1], largeDoc: false, largeDocOpens: 0, largeDocBatches: 0, largeDocTail: 0, bundleInitRuns: 1, synth: false },
};
type Config = (typeof CONFIGS)['full'];

export interface BenchResults {
  meta: { date: string; mode: 'full' | 'quick'; machine: string; node: string; versions: Record<string, string>; elapsedMs: number };
  config: Config & { largeDocOpens: number };
  verification: { ok: boolean; problems: string[]; restartChecked: boolean };
  latency: LoadResult[];
  skipped: { kind: ServerKind; clients: number; ratePerClient: number; reason: string }[];
  concordP99Over100ms: string;
  handlerCpu: HandlerCpuResult[];
  largeDoc: { ops?: number; textChars?: number; stateBytes?: number; results?: OpenResult[]; note?: string };
  bundles: BundleResult[];
  cost: ReturnType<typeof costModel> | null;
  synth: SynthResult;
  startup: { concordReadyMs: number | null; restartReadyMs: number | null; peers: Record<string, number | null> };
  web: WebSizeResult;
  notes: string[];
}

const t0 = performance.now();
const progress = (line: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const version = (pkg: string) => (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, loads: { type: 'string' }, 'settle-ms': { type: 'string' } },
    strict: true,
  });
  const mode = values.quick ? 'quick' : 'full';
  const config: Config = { ...CONFIGS[mode] };
  // --loads 2x5,10x5 (clients x keystrokes/s) and --settle-ms override the mode's load list and settle bound.
  if (values.loads) {
    config.loads = values.loads.split(',').map((l) => {
      const m = /^(\d+)x(\d+(?:\.\d+)?)$/.exec(l.trim());
      if (!m) throw new Error(`--loads expects entries like 10x5 (clients x keystrokes per second), got "${l}"`);
      return [Number(m[1]), Number(m[2])] as [number, number];
    });
  }
  if (values['settle-ms']) config.settleTimeoutMs = Number(values['settle-ms']);
  const outName = values.out ?? (values.quick ? 'quick' : 'latest');
  const work = mkdtempSync(join(tmpdir(), 'concord-bench-'));
  const problems: string[] = [];
  const notes: string[] = [];
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode,
      machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${round(totalmem() / 2 ** 30, 1)} GB RAM, Node ${process.versions.node}, ${process.platform}`,
      node: process.versions.node,
      versions: { yjs: version('yjs'), '@y/websocket-server': version('@y/websocket-server'), '@hocuspocus/server': version('@hocuspocus/server') },
      elapsedMs: 0,
    },
    config,
    verification: { ok: false, problems, restartChecked: false },
    latency: [],
    skipped: [],
    concordP99Over100ms: 'not measured',
    handlerCpu: [],
    largeDoc: {},
    bundles: [],
    cost: null,
    synth: { measured: false, note: 'not measured' },
    startup: { concordReadyMs: null, restartReadyMs: null, peers: {} },
    web: { measured: false },
    notes,
  };
  let concord: ConcordStack | null = null;
  const peers = new Map<ServerKind, PeerServer>();
  try {
    progress(`mode ${mode}; bundling the Lambda handlers`);
    results.bundles = await measureBundles(REPO_ROOT, join(REPO_ROOT, 'bench/results/tmp/bundles'), config.bundleInitRuns);
    results.web = measureWebSize(REPO_ROOT);

    progress('loading the automerge-paper trace');
    const trace = loadSequentialTrace('automerge-paper');
    for (const recipients of config.handlerRecipients) {
      for (const batchSize of config.handlerBatches) {
        results.handlerCpu.push(await measureHandlerCpu(trace, { updates: config.handlerUpdates, recipients, batchSize }));
      }
    }
    progress(`handler CPU measured: ${results.handlerCpu.map((h) => `${h.recipients} recipients/batch ${h.batchSize}: message ${h.messageCpuUsPerUpdate} µs, fan-out ${h.fanoutCpuUsPerUpdate} µs`).join('; ')}`);

    progress('starting the servers (Concord local stack, y-websocket, Hocuspocus)');
    const concordDir = join(work, 'concord-data');
    concord = await startConcord(REPO_ROOT, concordDir);
    results.startup.concordReadyMs = round(concord.server.startMs);
    for (const kind of PEERS) {
      const peer = await startPeer(kind, REPO_ROOT, join(work, kind));
      peers.set(kind, peer);
      results.startup.peers[kind] = round(peer.server.startMs);
    }
    progress(`ready: Concord in ${Math.round(concord.server.startMs)} ms at ${concord.origin}`);

    const concordDocs: { docId: string; token: string; stored: Y.Doc | null; settled: boolean; run: string }[] = [];
    let seed = 1;
    for (const [n, rate] of config.loads) {
      const durationMs = Math.min(config.maxMs, Math.max(config.minMs, (config.editsPerRun / (n * rate)) * 1000));
      for (const kind of ['concord', ...PEERS] as ServerKind[]) {
        const previous = results.latency.filter((x) => x.kind === 'concord').pop();
        if (kind === 'concord' && previous && previous.settleMs > 60_000) {
          const reason = `not measured: Concord's local stack was already saturated at ${previous.clients} clients × ${previous.ratePerClient}/s (p99 ${Math.round(previous.editToPeerMs.p99 ?? 0)} ms, ${Math.round(previous.settleMs / 1000)} s to drain after typing stopped); ${n} clients would not drain within the run's bound`;
          results.skipped.push({ kind, clients: n, ratePerClient: rate, reason });
          progress(`latency: concord, ${n} clients: ${reason}`);
          continue;
        }
        progress(`latency: ${kind}, ${n} clients × ${rate} keystrokes/s, ${(durationMs / 1000).toFixed(1)} s of typing`);
        const options = { clients: n, ratePerClient: rate, durationMs, trace, seed, settleTimeoutMs: config.settleTimeoutMs, onProgress: progress };
        let result: LoadResult;
        if (kind === 'concord') {
          const stack = concord;
          const users = Math.min(n, 10) ;
          const shared = await createSharedDocument(stack, `bench ${n} clients`, users);
          let stored: Y.Doc | null = null;
          result = await runLoad(
            {
              kind,
              pid: stack.server.pid,
              target: (i) => ({ kind, wsBase: stack.wsBase, docId: shared.docId, token: shared.tokens[i % users] }),
              readStored: async () => {
                const reader = await connectClient('concord#stored', { kind, wsBase: stack.wsBase, docId: shared.docId, token: shared.tokens[0] }, { timeoutMs: 120_000 });
                await reader.close();
                stored = reader.doc;
                return reader.doc;
              },
            },
            options,
          );
          concordDocs.push({ docId: shared.docId, token: shared.tokens[0], stored, settled: !result.verify.problems.some((p) => p.startsWith('not settled')), run: `${n} clients × ${rate}/s` });
        } else {
          const peer = peers.get(kind)!;
          const docId = `bench-${n}-${seed}`;
          result = await runLoad({ kind, pid: peer.server.pid, target: () => ({ kind, wsBase: peer.wsBase, docId }) }, options);
        }
        results.latency.push(result);
        for (const p of result.verify.problems) problems.push(`${kind}, ${n} clients × ${rate}/s: ${p}`);
        progress(`  ${kind} ${n} clients × ${rate}/s: ${result.edits} edits, p50 ${result.editToPeerMs.p50} ms, p99 ${result.editToPeerMs.p99} ms${result.ackMs ? `, ack p50 ${result.ackMs.p50} ms` : ''}, ${result.verify.ok ? 'verified' : 'VERIFICATION FAILED'}`);
      }
      seed++;
    }
    const over = results.latency.filter((x) => x.kind === 'concord').find((x) => (x.editToPeerMs.p99 ?? 0) > 100);
    const concordRuns = results.latency.filter((x) => x.kind === 'concord');
    results.concordP99Over100ms = over
      ? `${over.clients} clients × ${over.ratePerClient} keystrokes/s (${over.clients * over.ratePerClient} edits/s on one document): p99 ${over.editToPeerMs.p99} ms${over === concordRuns[0] ? ' (already at the smallest load measured)' : `; the load before it (${concordRuns[concordRuns.indexOf(over) - 1].clients} clients × ${concordRuns[concordRuns.indexOf(over) - 1].ratePerClient}/s) had p99 ${concordRuns[concordRuns.indexOf(over) - 1].editToPeerMs.p99} ms`}`
      : `not reached in the loads measured`;

    if (!config.largeDoc) results.largeDoc = { note: 'not measured: skipped in --quick mode (uploading and compacting the large document takes minutes on the local stack)' };
    else {
    progress('large document: replaying automerge-paper into a Y.Doc');
    const large = prepareLargeDoc(trace, config.largeDocBatches);
    results.largeDoc = { ops: countOps(trace), textChars: large.doc.getText(FIELD).length, stateBytes: Y.encodeStateAsUpdate(large.doc).length, results: [] };
    {
      const stack = concord;
      const shared = await createSharedDocument(stack, 'automerge-paper', 1);
      const r = await measureLargeOpen(
        { kind: 'concord', target: () => ({ kind: 'concord', wsBase: stack.wsBase, docId: shared.docId, token: shared.tokens[0] }), concord: { origin: stack.origin, jar: shared.owner, docId: shared.docId } },
        large,
        { opens: config.largeDocOpens, tail: config.largeDocTail, snapshotWaitMs: 90_000, onProgress: progress },
      );
      results.largeDoc.results!.push(r);
      problems.push(...r.problems);

    }
    for (const kind of PEERS) {
      const peer = peers.get(kind)!;
      const r = await measureLargeOpen({ kind, target: () => ({ kind, wsBase: peer.wsBase, docId: 'automerge-paper' }) }, large, { opens: config.largeDocOpens, tail: config.largeDocTail, snapshotWaitMs: 0, onProgress: progress });
      results.largeDoc.results!.push(r);
      problems.push(...r.problems);
    }
    }

    // Durability across a restart: every document reads back the same from the same data folder.
    progress('restarting the Concord local stack on the same data folder');
    const port = concord.port;
    await concord.server.stop();
    concord = await startConcord(REPO_ROOT, concordDir, port);
    results.startup.restartReadyMs = round(concord.server.startMs);
    for (const d of concordDocs) {
      const before = d.stored;
      if (!before) continue;
      const reader = await connectClient('concord#after-restart', { kind: 'concord', wsBase: concord.wsBase, docId: d.docId, token: d.token }, { timeoutMs: 120_000 });
      await reader.close();
      // Everything read back before the restart must still be there (an unsettled run may have stored more since).
      const missing = [...Y.decodeStateVector(Y.encodeStateVector(before))].filter(([client, clock]) => !holdsRange(reader.doc, client, 0, clock));
      if (missing.length) problems.push(`concord, ${d.run}: after a restart the document lacks edits of ${missing.length} clients that were stored before it`);
      else if (d.settled && reader.doc.getText(FIELD).toString() !== before.getText(FIELD).toString()) problems.push(`concord, ${d.run}: the document read after a restart differs from the one stored before it`);
    }
    results.verification.restartChecked = true;
  } catch (e) {
    problems.push(`benchmark aborted: ${(e as Error).stack ?? String(e)}`);
  } finally {
    await concord?.server.stop().catch(() => undefined);
    for (const p of peers.values()) await p.server.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }

  if (config.synth) {
    progress('cdk synth');
    results.synth = await measureSynth(REPO_ROOT);
  } else results.synth = { measured: false, note: 'not measured: skipped in --quick mode' };

  const h = results.handlerCpu.find((x) => x.recipients === 4 && x.batchSize === 1) ?? results.handlerCpu[0];
  const concordAt5 = results.latency.find((x) => x.kind === 'concord' && x.clients === 5) ?? results.latency.find((x) => x.kind === 'concord');
  if (h && concordAt5) {
    results.cost = costModel({
      messageCpuUs: h.messageCpuUsPerUpdate,
      fanoutCpuUs: h.fanoutCpuUsPerUpdate,
      bytesPerRecipient: concordAt5.bytesPerUpdatePerRecipient ?? h.bytesPerUpdatePerRecipient,
      framesPerUpdatePerRecipient: concordAt5.framesPerUpdatePerRecipient ?? h.postsPerUpdatePerRecipient,
      bytesSentPerEdit: concordAt5.bytesSentPerEdit,
    });
  }
  notes.push('All clients run in the benchmark process; their event loop is part of every latency (the same for every server).');
  notes.push('The peers keep their default settings; neither authenticates. Concord runs its full path: authorizer, ACL, rate limit, durable op-log write, stream emulation, fan-out through the @connections emulator.');

  results.verification.ok = problems.length === 0;
  results.meta.elapsedMs = round(performance.now() - t0);
  const dir = join(REPO_ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${outName}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(dir, `${outName}.md`), renderMarkdown(results));
  writeFileSync(join(dir, `${outName}.svg`), renderSvg(results));
  progress(`wrote bench/results/${outName}.{json,md,svg} in ${(results.meta.elapsedMs / 1000).toFixed(0)} s`);
  if (!results.verification.ok) {
    process.stderr.write(`\nBENCHMARK VERIFICATION FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: error [bench_failed]: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
