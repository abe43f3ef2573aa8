/** Renders bench/results/latest.json as a markdown summary and a hand-written SVG chart. */
import type { BenchResults } from './run';

const fmt = (x: number | null | undefined, digits = 1): string => (x == null ? 'n/a' : x >= 100 ? String(Math.round(x)) : x.toFixed(digits));
const kb = (b: number | null | undefined) => (b == null ? 'n/a' : `${(b / 1024).toFixed(1)} KB`);
const PEER_NOTE = 'persistence debounced (Hocuspocus: onStoreDocument after 2 s, at most 10 s; y-websocket: LevelDB write after broadcast); its acknowledgement (SyncStatus) means "applied in memory"';

export function renderMarkdown(r: BenchResults): string {
  const L: string[] = [];
  L.push(`# Concord benchmark (${r.meta.mode})`, '');
  L.push(`${r.meta.date}, ${r.meta.machine}. Concord local stack (\`npm start\`: the production handlers over dynalite, PGlite, in-process cache, API Gateway emulator) vs \`@y/websocket-server@${r.meta.versions['@y/websocket-server']}\` and \`@hocuspocus/server@${r.meta.versions['@hocuspocus/server']}\`, each a \`node\` child process on 127.0.0.1, same client load in the same run. Absolute times on a shared 2-core machine are noisy; compare ratios.`, '');
  L.push(`**Verification: ${r.verification.ok ? 'passed' : 'FAILED'}** (every run: all clients converged, every acknowledged edit present in the stored document${r.verification.restartChecked ? ', and again after restarting the local stack' : ''}).`);
  for (const p of r.verification.problems) L.push(`- ${p}`);
  L.push('');
  L.push('## Edit-to-peer latency', '');
  L.push(`Each client types keystrokes from the automerge-paper trace at its own line, at the listed keystrokes/s (Poisson arrivals; 5/s is 60 wpm), for the run's duration; latency runs from the local transaction to the moment the update is applied at each other client (all clients share one process and clock). Deletions are included in the load but only insertions are timed (they advance the sender's clock).`, '');
  L.push('| clients × keystrokes/s | server | edits | p50 ms | p99 ms | ack p50 ms | ack p99 ms | server CPU µs/edit | frames/update/recipient | bytes/update/recipient | p50 ratio | p99 ratio |');
  L.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const run of r.latency) {
    const concord = r.latency.find((x) => x.clients === run.clients && x.ratePerClient === run.ratePerClient && x.kind === 'concord');
    const ratio = (a?: number | null, b?: number | null) => (run.kind === 'concord' || a == null || b == null || b === 0 ? '' : `${(a / b).toFixed(1)}×`);
    L.push(`| ${run.clients} × ${run.ratePerClient} | ${run.kind} | ${run.edits} | ${fmt(run.editToPeerMs.p50)} | ${fmt(run.editToPeerMs.p99)} | ${run.ackMs ? fmt(run.ackMs.p50) : 'no acks'} | ${run.ackMs ? fmt(run.ackMs.p99) : ''} | ${fmt(run.serverCpuUsPerEdit, 0)} | ${fmt(run.framesPerUpdatePerRecipient, 2)} | ${fmt(run.bytesPerUpdatePerRecipient)} | ${ratio(concord?.editToPeerMs.p50, run.editToPeerMs.p50)} | ${ratio(concord?.editToPeerMs.p99, run.editToPeerMs.p99)} |`);
  }
  for (const sk of r.skipped ?? []) L.push(`| ${sk.clients} × ${sk.ratePerClient} | ${sk.kind} | | ${sk.reason} | | | | | | | | |`);
  L.push('', 'Ratios are Concord ÷ that peer in the same run. Concord acknowledges after the durable op-log write; the peers: ' + PEER_NOTE + '. Server CPU is the whole server process tree (Concord: the local stack with its embedded DynamoDB, PostgreSQL and gateway emulators) divided by edits, 10 ms tick resolution.', '');
  L.push(`**Load at which Concord's p99 passes 100 ms:** ${r.concordP99Over100ms}`, '');
  L.push('## Server work per edit (in process, Concord core)', '');
  L.push('`handleFrame` (message handler) and `fanoutDocument` (fan-out handler) over the in-memory ports, `process.cpuUsage` around the calls; keystrokes of the automerge-paper trace.', '');
  L.push('| recipients | stream batch | updates | message µs/update | fan-out µs/update | posts/update/recipient | bytes/update/recipient |');
  L.push('|---:|---:|---:|---:|---:|---:|---:|');
  for (const h of r.handlerCpu) L.push(`| ${h.recipients} | ${h.batchSize} | ${h.updates} | ${fmt(h.messageCpuUsPerUpdate)} | ${fmt(h.fanoutCpuUsPerUpdate)} | ${fmt(h.postsPerUpdatePerRecipient, 3)} | ${fmt(h.bytesPerUpdatePerRecipient)} |`);
  L.push('', 'The lower bound is one message per recipient per fan-out batch: with a batch of 10 updates each recipient gets 0.1 posts per update.', '');
  L.push('## Opening a large document cold', '');
  if (r.largeDoc.note) L.push(r.largeDoc.note, '');
  L.push(`Automerge-paper: ${r.largeDoc.ops?.toLocaleString('en-US') ?? 'n/a'} operations, ${r.largeDoc.textChars?.toLocaleString('en-US') ?? 'n/a'} characters, Yjs v1 state ${kb(r.largeDoc.stateBytes)}; plus a tail of ${r.config.largeDocTail} keystrokes typed after the upload. Median of ${r.config.largeDocOpens} opens, no other client connected.`, '');
  L.push('| server | open ms (median) | HTTP bytes | socket bytes in | socket bytes out | total | ratio | notes |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---|');
  const concordOpen = r.largeDoc.results?.find((x) => x.kind === 'concord');
  for (const o of r.largeDoc.results ?? []) {
    const ratio = o.kind !== 'concord' && concordOpen?.openMs && o.openMs ? `${(concordOpen.openMs / o.openMs).toFixed(1)}×` : '';
    const notes = o.kind === 'concord' ? (o.snapshotVersion ? `snapshot v${o.snapshotVersion} over HTTP, ~${o.tailEntries} tail entries over the socket` : o.note ?? '') : 'whole state over the socket, loaded from the server\'s own persistence';
    L.push(`| ${o.kind} | ${fmt(o.openMs)} | ${kb(o.bytesHttp)} | ${kb(o.bytesSocketIn)} | ${kb(o.bytesSocketOut)} | ${kb(o.bytesTotal)} | ${ratio} | ${notes} |`);
  }
  L.push('', 'The local stack serves HTTP, not HTTPS; in AWS the snapshot comes through CloudFront over TLS.', '');
  L.push('## Cold start (Lambda bundles)', '');
  L.push('esbuild, as the CDK app bundles (ESM, minified, platform node, target node22, AWS SDK bundled); init = median time for a fresh `node` to import the bundle.', '');
  L.push('| handler | minified | gzip | init ms | note |');
  L.push('|---|---:|---:|---:|---|');
  for (const b of r.bundles) L.push(`| ${b.handler} | ${kb(b.bytes)} | ${kb(b.gzipBytes)} | ${fmt(b.initMs)} | ${b.note ?? ''} |`);
  L.push('');
  L.push('## Cost model (us-east-1 list prices, bench/prices.ts)', '');
  if (r.cost) {
    const c = r.cost;
    L.push(`| per 1 million edits | USD |`, '|---|---:|');
    for (const [k, v] of Object.entries(c.per1MEditsUsd)) L.push(`| ${k} | ${v.toFixed(2)} |`);
    L.push('', `Per active editor-hour: **$${c.perActiveEditorHourUsd.total.toFixed(4)}** (edits $${c.perActiveEditorHourUsd.edits.toFixed(4)}, awareness $${c.perActiveEditorHourUsd.awareness.toFixed(4)}, connection minutes $${c.perActiveEditorHourUsd.connectionMinutes.toFixed(6)}).`, '');
    L.push(`Per edit: ${c.perEdit.lambdaInvocations.toFixed(3)} Lambda invocations (message ${c.perEdit.messageLambdaMs} ms, fan-out ${c.perEdit.fanoutLambdaMs} ms billed), ${c.perEdit.dynamoWriteUnits} DynamoDB write units, ${c.perEdit.dynamoReadUnits} read units, ${c.perEdit.apiGatewayMessages.toFixed(2)} API Gateway messages (32 KB units), ${c.perEdit.postToConnectionCalls.toFixed(2)} postToConnection calls.`, '');
    L.push('Assumptions (measured inputs: handler CPU in process, frames and bytes per recipient from the local stack run):', '');
    for (const [k, v] of Object.entries(c.assumptions)) L.push(`- \`${k}\`: ${v}`);
    L.push(`- ${c.excluded}`, '');
  } else L.push('not measured', '');
  L.push('## Build and start-up', '');
  L.push(`- \`npm start\` to "ready": ${fmt(r.startup.concordReadyMs, 0)} ms (fresh data folder)${r.startup.restartReadyMs ? `, ${fmt(r.startup.restartReadyMs, 0)} ms on restart with data` : ''}; peers: y-websocket ${fmt(r.startup.peers['y-websocket'], 0)} ms, Hocuspocus ${fmt(r.startup.peers.hocuspocus, 0)} ms.`);
  L.push(`- \`cdk synth\`: ${r.synth.measured ? `${fmt(r.synth.wallMs, 0)} ms, peak memory ${fmt(r.synth.peakRssMb, 0)} MB (process tree RSS sampled every 50 ms)` : r.synth.note}.`);
  L.push(`- Web client initial JS (gzip -9): ${r.web.measured ? `${kb(r.web.gzipBytes)} (${r.web.files!.map((f) => `${f.path} ${kb(f.bytes)} minified`).join(', ')})` : r.web.note}.`, '');
  for (const n of r.notes) L.push(`- ${n}`);
  L.push('');
  return L.join('\n');
}

