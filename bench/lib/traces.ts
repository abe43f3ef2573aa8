/**
 * Loaders and replayers for the real editing traces in ../shared/data/editing-traces
 * (josephg/editing-traces). Positions in the traces count Unicode code points; Y.Text counts
 * UTF-16 units, so positions are converted whenever the text holds astral characters.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as Y from 'yjs';

/** The traces ship in the `shared/` folder beside the repository (CI lays a copy there too). */
const candidateTraceDirs = [resolve(import.meta.dirname, '../../../shared/data/editing-traces'), '/work/shared/data/editing-traces'];
export const TRACES_DIR = process.env.CONCORD_TRACES_DIR ?? candidateTraceDirs.find((dir) => existsSync(dir)) ?? candidateTraceDirs[0];

/** [position, numDeleted, inserted] */
export type Patch = [number, number, string];

export interface SequentialTrace {
  readonly startContent: string;
  readonly endContent: string;
  readonly txns: readonly { readonly patches: readonly Patch[] }[];
}

export interface ConcurrentTrace {
  readonly endContent: string;
  readonly numAgents: number;
  readonly txns: readonly { readonly parents: readonly number[]; readonly agent: number; readonly patches: readonly Patch[] }[];
}

function readGzJson(path: string): unknown {
  try {
    return JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));
  } catch (e) {
    throw new Error(`Cannot read the editing trace ${path} (${(e as Error).message}); set CONCORD_TRACES_DIR to the folder holding the josephg/editing-traces files.`);
  }
}

export function loadSequentialTrace(name = 'automerge-paper'): SequentialTrace {
  const t = readGzJson(`${TRACES_DIR}/${name}.json.gz`) as SequentialTrace;
  if (!Array.isArray(t.txns) || typeof t.endContent !== 'string') throw new Error(`${name} is not a sequential editing trace`);
  return t;
}

export function loadConcurrentTrace(name = 'friendsforever'): ConcurrentTrace {
  const t = readGzJson(`${TRACES_DIR}/${name}.json.gz`) as ConcurrentTrace;
  if (!Array.isArray(t.txns) || typeof t.numAgents !== 'number') throw new Error(`${name} is not a concurrent editing trace`);
  return t;
}

export const countOps = (trace: { txns: readonly { patches: readonly Patch[] }[] }): number =>
  trace.txns.reduce((n, t) => n + t.patches.length, 0);

/** UTF-16 offset of code point `pos` in `text` (identity for BMP-only text). */
function utf16Offset(text: string, pos: number): number {
  let units = 0;
  for (let cp = 0; cp < pos; cp++) units += (text.codePointAt(units) ?? 0) > 0xffff ? 2 : 1;
  return units;
}

/** Applies one patch to a Y.Text, converting code-point positions when needed. */
export function applyPatch(ytext: Y.Text, [pos, del, ins]: Patch, astral: boolean): void {
  if (astral) {
    const current = ytext.toString();
    const start = utf16Offset(current, pos);
    const end = del ? utf16Offset(current.slice(start), del) + start : start;
    if (end > start) ytext.delete(start, end - start);
    if (ins) ytext.insert(start, ins);
    return;
  }
  if (del) ytext.delete(pos, del);
  if (ins) ytext.insert(pos, ins);
}

/**
 * Builds a Y.Doc by replaying a sequential trace, one Yjs transaction per trace transaction
 * (one keystroke each in automerge-paper). `onUpdate` sees each transaction's update.
 */
export function buildDocFromSequentialTrace(
  trace: SequentialTrace,
  options: { field?: string; limitTxns?: number; onProgress?: (done: number, total: number) => void } = {},
): Y.Doc {
  const doc = new Y.Doc();
  const ytext = doc.getText(options.field ?? 'content');
  const astral = /[\u{10000}-\u{10FFFF}]/u.test(trace.endContent);
  if (trace.startContent) ytext.insert(0, trace.startContent);
  const total = Math.min(options.limitTxns ?? Infinity, trace.txns.length);
  for (let i = 0; i < total; i++) {
    const txn = trace.txns[i];
    doc.transact(() => {
      for (const p of txn.patches) applyPatch(ytext, p, astral);
    });
    if (options.onProgress && i % 20_000 === 0) options.onProgress(i, total);
  }
  return doc;
}

/**
 * Replays a concurrent trace with one Y.Doc per agent. Before an agent types transaction i, its
 * document receives exactly the other agents' transactions in the causal history of i's
 * `parents`, then the patches are applied at the positions the trace recorded. Each agent's
 * transactions form a chain, so that history is a prefix of each agent's transactions; versions
 * are counted in transactions, not Yjs clocks, because a deletion does not advance a clock.
 * Returns every agent's doc and the merge of all of them.
 */
export function replayConcurrentTrace(trace: ConcurrentTrace, field = 'content'): { agents: Y.Doc[]; merged: Y.Doc } {
  const n = trace.numAgents;
  const astral = /[\u{10000}-\u{10FFFF}]/u.test(trace.endContent);
  const agents = Array.from({ length: n }, (_, a) => {
    const d = new Y.Doc();
    d.clientID = a + 1;
    return d;
  });
  /** Per agent: the update of each of its transactions (null when it changed nothing). */
  const produced: (Uint8Array | null)[][] = Array.from({ length: n }, () => []);
  /** Per agent doc, per other agent: how many of that agent's transactions it has applied. */
  const applied: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  /** Version after each transaction: per agent, how many of its transactions it contains. */
  const versionAfter: Int32Array[] = [];
  for (let i = 0; i < trace.txns.length; i++) {
    const txn = trace.txns[i];
    const a = txn.agent;
    const target = new Int32Array(n);
    for (const p of txn.parents) {
      const v = versionAfter[p];
      if (!v) throw new Error(`transaction ${i} names parent ${p}, which does not precede it`);
      for (let b = 0; b < n; b++) if (v[b] > target[b]) target[b] = v[b];
    }
    if (target[a] !== produced[a].length) throw new Error(`transaction ${i}: agent ${a} did not build on its own previous transaction`);
    const doc = agents[a];
    for (let b = 0; b < n; b++) {
      if (b === a) continue;
      if (applied[a][b] > target[b]) throw new Error(`transaction ${i}: agent ${a} already saw more of agent ${b} than its parents`);
      while (applied[a][b] < target[b]) {
        const u = produced[b][applied[a][b]++];
        if (u) Y.applyUpdate(doc, u);
      }
    }
    let update: Uint8Array | null = null;
    const capture = (u: Uint8Array) => (update = u);
    doc.on('update', capture);
    const ytext = doc.getText(field);
    doc.transact(() => {
      for (const p of txn.patches) applyPatch(ytext, p, astral);
    });
    doc.off('update', capture);
    produced[a].push(update);
    target[a] = produced[a].length;
    versionAfter.push(target);
  }
  const merged = new Y.Doc();
  for (const d of agents) Y.applyUpdate(merged, Y.encodeStateAsUpdate(d));
  return { agents, merged };
}
