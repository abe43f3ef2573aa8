/**
 * The WebSocket path end to end through the real handlers: authorizer → connect → message →
 * op log (dynalite) → DynamoDB stream records → fanout → @connections, snapshots in PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { handler as authorizer } from '../../lambdas/authorizer';
import { handler as fanout } from '../../lambdas/fanout';
import { handler as compactHandler } from '../../lambdas/compact';
import { decodeFrame, encodeFrames, encodeMessage, messageRef, toBase64, type Message } from '../../lambdas/core/protocol';
import { LIMITS } from '../../lambdas/core/limits';
import { ENV } from '../../contracts/env';
import { runtime } from '../../lambdas/runtime';
import { startHarness, waitFor, wsClient, type Harness } from '../support/lambda-harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ postgres: true });
});
afterAll(async () => {
  await h?.stop();
});

/** Delivers every new op-log record of the documents to the fanout handler in one batch. */
async function drain(...docIds: string[]) {
  const records = (await Promise.all(docIds.map((d) => h.streamRecords(d)))).flat();
  return { records, result: await fanout(h.streamEvent(records)) };
}

const decoded = (frames: readonly string[]) => frames.map((f) => decodeFrame(f).message);
const frame = (m: Message) => toBase64(encodeMessage(m));
const textUpdate = (text: string) => {
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(d);
};

/** A document alice owns and bob edits, with both connected and synced. */
async function aliceAndBobEditing() {
  const docId = await h.createDocument('alice', { bob: 'editor' });
  const a = wsClient(h, (await h.open('alice', docId)).connectionId);
  const b = wsClient(h, (await h.open('bob', docId)).connectionId);
  await a.sync();
  await b.sync();
  return { docId, a, b };
}

/** `length` lowercase letters that do not compress into a few Yjs items. */
const letters = (length: number, step: number) => Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * step) % 26))).join('');

async function chunkItems(connectionId: string) {
  const { Items } = await h.dynamo.client.send(new QueryCommand({
    TableName: h.dynamo.tableNames.Connections,
    KeyConditionExpression: 'pk = :p AND begins_with(sk, :c)',
    ExpressionAttributeValues: { ':p': { S: connectionId }, ':c': { S: 'chunk#' } },
    ConsistentRead: true,
  }));
  return Items ?? [];
}