const COLORS: Record<string, string> = { concord: '#2563eb', 'y-websocket': '#16a34a', hocuspocus: '#d97706' };

/** Grouped bars (p50 solid, p99 light) of edit-to-peer latency per client count, log scale. */
export function renderSvg(r: BenchResults): string {
  const kinds = ['concord', 'y-websocket', 'hocuspocus'];
  const counts = [...new Set(r.latency.map((x) => `${x.clients}×${x.ratePerClient}`))];
  const W = 860;
  const H = 380;
  const left = 60;
  const bottom = 320;
  const top = 40;
  const values = r.latency.flatMap((x) => [x.editToPeerMs.p50 ?? 0, x.editToPeerMs.p99 ?? 0]).filter((v) => v > 0);
  const maxV = Math.max(10, ...values);
  const minV = 0.1;
  const y = (v: number) => bottom - ((Math.log10(Math.max(minV, v)) - Math.log10(minV)) / (Math.log10(maxV * 1.2) - Math.log10(minV))) * (bottom - top);
  const groupW = (W - left - 20) / Math.max(1, counts.length);
  const barW = Math.min(28, groupW / (kinds.length * 2 + 1));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Edit-to-peer latency, ms (log scale): p50 solid, p99 light — ${r.meta.date.slice(0, 10)}</text>`);
  for (let e = Math.ceil(Math.log10(minV)); e <= Math.log10(maxV * 1.2); e++) {
    const v = 10 ** e;
    out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v : v.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(100).toFixed(1)}" y2="${y(100).toFixed(1)}" stroke="#dc2626" stroke-dasharray="4 3"/><text x="${W - 22}" y="${(y(100) - 4).toFixed(1)}" text-anchor="end" fill="#dc2626">100 ms</text>`);
  counts.forEach((n, gi) => {
    const gx = left + gi * groupW + barW / 2;
    kinds.forEach((k, ki) => {
      const run = r.latency.find((x) => `${x.clients}×${x.ratePerClient}` === n && x.kind === k);
      if (!run) return;
      const x0 = gx + ki * 2 * barW;
      for (const [j, v] of [run.editToPeerMs.p50, run.editToPeerMs.p99].entries()) {
        if (v == null) continue;
        out.push(`<rect x="${(x0 + j * barW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${COLORS[k]}" fill-opacity="${j ? 0.45 : 1}"><title>${k}, ${n} keystrokes/s, ${j ? 'p99' : 'p50'} ${v} ms</title></rect>`);
      }
    });
    out.push(`<text x="${(gx + kinds.length * barW).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${n}/s</text>`);
  });
  kinds.forEach((k, i) => {
    out.push(`<rect x="${left + i * 150}" y="${H - 30}" width="12" height="12" fill="${COLORS[k]}"/><text x="${left + i * 150 + 18}" y="${H - 20}">${k}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
