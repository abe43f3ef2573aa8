/**
 * Server work per edit, in process: the core's message handler (handleFrame) and fan-out
 * (fanoutDocument) over the in-memory ports, timed with process.cpuUsage. This is the CPU the
 * Lambda code itself spends per update, without the AWS SDK calls (their network time is in the
 * cost model's duration assumptions, bench/lib/cost.ts).
 */
import * as Y from 'yjs';
import { resilientCache } from '../../lambdas/core/cache';
import { MemoryBroadcaster, MemoryChunkStore, MemoryConnections, MemoryOpLog, MemorySnapshotStore } from '../../lambdas/core/memory';
import { encodeFrames } from '../../lambdas/core/protocol';
import { fanoutDocument, handleFrame, type SessionDeps } from '../../lambdas/core/session';
import type { OpLogEntry } from '../../lambdas/core/ports';
import { round } from '../lib/stats';
import type { SequentialTrace } from '../lib/traces';

export interface HandlerCpuResult {
  readonly recipients: number;
  readonly batchSize: number;
  readonly updates: number;
  readonly messageCpuUsPerUpdate: number;
  readonly fanoutCpuUsPerUpdate: number;
  readonly postsPerUpdatePerRecipient: number;
  readonly bytesPerUpdatePerRecipient: number;
  readonly opLogWritesPerUpdate: number;
  readonly connectionQueriesPerUpdate: number;
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

export async function measureHandlerCpu(trace: SequentialTrace, options: { updates: number; recipients: number; batchSize: number }): Promise<HandlerCpuResult> {
  const opLog = new MemoryOpLog();
  const connections = new MemoryConnections();
  const broadcaster = new MemoryBroadcaster();
  let queries = 0;
  const countingConnections = Object.assign(Object.create(connections) as MemoryConnections, {
    listByDocument: (docId: string) => {
      queries++;
      return connections.listByDocument(docId);
    },
  });
  const stream: OpLogEntry[] = [];
  const deps: SessionDeps = {
    opLog: {
      append: async (docId, input) => {
        const e = await opLog.append(docId, input);
        stream.push(e);
        return e;
      },
      readAll: (d) => opLog.readAll(d),
      readSince: (d, s) => opLog.readSince(d, s),
      remove: (d, s) => opLog.remove(d, s),
    },
    snapshots: new MemorySnapshotStore(),
    connections: countingConnections,
    broadcaster,
    chunks: new MemoryChunkStore(),
    cache: resilientCache(null),
    clock: { now: () => Date.now() },
    rateLimitPerSecond: 1_000_000_000,
  };
  const docId = 'bench-doc';
  const now = Date.now();
  for (let i = 0; i <= options.recipients; i++) {
    await connections.put({ connectionId: `c${i}`, docId, userId: `u${i}`, role: 'editor', connectedAt: now, tokenExpiresAt: now + 3600_000 });
  }
  // The typist's updates: one keystroke of the trace each, as a client would send them.
  const author = new Y.Doc();
  const frames: string[] = [];
  author.on('update', (u: Uint8Array) => frames.push(...encodeFrames({ type: 'sync-update', update: u })));
  const text = author.getText('bench');
  for (let i = 0; frames.length < options.updates && i < trace.txns.length; i++) {
    author.transact(() => {
      for (const [pos, del, ins] of trace.txns[i].patches) {
        if (del) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
  }
  const sender = await connections.get('c0');
  let messageUs = 0;
  let fanoutUs = 0;
  let posts = 0;
  let postedBytes = 0;
  for (let i = 0; i < frames.length; i += options.batchSize) {
    const batch = frames.slice(i, i + options.batchSize);
    const t0 = cpuUs();
    for (const f of batch) await handleFrame(deps, sender!, f);
    const t1 = cpuUs();
    await fanoutDocument(deps, docId, stream.splice(0));
    fanoutUs += cpuUs() - t1;
    messageUs += t1 - t0;
    for (let r = 1; r <= options.recipients; r++) {
      const sent = broadcaster.take(`c${r}`);
      posts += sent.length;
      postedBytes += sent.reduce((s, f) => s + Buffer.byteLength(f), 0);
    }
    broadcaster.take('c0');
  }
  const n = frames.length;
  return {
    recipients: options.recipients,
    batchSize: options.batchSize,
    updates: n,
    messageCpuUsPerUpdate: round(messageUs / n, 1),
    fanoutCpuUsPerUpdate: round(fanoutUs / n, 1),
    postsPerUpdatePerRecipient: round(posts / (n * options.recipients), 3),
    bytesPerUpdatePerRecipient: round(postedBytes / (n * options.recipients), 1),
    opLogWritesPerUpdate: 1,
    connectionQueriesPerUpdate: round(queries / n, 3),
  };
}