describe('WebSocket session through the handlers', () => {
  it('FM-1.4 FM-1.2: two editors converge; every change gets a server-assigned sequence and an ack', async () => {
    const { docId, a, b } = await aliceAndBobEditing();
    expect(a.session.isSynced && b.session.isSynced).toBe(true);

    a.doc.getText('t').insert(0, 'hello ');
    b.doc.getText('t').insert(0, 'world ');
    await a.sync();
    await b.sync();
    expect(a.session.isSaved).toBe(true);
    expect(b.session.isSaved).toBe(true);
    const { result } = await drain(docId);
    expect(result.batchItemFailures).toEqual([]);
    await a.receive();
    await b.receive();
    expect(a.text()).toBe(b.text());
    expect(a.text()).toContain('hello');
    expect(a.text()).toContain('world');

    const seqs = (await runtime.opLog().readAll(docId)).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });

  it('FM-7.3: op-log entries carry the user, the connection and the server time', async () => {
    const docId = await h.createDocument('carol');
    const { connectionId } = await h.open('carol', docId);
    const before = Date.now();
    await h.send(connectionId, frame({ type: 'sync-update', update: textUpdate('audit me') }));
    const after = Date.now();
    const [entry] = await runtime.opLog().readAll(docId);
    expect(entry).toMatchObject({ userId: 'carol', connectionId, seq: 1 });
    expect(entry.serverTime).toBeGreaterThanOrEqual(before);
    expect(entry.serverTime).toBeLessThanOrEqual(after);
  });

  it('FM-1.5: duplicated and reordered stream deliveries leave every client in the same state', async () => {
    const docId = await h.createDocument('alice', { bob: 'editor', dan: 'viewer' });
    const a = wsClient(h, (await h.open('alice', docId)).connectionId);
    const b = wsClient(h, (await h.open('bob', docId)).connectionId);
    const d = wsClient(h, (await h.open('dan', docId)).connectionId);
    for (const c of [a, b, d]) await c.sync();
    for (let i = 0; i < 4; i++) {
      a.doc.getText('t').insert(a.doc.getText('t').length, `a${i} `);
      b.doc.getText('t').insert(0, `b${i} `);
      await a.sync();
      await b.sync();
    }
    const records = await h.streamRecords(docId);
    expect(records.length).toBeGreaterThanOrEqual(8);
    // Reversed, then every record again one by one, then the whole batch once more.
    expect((await fanout(h.streamEvent([...records].reverse()))).batchItemFailures).toEqual([]);
    for (const r of records) await fanout(h.streamEvent([r]));
    await fanout(h.streamEvent(records));
    for (const c of [a, b, d]) await c.receive();
    expect(a.text()).toBe(b.text());
    expect(d.text()).toBe(a.text());
    for (let i = 0; i < 4; i++) {
      expect(d.text().split(`a${i} `).length).toBe(2);
      expect(d.text().split(`b${i} `).length).toBe(2);
    }
  });

  it('FM-4.2: a failed fan-out is reported per document, redelivered, and the clients converge', async () => {
    const docFail = await h.createDocument('alice', { bob: 'editor' });
    const docOk = await h.createDocument('erin', { finn: 'editor' });
    const a = wsClient(h, (await h.open('alice', docFail)).connectionId);
    const b = wsClient(h, (await h.open('bob', docFail)).connectionId);
    const e = wsClient(h, (await h.open('erin', docOk)).connectionId);
    const f = wsClient(h, (await h.open('finn', docOk)).connectionId);
    for (const c of [a, b, e, f]) await c.sync();
    a.doc.getText('t').insert(0, 'survives the outage');
    e.doc.getText('t').insert(0, 'unaffected');
    await a.sync();
    await e.sync();
    const recordsFail = await h.streamRecords(docFail);
    const recordsOk = await h.streamRecords(docOk);
    // @connections fails (500, after the SDK's retries) while the first delivery runs.
    h.endpoint.failing = true;
    const firstResult = await fanout(h.streamEvent(recordsFail));
    h.endpoint.failing = false;
    expect(firstResult.batchItemFailures.map((x) => x.itemIdentifier).sort()).toEqual(recordsFail.map((r) => r.dynamodb!.SequenceNumber!).sort());
    expect((await fanout(h.streamEvent(recordsOk))).batchItemFailures).toEqual([]);
    await b.receive();
    expect(b.text()).toBe('');
    // Lambda redelivers the failed records (and, from the lowest failed one on, any later ones).
    const redelivered = await fanout(h.streamEvent([...recordsFail, ...recordsOk]));
    expect(redelivered.batchItemFailures).toEqual([]);
    for (const c of [a, b, e, f]) await c.receive();
    expect(b.text()).toBe('survives the outage');
    expect(f.text()).toBe('unaffected');
    expect(a.text()).toBe(b.text());
  });

  it('FM-4.2: one batch with a failing and a healthy document reports only the failing one', async () => {
    const docBad = await h.createDocument('gina');
    const docGood = await h.createDocument('hank', { ivan: 'editor' });
    const g = (await h.open('gina', docBad)).connectionId;
    const g2 = (await h.open('gina', docBad)).connectionId;
    const hk = (await h.open('hank', docGood)).connectionId;
    const iv = (await h.open('ivan', docGood)).connectionId;
    await h.send(g, frame({ type: 'sync-update', update: textUpdate('bad doc') }));
    await h.send(hk, frame({ type: 'sync-update', update: textUpdate('good doc') }));
    const bad = await h.streamRecords(docBad);
    const good = await h.streamRecords(docGood);
    // The op-log item of docBad names parts that do not exist: reading it fails, as a throttled
    // or failing read would; docGood in the same batch is delivered.
    const broken = structuredClone(bad[0]);
    delete broken.dynamodb!.NewImage!.update;
    broken.dynamodb!.NewImage!.partKey = { S: `${docBad}#part#missing` };
    broken.dynamodb!.NewImage!.parts = { N: '2' };
    const result = await fanout(h.streamEvent([broken, ...good]));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: broken.dynamodb!.SequenceNumber }]);
    expect(decoded(h.endpoint.take(iv)).map((m) => m.type)).toEqual(['sync-update']);
    expect(h.endpoint.peek(g2)).toHaveLength(0);
  });

  it('FM-1.2: a connection answering 410 Gone is deleted by the fan-out; the others still get the update', async () => {
    const docId = await h.createDocument('alice', { bob: 'editor', carl: 'editor' });
    const a = (await h.open('alice', docId)).connectionId;
    const b = (await h.open('bob', docId)).connectionId;
    const c = (await h.open('carl', docId)).connectionId;
    h.endpoint.gone.add(c);
    await h.send(a, frame({ type: 'sync-update', update: textUpdate('x') }));
    const { result } = await drain(docId);
    expect(result.batchItemFailures).toEqual([]);
    expect(await runtime.connections().get(c)).toBeNull();
    expect(await runtime.connections().get(b)).not.toBeNull();
    expect(decoded(h.endpoint.take(b)).map((m) => m.type)).toEqual(['sync-update']);
    // The sender's own update is not echoed back to it.
    expect(decoded(h.endpoint.take(a)).map((m) => m.type)).toEqual(['ack']);
  });

  it('FM-1.2: awareness is relayed to the other connections, never persisted, and removed on disconnect', async () => {
    const docId = await h.createDocument('alice', { bob: 'viewer' });
    const a = (await h.open('alice', docId)).connectionId;
    const b = (await h.open('bob', docId)).connectionId;
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState({ user: { name: 'alice' }, cursor: 3 });
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]);
    awareness.destroy();
    await h.send(a, frame({ type: 'awareness', update }));
    const got = decoded(h.endpoint.take(b));
    expect(got).toEqual([{ type: 'awareness', update }]);
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    // A viewer may send presence too, and a newcomer's query gets the stored presence.
    await h.send(b, frame({ type: 'query-awareness' }));
    expect(decoded(h.endpoint.take(b))).toEqual([{ type: 'awareness', update }]);
    // When alice leaves, bob's copy of her cursor is removed at once.
    const bobView = new awarenessProtocol.Awareness(new Y.Doc());
    awarenessProtocol.applyAwarenessUpdate(bobView, update, 'server');
    expect(bobView.getStates().has(doc.clientID)).toBe(true);
    await h.close(a);
    const [removal] = decoded(h.endpoint.take(b));
    expect(removal.type).toBe('awareness');
    awarenessProtocol.applyAwarenessUpdate(bobView, (removal as { update: Uint8Array }).update, 'server');
    expect(bobView.getStates().has(doc.clientID)).toBe(false);
    bobView.destroy();
  });

  it('FM-6.3: a 500 KB change travels in chunks under 32 KB, is stored in op-log parts, and fans out in chunks', async () => {
    const { docId, a, b } = await aliceAndBobEditing();
    const big = letters(500 * 1024, 7919);
    a.doc.getText('t').insert(0, big);
    await a.sync(3);
    expect(a.session.isSaved).toBe(true);
    const [entry] = await runtime.opLog().readAll(docId);
    expect(entry.update.length).toBeGreaterThan(500 * 1024);
    // The entry item holds no inline update: it names its part items (DynamoDB's 400 KB item cap).
    const records = await h.streamRecords(docId);
    const entryRecord = records.find((r) => r.dynamodb!.NewImage!.seq.N === String(entry.seq))!;
    expect(entryRecord.dynamodb!.NewImage!.update).toBeUndefined();
    expect(Number(entryRecord.dynamodb!.NewImage!.parts.N)).toBeGreaterThan(1);
    // No chunk pieces are left behind once the message is reassembled.
    expect(await chunkItems(a.connectionId)).toHaveLength(0);
    expect((await fanout(h.streamEvent(records))).batchItemFailures).toEqual([]);
    const frames = h.endpoint.peek(b.connectionId);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(LIMITS.frameBytes);
    await b.receive();
    expect(b.text()).toBe(big);
  });

  it('FM-4.2, FM-6.3: a split change compacted before its fan-out ran still reaches the other editor', async () => {
    const { docId, a, b } = await aliceAndBobEditing();
    const big = letters(400 * 1024, 104729);
    a.doc.getText('t').insert(0, big);
    await a.sync(3);
    const records = await h.streamRecords(docId);
    expect(records.some((r) => r.dynamodb!.NewImage!.partKey !== undefined)).toBe(true);
    // The compact consumer wins the race: the entry is a tombstone before the fan-out reads it.
    const { results } = await compactHandler({ docIds: [docId] });
    expect(results[docId].status).toBe('compacted');
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect((await fanout(h.streamEvent(records))).batchItemFailures).toEqual([]);
    await b.receive();
    expect(b.text()).toBe(big);
  });
});

