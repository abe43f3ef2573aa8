/**
 * Invariant 5 at the core: generated malformed input sent through handleFrame (what the message
 * handler runs) and fan-out, with two healthy clients on the same document and a neighbouring
 * document. Each case is answered with its documented error, stores nothing, and the healthy
 * clients keep converging.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { loadState } from '../../lambdas/core/document';
import { decodeFrame } from '../../lambdas/core/protocol';
import { createMemoryServer } from '../support/memory-server';
import { ALL_CATEGORIES, categoryArb, fuzzCaseArb, type FuzzCase } from './cases';
import { checkCase, errorCodesOf, healthyClient, text } from './oracle';

async function setup() {
  const server = createMemoryServer();
  await server.connect('attacker', 'fuzz', 'mallory', 'editor');
  await server.connect('a', 'fuzz', 'alice', 'editor');
  await server.connect('b', 'fuzz', 'bob', 'editor');
  await server.connect('o', 'other', 'olga', 'owner');
  const clients = { a: healthyClient('a'), b: healthyClient('b'), o: healthyClient('o') };
  const outbox: Record<string, string[]> = { a: [], b: [], o: [] };
  for (const [id, c] of Object.entries(clients)) c.session.connected((f) => outbox[id].push(f));
  /** Runs every queued client frame and every server frame until quiet. */
  const pump = async () => {
    for (let round = 0; round < 10; round++) {
      let moved = 0;
      for (const id of Object.keys(clients) as (keyof typeof clients)[]) {
        while (outbox[id].length) {
          moved++;
          await server.frame(id, outbox[id].shift()!);
        }
      }
      await server.drainStream();
      for (const id of Object.keys(clients) as (keyof typeof clients)[]) {
        for (const f of server.broadcaster.take(id)) {
          moved++;
          await clients[id].session.receive(f);
        }
      }
      if (!moved) return;
    }
  };
  await pump();
  clients.o.doc.getText('t').insert(0, 'the other document');
  clients.a.doc.getText('t').insert(0, 'alice was here. ');
  await pump();

  const runCase = async (c: FuzzCase) => {
    const before = (await server.deps.opLog.readAll('fuzz')).length;
    const otherBefore = await loadState('other', server.deps.opLog, server.deps.snapshots);
    const outcomes: string[] = [];
    for (const frame of c.frames) {
      const outcome = await server.frame('attacker', frame);
      outcomes.push(outcome.status === 'refused' ? `refused:${outcome.code}` : outcome.status);
    }
    const sentToAttacker = server.broadcaster.take('attacker');
    const stored = (await server.deps.opLog.readAll('fuzz')).slice(before).map((e) => e.update);
    const problems = checkCase(c, { outcomes, errorCodes: errorCodesOf(sentToAttacker), storedUpdates: stored });
    // A refusal is an ERROR frame with the same code: the outcome and the wire agree.
    const refusedCodes = outcomes.filter((o) => o.startsWith('refused:')).map((o) => o.slice(8));
    expect(errorCodesOf(sentToAttacker)).toEqual(refusedCodes);
    const otherAfter = await loadState('other', server.deps.opLog, server.deps.snapshots);
    if (!Buffer.from(otherAfter).equals(Buffer.from(otherBefore))) problems.push('the other document changed');
    await pump();
    for (const c2 of Object.values(clients)) if (c2.errors.length) problems.push(...c2.errors);
    if (text(clients.a.doc) !== text(clients.b.doc)) problems.push('healthy clients diverged');
    return problems;
  };

  const finalCheck = async () => {
    clients.a.doc.getText('t').insert(0, 'final a. ');
    clients.b.doc.getText('t').insert(0, 'final b. ');
    await pump();
    const stored = new Y.Doc();
    Y.applyUpdate(stored, await loadState('fuzz', server.deps.opLog, server.deps.snapshots));
    expect(text(clients.a.doc)).toContain('final a.');
    expect(text(clients.a.doc)).toContain('final b.');
    expect(text(clients.b.doc)).toBe(text(clients.a.doc));
    expect(text(stored)).toBe(text(clients.a.doc));
    expect(clients.a.session.isSaved && clients.b.session.isSaved).toBe(true);
    expect(text(clients.o.doc)).toBe('the other document');
  };
  return { server, clients, runCase, finalCheck, pump };
}

describe('fuzz: the message path (core handleFrame + fan-out)', () => {
  it('FM-3.6 FM-6.3 invariant 5: 3,000 generated malformed inputs are each refused with their documented code, nothing is stored, healthy clients keep converging', async () => {
    const h = await setup();
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fuzzCaseArb(), async (c) => {
        seen.set(c.category, (seen.get(c.category) ?? 0) + 1);
        const problems = await h.runCase(c);
        expect(problems, `${c.category}: ${problems.join('; ')}`).toEqual([]);
      }),
      { numRuns: 3000, seed: Number(process.env.FUZZ_SEED ?? 0x5eed) },
    );
    await h.finalCheck();
    // The generator really covers every category.
    expect([...seen.keys()].sort()).toEqual([...ALL_CATEGORIES].sort());
  });

  it.each(ALL_CATEGORIES.map((c) => [c]))('category %s: each case handled as documented (random seed)', async (category) => {
    const h = await setup();
    await fc.assert(
      fc.asyncProperty(categoryArb(category), async (c) => {
        const problems = await h.runCase(c);
        expect(problems, problems.join('; ')).toEqual([]);
      }),
      { numRuns: category.startsWith('chunk-') && category !== 'chunk-bad-header' ? 15 : 100 },
    );
    await h.finalCheck();
  });

  it('the oracle catches a server that stores an invalid update or answers with the wrong code', () => {
    const bad: FuzzCase = { category: 'invalid-update', frames: [], codes: ['bad_update'] };
    expect(checkCase(bad, { outcomes: ['refused:bad_update'], errorCodes: ['bad_update'], storedUpdates: [] })).toEqual([]);
    expect(checkCase(bad, { outcomes: ['ok'], errorCodes: [], storedUpdates: [new Uint8Array([9, 9, 9])] })).toEqual(
      expect.arrayContaining(['an invalid Yjs update was stored', '1 update(s) stored from a invalid-update case', 'no refusal for a invalid-update case']),
    );
    expect(checkCase(bad, { outcomes: ['refused:bad_message'], errorCodes: ['bad_message'], storedUpdates: [] })).toEqual(['answered bad_message, expected one of bad_update']);
    // A decoded error frame really is what the oracle reads.
    expect(() => decodeFrame('AAAA')).not.toThrow();
  });
});
