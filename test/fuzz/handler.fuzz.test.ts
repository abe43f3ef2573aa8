/**
 * Invariant 5 at the `message` Lambda handler itself: generated malformed input as API Gateway
 * `$default` events, with the production adapters (dynalite op log and chunk store, PostgreSQL
 * snapshots, the @connections API). Every case gets its documented error over @connections, the
 * handler never fails the invocation, and the op log only ever holds valid updates.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrames } from '../../lambdas/core/protocol';
import { startHandlerHarness, type HandlerHarness } from '../security/handler-harness';
import { fuzzCaseArb } from './cases';
import { checkCase, errorCodesOf } from './oracle';

let h: HandlerHarness;
const DOC = `fuzz-${randomUUID().slice(0, 8)}`;
const NEIGHBOUR = `fuzz-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  h = await startHandlerHarness();
  await h.runtime.documents().create({ docId: DOC, title: 'Fuzzed', ownerId: 'olivia', createdAt: Date.now() });
  await h.runtime.documents().setRole(DOC, 'mallory', 'editor');
  await h.runtime.documents().create({ docId: NEIGHBOUR, title: 'Neighbour', ownerId: 'olivia', createdAt: Date.now() });
});
afterAll(async () => {
  await h?.stop();
});

describe('fuzz: the message handler with the production adapters', () => {
  it('FM-6.3 invariant 5: 250 generated malformed inputs as $default events: documented errors, no failed invocation, only valid updates stored', async () => {
    const { token } = await h.issuer.accessToken({ username: 'mallory', ttlSeconds: 3600 });
    const { connectionId } = await h.connectAs(token, DOC);
    const { token: ownerToken } = await h.issuer.accessToken({ username: 'olivia', ttlSeconds: 3600 });
    const neighbour = await h.connectAs(ownerToken, NEIGHBOUR);
    const d = new Y.Doc();
    d.getText('t').insert(0, 'neighbour text');
    for (const f of encodeFrames({ type: 'sync-update', update: Y.encodeStateAsUpdate(d) })) await h.send(neighbour.connectionId, f);
    const neighbourEntries = await h.runtime.opLog().readAll(NEIGHBOUR);
    expect(neighbourEntries).toHaveLength(1);

    let cases = 0;
    await fc.assert(
      fc.asyncProperty(fuzzCaseArb(), async (c) => {
        cases++;
        const before = (await h.runtime.opLog().readAll(DOC)).length;
        const statuses: unknown[] = [];
        for (const frame of c.frames) statuses.push(((await h.send(connectionId, frame)) as { statusCode: number }).statusCode);
        expect(statuses.every((s) => s === 200), `a ${c.category} frame failed the invocation: ${statuses.join(',')}`).toBe(true);
        const stored = (await h.runtime.opLog().readAll(DOC)).slice(before).map((e) => e.update);
        const problems = checkCase(c, { outcomes: [], errorCodes: errorCodesOf(h.connections.take(connectionId)), storedUpdates: stored });
        expect(problems, `${c.category}: ${problems.join('; ')}`).toEqual([]);
      }),
      { numRuns: 250, seed: Number(process.env.FUZZ_SEED ?? 0xf022) },
    );
    expect(cases).toBe(250);
    // The neighbouring document is untouched, and the fuzzed one still loads.
    expect(await h.runtime.opLog().readAll(NEIGHBOUR)).toEqual(neighbourEntries);
    const loaded = new Y.Doc();
    for (const e of await h.runtime.opLog().readAll(DOC)) Y.applyUpdate(loaded, e.update);
    expect(h.connections.isClosed(connectionId)).toBe(false);
  });
});