describe('access control (FM-5.1, FM-5.2)', () => {
  it('FM-5.2: a viewer receives the document but cannot write; nothing is persisted', async () => {
    const docId = await h.createDocument('alice', { vera: 'viewer' });
    const a = wsClient(h, (await h.open('alice', docId)).connectionId);
    await a.sync();
    a.doc.getText('t').insert(0, 'owner text');
    await a.sync();
    const v = wsClient(h, (await h.open('vera', docId)).connectionId);
    await v.sync();
    expect(v.text()).toBe('owner text');
    v.doc.getText('t').insert(0, 'vandalism ');
    await v.sync();
    expect(v.errors).toContain('read_only');
    const stored = await runtime.opLog().readAll(docId);
    expect(stored.every((e) => e.userId === 'alice')).toBe(true);
  });

  it('FM-5.2: the authorizer refuses another document, a missing cookie, a forged and a foreign token', async () => {
    const mine = await h.createDocument('alice');
    const theirs = await h.createDocument('mallory');
    const { cookie } = await h.cookie('alice');
    const allowed = await authorizer(h.authorizerEvent(cookie, mine));
    expect(allowed.policyDocument.Statement[0].Effect).toBe('Allow');
    expect(allowed.context).toMatchObject({ userId: 'alice', role: 'owner', docId: mine });
    expect(Number(allowed.context!.tokenExpiresAt)).toBeGreaterThan(Date.now());

    const other = await authorizer(h.authorizerEvent(cookie, theirs));
    expect(other.policyDocument.Statement[0].Effect).toBe('Deny');
    expect(other.context).toEqual({ code: 'forbidden' });
    const unknown = await authorizer(h.authorizerEvent(cookie, 'no-such-doc'));
    expect(unknown.policyDocument.Statement[0].Effect).toBe('Deny');

    await expect(authorizer(h.authorizerEvent(undefined, mine))).rejects.toThrow('Unauthorized');
    await expect(authorizer(h.authorizerEvent('concord_at=not.a.jwt', mine))).rejects.toThrow('Unauthorized');
    // Signed by another key with the same kid-less header: signature check fails.
    const { createTokenIssuer } = await import('../../local/auth/token-issuer');
    const forger = await createTokenIssuer({ issuer: h.auth.issuer.issuer });
    const forged = await forger.accessToken({ username: 'alice' });
    await expect(authorizer(h.authorizerEvent(`concord_at=${forged.token}`, mine))).rejects.toThrow('Unauthorized');
    // The right key but another app client, or an id token instead of an access token.
    const foreign = await h.auth.issuer.accessToken({ username: 'alice', overrides: { client_id: 'someone-else' } });
    await expect(authorizer(h.authorizerEvent(`concord_at=${foreign.token}`, mine))).rejects.toThrow('Unauthorized');
    const idToken = await h.auth.issuer.idToken({ username: 'alice' });
    await expect(authorizer(h.authorizerEvent(`concord_at=${idToken}`, mine))).rejects.toThrow('Unauthorized');
    const expired = await h.auth.issuer.accessToken({ username: 'alice', issuedAt: Math.floor(Date.now() / 1000) - 3600, ttlSeconds: 60 });
    await expect(authorizer(h.authorizerEvent(`other=1; concord_at=${expired.token}`, mine))).rejects.toThrow('Unauthorized');
  });

  it('FM-5.1: a revoked token id is refused at connect', async () => {
    const docId = await h.createDocument('alice');
    const { cookie, jti, exp } = await h.cookie('alice');
    expect((await authorizer(h.authorizerEvent(cookie, docId))).policyDocument.Statement[0].Effect).toBe('Allow');
    await runtime.documents().revokeToken(jti, exp * 1000);
    await expect(authorizer(h.authorizerEvent(cookie, docId))).rejects.toThrow('Unauthorized');
  });

  it('FM-5.1: a token expiring mid-socket gets REAUTH, the socket is closed, and nothing is stored', async () => {
    const docId = await h.createDocument('alice');
    const { connectionId } = await h.open('alice', docId, 2);
    const c = wsClient(h, connectionId);
    await c.sync();
    expect(c.session.isSynced).toBe(true);
    const connection = await runtime.connections().get(connectionId);
    await waitFor(() => Date.now() > connection!.tokenExpiresAt, 10_000, 'token expiry');
    c.doc.getText('t').insert(0, 'too late');
    await c.sync(1);
    expect(c.reauths).toHaveLength(1);
    expect(h.endpoint.closed.has(connectionId)).toBe(true);
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
  });
});

