/**
 * The benchmark's correctness gate must be able to fail: verifyRun reports an acknowledged edit
 * missing from the stored document and clients that did not converge; the trace loaders reproduce
 * each trace's endContent (automerge-paper by splicing and through Yjs; friendsforever with one
 * Y.Doc per agent merged per `parents`).
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { verifyRun } from '../../bench/lib/verify';
import { LatencyTracker } from '../../bench/lib/latency';
import { buildDocFromSequentialTrace, countOps, loadConcurrentTrace, loadSequentialTrace, replayConcurrentTrace } from '../../bench/lib/traces';

const FIELD = 'bench';

function client(id: number, text: string): Y.Doc {
  const d = new Y.Doc();
  d.clientID = id;
  d.getText(FIELD).insert(0, text);
  return d;
}

const copy = (d: Y.Doc): Y.Doc => {
  const c = new Y.Doc();
  Y.applyUpdate(c, Y.encodeStateAsUpdate(d));
  return c;
};

describe('bench verification (FM-3.3: no acknowledged edit lost; convergence)', () => {
  it('passes when every client and the stored document hold every acknowledged edit', () => {
    const a = client(1, 'alpha ');
    const b = client(2, 'beta ');
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const result = verifyRun({
      clients: [
        { name: 'a', doc: a, ackedRanges: [[0, Y.getState(a.store, 1)]], unacknowledged: 0 },
        { name: 'b', doc: b, ackedRanges: [[0, Y.getState(b.store, 2)]], unacknowledged: 0 },
      ],
      stored: copy(a),
      field: FIELD,
    });
    expect(result).toEqual({ ok: true, problems: [] });
  });

  it('reports a loss when the stored document lacks an acknowledged edit', () => {
    const a = client(1, 'kept ');
    const storedBefore = copy(a);
    const start = Y.getState(a.store, 1);
    a.getText(FIELD).insert(5, 'acknowledged but lost');
    const result = verifyRun({
      clients: [{ name: 'a', doc: a, ackedRanges: [[0, start], [start, Y.getState(a.store, 1)]], unacknowledged: 0 }],
      stored: storedBefore,
      field: FIELD,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toContain("acknowledged edit lost: 1 of a's acknowledged edits (first at clock 5) are not in the stored document");
  });

  it('checks each acknowledged edit on its own when acks arrive out of order', () => {
    // Edit 1 is still being retried while edit 2 was acknowledged: the stored document holds
    // edit 2 only as a pending struct (its left neighbour is edit 1), which is not a loss...
    const a = new Y.Doc();
    a.clientID = 7;
    const updates: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => updates.push(u));
    a.getText(FIELD).insert(0, 'first ');
    const mid = Y.getState(a.store, 7);
    a.getText(FIELD).insert(mid, 'second');
    const end = Y.getState(a.store, 7);
    const stored = new Y.Doc();
    Y.applyUpdate(stored, updates[1]);
    expect(Y.getState(stored.store, 7)).toBe(0);
    const outcome = (acked: [number, number][]) =>
      verifyRun({ clients: [{ name: 'a', doc: a, ackedRanges: acked, unacknowledged: 1 }], stored, field: FIELD }).problems.filter((p) => p.startsWith('acknowledged edit lost'));
    expect(outcome([[mid, end]])).toEqual([]);
    // ...but claiming edit 1 was acknowledged too is.
    expect(outcome([[0, mid], [mid, end]])).toEqual(["acknowledged edit lost: 1 of a's acknowledged edits (first at clock 0) are not in the stored document"]);
  });

  it('reports clients that did not converge and edits never acknowledged', () => {
    const a = client(1, 'one');
    const b = client(2, 'two');
    const result = verifyRun({
      clients: [
        { name: 'a', doc: a, ackedRanges: [], unacknowledged: 3 },
        { name: 'b', doc: b, ackedRanges: [], unacknowledged: null },
      ],
      stored: null,
      field: FIELD,
    });
    expect(result.ok).toBe(false);
    expect(result.problems).toContain('a has 3 edits the server never acknowledged');
    expect(result.problems.some((p) => p.startsWith('not converged: b lacks edits of a'))).toBe(true);
  });

  it('times edit-to-peer latency only once the sender clock reaches the receiver', () => {
    const sender = new Y.Doc();
    const receiver = new Y.Doc();
    const tracker = new LatencyTracker();
    const updates: Uint8Array[] = [];
    sender.on('update', (u: Uint8Array) => updates.push(u));
    for (const ch of 'abc') {
      sender.getText(FIELD).insert(sender.getText(FIELD).length, ch);
      tracker.recordSend(sender.clientID, Y.getState(sender.store, sender.clientID), performance.now());
    }
    Y.applyUpdate(receiver, updates[0]);
    tracker.onRemoteUpdate(receiver, updates[0]);
    expect(tracker.samples).toHaveLength(1);
    const rest = Y.mergeUpdates(updates.slice(1));
    Y.applyUpdate(receiver, rest);
    tracker.onRemoteUpdate(receiver, rest);
    expect(tracker.samples).toHaveLength(3);
  });
});

describe('bench trace loaders', () => {
  it('automerge-paper replays to its endContent through Yjs', { timeout: 60_000 }, () => {
    const trace = loadSequentialTrace('automerge-paper');
    expect(countOps(trace)).toBeGreaterThanOrEqual(100_000);
    expect(trace.endContent.length).toBeGreaterThanOrEqual(100_000);
    expect(buildDocFromSequentialTrace(trace, { field: FIELD }).getText(FIELD).toString()).toBe(trace.endContent);
  });

  it('friendsforever replays to its endContent with one Y.Doc per agent merged per parents', { timeout: 60_000 }, () => {
    const trace = loadConcurrentTrace('friendsforever');
    const { agents, merged } = replayConcurrentTrace(trace, FIELD);
    expect(agents).toHaveLength(trace.numAgents);
    expect(merged.getText(FIELD).toString()).toBe(trace.endContent);
  });

  it('friendsforever does not reproduce endContent when parents are ignored (the replay is really causal)', { timeout: 60_000 }, () => {
    const trace = loadConcurrentTrace('friendsforever');
    const linear = { ...trace, txns: trace.txns.map((t, i) => ({ ...t, parents: i === 0 ? [] : [i - 1] })) };
    let text: string | null = null;
    try {
      text = replayConcurrentTrace(linear, FIELD).merged.getText(FIELD).toString();
    } catch {
      text = null; // a linearised history may even break an agent's chain, which also counts as "not reproduced"
    }
    expect(text).not.toBe(trace.endContent);
  });
});