describe('FM-1.8: per-connection rate limit', () => {
  it('FM-1.8: answers a flooding connection with rate_limited while another connection is unaffected', async () => {
    process.env[ENV.RATE_LIMIT_PER_SECOND] = '5';
    try {
      const docId = await h.createDocument('alice', { bob: 'editor' });
      const flooder = (await h.open('alice', docId)).connectionId;
      const calm = (await h.open('bob', docId)).connectionId;
      for (let i = 0; i < 30; i++) await h.send(flooder, frame({ type: 'query-awareness' }));
      const errors = decoded(h.endpoint.take(flooder)).filter((m) => m.type === 'error');
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((m) => m.type === 'error' && m.code === 'rate_limited')).toBe(true);
      const update = frame({ type: 'sync-update', update: textUpdate('calm') });
      await h.send(calm, update);
      expect(decoded(h.endpoint.take(calm))).toEqual([{ type: 'ack', seq: 1, ref: messageRef(Buffer.from(update, 'base64')) }]);
    } finally {
      process.env[ENV.RATE_LIMIT_PER_SECOND] = '1000';
    }
  });
});

describe('bad input never corrupts a document (invariant 5)', () => {
  const update = textUpdate('valid');
  const chunkOf = (bytes: Uint8Array, id: string) => encodeFrames(bytes, () => id);
  const bigMessage = encodeMessage({ type: 'sync-update', update: textUpdate('z'.repeat(60_000)) });
  const [piece0] = chunkOf(bigMessage, 'set-a');
  const cases: { name: string; frames: () => string[]; code: string; role?: 'viewer' }[] = [
    { name: 'bad base64', frames: () => ['%%%not-base64%%%'], code: 'bad_base64' },
    { name: 'truncated message', frames: () => [toBase64(new Uint8Array([0]))], code: 'bad_message' },
    { name: 'trailing bytes', frames: () => [toBase64(new Uint8Array([...encodeMessage({ type: 'query-awareness' }), 7]))], code: 'bad_message' },
    { name: 'unknown type', frames: () => [toBase64(new Uint8Array([9]))], code: 'unknown_type' },
    { name: 'server-only type from a client', frames: () => [frame({ type: 'ack', seq: 1, ref: 'x' })], code: 'unknown_type' },
    { name: 'invalid Yjs update', frames: () => [frame({ type: 'sync-update', update: new Uint8Array([1, 2, 3, 4, 5]) })], code: 'bad_update' },
    { name: 'invalid step 2', frames: () => [frame({ type: 'sync-step2', update: new Uint8Array([255, 255, 255, 255]) })], code: 'bad_update' },
    { name: 'invalid state vector', frames: () => [frame({ type: 'sync-step1', stateVector: new Uint8Array([5, 1]) })], code: 'bad_message' },
    { name: 'bad awareness', frames: () => [frame({ type: 'awareness', update: new Uint8Array([5]) })], code: 'bad_awareness' },
    { name: 'chunk index out of range', frames: () => [frame({ type: 'chunk', id: 'x', index: 3, count: 2, totalBytes: 30_000, piece: new Uint8Array(10) })], code: 'bad_chunk' },
    { name: 'chunk count inconsistent with size', frames: () => [frame({ type: 'chunk', id: 'x', index: 0, count: 5, totalBytes: 100, piece: new Uint8Array(100) })], code: 'chunk_inconsistent' },
    {
      name: 'two different pieces for one index',
      frames: () => {
        const other = new Uint8Array(bigMessage);
        other[10] ^= 0xff;
        return [piece0, chunkOf(other, 'set-a')[0]];
      },
      code: 'chunk_inconsistent',
    },
    {
      name: 'an invalid Yjs update inside a chunk set',
      frames: () => chunkOf(encodeMessage({ type: 'sync-update', update: new Uint8Array(40_000).fill(255) }), 'set-b'),
      code: 'bad_update',
    },
    { name: 'frame above 32 KB', frames: () => [toBase64(new Uint8Array(30_000))], code: 'frame_too_large' },
    { name: 'update above the size limit', frames: () => [frame({ type: 'chunk', id: 'x', index: 0, count: 357, totalBytes: LIMITS.updateBytes + 100, piece: new Uint8Array(LIMITS.chunkPieceBytes) })], code: 'update_too_large' },
    { name: 'viewer update', frames: () => [frame({ type: 'sync-update', update })], code: 'read_only', role: 'viewer' },
  ];

  it.each(cases)('$name → $code, nothing persisted, the socket keeps working', async ({ frames, code, role }) => {
    const docId = await h.createDocument('owner', { user: role ?? 'editor' });
    const { connectionId } = await h.open('user', docId);
    for (const f of frames()) await h.send(connectionId, f);
    const replies = decoded(h.endpoint.take(connectionId));
    const errors = replies.filter((m) => m.type === 'error');
    expect(errors.map((m) => m.type === 'error' && m.code)).toContain(code);
    expect(replies.some((m) => m.type === 'ack')).toBe(false);
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
    expect(await chunkItems(connectionId)).toHaveLength(0);
    // The connection is still usable afterwards.
    await h.send(connectionId, frame({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) }));
    expect(decoded(h.endpoint.take(connectionId)).map((m) => m.type)).toEqual(['sync-step2', 'sync-step1']);
  });

  it('expired token → reauth (no error, nothing persisted)', async () => {
    const docId = await h.createDocument('user');
    const { connectionId } = await h.open('user', docId, 1);
    const connection = await runtime.connections().get(connectionId);
    await waitFor(() => Date.now() > connection!.tokenExpiresAt, 10_000, 'token expiry');
    await h.send(connectionId, frame({ type: 'sync-update', update }));
    expect(decoded(h.endpoint.take(connectionId)).map((m) => m.type)).toEqual(['reauth']);
    expect(await runtime.opLog().readAll(docId)).toEqual([]);
  });

  it('handlers take the Lambda context (request ids in the logs) as their second argument', async () => {
    const context = { awsRequestId: 'req-1', functionName: 'concord-fanout', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:concord-fanout', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 10_000 };
    expect(await fanout(h.streamEvent([]), context as never)).toEqual({ batchItemFailures: [] });
  });

  it('a frame from an unknown connection is refused and closed', async () => {
    await h.send('never-connected', frame({ type: 'sync-update', update }));
    expect(decoded(h.endpoint.take('never-connected')).map((m) => m.type === 'error' && m.code)).toEqual(['unauthorized']);
    expect(h.endpoint.closed.has('never-connected')).toBe(true);
  });

  it('disconnect forgets the connection and its unfinished chunk sets', async () => {
    const docId = await h.createDocument('user');
    const { connectionId } = await h.open('user', docId);
    await h.send(connectionId, piece0);
    expect(await chunkItems(connectionId)).toHaveLength(1);
    await h.close(connectionId);
    expect(await runtime.connections().get(connectionId)).toBeNull();
    expect(await chunkItems(connectionId)).toHaveLength(0);
  });
});

describe('FM-7.1 FM-7.2: EMF metrics', () => {
  it('the message and fanout handlers publish update bytes, sync bytes, fan-out delay and 410s', async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    (process.stdout as { write: unknown }).write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      // Keep the EMF lines out of the test report; pass everything else through.
      return String(chunk).includes('"_aws"') ? true : (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    };
    try {
      const docId = await h.createDocument('alice', { bob: 'editor' });
      const a = wsClient(h, (await h.open('alice', docId)).connectionId);
      const b = (await h.open('bob', docId)).connectionId;
      h.endpoint.gone.add(b);
      await a.sync();
      a.doc.getText('t').insert(0, 'measured');
      await a.sync();
      await drain(docId);
    } finally {
      (process.stdout as { write: unknown }).write = write;
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    const emf = lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l));
    const names = new Set(emf.flatMap((m) => m._aws.CloudWatchMetrics[0].Metrics.map((x: { Name: string }) => x.Name)));
    for (const name of ['UpdateBytes', 'SyncBytes', 'FanoutDelay', 'FanoutRecipients', 'Gone410']) expect(names).toContain(name);
    const fanoutLine = emf.find((m) => 'FanoutDelay' in m);
    expect(fanoutLine.FanoutDelay).toBeGreaterThanOrEqual(0);
    expect(fanoutLine._aws.CloudWatchMetrics[0].Namespace).toBe('Concord');
  });
});
